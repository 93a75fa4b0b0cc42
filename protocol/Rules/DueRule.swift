import Foundation

/// A deadline rule, as a module states it: for records of `type` that meet `when`,
/// something is due a `term` after an anchor date, until `done` holds.
///
/// ```json
/// {"id": "wlz-zorgplanbespreking", "type": "carePlan", "title": "Zorgplanbespreking",
///  "when": [{"field": "law", "isOneOf": ["Wlz"]}],
///  "from": [{"field": "careStart"}], "term": {"weeks": 6},
///  "done": [{"field": "lastDiscussedAt", "onOrAfterAnchor": true}],
///  "remind": ["carer", "office"],
///  "source": "E: Besluit langdurige zorg, via kansplus.nl: \"binnen zes weken na aanvang van de zorg\""}
/// ```
///
/// A rule without `done` is a cadence: it is due a term after its anchor, and the anchor
/// moving on (a new `lastDiscussedAt`) moves the deadline with it. A rule whose term is
/// set per value of a field (`termBy`, such as one term per municipality) has no silent
/// default: a value without a term shows as "no term set" until the office sets one.
public struct DueRule: Codable, Hashable, Sendable {
    /// A test on one field's shown value.
    public struct Condition: Codable, Hashable, Sendable {
        public var field: String
        /// The value is one of these (for `choices`: holds one of these; for `bool`: "true"/"false").
        public var isOneOf: [String]?
        /// The field holds a value (true) or holds none (false).
        public var present: Bool?

        public init(field: String, isOneOf: [String]? = nil, present: Bool? = nil) {
            self.field = field
            self.isOneOf = isOneOf
            self.present = present
        }
    }

    /// Where a deadline counts from: a date field of the record, or `REF.FIELD`, a date
    /// field of the record the reference field `REF` points at.
    public struct Anchor: Codable, Hashable, Sendable {
        public var field: String
        /// The term from this anchor, instead of the rule's.
        public var term: Term?

        public init(field: String, term: Term? = nil) {
            self.field = field
            self.term = term
        }
    }

    /// A length of time: exactly one of its parts.
    public struct Term: Codable, Hashable, Sendable, CustomStringConvertible {
        public var days: Int?
        public var weeks: Int?
        public var months: Int?
        /// Monday to Friday less the calendar's public holidays.
        public var workingDays: Int?

        public init(days: Int? = nil, weeks: Int? = nil, months: Int? = nil, workingDays: Int? = nil) {
            self.days = days
            self.weeks = weeks
            self.months = months
            self.workingDays = workingDays
        }

        public static func days(_ n: Int) -> Term { Term(days: n) }
        public static func weeks(_ n: Int) -> Term { Term(weeks: n) }
        public static func months(_ n: Int) -> Term { Term(months: n) }
        public static func workingDays(_ n: Int) -> Term { Term(workingDays: n) }

        /// The largest term a rule may state in each unit (about ten years).
        static let limits = (days: 3_660, weeks: 522, months: 120, workingDays: 2_600)

        var parts: [(String, Int)] {
            [("days", days), ("weeks", weeks), ("months", months), ("workingDays", workingDays)].compactMap { name, value in value.map { (name, $0) } }
        }

        /// `term` after `date`.
        public func after(_ date: CivilDate, calendar: WorkingCalendar) -> CivilDate {
            if let days { return date.adding(days: days) }
            if let weeks { return date.adding(days: weeks * 7) }
            if let months { return date.adding(months: months) }
            if let workingDays { return calendar.adding(workingDays: workingDays, to: date) }
            return date
        }

        public var description: String {
            guard let (unit, n) = parts.first else { return "no term" }
            let names = ["days": ("day", "days"), "weeks": ("week", "weeks"), "months": ("month", "months"),
                         "workingDays": ("working day", "working days")]
            let (one, many) = names[unit]!
            return "\(n) \(n == 1 ? one : many)"
        }
    }

    /// A term per value of a field (one per municipality, say); values not listed have none.
    public struct TermBy: Codable, Hashable, Sendable {
        public var field: String
        public var terms: [String: Term]

        public init(field: String, terms: [String: Term]) {
            self.field = field
            self.terms = terms
        }
    }

    /// What makes the item done; any one of a rule's `done` suffices.
    public struct Done: Codable, Hashable, Sendable {
        /// A field of the record: with `onOrAfterAnchor` a date on or after the anchor, with
        /// `isOneOf` one of those values, with `present` any value.
        public var field: String?
        public var onOrAfterAnchor: Bool?
        public var isOneOf: [String]?
        public var present: Bool?
        /// `TYPE.FIELD`: a record of TYPE whose reference FIELD points at this record.
        public var linkedBy: String?

