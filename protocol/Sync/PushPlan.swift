import Foundation

/// What one accepted push writes, decided by ``PushPolicy``: a row per changed record (its
/// merged state and its history entry, each encoded once), the token's binding, and the
/// answer. A storage persists it in the transaction that read the policy's inputs.
public struct PushPlan: Sendable {
    public struct Write: Sendable {
        public let state: RecordState
        /// The merged state in stable JSON: the record row and the history row.
        public let json: String
        /// The history row's `[FieldChange]` in stable JSON.
        public let fields: String
        public let position: Int64
        /// What the history row keeps of the state (see ``HistoryDelta``): the whole state
        /// (`json`) every few changes, else only the changed fields.
        public let historySnapshot: String?
        public let historyDelta: String?
        /// Changes of this record since its last snapshot, this one included (0 for a
        /// snapshot): what the record row remembers for the next push.
        public let historyRun: Int
        /// Whether the change sends back what a restored server lost (a recovery push, or a
        /// proven state the server took back): its history row says so.
        public let recovered: Bool
    }

    /// Whether the token is not yet bound and this push binds it to its replica.
    public let bindReplica: Bool
    public let writes: [Write]
    public let response: PushResponse
    /// `response` in stable JSON, remembered under the batch id for replays (written when
    /// asked: a plan placed after another offset has other positions in it).
    public var responseJSON: String { StableJSON.string(response) }
    /// The highest position handed out (the counter's new value).
    public let lastPosition: Int64

    /// Positions start after `position`, in batch order, for the records whose state changed.
    init(request: PushRequest, before: [String: RecordState], merged: [RecordState], bindReplica: Bool, after position: Int64,
         historyRuns: [String: Int], recovered: Set<String> = []) {
        var position = position
        var writes: [Write] = []
        var results: [PushResponse.Result] = []
        results.reserveCapacity(merged.count)
        for state in merged {
            let previous = before[state.id]
            guard state != previous else {
                results.append(PushResponse.Result(id: state.id, changed: false, position: nil, conflicts: state.hasConflicts))
                continue
            }
            position += 1
            let json = String(decoding: RecordStateJSON.encode(state), as: UTF8.self)
            let run = (historyRuns[state.id] ?? 0) + 1
            let delta = run < HistoryDelta.snapshotEvery ? HistoryDelta.between(previous, state) : nil
            writes.append(Write(state: state, json: json,
                                fields: String(decoding: RecordStateJSON.encode(FieldChange.between(previous, state)), as: UTF8.self),
                                position: position,
                                historySnapshot: delta == nil ? json : nil,
                                historyDelta: delta.map { String(decoding: RecordStateJSON.encode($0), as: UTF8.self) },
                                historyRun: delta == nil ? 0 : run, recovered: recovered.contains(state.id)))
            results.append(PushResponse.Result(id: state.id, changed: true, position: position, conflicts: state.hasConflicts))
        }
        let response = PushResponse(batch: request.batch, results: results)
        self.bindReplica = bindReplica
        self.writes = writes
        self.response = response
        lastPosition = position
    }

    private init(bindReplica: Bool, writes: [Write], response: PushResponse, lastPosition: Int64) {
        self.bindReplica = bindReplica
        self.writes = writes
        self.response = response
        self.lastPosition = lastPosition
    }

    /// The same plan with every position moved on by `offset`: a storage that decides a
    /// push before it may take positions (several processes on one PostgreSQL) plans after
    /// 0, then places the plan after the change log's end once it holds the position lock.
    public func placed(after offset: Int64) -> PushPlan {
        guard offset != 0 else { return self }
        let writes = writes.map {
            Write(state: $0.state, json: $0.json, fields: $0.fields, position: $0.position + offset, historySnapshot: $0.historySnapshot,
                  historyDelta: $0.historyDelta, historyRun: $0.historyRun, recovered: $0.recovered)
        }
        let results = response.results.map {
            PushResponse.Result(id: $0.id, changed: $0.changed, position: $0.position.map { $0 + offset }, conflicts: $0.conflicts)
        }
        return PushPlan(bindReplica: bindReplica, writes: writes, response: PushResponse(batch: response.batch, results: results),
                        lastPosition: lastPosition + offset)
    }
}
