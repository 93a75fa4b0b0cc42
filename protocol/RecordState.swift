import Foundation

/// Everything Veld knows about one record: its identity (id, type, scope: fixed at
/// creation), its causal context, and for every field a multi-value register.
///
/// Client and server hold records as `RecordState`s and combine them with one function,
/// ``merged(with:)``, which is commutative, associative and idempotent: every replica that
/// has seen the same edits holds the same state, whatever the order or repetition of
/// delivery.
///
/// ```swift
/// var state = RecordState(id: UUID().uuidString.lowercased(), type: "visitNote", scope: "loc-zonnehof")
/// state.edit(["summary": .string("Rondgang huiskamer")], replica: "r1", author: "anna", time: Date())
/// state.value(of: "summary")   // .string("Rondgang huiskamer")
/// ```
public struct RecordState: Hashable, Codable, Sendable {
    /// The name of the field that marks a record deleted. Deletion is a field like any
    /// other, so a delete concurrent with an edit stays visible.
    public static let deletedField = "deleted"

    /// A client-generated UUID, lowercase.
    public let id: String
    public let type: String
    public let scope: String
    /// For each replica, the highest of its edits to this record this state has seen.
    public private(set) var context: VersionVector
    /// Field name → entries sorted by dot. Never holds an empty list.
    public private(set) var fields: [String: [FieldEntry]]

    public init(id: String, type: String, scope: String,
                context: VersionVector = VersionVector(), fields: [String: [FieldEntry]] = [:]) {
        self.id = id
        self.type = type
        self.scope = scope
        self.context = context
        self.fields = fields.compactMapValues { entries in
            entries.isEmpty ? nil : Self.canonical(entries)
        }
    }

    // MARK: Editing

    /// A local edit at `replica`: takes the next dot and makes each changed field the
    /// single entry of its register. The edit has seen everything in this state, so it
    /// supersedes every current entry of the fields it writes.
    @discardableResult
    public mutating func edit(_ changes: [String: FieldValue], replica: String, author: String,
                              time: Date) -> Dot {
        let dot = context.advance(replica)
        for (field, value) in changes {
            fields[field] = [FieldEntry(value: value, dot: dot, author: author, time: time)]
        }
        return dot
    }

    /// Deletes the record. A delete is an edit of `deleted` that also re-asserts the
    /// current value of every other field in `allFields` (null where there is none):
    /// that way it covers exactly what its author saw, and an edit it did not see, of any
    /// field, stays beside it as a visible conflict instead of vanishing under the delete.
    @discardableResult
    public mutating func delete<Fields: Sequence<String>>(
        allFields: Fields, replica: String, author: String, time: Date
    ) -> Dot {
        var changes: [String: FieldValue] = [Self.deletedField: .bool(true)]
        for field in allFields where field != Self.deletedField {
            changes[field] = value(of: field) ?? .null
        }
        return edit(changes, replica: replica, author: author, time: time)
    }

    // MARK: Merging

    /// The state that has seen everything `self` and `other` have seen.
    ///
    /// The context is the pointwise maximum; for each field an entry of one side survives
    /// if the other side holds it too or has not seen it (its dot is outside the other's
    /// context). An entry the other side has seen but no longer holds was superseded there.
    public func merged(with other: RecordState) throws(RecordIdentityMismatch) -> RecordState {
        guard id == other.id, type == other.type, scope == other.scope else {
            throw RecordIdentityMismatch(mine: self, theirs: other)
        }
        var result = self
        result.context = context.joined(with: other.context)
        var merged: [String: [FieldEntry]] = [:]
        merged.reserveCapacity(Swift.max(fields.count, other.fields.count))
        for (field, mine) in fields {
            let kept = Self.mergeEntries(mine, theirs: other.fields[field] ?? [], mine: context, theirs: other.context)
            if !kept.isEmpty { merged[field] = kept }
        }
        for (field, theirs) in other.fields where fields[field] == nil {
            let kept = Self.mergeEntries([], theirs: theirs, mine: context, theirs: other.context)
            if !kept.isEmpty { merged[field] = kept }
        }
        result.fields = merged
        return result
    }