        public init(field: String? = nil, onOrAfterAnchor: Bool? = nil, isOneOf: [String]? = nil, present: Bool? = nil,
                    linkedBy: String? = nil) {
            self.field = field
            self.onOrAfterAnchor = onOrAfterAnchor
            self.isOneOf = isOneOf
            self.present = present
            self.linkedBy = linkedBy
        }
    }

    /// Unique in the set, lowercase with dashes: `wlz-zorgplanbespreking`.
    public var id: String
    public var type: String
    /// What is due, one line.
    public var title: String
    /// Every condition must hold for the rule to apply.
    public var when: [Condition]?
    /// The first of these that holds a date is the anchor.
    public var from: [Anchor]
    public var term: Term?
    public var termBy: TermBy?
    /// With true, a record the rule applies to without any anchor date is listed as "no
    /// date set" (a deadline the professional must set, such as `nextEvaluationDue`).
    public var requireAnchor: Bool?
    public var done: [Done]?
    /// The roles reminded, in the record's scope.
    public var remind: [String]
    /// Where the rule comes from, with its grade: `S:` in the source documents, `E:` from
    /// outside them (verify against the law), `D:` a design default the office may change.
    public var source: String

    public init(id: String, type: String, title: String, when: [Condition]? = nil, from: [Anchor], term: Term? = nil,
                termBy: TermBy? = nil, requireAnchor: Bool? = nil, done: [Done]? = nil, remind: [String], source: String) {
        self.id = id
        self.type = type
        self.title = title
        self.when = when
        self.from = from
        self.term = term
        self.termBy = termBy
        self.requireAnchor = requireAnchor
        self.done = done
        self.remind = remind
        self.source = source
    }

    /// The keys each object of a rule may have (a misspelt key is refused, never ignored).
    static let allowedKeys: [String: Set<String>] = [
        "rule": ["id", "type", "title", "when", "from", "term", "termBy", "requireAnchor", "done", "remind", "source"],
        "condition": ["field", "isOneOf", "present"],
        "anchor": ["field", "term"],
        "term": ["days", "weeks", "months", "workingDays"],
        "termBy": ["field", "terms"],
        "done": ["field", "onOrAfterAnchor", "isOneOf", "present", "linkedBy"],
    ]

    /// Every field a rule reads, as `TYPE.FIELD`: what `veld schema --usage` reports.
    public var fieldsRead: Set<String> {
        var fields: Set<String> = []
        for condition in when ?? [] { fields.insert("\(type).\(condition.field)") }
        for anchor in from {
            let parts = anchor.field.split(separator: ".", maxSplits: 1).map(String.init)
            fields.insert("\(type).\(parts[0])")
        }
        if let termBy { fields.insert("\(type).\(termBy.field)") }
        for done in done ?? [] {
            if let field = done.field { fields.insert("\(type).\(field)") }
            if let linked = done.linkedBy { fields.insert(linked) }
        }
        return fields
    }

