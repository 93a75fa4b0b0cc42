import Foundation

/// A report, as a module states it: tables (sections) over the records, each selecting
/// records of one type, optionally grouping them, and mapping fields to columns or
/// aggregating them. Capture once, report many: every financier's report is a document
/// over the same records, and a report shows nothing its definition does not list.
///
/// ```json
/// {"id": "evidence", "title": "Bewijsdossier", "recipient": "accountant",
///  "source": "S: 001 §2.2: the accountant looks for care plans and the number of rapportages",
///  "sections": [{"id": "clients", "title": "Per cliënt", "type": "carePlan", "financier": "financier",
///                "groupBy": "clientCode",
///                "columns": [{"name": "cliëntcode", "field": "clientCode"},
///                            {"name": "plan aanwezig", "any": [{"field": "status", "isOneOf": ["vastgesteld"]}]},
///                            {"name": "rapportages in periode", "count": true, "linked": "careReport.carePlan",
///                             "inPeriod": "reportedOn"}]}]}
/// ```
///
/// A module may also add sections to a report of another module (`extends`), as the
/// complaints module adds its complaints to the evidence pack.
public struct ReportDefinition: Codable, Hashable, Sendable {
    /// One column: exactly one of `field`, `count`, `latest`, `any`, `overdue`,
    /// `workingDays` or `constant` says what it holds.
    public struct Column: Codable, Hashable, Sendable {
        public var name: String
        /// The shown value of a field of the row's record (`@scope`: its scope). In a
        /// grouped section, only the field it groups by.
        public var field: String?
        /// How many records the row stands for (meeting `when`), or with `linked` how many
        /// records point at them (within the period by `inPeriod`).
        public var count: Bool?
        public var when: [DueRule.Condition]?
        /// The latest date in this field among the row's records (with `linked`: among the
        /// records that point at them).
        public var latest: String?
        /// `TYPE.FIELD`: the records of TYPE whose reference FIELD points at the row's records.
        public var linked: String?
        /// With `linked` and `count`: only linked records whose date field is in the period.
        public var inPeriod: String?
        /// "ja" when any of the row's records meets every condition, else "nee".
        public var any: [DueRule.Condition]?
        /// The number of the row's deadlines (the set's rules) that are late on the reference date.
        public var overdue: Bool?
        /// Working days from one date field to another: per record, or their average in a group.
        public var workingDays: Span?
        /// The same text in every row (a product code a municipality asks for).
        public var constant: String?

        public init(name: String, field: String? = nil, count: Bool? = nil, when: [DueRule.Condition]? = nil,
                    latest: String? = nil, linked: String? = nil, inPeriod: String? = nil,
                    any: [DueRule.Condition]? = nil, overdue: Bool? = nil, workingDays: Span? = nil, constant: String? = nil) {
            self.name = name
            self.field = field
            self.count = count
            self.when = when
            self.latest = latest
            self.linked = linked
            self.inPeriod = inPeriod
            self.any = any
            self.overdue = overdue
            self.workingDays = workingDays
            self.constant = constant
        }

        /// The keys that say what the column holds (one of them, exactly).
        var kinds: [String] {
            [("field", field != nil), ("count", count == true), ("latest", latest != nil), ("any", any != nil),
             ("overdue", overdue == true), ("workingDays", workingDays != nil), ("constant", constant != nil)]
                .filter(\.1).map(\.0)
        }
    }

    public struct Span: Codable, Hashable, Sendable {
        public var from: String
        public var to: String

        public init(from: String, to: String) {
            self.from = from
            self.to = to
        }
    }

    public struct Section: Codable, Hashable, Sendable {
        /// Unique in the report: lowercase letters, digits and dashes.
        public var id: String
        public var title: String
        public var type: String
        /// Every condition must hold for a record to be selected.
        public var when: [DueRule.Condition]?
        /// The field that must equal the financier a report is asked for (`--financier`);
        /// absent: the section is the organisation's, whatever the financier.
        public var financier: String?
        /// A date field: only records whose date is in the report's period.
        public var inPeriod: String?
        /// Two date fields (a start and an end): with a period, only records active in it
        /// (started by its end, and not ended before its start; no end: still active).
        public var active: Span?
        /// One row per value of this field (`@scope`: per scope); absent: one row per record.
        /// A `choices` field puts a record in the row of each of its values.
        public var groupBy: String?
        public var columns: [Column]
        /// `mapping`: the columns come from a mapping file given when the report is made
        /// (a municipality's own columns); `columns` is then empty.
        public var columnsFrom: String?

