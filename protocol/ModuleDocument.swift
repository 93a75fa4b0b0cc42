import Foundation

/// A module: record types as a document. Veld's own types ship as the module
/// `protocol/modules/veld-core.json`, compiled into this library as data; the format is
/// described for other teams by `protocol/module.schema.json` (JSON Schema) and in SPEC.md.
///
/// ```json
/// {"module": "veld-core", "version": 1, "summary": "…",
///  "types": [{"type": "visitNote", "noun": "visit", "summary": "notes of a visit to a location",
///             "scope": {"rule": "location"},
///             "fields": [{"name": "visitedAt", "kind": "date", "required": true, "summary": "day of the visit"}, …]}]}
/// ```
///
/// A field without `writers` may be written by every role; `required` is false unless
/// given. Every type also has the field `deleted`, which a module does not list.
public struct ModuleDocument: Codable, Hashable, Sendable {
    public struct Field: Codable, Hashable, Sendable {
        public var name: String
        /// `text`, `longText`, `date`, `choice`, `choices`, `bool` or `reference`.
        public var kind: String
        public var required: Bool?
        /// The roles that may write the field at all; absent: every role.
        public var writers: [String]?
        /// For `choice` and `choices`: the allowed values, in order.
        public var values: [String]?
        /// Values only some roles may set (and so only they may replace).
        public var restrictedValues: [String: [String]]?
        /// For `reference`: the type of the record it points at.
        public var references: String?
        /// One line for `--help` and for people reading the module.
        public var summary: String
        /// Hidden from forms and help, still stored, merged and accepted: how a module
        /// retires a field without breaking the devices that hold it.
        public var deprecated: Bool?
        /// Values of a `choice` or `choices` field retired the same way.
        public var deprecatedValues: [String]?

        public init(name: String, kind: String, required: Bool? = nil, writers: [String]? = nil, values: [String]? = nil,
                    restrictedValues: [String: [String]]? = nil, references: String? = nil, summary: String,
                    deprecated: Bool? = nil, deprecatedValues: [String]? = nil) {
            self.name = name
            self.kind = kind
            self.required = required
            self.writers = writers
            self.values = values
            self.restrictedValues = restrictedValues
            self.references = references
            self.summary = summary
            self.deprecated = deprecated
            self.deprecatedValues = deprecatedValues
        }
    }

    public struct RecordType: Codable, Hashable, Sendable {
        public var type: String
        /// The CLI's name for it (`veld visit`).
        public var noun: String
        public var summary: String
        public var scope: SchemaDocument.Scope
        public var fields: [Field]
        /// Hidden from `veld add` and forms; its records are still stored, merged and accepted.
        public var deprecated: Bool?
        /// The roles that may read (and so write) records of the type at all, within their
        /// scopes; absent: every role.
        public var readers: [String]?
        /// The roles that may delete (and restore) its records: they write its `deleted`;
        /// absent: every reader. A type whose records are one role's decision (a bulletin)
        /// keeps other roles from deleting them as much as from editing them.
        public var deleters: [String]?

        public init(type: String, noun: String, summary: String, scope: SchemaDocument.Scope, fields: [Field],
                    deprecated: Bool? = nil, readers: [String]? = nil, deleters: [String]? = nil) {
            self.type = type
            self.noun = noun
            self.summary = summary
            self.scope = scope
            self.fields = fields
            self.deprecated = deprecated
            self.readers = readers
            self.deleters = deleters
        }
    }

    /// The module's name, `veld-core` (lowercase letters, digits and dashes).
    public var module: String
    /// Counts the module's published changes, from 1.
    public var version: Int
    public var summary: String
    public var types: [RecordType]
    /// Deadline rules on this module's types or any other's in the set (SPEC.md, "Rules").
    public var rules: [DueRule]?
    /// Report definitions, and sections added to another module's reports (SPEC.md, "Reports").
    public var reports: [ReportDefinition]?

    public init(module: String, version: Int, summary: String, types: [RecordType], rules: [DueRule]? = nil,
                reports: [ReportDefinition]? = nil) {
        self.module = module
        self.version = version
        self.summary = summary
        self.types = types
        self.rules = rules
        self.reports = reports
    }

    /// The keys each object of a module may have: a misspelt key is refused, never ignored.
    static let allowedKeys: [String: Set<String>] = DueRule.allowedKeys.merging(ReportDefinition.allowedKeys) { $1 }.merging([
        "module": ["module", "version", "summary", "types", "rules", "reports"],
        "type": ["type", "noun", "summary", "scope", "fields", "deprecated", "readers", "deleters"],
        "scope": ["rule", "field"],
        "field": ["name", "kind", "required", "writers", "values", "restrictedValues", "references", "summary",
                  "deprecated", "deprecatedValues"],
    ]) { $1 }