    /// Why this rule cannot be used with these record types, one reason each.
    func problems(types: [String: RecordSchema]) -> [String] {
        var problems: [String] = []
        let at = "rule \(id)"
        func line(_ text: String, _ limit: Int) -> Bool { !text.isEmpty && text.count <= limit && !text.contains(where: \.isNewline) }
        if id.range(of: "^[a-z][a-z0-9-]{1,59}$", options: .regularExpression) == nil {
            problems.append("\(at): an id is lowercase letters, digits and dashes, 2 to 60")
        }
        if !line(title, 120) { problems.append("\(at): title: one line of at most 120 characters") }
        if !line(source, 500) { problems.append("\(at): source: one line of at most 500 characters, starting S:, E: or D:") }
        else if !(["S:", "E:", "D:"].contains { source.hasPrefix($0) }) {
            problems.append("\(at): source starts with its grade: S: (the source documents), E: (outside them, verify) or D: (a design default)")
        }
        let roles = Set(Role.allCases.map(\.rawValue))
        if remind.isEmpty { problems.append("\(at): remind: at least one role") }
        for role in remind where !roles.contains(role) { problems.append("\(at): remind: no role \(role)") }
        guard let schema = types[type], schema.type == type else {
            problems.append("\(at): type \(type) is in no module of the set")
            return problems
        }
        func field(_ name: String, in schema: RecordSchema) -> FieldSchema? { schema.fields.first { $0.name == name } }
        func values(_ given: [String], for name: String, _ what: String) {
            guard let field = field(name, in: schema) else { return }
            switch field.kind {
            case .choice(let allowed), .choices(let allowed):
                for value in given where !allowed.contains(value) { problems.append("\(at): \(what): \(value) is not a value of \(type).\(name)") }
            case .bool:
                for value in given where value != "true" && value != "false" { problems.append("\(at): \(what): \(type).\(name) is true or false") }
            case .text: break
            case .date, .reference: problems.append("\(at): \(what): \(type).\(name) is a \(field.kind.name), not a value to compare")
            }
            if given.isEmpty { problems.append("\(at): \(what): isOneOf lists at least one value") }
        }
        func known(_ name: String, _ what: String) -> FieldSchema? {
            guard let found = field(name, in: schema) else {
                problems.append("\(at): \(what): \(type) has no field \(name)")
                return nil
            }
            return found
        }
        for condition in when ?? [] {
            _ = known(condition.field, "when")
            if (condition.isOneOf == nil) == (condition.present == nil) {
                problems.append("\(at): when \(condition.field): either isOneOf or present")
            }
            if let given = condition.isOneOf { values(given, for: condition.field, "when \(condition.field)") }
        }
        if from.isEmpty { problems.append("\(at): from: at least one anchor") }
        for anchor in from {
            let parts = anchor.field.split(separator: ".", maxSplits: 1).map(String.init)
            if parts.count == 2 {
                guard let reference = known(parts[0], "from") else { continue }
                guard case .reference(let target) = reference.kind, let targetSchema = types[target] else {
                    problems.append("\(at): from \(anchor.field): \(type).\(parts[0]) is not a reference")
                    continue
                }
                guard let date = targetSchema.fields.first(where: { $0.name == parts[1] }), case .date = date.kind else {
                    problems.append("\(at): from \(anchor.field): \(target) has no date field \(parts[1])")
                    continue
                }
            } else if let date = known(anchor.field, "from"), date.kind != .date {
                problems.append("\(at): from \(anchor.field): an anchor is a date field")
            }
            if let term = anchor.term { problems += Self.problems(of: term, at: "\(at): from \(anchor.field)") }
        }
        if let term { problems += Self.problems(of: term, at: at) }
        if let termBy {
            if term != nil { problems.append("\(at): term or termBy, not both") }
            _ = known(termBy.field, "termBy")
            for (value, term) in termBy.terms.sorted(by: { $0.key < $1.key }) {
                problems += Self.problems(of: term, at: "\(at): termBy \(value)")
            }
        }
        for done in done ?? [] {
            switch (done.field, done.linkedBy) {
            case (let name?, nil):
                guard let field = known(name, "done") else { continue }
                let tests = [done.onOrAfterAnchor != nil, done.isOneOf != nil, done.present != nil].filter { $0 }.count
                if tests != 1 { problems.append("\(at): done \(name): one of onOrAfterAnchor, isOneOf or present") }
                if done.onOrAfterAnchor != nil, field.kind != .date { problems.append("\(at): done \(name): onOrAfterAnchor needs a date field") }
                if let given = done.isOneOf { values(given, for: name, "done \(name)") }
            case (nil, let linked?):
                let parts = linked.split(separator: ".", maxSplits: 1).map(String.init)
                guard parts.count == 2, let other = types[parts[0]], other.type == parts[0],
                      let reference = other.fields.first(where: { $0.name == parts[1] }) else {
                    problems.append("\(at): done linkedBy \(linked): TYPE.FIELD of a reference field in the set")
                    continue
                }
                if reference.kind != .reference(type) { problems.append("\(at): done linkedBy \(linked) does not point at \(type)") }
            default:
                problems.append("\(at): done: either field or linkedBy")
            }
        }
        return problems
    }

    static func problems(of term: Term, at: String) -> [String] {
        let parts = term.parts
        guard parts.count == 1, let (unit, value) = parts.first else { return ["\(at): a term is exactly one of days, weeks, months or workingDays"] }
        let limit = ["days": Term.limits.days, "weeks": Term.limits.weeks, "months": Term.limits.months,
                     "workingDays": Term.limits.workingDays][unit]!
        return (0...limit).contains(value) ? [] : ["\(at): \(unit) from 0 to \(limit)"]
    }
}

extension FieldKind {
    /// The module format's name of the kind.
    var name: String {
        switch self {
        case .text(let long): long ? "longText" : "text"
        case .date: "date"
        case .bool: "bool"
        case .choice: "choice"
        case .choices: "choices"
        case .reference: "reference"
        }
    }
}