        public init(id: String, title: String, type: String, when: [DueRule.Condition]? = nil, financier: String? = nil,
                    inPeriod: String? = nil, active: Span? = nil, groupBy: String? = nil, columns: [Column], columnsFrom: String? = nil) {
            self.id = id
            self.title = title
            self.type = type
            self.when = when
            self.financier = financier
            self.inPeriod = inPeriod
            self.active = active
            self.groupBy = groupBy
            self.columns = columns
            self.columnsFrom = columnsFrom
        }
    }

    /// Unique in the set (lowercase letters, digits and dashes), or the report this one adds
    /// sections to (`extends`).
    public var id: String?
    public var extends: String?
    public var title: String?
    /// Who receives it (`zorgkantoor`, `accountant; bestuur`).
    public var recipient: String?
    /// Where the report's form comes from, with its grade (S:, E: or D:, as for rules).
    public var source: String?
    public var sections: [Section]

    public init(id: String? = nil, extends: String? = nil, title: String? = nil, recipient: String? = nil,
                source: String? = nil, sections: [Section]) {
        self.id = id
        self.extends = extends
        self.title = title
        self.recipient = recipient
        self.source = source
        self.sections = sections
    }

    /// The pseudo-field of a record's scope.
    public static let scopeField = "@scope"

    static let allowedKeys: [String: Set<String>] = [
        "report": ["id", "extends", "title", "recipient", "source", "sections"],
        "section": ["id", "title", "type", "when", "financier", "inPeriod", "active", "groupBy", "columns", "columnsFrom"],
        "column": ["name", "field", "count", "when", "latest", "linked", "inPeriod", "any", "overdue", "workingDays", "constant"],
        "span": ["from", "to"],
    ]

    /// Every field the report reads, as `TYPE.FIELD`: what `veld schema --usage` reports.
    public var fieldsRead: Set<String> {
        var fields: Set<String> = []
        for section in sections {
            fields.formUnion(section.fieldsRead)
        }
        return fields
    }

    /// Why this report cannot be used with these record types (and reports to extend), one
    /// reason each.
    func problems(types: [String: RecordSchema], reports: [String: ReportDefinition]) -> [String] {
        var problems: [String] = []
        let name = id ?? extends ?? "?"
        let at = "report \(name)"
        func line(_ text: String, _ limit: Int) -> Bool { !text.isEmpty && text.count <= limit && !text.contains(where: \.isNewline) }
        func isName(_ text: String) -> Bool { text.range(of: "^[a-z][a-z0-9-]{1,59}$", options: .regularExpression) != nil }
        switch (id, extends) {
        case (let id?, nil):
            if !isName(id) { problems.append("\(at): an id is lowercase letters, digits and dashes, 2 to 60") }
            if title.map({ !line($0, 120) }) ?? true { problems.append("\(at): title: one line of at most 120 characters") }
            if let recipient, !line(recipient, 200) { problems.append("\(at): recipient: one line of at most 200 characters") }
            if let source {
                if !line(source, 500) { problems.append("\(at): source: one line of at most 500 characters") }
                else if !(["S:", "E:", "D:"].contains { source.hasPrefix($0) }) {
                    problems.append("\(at): source starts with its grade: S: (the source documents), E: (outside them, verify) or D: (a design default)")
                }
            } else {
                problems.append("\(at): source: where the report's form comes from, starting S:, E: or D:")
            }
        case (nil, let extended?):
            // A report not in the set (yet): the sections wait for it, so the module also
            // goes on a set with an older version of the module that defines the report.
            if !isName(extended) { problems.append("\(at): extends names a report id: lowercase letters, digits and dashes") }
            if title != nil || recipient != nil || source != nil {
                problems.append("\(at): a report that extends another adds sections only (no title, recipient or source)")
            }
        default:
            problems.append("report: either id (a report of its own) or extends (sections added to another's)")
        }
        if sections.isEmpty { problems.append("\(at): sections: at least one") }
        var sectionIDs = Set((extends.flatMap { reports[$0] }?.sections ?? []).map(\.id))
        for section in sections {
            if !isName(section.id) { problems.append("\(at), section \(section.id): an id is lowercase letters, digits and dashes") }
            if !sectionIDs.insert(section.id).inserted { problems.append("\(at): section \(section.id) is listed twice") }
            problems += section.problems(at: "\(at), section \(section.id)", types: types)
        }
        return problems
    }
}

