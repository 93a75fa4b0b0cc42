import Foundation
import VeldProtocol

/// A push batch folded into the stored states of its records, before anything is written:
/// what a validator checks and what a backend persists. Made once per push, so the merge
/// runs once per record.
public struct MergedBatch: Sendable {
    /// The stored state of each record of the batch that the server already holds.
    public let stored: [String: RecordState]
    /// Each distinct record id of the batch, in order of first appearance.
    public let order: [String]
    /// For each id: the stored state (if any) merged with every copy in the batch, in
    /// batch order. Missing when the copies or the stored state cannot be merged (another
    /// type or scope); the validator refuses such a batch.
    public let merged: [String: RecordState]
    /// How many copies of each id the batch carries (usually 1).
    public let copies: [String: Int]
    /// Why an id could not be merged; thrown by ``BatchMerge/plan(_:for:after:)`` when a
    /// check let such a batch through.
    let failure: RecordIdentityMismatch?

    /// The merge of the stored state with this one copy: what the batch means for a record
    /// that appears once. Nil for a record that appears more than once (merge each copy
    /// separately) or that could not be merged.
    public func mergedWithStored(_ id: String) -> RecordState? {
        copies[id] == 1 ? merged[id] : nil
    }
}

/// The merge step every backend shares, and the write plan that follows from it: fold the
/// batch (a record may appear twice) into the stored states, say which records changed,
/// give those the next positions and encode what each backend stores. A backend only
/// loads the stored states and persists the plan.
public enum BatchMerge {
    public static func merge(_ incoming: [RecordState], into stored: [String: RecordState]) -> MergedBatch {
        var merged: [String: RecordState] = [:]
        var order: [String] = []
        var copies: [String: Int] = [:]
        var failure: RecordIdentityMismatch?
        var broken: Set<String> = []
        for state in incoming {
            let seen = copies[state.id, default: 0]
            copies[state.id] = seen + 1
            if seen == 0 { order.append(state.id) }
            guard !broken.contains(state.id) else { continue }
            do {
                if let existing = merged[state.id] {
                    merged[state.id] = try existing.merged(with: state)
                } else if let known = stored[state.id] {
                    merged[state.id] = try known.merged(with: state)
                } else {
                    merged[state.id] = state
                }
            } catch {
                failure = failure ?? error
                broken.insert(state.id)
                merged[state.id] = nil
            }
        }
        return MergedBatch(stored: stored, order: order, merged: merged, copies: copies, failure: failure)
    }

    /// What one push writes: a row per changed record (its state and history entry, each
    /// encoded once) and the answer.
    public struct Plan: Sendable {
        public struct Write: Sendable {
            public let state: RecordState
            /// The merged state in stable JSON: the record row and the history row.
            public let json: String
            /// The history row's `[FieldChange]` in stable JSON.
            public let fields: String
            public let position: Int64
        }

        public let writes: [Write]
        public let response: PushResponse
        /// `response` in stable JSON, remembered under the batch id for replays.
        public let responseJSON: String
        /// The highest position handed out (the counter's new value).
        public let lastPosition: Int64
    }

    /// Positions start after `position`, in order of first appearance.
    public static func plan(_ batch: MergedBatch, for request: PushRequest, after position: Int64) throws -> Plan {
        if let failure = batch.failure { throw failure }
        var position = position
        var writes: [Plan.Write] = []
        var results: [PushResponse.Result] = []
        results.reserveCapacity(batch.order.count)
        for id in batch.order {
            let state = batch.merged[id]!
            let before = batch.stored[id]
            guard state != before else {
                results.append(PushResponse.Result(id: id, changed: false, position: nil, conflicts: state.hasConflicts))
                continue
            }
            position += 1
            writes.append(Plan.Write(
                state: state,
                json: String(decoding: try StableJSON.encode(state), as: UTF8.self),
                fields: String(decoding: try StableJSON.encode(FieldChange.between(before, state)), as: UTF8.self),
                position: position))
            results.append(PushResponse.Result(id: id, changed: true, position: position, conflicts: state.hasConflicts))
        }
        let response = PushResponse(batch: request.batch, results: results)
        return Plan(writes: writes, response: response,
                    responseJSON: String(decoding: try StableJSON.encode(response), as: UTF8.self), lastPosition: position)
    }
}
