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

    public init(position: Int64, receivedAt: Date, replica: String, device: String, user: String, fields: [FieldChange]) {
        self.position = position
        self.receivedAt = receivedAt
        self.replica = replica
        self.device = device
        self.user = user
        self.fields = fields
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