    /// Reads a module from its JSON, refusing unknown keys and anything ``problems(alongside:)``
    /// finds, with every reason.
    public static func parse(_ data: Data, alongside others: [ModuleDocument] = []) throws -> ModuleDocument {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw ModuleProblems(["the module is not JSON (\(error.localizedDescription))"])
        }
        var problems = unknownKeys(object)
        if !problems.isEmpty { throw ModuleProblems(problems) }
        let module: ModuleDocument
        do { module = try StableJSON.decode(ModuleDocument.self, from: data) } catch {
            throw ModuleProblems(["the module does not have the shape of protocol/module.schema.json (\(error))"])
        }
        problems = module.problems(alongside: others)
        if !problems.isEmpty { throw ModuleProblems(problems) }
        return module
    }

    private static func unknownKeys(_ object: Any) -> [String] {
        var problems: [String] = []
        func check(_ value: Any, as kind: String, at path: String) {
            guard let dictionary = value as? [String: Any] else { return }
            for key in dictionary.keys.sorted() where !(allowedKeys[kind]?.contains(key) ?? true) {
                problems.append("\(path): unknown key \"\(key)\" (allowed: \(allowedKeys[kind]!.sorted().joined(separator: ", ")))")
            }
            if kind == "module", let types = dictionary["types"] as? [Any] {
                for (index, type) in types.enumerated() { check(type, as: "type", at: "types[\(index)]") }
            }
            if kind == "module", let rules = dictionary["rules"] as? [Any] {
                for (index, rule) in rules.enumerated() { check(rule, as: "rule", at: "rules[\(index)]") }
            }
            if kind == "module", let reports = dictionary["reports"] as? [Any] {
                for (index, report) in reports.enumerated() { check(report, as: "report", at: "reports[\(index)]") }
            }
            if kind == "report" {
                for (index, section) in (dictionary["sections"] as? [Any] ?? []).enumerated() {
                    check(section, as: "section", at: "\(path).sections[\(index)]")
                }
            }
            if kind == "section" {
                if let span = dictionary["active"] { check(span, as: "span", at: "\(path).active") }
                for (index, condition) in (dictionary["when"] as? [Any] ?? []).enumerated() {
                    check(condition, as: "condition", at: "\(path).when[\(index)]")
                }
                for (index, column) in (dictionary["columns"] as? [Any] ?? []).enumerated() {
                    check(column, as: "column", at: "\(path).columns[\(index)]")
                }
            }
            if kind == "column" {
                for key in ["when", "any"] {
                    for (index, condition) in (dictionary[key] as? [Any] ?? []).enumerated() {
                        check(condition, as: "condition", at: "\(path).\(key)[\(index)]")
                    }
                }
                if let span = dictionary["workingDays"] { check(span, as: "span", at: "\(path).workingDays") }
            }
            if kind == "rule" {
                for (key, part) in [("when", "condition"), ("from", "anchor"), ("done", "done")] {
                    for (index, item) in (dictionary[key] as? [Any] ?? []).enumerated() { check(item, as: part, at: "\(path).\(key)[\(index)]") }
                }
                if let term = dictionary["term"] { check(term, as: "term", at: "\(path).term") }
                if let termBy = dictionary["termBy"] as? [String: Any] {
                    check(termBy, as: "termBy", at: "\(path).termBy")
                    for (value, term) in (termBy["terms"] as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
                        check(term, as: "term", at: "\(path).termBy.terms.\(value)")
                    }
                }
            }
            if kind == "anchor", let term = dictionary["term"] { check(term, as: "term", at: "\(path).term") }
            if kind == "type" {
                if let scope = dictionary["scope"] { check(scope, as: "scope", at: "\(path).scope") }
                for (index, field) in (dictionary["fields"] as? [Any] ?? []).enumerated() {
                    check(field, as: "field", at: "\(path).fields[\(index)]")
                }
            }
        }
        check(object, as: "module", at: "module")
        return problems
    }

    static let kinds: Set<String> = ["text", "longText", "date", "choice", "choices", "bool", "reference"]

    /// Why this module cannot be used next to `others` (the modules in force), one reason
    /// per entry; empty when it can. Checks names, kinds, values, roles, references and
    /// scope rules.
    public func problems(alongside others: [ModuleDocument] = []) -> [String] {
        var problems: [String] = []
        func name(_ text: String, _ pattern: String) -> Bool { text.range(of: pattern, options: .regularExpression) != nil }
        func line(_ text: String) -> Bool { !text.isEmpty && text.count <= 200 && !text.contains(where: \.isNewline) }
        if !name(module, "^[a-z][a-z0-9-]{1,39}$") { problems.append("module name \"\(module)\": lowercase letters, digits and dashes, 2 to 40") }
        if version < 1 || version > 1_000_000 { problems.append("version \(version): a module's versions count from 1 (to at most 1,000,000)") }
        if !line(summary) { problems.append("summary: one line of at most 200 characters") }
        if types.isEmpty { problems.append("types: a module defines at least one type") }
        let otherTypes = others.filter { $0.module != module }.flatMap(\.types)
        let allTypes = Set((otherTypes + types).map(\.type))
        let roles = Set(Role.allCases.map(\.rawValue))
        var typesSeen: Set<String> = [], nounsSeen = Set(otherTypes.map(\.noun))
        for other in otherTypes where types.contains(where: { $0.type == other.type }) {
            problems.append("type \(other.type) is defined by another module already")
        }
        for type in types {
            let at = "type \(type.type)"
            if !name(type.type, "^[a-z][A-Za-z0-9]{1,39}$") { problems.append("\(at): a type name is camelCase letters and digits, 2 to 40") }
            if !typesSeen.insert(type.type).inserted { problems.append("\(at) is defined twice") }
            if !name(type.noun, "^[a-z][a-z0-9-]{1,29}$") { problems.append("\(at): noun \"\(type.noun)\": lowercase letters, digits and dashes") }
            if !nounsSeen.insert(type.noun).inserted { problems.append("\(at): noun \(type.noun) is taken") }
            if !line(type.summary) { problems.append("\(at): summary: one line of at most 200 characters") }
            if type.fields.isEmpty { problems.append("\(at): a type has at least one field") }
            for role in type.readers ?? [] where !roles.contains(role) { problems.append("\(at): readers: no role \(role)") }
            if let readers = type.readers, readers.isEmpty { problems.append("\(at): readers: at least one role (leave it out for every role)") }
            for role in type.deleters ?? [] where !roles.contains(role) { problems.append("\(at): deleters: no role \(role)") }
            if let deleters = type.deleters, deleters.isEmpty { problems.append("\(at): deleters: at least one role (leave it out for every reader)") }
            var fieldsSeen: Set<String> = []
            for field in type.fields {
                let at = "\(at), field \(field.name)"
                if !name(field.name, "^[a-z][A-Za-z0-9]{0,39}$") { problems.append("\(at): a field name is camelCase letters and digits") }
                if field.name == RecordState.deletedField { problems.append("\(at): every type has `deleted` already; a module does not list it") }
                if !fieldsSeen.insert(field.name).inserted { problems.append("\(at) is listed twice") }
                if !Self.kinds.contains(field.kind) { problems.append("\(at): kind \"\(field.kind)\" is not one of \(Self.kinds.sorted().joined(separator: ", "))") }
                if !line(field.summary) { problems.append("\(at): summary: one line of at most 200 characters") }
                let choice = field.kind == "choice" || field.kind == "choices"
                if choice {
                    let values = field.values ?? []
                    if values.isEmpty { problems.append("\(at): a \(field.kind) field lists its values") }
                    if Set(values).count != values.count { problems.append("\(at): values are listed once each") }
                    if values.contains(where: { !line($0) || $0.count > 100 }) { problems.append("\(at): a value is one line of at most 100 characters") }
                } else if field.values != nil {
                    problems.append("\(at): only choice and choices fields have values")
                }
                for value in field.deprecatedValues ?? [] where !(field.values ?? []).contains(value) {
                    problems.append("\(at): deprecatedValues: \(value) is not one of its values")
                }
                if field.deprecated == true, field.required == true {
                    problems.append("\(at): a deprecated field is not required (forms no longer ask for it)")
                }
                if field.kind == "reference" {
                    if let target = field.references {
                        if !allTypes.contains(target) { problems.append("\(at): references \(target), which no module defines") }
                    } else {
                        problems.append("\(at): a reference names the type it points at (references)")
                    }
                } else if field.references != nil {
                    problems.append("\(at): only reference fields have references")
                }
                for role in field.writers ?? [] where !roles.contains(role) { problems.append("\(at): writers: no role \(role)") }
                if let writers = field.writers, writers.isEmpty { problems.append("\(at): writers: at least one role (leave it out for every role)") }
                for (value, valueRoles) in (field.restrictedValues ?? [:]).sorted(by: { $0.key < $1.key }) {
                    if !(field.values ?? []).contains(value) { problems.append("\(at): restrictedValues: \(value) is not one of its values") }
                    for role in valueRoles where !roles.contains(role) { problems.append("\(at): restrictedValues: no role \(role)") }
                    if valueRoles.isEmpty { problems.append("\(at): restrictedValues: \(value) needs at least one role") }
                }
            }
            switch type.scope.rule {
            case "location", "organisationOrLocation":
                if type.scope.field != nil { problems.append("\(at): scope \(type.scope.rule) takes no field") }
            case "inheritedFrom":
                guard let parent = type.scope.field, let field = type.fields.first(where: { $0.name == parent }) else {
                    problems.append("\(at): scope inheritedFrom names one of the type's fields")
                    break
                }
                if field.kind != "reference" || field.required != true {
                    problems.append("\(at): scope inheritedFrom needs \(parent) to be a required reference")
                }
                // A record that belongs to another tells of it: no role reads it that may not read the other.
                if let target = field.references, let parentType = (otherTypes + types).first(where: { $0.type == target }) {
                    let parentReaders = parentType.readerSet
                    for role in Role.allCases where type.readerSet.contains(role) && !parentReaders.contains(role) {
                        problems.append("\(at): the \(role.rawValue) role would read it but may not read the \(target) it belongs to; give it readers among \(target)'s")
                    }
                }
            default:
                problems.append("\(at): scope rule \"\(type.scope.rule)\" is not location, organisationOrLocation or inheritedFrom")
            }
        }
        if problems.isEmpty, let rules {
            // Rules may be about any type of the set; the types are checked first.
            var schemas: [String: RecordSchema] = [:]
            for schema in others.filter({ $0.module != module }).flatMap(\.schemas) + self.schemas { schemas[schema.type] = schema }
            var ids: Set<String> = []
            for rule in rules {
                if !ids.insert(rule.id).inserted { problems.append("rule \(rule.id) is listed twice") }
                problems += rule.problems(types: schemas)
            }
        }
        if problems.isEmpty, let reports {
            var schemas: [String: RecordSchema] = [:]
            for schema in others.filter({ $0.module != module }).flatMap(\.schemas) + self.schemas { schemas[schema.type] = schema }
            var defined: [String: ReportDefinition] = [:]
            for report in others.filter({ $0.module != module }).flatMap({ $0.reports ?? [] }) + reports {
                if let id = report.id, defined[id] == nil { defined[id] = report }
            }
            var ids: Set<String> = []
            for report in reports {
                if let id = report.id, !ids.insert(id).inserted { problems.append("report \(id) is listed twice") }
                problems += report.problems(types: schemas, reports: defined)
            }
        }
        return problems
    }

    /// The record schemas this module defines. Only for a module without problems.
    public var schemas: [RecordSchema] {
        types.map { type in
            let scope: RecordSchema.ScopeRule
            switch type.scope.rule {
            case "location": scope = .location
            case "organisationOrLocation": scope = .organisationOrLocation
            default: scope = .inheritedFrom(field: type.scope.field ?? "")
            }
            return RecordSchema(type: type.type, noun: type.noun, summary: type.summary, scopeRule: scope,
                                fields: type.fields.map(\.schema), deprecated: type.deprecated ?? false,
                                readers: type.readers.map { Set($0.compactMap(Role.init(rawValue:))) } ?? Role.everyone,
                                deleters: type.deleters.map { Set($0.compactMap(Role.init(rawValue:))) })
        }
    }
}