extension ReportDefinition.Section {
    /// Every field the section reads, as `TYPE.FIELD`.
    public var fieldsRead: Set<String> {
        var fields: Set<String> = []
        func add(_ field: String?, of type: String? = nil) {
            guard let field, field != ReportDefinition.scopeField else { return }
            fields.insert("\(type ?? self.type).\(field)")
        }
        for condition in when ?? [] { add(condition.field) }
        add(financier)
        add(inPeriod)
        add(active?.from)
        add(active?.to)
        add(groupBy)
        for column in columns { fields.formUnion(column.fieldsRead(of: type)) }
        return fields
    }

    func problems(at: String, types: [String: RecordSchema]) -> [String] {
        var problems: [String] = []
        if title.isEmpty || title.count > 120 || title.contains(where: \.isNewline) {
            problems.append("\(at): title: one line of at most 120 characters")
        }
        guard let schema = types[type], schema.type == type else {
            return problems + ["\(at): type \(type) is in no module of the set"]
        }
        let check = ReportFieldCheck(schema: schema, types: types, at: at)
        for condition in when ?? [] { problems += check.condition(condition, "when") }
        if let financier { problems += check.field(financier, "financier", kinds: ["text", "choice"]) }
        if let inPeriod { problems += check.field(inPeriod, "inPeriod", kinds: ["date"]) }
        if let active {
            problems += check.field(active.from, "active from", kinds: ["date"])
            problems += check.field(active.to, "active to", kinds: ["date"])
        }
        if let groupBy, groupBy != ReportDefinition.scopeField {
            problems += check.field(groupBy, "groupBy", kinds: ["text", "choice", "choices", "bool", "date"])
        }
        switch columnsFrom {
        case nil:
            if columns.isEmpty { problems.append("\(at): columns: at least one (or columnsFrom: mapping)") }
        case "mapping":
            if !columns.isEmpty { problems.append("\(at): columnsFrom mapping takes its columns from the mapping file; list none") }
            if groupBy != nil { problems.append("\(at): columnsFrom mapping makes one row per record; no groupBy") }
        case let other?:
            problems.append("\(at): columnsFrom \(other): the only source of columns is mapping")
        }
        problems += Self.columnProblems(columns, at: at, groupBy: groupBy, check: check)
        return problems
    }

    /// Why these columns cannot be used on the section's type: also how a mapping file's
    /// columns are checked.
    static func columnProblems(_ columns: [ReportDefinition.Column], at: String, groupBy: String?, check: ReportFieldCheck) -> [String] {
        var problems: [String] = []
        var names: Set<String> = []
        for column in columns {
            let at = "\(at), column \(column.name)"
            if column.name.isEmpty || column.name.count > 80 || column.name.contains(where: \.isNewline) {
                problems.append("\(at): a column name is one line of at most 80 characters")
            }
            if !names.insert(column.name).inserted { problems.append("\(at) is listed twice") }
            let kinds = column.kinds
            guard kinds.count == 1, let kind = kinds.first else {
                problems.append("\(at): exactly one of field, count, latest, any, overdue, workingDays or constant")
                continue
            }
            if column.when != nil, kind != "count" { problems.append("\(at): when goes with count") }
            if column.linked != nil, kind != "count", kind != "latest" { problems.append("\(at): linked goes with count or latest") }
            if column.inPeriod != nil, column.linked == nil || kind != "count" { problems.append("\(at): inPeriod goes with a linked count") }
            var linkedSchema: RecordSchema?
            if let linked = column.linked {
                switch check.linked(linked) {
                case .success(let schema): linkedSchema = schema
                case .failure(let problem): problems.append("\(at): \(problem.text)")
                }
            }
            switch kind {
            case "field":
                let name = column.field!
                if let groupBy {
                    if name != groupBy { problems.append("\(at): a grouped section shows only the field it groups by (\(groupBy)); count or take the latest of others") }
                } else if name != ReportDefinition.scopeField {
                    problems += check.field(name, "field", kinds: nil)
                }
            case "count":
                for condition in column.when ?? [] {
                    problems += (linkedSchema.map { check.on($0) } ?? check).condition(condition, "when")
                }
                if let inPeriod = column.inPeriod, let linkedSchema {
                    problems += check.on(linkedSchema).field(inPeriod, "inPeriod", kinds: ["date"])
                }
            case "latest":
                if column.linked == nil || linkedSchema != nil {
                    problems += (linkedSchema.map { check.on($0) } ?? check).field(column.latest!, "latest", kinds: ["date"])
                }
            case "any":
                if column.any!.isEmpty { problems.append("\(at): any lists at least one condition") }
                for condition in column.any! { problems += check.condition(condition, "any") }
            case "workingDays":
                problems += check.field(column.workingDays!.from, "workingDays from", kinds: ["date"])
                problems += check.field(column.workingDays!.to, "workingDays to", kinds: ["date"])
            case "constant":
                let text = column.constant!
                if text.count > 200 || text.contains(where: \.isNewline) { problems.append("\(at): a constant is one line of at most 200 characters") }
            default: break
            }
        }
        return problems
    }
}

