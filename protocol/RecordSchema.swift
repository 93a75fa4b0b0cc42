/// What a field holds. The wire shape follows from it: text, dates, enum values and
/// references travel as strings, booleans as booleans, enum lists as lists of strings.
public enum FieldKind: Hashable, Sendable, CustomStringConvertible {
    /// Free text. `long` marks fields that usually hold paragraphs (read from a file).
    case text(long: Bool)
    /// A calendar date, `YYYY-MM-DD`.
    case date
    /// One of a fixed set of values.
    case choice([String])
    case bool
    /// The id (a UUID) of a record of the named type.
    case reference(String)
    /// Zero or more of a fixed set of values, without repeats.
    case choices([String])

    public var description: String {
        switch self {
        case .text: return "text"
        case .date: return "a date (YYYY-MM-DD)"
        case .choice(let values): return "one of: " + values.joined(separator: ", ")
        case .bool: return "true or false"
        case .reference(let type): return "the id of a \(type) record"
        case .choices(let values): return "a list of: " + values.joined(separator: ", ")
        }
    }
}

/// One field of a record type: its kind, whether it is required, and who may write it.
public struct FieldSchema: Hashable, Sendable {
    public let name: String
    public let kind: FieldKind
    public let required: Bool
    /// Roles that may write this field at all.
    public let writers: Set<Role>
    /// Values that only some roles may set (a care plan's `vastgesteld` is the office's).
    public let restrictedValues: [String: Set<Role>]
    /// One line for `--help` and for people reading the schema.
    public let summary: String
    /// Retired by its module: hidden from help and forms, still stored and accepted.
    public let deprecated: Bool
    /// Values retired the same way (still valid, no longer offered).
    public let deprecatedValues: Set<String>

    public init(_ name: String, _ kind: FieldKind, required: Bool = false,
                writers: Set<Role> = Role.everyone, restrictedValues: [String: Set<Role>] = [:],
                summary: String, deprecated: Bool = false, deprecatedValues: Set<String> = []) {
        self.name = name
        self.kind = kind
        self.required = required
        self.writers = writers
        self.restrictedValues = restrictedValues
        self.summary = summary
        self.deprecated = deprecated
        self.deprecatedValues = deprecatedValues
    }

    /// The values a form offers: every value but the retired ones.
    public var offeredValues: [String] {
        switch kind {
        case .choice(let values), .choices(let values): return values.filter { !deprecatedValues.contains($0) }
        default: return []
        }
    }

    /// Whether `role` may replace `old` (a value this field holds now): a value only some
    /// roles may set (a care plan's `vastgesteld`) is only theirs to change again.
    public func permits(_ role: Role, toReplace old: FieldValue) -> Bool {
        mayHold(role, old)
    }

    /// Whether `role` may write `value` into this field.
    public func permits(_ role: Role, toWrite value: FieldValue) -> Bool {
        writers.contains(role) && mayHold(role, value)
    }

    /// Whether every restricted value in `value` (one value, or each of a list) is the role's.
    private func mayHold(_ role: Role, _ value: FieldValue) -> Bool {
        restrictedValue(in: value, notFor: role) == nil
    }

    /// The first value in `value` (one value, or each of a list) that is restricted to
    /// roles other than `role`.
    public func restrictedValue(in value: FieldValue, notFor role: Role) -> String? {
        guard !restrictedValues.isEmpty else { return nil }
        switch value {
        case .string(let text): return restrictedValues[text]?.contains(role) == false ? text : nil
        case .strings(let list): return list.first { restrictedValues[$0]?.contains(role) == false }
        default: return nil
        }
    }
}

/// A record type as data: its fields and how its scope is chosen. Client and server
/// validate with the same schema, and a new type needs no sync code.
///
/// ```swift
/// let schema = Schemas.named("visitNote")!
/// schema.field("kind")?.kind   // .choice(["werkbezoek", ...])
/// ```
public struct RecordSchema: Hashable, Sendable {
    /// Where a record of this type gets its scope.
    public enum ScopeRule: Hashable, Sendable {
        /// A location (`loc-…`).
        case location
        /// An organisation or a location.
        case organisationOrLocation
        /// The scope of the record the named reference field points at.
        case inheritedFrom(field: String)
    }

    public let type: String
    /// A short name for people and the CLI (`visit`, `careplan`, …).
    public let noun: String
    public let summary: String
    public let scopeRule: ScopeRule
    /// The type's own fields followed by `deleted`.
    public let fields: [FieldSchema]
    /// Retired by its module: not offered for new records, still stored and accepted.
    public let deprecated: Bool
    /// The roles that may read records of this type, and so write them; a token of another
    /// role never receives one, in any answer.
    public let readers: Set<Role>

    public init(type: String, noun: String, summary: String, scopeRule: ScopeRule, fields: [FieldSchema],
                deprecated: Bool = false, readers: Set<Role> = Role.everyone, deleters: Set<Role>? = nil) {
        self.readers = readers
        self.type = type
        self.noun = noun
        self.summary = summary
        self.scopeRule = scopeRule
        self.deprecated = deprecated
        self.fields = fields + [
            FieldSchema(RecordState.deletedField, .bool, writers: deleters ?? Role.everyone,
                        summary: "whether the record has been deleted")
        ]
    }

    public func field(_ name: String) -> FieldSchema? {
        fields.first { $0.name == name }
    }

    public var fieldNames: [String] { fields.map(\.name) }

    public var requiredFields: [FieldSchema] { fields.filter(\.required) }

    /// The fields a delete by `role` re-asserts (see ``RecordState/delete(allFields:replica:author:time:)``):
    /// every field whose shown value the role may write and whose every entry it may
    /// replace. An office-only field, or a field holding an office decision (a care plan
    /// that is `vastgesteld`, also in a conflict), keeps its entries through a visitor's
    /// delete: only the office replaces an office decision, and a delete is no exception.
    public func reassertedByDelete(of state: RecordState, role: Role) -> [String] {
        fields.filter { field in
            field.permits(role, toWrite: state.value(of: field.name) ?? .null)
                && state.entries(of: field.name).allSatisfy { field.permits(role, toReplace: $0.value) }
        }.map(\.name)
    }
}
