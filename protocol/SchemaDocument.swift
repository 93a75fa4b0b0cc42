/// The record schemas as a document: what `protocol/schemas.json` holds and what the
/// schema tables of `protocol/SPEC.md` are made from, so a client written in another
/// language can learn every field without reading Swift. A test keeps both equal to
/// ``Schemas/all``.
///
/// ```swift
/// let json = try StableJSON.encode(SchemaDocument.current, pretty: true)
/// ```
public struct SchemaDocument: Codable, Hashable, Sendable {
    public struct Scope: Codable, Hashable, Sendable {
        /// `location` (`loc-…`), `organisationOrLocation` (`org-…` or `loc-…`), or
        /// `inheritedFrom` (the scope of the record `field` points at).
        public var rule: String
        public var field: String?

        public init(rule: String, field: String? = nil) {
            self.rule = rule
            self.field = field
        }
    }

    public struct Field: Codable, Hashable, Sendable {
        public var name: String
        /// `text`, `longText`, `date`, `choice`, `choices`, `bool` or `reference`.
        public var kind: String
        public var required: Bool
        /// The roles that may write the field at all.
        public var writers: [String]
        /// For `choice` and `choices`: the allowed values, in order.
        public var values: [String]?
        /// Values only some roles may set (and so only they may replace).
        public var restrictedValues: [String: [String]]?
        /// For `reference`: the type of the record it points at.
        public var references: String?
        public var summary: String
    }

    public struct RecordType: Codable, Hashable, Sendable {
        public var type: String
        public var noun: String
        public var summary: String
        public var scope: Scope
        public var fields: [Field]
        /// The roles that may read the type; absent: every role.
        public var readers: [String]?
    }

    public var roles: [String]
    public var types: [RecordType]

    public static var current: SchemaDocument {
        SchemaDocument(roles: Role.allCases.map(\.rawValue), types: Schemas.all.map(RecordType.init))
    }

    /// The schema tables of SPEC.md, one per type.
    public var markdown: String {
        var out = ""
        for type in types {
            let scope: String
            switch type.scope.rule {
            case "location": scope = "a location, `loc-…`"
            case "organisationOrLocation": scope = "an organisation `org-…` or a location `loc-…`"
            default: scope = "the scope of the record its `\(type.scope.field ?? "")` points at, exactly"
            }
            let readers = type.readers.map { "Read (and written) only by " + $0.joined(separator: ", ") + "." } ?? "Read by every role."
            out += "### `\(type.type)` (`veld \(type.noun)`)\n\n\(type.summary.prefix(1).uppercased() + type.summary.dropFirst()). Scope: \(scope). \(readers)\n\n"
            out += "| field | kind | required | who may write it | meaning |\n|---|---|---|---|---|\n"
            for field in type.fields {
                var kind = "`\(field.kind)`"
                if let values = field.values { kind += ": " + values.map { "`\($0)`" }.joined(separator: ", ") }
                if let target = field.references { kind += " (id of a `\(target)`)" }
                var writers = field.writers.count == roles.count ? "everyone" : field.writers.joined(separator: ", ")
                for (value, roles) in (field.restrictedValues ?? [:]).sorted(by: { $0.key < $1.key }) {
                    writers += "; `\(value)` only \(roles.joined(separator: ", "))"
                }
                out += "| `\(field.name)` | \(kind) | \(field.required ? "yes" : "no") | \(writers) | \(field.summary) |\n"
            }
            out += "\n"
        }
        return out
    }
}

extension SchemaDocument.RecordType {
    init(_ schema: RecordSchema) {
        let scope: SchemaDocument.Scope
        switch schema.scopeRule {
        case .location: scope = SchemaDocument.Scope(rule: "location")
        case .organisationOrLocation: scope = SchemaDocument.Scope(rule: "organisationOrLocation")
        case .inheritedFrom(let field): scope = SchemaDocument.Scope(rule: "inheritedFrom", field: field)
        }
        self.init(type: schema.type, noun: schema.noun, summary: schema.summary, scope: scope,
                  fields: schema.fields.map(SchemaDocument.Field.init),
                  readers: schema.readers == Role.everyone ? nil : Role.allCases.filter(schema.readers.contains).map(\.rawValue))
    }
}

extension SchemaDocument.Field {
    init(_ field: FieldSchema) {
        var values: [String]?, references: String?
        let kind: String
        switch field.kind {
        case .text(let long): kind = long ? "longText" : "text"
        case .date: kind = "date"
        case .bool: kind = "bool"
        case .choice(let options): kind = "choice"; values = options
        case .choices(let options): kind = "choices"; values = options
        case .reference(let type): kind = "reference"; references = type
        }
        let restricted = field.restrictedValues.mapValues { roles in Role.allCases.filter(roles.contains).map(\.rawValue) }
        self.init(name: field.name, kind: kind, required: field.required,
                  writers: Role.allCases.filter(field.writers.contains).map(\.rawValue), values: values,
                  restrictedValues: restricted.isEmpty ? nil : restricted, references: references, summary: field.summary)
    }
}