extension ReportDefinition.Column {
    /// The fields this column reads, as `TYPE.FIELD` (`type` is its section's).
    public func fieldsRead(of type: String) -> Set<String> {
        var fields: Set<String> = []
        let linkedType = linked?.split(separator: ".").first.map(String.init)
        if let linked { fields.insert(linked) }
        let own = linkedType ?? type
        if let field, field != ReportDefinition.scopeField { fields.insert("\(type).\(field)") }
        for condition in when ?? [] { fields.insert("\(own).\(condition.field)") }
        if let latest { fields.insert("\(own).\(latest)") }
        if let inPeriod { fields.insert("\(own).\(inPeriod)") }
        for condition in any ?? [] { fields.insert("\(type).\(condition.field)") }
        if let workingDays {
            fields.insert("\(type).\(workingDays.from)")
            fields.insert("\(type).\(workingDays.to)")
        }
        return fields
    }
}

/// Checks a report's field names against a type's schema.
struct ReportFieldCheck {
    struct Problem: Error { let text: String }
    let schema: RecordSchema
    let types: [String: RecordSchema]
    let at: String

    func on(_ other: RecordSchema) -> ReportFieldCheck { ReportFieldCheck(schema: other, types: types, at: at) }

    func field(_ name: String, _ what: String, kinds: Set<String>?) -> [String] {
        guard let field = schema.fields.first(where: { $0.name == name }) else {
            return ["\(at): \(what): \(schema.type) has no field \(name)"]
        }
        if let kinds, !kinds.contains(field.kind.name) {
            return ["\(at): \(what): \(schema.type).\(name) is a \(field.kind.name) field, not \(kinds.sorted().joined(separator: " or "))"]
        }
        return []
    }

    func condition(_ condition: DueRule.Condition, _ what: String) -> [String] {
        var problems = field(condition.field, what, kinds: nil)
        if (condition.isOneOf == nil) == (condition.present == nil) {
            problems.append("\(at): \(what) \(condition.field): either isOneOf or present")
        }
        if let values = condition.isOneOf, let field = schema.fields.first(where: { $0.name == condition.field }) {
            if values.isEmpty { problems.append("\(at): \(what) \(condition.field): isOneOf lists at least one value") }
            switch field.kind {
            case .choice(let allowed), .choices(let allowed):
                for value in values where !allowed.contains(value) {
                    problems.append("\(at): \(what): \(value) is not a value of \(schema.type).\(condition.field)")
                }
            case .bool:
                for value in values where value != "true" && value != "false" {
                    problems.append("\(at): \(what): \(schema.type).\(condition.field) is true or false")
                }
            case .text: break
            case .date, .reference:
                problems.append("\(at): \(what): \(schema.type).\(condition.field) is a \(field.kind.name), not a value to compare")
            }
        }
        return problems
    }

