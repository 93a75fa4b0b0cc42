import Foundation

/// The answer to `GET /v1/records/{id}/history`: every change the server accepted for a
/// record, oldest first. The evidence Dutch care asks for ("aantoonbaar"): who recorded
/// what, when, through which device.
public struct RecordHistory: Codable, Hashable, Sendable {
    public var id: String
    public var type: String
    public var scope: String
    public var changes: [RecordChange]

    public init(id: String, type: String, scope: String, changes: [RecordChange]) {
        self.id = id
        self.type = type
        self.scope = scope
        self.changes = changes
    }
}

/// One accepted change of a record: one record of one push.
public struct RecordChange: Codable, Hashable, Sendable {
    /// The change-log position this change gave the record.
    public var position: Int64
    /// When the server accepted it.
    public var receivedAt: Date
    /// The pushing device: its replica id, its token's id and the token's user.
    public var replica: String
    public var device: String
    public var user: String
    public var fields: [FieldChange]
    /// Whether the change sent back what the server had lost when it was restored from a
    /// backup (a push after a new epoch): its entries are older edits, by their authors,
    /// received again. Absent when false.
    public var recovered: Bool

    public init(position: Int64, receivedAt: Date, replica: String, device: String, user: String, fields: [FieldChange],
                recovered: Bool = false) {
        self.position = position
        self.receivedAt = receivedAt
        self.replica = replica
        self.device = device
        self.user = user
        self.fields = fields
        self.recovered = recovered
    }

    enum CodingKeys: String, CodingKey { case position, receivedAt, replica, device, user, fields, recovered }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        position = try container.decode(Int64.self, forKey: .position)
        receivedAt = try container.decode(Date.self, forKey: .receivedAt)
        replica = try container.decode(String.self, forKey: .replica)
        device = try container.decode(String.self, forKey: .device)
        user = try container.decode(String.self, forKey: .user)
        fields = try container.decode([FieldChange].self, forKey: .fields)
        recovered = try container.decodeIfPresent(Bool.self, forKey: .recovered) ?? false
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(position, forKey: .position)
        try container.encode(receivedAt, forKey: .receivedAt)
        try container.encode(replica, forKey: .replica)
        try container.encode(device, forKey: .device)
        try container.encode(user, forKey: .user)
        try container.encode(fields, forKey: .fields)
        if recovered { try container.encode(recovered, forKey: .recovered) }
    }
}

/// What one change did to one field: the values it replaced (`old`), the entries it
/// added (`new`), and the values that stay beside them (`kept`: concurrent edits, so the
/// field is in conflict after this change).
public struct FieldChange: Codable, Hashable, Sendable {
    public var field: String
    public var old: [FieldValue]
    public var new: [FieldEntry]
    public var kept: [FieldValue]

    public init(field: String, old: [FieldValue], new: [FieldEntry], kept: [FieldValue] = []) {
        self.field = field
        self.old = old
        self.new = new
        self.kept = kept
    }

    /// The field-level difference between a record's state before and after a merge.
    public static func between(_ before: RecordState?, _ after: RecordState) -> [FieldChange] {
        let names = Set(after.fields.keys).union(before?.fields.keys ?? [:].keys)
        return names.sorted().compactMap { field in
            let old = before?.entries(of: field) ?? []
            let new = after.entries(of: field)
            let oldDots = Set(old.map(\.dot))
            let newDots = Set(new.map(\.dot))
            let added = new.filter { !oldDots.contains($0.dot) }
            let removed = old.filter { !newDots.contains($0.dot) }
            guard !added.isEmpty || !removed.isEmpty else { return nil }
            let kept = new.filter { oldDots.contains($0.dot) }
            return FieldChange(field: field, old: removed.map(\.value), new: added, kept: kept.map(\.value))
        }
    }
}

/// How the server's history keeps a record's state after each change without storing
/// the whole state every time: a change stores only the fields it changed (their entry
/// lists after it) and the new context, and every ``snapshotEvery``-th change of a record
/// (and its first) stores the whole state. The state as of any change is the last
/// snapshot at or before it with the deltas after it applied in order.
///
/// ```swift
/// let delta = HistoryDelta.between(before, after)       // nil: store a snapshot instead
/// let again = delta!.applied(to: before!)                // == after
/// ```
public enum HistoryDelta {
    /// A snapshot at least every this many changes of one record, so rebuilding a state
    /// reads at most this many rows.
    public static let snapshotEvery = 16

    /// The delta from `before` to `after` as a partial record state (the whole new
    /// context, the changed fields whole); nil when a snapshot is needed instead (no
    /// `before`, or a field that disappeared).
    public static func between(_ before: RecordState?, _ after: RecordState) -> RecordState? {
        guard let before, before.id == after.id else { return nil }
        var changed: [String: [FieldEntry]] = [:]
        for (field, entries) in after.fields where before.fields[field] != entries { changed[field] = entries }
        guard before.fields.keys.allSatisfy({ after.fields[$0] != nil }) else { return nil }
        return RecordState(id: after.id, type: after.type, scope: after.scope, context: after.context, fields: changed)
    }

    /// `base` with `delta` applied: its context and its fields replaced.
    public static func apply(_ delta: RecordState, to base: RecordState) -> RecordState {
        RecordState(id: base.id, type: base.type, scope: base.scope, context: delta.context,
                    fields: base.fields.merging(delta.fields) { $1 })
    }

    /// The state after the last of `rows` (oldest first; the first must be a snapshot).
    public static func rebuild(_ rows: [(snapshot: RecordState?, delta: RecordState?)]) -> RecordState? {
        var state: RecordState?
        for row in rows {
            if let snapshot = row.snapshot { state = snapshot } else if let delta = row.delta, let base = state {
                state = apply(delta, to: base)
            }
        }
        return state
    }
}
