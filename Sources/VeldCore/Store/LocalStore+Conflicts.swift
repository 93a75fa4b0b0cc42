import Foundation
import GRDB
import VeldProtocol

/// One field in conflict, as the office's queue shows it.
public struct FieldConflict: Hashable, Sendable {
    public var recordID: String
    public var type: String
    public var scope: String
    public var field: String
    /// The values in display order (the shown one first).
    public var entries: [FieldEntry]
    /// Whether the record is deleted on one side and edited on another.
    public var deleteVersusEdit: Bool

    /// The oldest of the concurrent edits: how long this has been waiting.
    public var since: Date { entries.map(\.time).min() ?? .distantPast }
}

/// How to settle one field in conflict.
public enum Resolution: Hashable, Sendable {
    /// Keep the value at this position of `FieldConflict.entries` (0-based).
    case take(Int)
    /// Write a new value (a merged text, say).
    case value(FieldValue)
}

extension LocalStore {
    /// Every field in conflict on this device, oldest first.
    public func conflicts() throws -> [FieldConflict] {
        try records(RecordQuery(onlyConflicts: true)).flatMap(Self.conflicts(of:)).sorted {
            ($0.since, $0.recordID, $0.field) < ($1.since, $1.recordID, $1.field)
        }
    }

    /// The fields in conflict of one record, in schema order.
    public static func conflicts(of state: RecordState) -> [FieldConflict] {
        let order = Schemas.named(state.type)?.fieldNames ?? state.fields.keys.sorted()
        let deleteDots = Set(state.entries(of: RecordState.deletedField).filter { $0.value == .bool(true) }.map(\.dot))
        return state.conflicts.sorted { (order.firstIndex(of: $0.key) ?? .max) < (order.firstIndex(of: $1.key) ?? .max) }
            .map { field, entries in
                FieldConflict(recordID: state.id, type: state.type, scope: state.scope, field: field, entries: entries,
                              deleteVersusEdit: state.isDeleted && entries.contains { deleteDots.contains($0.dot) }
                                  && entries.contains { !deleteDots.contains($0.dot) })
            }
    }

    /// Settles fields in conflict with one ordinary edit that has seen every value, so it
    /// wins wherever it propagates. If someone edits the field again concurrently with
    /// the resolution, that shows up as a new conflict, never a silent loss.
    ///
    /// Resolutions name the values as `conflicts(of:)` listed them; if the record changed
    /// since (a sync brought another value), the resolution is refused so nobody picks
    /// from a list they did not see.
    @discardableResult
    public func resolve(id: String, _ resolutions: [String: Resolution], expecting seen: [String: [FieldEntry]]? = nil) throws -> RecordState {
        let state = try record(id)
        var changes: [String: FieldValue] = [:]
        let listed = Dictionary(uniqueKeysWithValues: Self.conflicts(of: state).map { ($0.field, $0.entries) })
        for (field, resolution) in resolutions {
            guard let entries = listed[field] else {
                throw LocalStoreError(.notInConflict(id: state.id, field: field), home: home)
            }
            if let seen, seen[field] != entries {
                throw LocalStoreError(.conflictChanged(id: state.id, field: field), home: home)
            }
            switch resolution {
            case .take(let index):
                guard entries.indices.contains(index) else {
                    throw LocalStoreError(.noSuchValue(id: state.id, field: field, count: entries.count), home: home)
                }
                changes[field] = entries[index].value
            case .value(let value):
                changes[field] = value
            }
        }
        return try edit(id: state.id, changes: changes)
    }

    /// Settles a record deleted on one device and edited on another: keep it (undelete,
    /// and take the edited values over the values the delete re-asserted) or delete it
    /// (a delete that has now seen the edits).
    @discardableResult
    public func resolveDeletion(id: String, keep: Bool) throws -> RecordState {
        let state = try record(id)
        guard state.isDeleted || state.entries(of: RecordState.deletedField).count > 1 else {
            throw LocalStoreError(.notInConflict(id: state.id, field: RecordState.deletedField), home: home)
        }
        guard keep else { return try delete(id: state.id) }
        let deleteDots = Set(state.entries(of: RecordState.deletedField).filter { $0.value == .bool(true) }.map(\.dot))
        let role = try profile().role
        let schema = try schemaSet().named(state.type)
        var changes: [String: FieldValue] = [RecordState.deletedField: .bool(false)]
        for conflict in Self.conflicts(of: state) where conflict.field != RecordState.deletedField {
            let edited = conflict.entries.filter { !deleteDots.contains($0.dot) }
            // A field this role may not write or replace (an office decision) stays as it
            // is: keeping the record does not need it.
            if let field = schema?.field(conflict.field),
               !field.permits(role, toWrite: edited.first?.value ?? .null)
                || !conflict.entries.allSatisfy({ field.permits(role, toReplace: $0.value) }) { continue }
            // One edited value: that is what keeping means. Several: left for the person.
            if edited.count == 1 { changes[conflict.field] = edited[0].value }
        }
        return try edit(id: state.id, changes: changes)
    }
}