    /// The schema of the records `TYPE.FIELD` names, when FIELD is a reference to this type.
    func linked(_ link: String) -> Result<RecordSchema, Problem> {
        let parts = link.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, let other = types[parts[0]], other.type == parts[0],
              let reference = other.fields.first(where: { $0.name == parts[1] }) else {
            return .failure(Problem(text: "linked \(link): TYPE.FIELD of a reference field in the set"))
        }
        guard reference.kind == .reference(schema.type) else {
            return .failure(Problem(text: "linked \(link) does not point at \(schema.type)"))
        }
        return .success(other)
    }
}

/// A municipality's own columns for the accountability export: a file the office keeps
/// per municipality and contract year ("De vorm en regels … kunnen elk jaar volledig
/// anders zijn"), checked like a report's columns.
///
/// ```json
/// {"gemeente": "Gemeente Utrecht", "contractYear": 2026,
///  "columns": [{"name": "Productcode", "constant": "45A01"}, {"name": "Cliëntnummer", "field": "clientCode"}]}
/// ```
public struct ReportMapping: Codable, Hashable, Sendable {
    /// The financier the export is for: care plans whose section's financier field holds it.
    public var gemeente: String
    public var contractYear: Int
    public var columns: [ReportDefinition.Column]

    public init(gemeente: String, contractYear: Int, columns: [ReportDefinition.Column]) {
        self.gemeente = gemeente
        self.contractYear = contractYear
        self.columns = columns
    }

    static let allowedKeys: Set<String> = ["gemeente", "contractYear", "columns"]

    /// Reads a mapping file and checks its columns against the section that takes them.
    public static func parse(_ data: Data, for section: ReportDefinition.Section, in set: SchemaSet) throws -> ReportMapping {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw ModuleProblems(["the mapping file is not JSON (\(error.localizedDescription))"])
        }
        var problems: [String] = []
        if let dictionary = object as? [String: Any] {
            for key in dictionary.keys.sorted() where !allowedKeys.contains(key) {
                problems.append("mapping: unknown key \"\(key)\" (allowed: \(allowedKeys.sorted().joined(separator: ", ")))")
            }
            for (index, column) in (dictionary["columns"] as? [Any] ?? []).enumerated() {
                let keys = column as? [String: Any] ?? [:]
                for key in keys.keys.sorted() where !ReportDefinition.allowedKeys["column"]!.contains(key) {
                    problems.append("mapping: columns[\(index)]: unknown key \"\(key)\"")
                }
                for key in (keys["workingDays"] as? [String: Any] ?? [:]).keys.sorted() where !ReportDefinition.allowedKeys["span"]!.contains(key) {
                    problems.append("mapping: columns[\(index)].workingDays: unknown key \"\(key)\"")
                }
            }
        }
        if !problems.isEmpty { throw ModuleProblems(problems) }
        let mapping: ReportMapping
        do { mapping = try StableJSON.decode(ReportMapping.self, from: data) } catch {
            throw ModuleProblems(["the mapping file needs gemeente, contractYear and columns (\(error))"])
        }
        if mapping.gemeente.trimmingCharacters(in: .whitespaces).isEmpty || mapping.gemeente.count > 200
            || mapping.gemeente.contains(where: \.isNewline) {
            problems.append("mapping: gemeente: the financier's name as care plans hold it, one line")
        }
        if !(2000...2999).contains(mapping.contractYear) { problems.append("mapping: contractYear: a year such as 2026") }
        if mapping.columns.isEmpty { problems.append("mapping: columns: at least one") }
        var types: [String: RecordSchema] = [:]
        for schema in set.schemas { types[schema.type] = schema }
        if let schema = types[section.type] {
            problems += ReportDefinition.Section.columnProblems(mapping.columns, at: "mapping", groupBy: nil,
                                                                check: ReportFieldCheck(schema: schema, types: types, at: "mapping"))
            // A municipality's export carries no free text: notes and agreements stay in care.
            for column in mapping.columns {
                if let name = column.field, let field = schema.fields.first(where: { $0.name == name }), field.kind == .text(long: true) {
                    problems.append("mapping, column \(column.name): \(section.type).\(name) is free text (longText), which an export to a municipality does not carry")
                }
            }
        }
        if !problems.isEmpty { throw ModuleProblems(problems) }
        return mapping
    }
}