extension ModuleDocument.Field {
    var schema: FieldSchema {
        let kind: FieldKind
        switch self.kind {
        case "longText": kind = .text(long: true)
        case "date": kind = .date
        case "bool": kind = .bool
        case "choice": kind = .choice(values ?? [])
        case "choices": kind = .choices(values ?? [])
        case "reference": kind = .reference(references ?? "")
        default: kind = .text(long: false)
        }
        func roles(_ names: [String]) -> Set<Role> { Set(names.compactMap(Role.init(rawValue:))) }
        return FieldSchema(name, kind, required: required ?? false, writers: writers.map(roles) ?? Role.everyone,
                           restrictedValues: (restrictedValues ?? [:]).mapValues(roles), summary: summary,
                           deprecated: deprecated ?? false, deprecatedValues: Set(deprecatedValues ?? []))
    }
}

/// Why a module was refused: every reason, one per line.
public struct ModuleProblems: Error, CustomStringConvertible, Sendable {
    public let reasons: [String]
    public init(_ reasons: [String]) { self.reasons = reasons }
    public var description: String { "the module was refused:\n" + reasons.map { "- \($0)" }.joined(separator: "\n") }
}

/// The modules that ship with Veld, compiled in as data (`protocol/modules/*.json`).
public enum Modules {
    /// Decoded without `parse`'s checks, which the module tests run on the same bytes
    /// (`ModuleDocumentTests.theBuiltInModuleIsTheSchemas`): every process of Veld loads
    /// this once, and the checks were most of the 12 ms it took (BENCHMARKS.md).
    public static let builtIn: [ModuleDocument] = {
        do {
            return [try StableJSON.decode(ModuleDocument.self, from: Data(PackageResources.veld_core_json))]
        } catch {
            // A build defect, not input: the module tests refuse such a build first.
            fatalError("the built-in module veld-core does not load: \(error)")
        }
    }()
}