    /// One field's merge, walking both lists in dot order (each is sorted by dot, one
    /// entry per dot): an entry both hold stays, an entry one side holds stays if the
    /// other side has not seen its dot.
    private static func mergeEntries(_ mine: [FieldEntry], theirs: [FieldEntry],
                                     mine myContext: VersionVector, theirs theirContext: VersionVector) -> [FieldEntry] {
        if mine == theirs { return mine }
        var kept: [FieldEntry] = []
        kept.reserveCapacity(mine.count + theirs.count)
        var i = 0, j = 0
        while i < mine.count || j < theirs.count {
            if j == theirs.count || (i < mine.count && mine[i].dot < theirs[j].dot) {
                if !theirContext.contains(mine[i].dot) { kept.append(mine[i]) }
                i += 1
            } else if i == mine.count || theirs[j].dot < mine[i].dot {
                if !myContext.contains(theirs[j].dot) { kept.append(theirs[j]) }
                j += 1
            } else {
                // One dot, two values: never happens between honest replicas (a server
                // refuses it with 409). Choose the same one whichever side merges.
                kept.append(mine[i] == theirs[j] ? mine[i] : tieBreak(mine[i], theirs[j]))
                i += 1
                j += 1
            }
        }
        return kept
    }

    public mutating func merge(_ other: RecordState) throws(RecordIdentityMismatch) {
        self = try merged(with: other)
    }

    /// Dots that both states hold with different values or metadata. Honest replicas never
    /// produce one; a replica restored from a backup that reuses its id does.
    public func dotsWithDifferentEntries(in other: RecordState) -> [Dot] {
        var clashes: Set<Dot> = []
        for (field, entries) in other.fields {
            for entry in entries {
                guard let local = fields[field]?.first(where: { $0.dot == entry.dot }) else { continue }
                if local != entry { clashes.insert(entry.dot) }
            }
        }
        return clashes.sorted()
    }

    // MARK: Reading

    /// Every entry of `field`, sorted by dot; empty if the field was never written.
    public func entries(of field: String) -> [FieldEntry] {
        fields[field] ?? []
    }

    /// The entry that reads show for `field`: when there is a conflict, the one with the
    /// latest wall time, ties broken by the greatest dot. Every replica holding the same
    /// entries shows the same one; the conflict itself stays marked.
    public func shownEntry(of field: String) -> FieldEntry? {
        guard let entries = fields[field] else { return nil }
        return entries.min(by: FieldEntry.displayPrecedes)
    }

    /// The shown value of `field` (see ``shownEntry(of:)``), nil if never written.
    public func value(of field: String) -> FieldValue? {
        shownEntry(of: field)?.value
    }

    /// Shown values of every field that holds a non-null value, `deleted` included.
    public var currentValues: [String: FieldValue] {
        fields.keys.reduce(into: [:]) { result, field in
            if let value = value(of: field), !value.isNull { result[field] = value }
        }
    }

    /// Fields with more than one entry, each with its entries in display order.
    public var conflicts: [String: [FieldEntry]] {
        fields.filter { $0.value.count > 1 }.mapValues { $0.sorted(by: FieldEntry.displayPrecedes) }
    }

    public var hasConflicts: Bool { fields.values.contains { $0.count > 1 } }

    /// Whether the shown value of `deleted` is true.
    public var isDeleted: Bool { value(of: Self.deletedField) == .bool(true) }

    /// Every dot that appears in a field entry.
    public var entryDots: Set<Dot> {
        Set(fields.values.flatMap { $0.map(\.dot) })
    }

    // MARK: Private

    private static func canonical(_ entries: [FieldEntry]) -> [FieldEntry] {
        if zip(entries, entries.dropFirst()).allSatisfy({ $0.dot < $1.dot }) { return entries }
        var byDot: [Dot: FieldEntry] = [:]
        for entry in entries {
            if let existing = byDot[entry.dot] { byDot[entry.dot] = tieBreak(existing, entry) } else { byDot[entry.dot] = entry }
        }
        return byDot.values.sorted { $0.dot < $1.dot }
    }

    private static func tieBreak(_ a: FieldEntry, _ b: FieldEntry) -> FieldEntry {
        let ka = StableJSON.string(a)
        let kb = StableJSON.string(b)
        return ka <= kb ? a : b
    }
}

/// Two states that claim the same id but disagree on type or scope cannot be merged:
/// a record's identity is fixed when it is created.
public struct RecordIdentityMismatch: Error, CustomStringConvertible, Sendable {
    public let mine: RecordState
    public let theirs: RecordState

    public var description: String {
        "record \(mine.id) is a \(mine.type) in scope \(mine.scope) here but a \(theirs.type) in scope \(theirs.scope) in the other state; a record's type and scope are fixed at creation"
    }
}

extension RecordState {
    private enum CodingKeys: String, CodingKey { case id, type, scope, context, fields }

    /// Decodes into the canonical form every state in memory has (each field's entries
    /// sorted by dot, one per dot, no empty field), whatever order a sender used: the
    /// merge relies on it.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(id: try container.decode(String.self, forKey: .id), type: try container.decode(String.self, forKey: .type),
                  scope: try container.decode(String.self, forKey: .scope),
                  context: try container.decode(VersionVector.self, forKey: .context),
                  fields: try container.decode([String: [FieldEntry]].self, forKey: .fields))
    }
}
