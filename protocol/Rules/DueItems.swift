import Foundation

/// One thing due: a rule that applies to a record and is not done.
public struct DueItem: Codable, Hashable, Sendable {
    public enum State: String, Codable, Hashable, Sendable {
        /// Due on `due`, not yet late.
        case open
        /// `due` has passed.
        case overdue
        /// The rule has no term for this record yet (the office sets one).
        case noTerm
        /// The rule needs a date the record does not hold (`requireAnchor`).
        case noDate
    }

    public var record: String
    public var type: String
    public var scope: String
    public var rule: String
    public var title: String
    public var state: State
    /// The anchor date the term counts from.
    public var from: CivilDate?
    /// The deadline; nil for `noTerm` and `noDate`.
    public var due: CivilDate?
    /// Days past `due` (0 when not late).
    public var daysLate: Int
    /// The term that applied (`6 weeks`), or nil.
    public var term: String?
    public var remind: [String]
    public var source: String
    /// Fields the rule read that hold a conflict: their shown value was used.
    public var conflicted: [String]
}

/// The rules' one evaluation, with no I/O: the same records, rules, day and calendar give
/// the same items on a device offline and on the server.
public enum DueRules {
    /// What is due or overdue among `records` on `today`: soonest first (the most overdue at
    /// the top), then the items without a term or a date. Deleted records are left out.
    public static func evaluate(_ rules: [DueRule], records: [RecordState], today: CivilDate,
                                calendar: WorkingCalendar = .nl) -> [DueItem] {
        var byID: [String: RecordState] = [:]
        for record in records where !record.isDeleted { byID[record.id] = record }
        // For each `linkedBy` a rule names: the ids some live record of that type points at.
        var linked: [String: Set<String>] = [:]
        for rule in rules {
            for done in rule.done ?? [] {
                guard let link = done.linkedBy, linked[link] == nil else { continue }
                let parts = link.split(separator: ".", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { continue }
                var targets: Set<String> = []
                for record in byID.values where record.type == parts[0] {
                    if case .string(let target)? = record.value(of: parts[1]) { targets.insert(target) }
                }
                linked[link] = targets
            }
        }
        var items: [DueItem] = []
        for rule in rules {
            for record in byID.values where record.type == rule.type {
                if let item = evaluate(rule, record, byID: byID, linked: linked, today: today, calendar: calendar) {
                    items.append(item)
                }
            }
        }
        return items.sorted(by: order)
    }

    /// Soonest first; items without a deadline after, by state; then by record and rule.
    static func order(_ a: DueItem, _ b: DueItem) -> Bool {
        switch (a.due, b.due) {
        case let (x?, y?) where x != y: return x < y
        case (_?, nil): return true
        case (nil, _?): return false
        default: break
        }
        if a.state != b.state { return a.state.rawValue < b.state.rawValue }
        return (a.record, a.rule) < (b.record, b.rule)
    }

    static func evaluate(_ rule: DueRule, _ record: RecordState, byID: [String: RecordState], linked: [String: Set<String>],
                         today: CivilDate, calendar: WorkingCalendar) -> DueItem? {
        var read: Set<String> = []
        func value(_ field: String, of state: RecordState = record) -> FieldValue? {
            read.insert(state.id == record.id ? field : "\(state.type).\(field)")
            return state.value(of: field)
        }
        func date(_ field: String, of state: RecordState = record) -> CivilDate? {
            if case .string(let text)? = value(field, of: state) { return CivilDate(text) }
            return nil
        }
        for condition in rule.when ?? [] where !condition.holds(value(condition.field)) { return nil }
        // The anchor: the first that holds a date, with its term.
        var anchor: (date: CivilDate, term: DueRule.Term?)?
        for candidate in rule.from {
            let parts = candidate.field.split(separator: ".", maxSplits: 1).map(String.init)
            let found: CivilDate?
            if parts.count == 2 {
                if case .string(let id)? = value(parts[0]), let target = byID[id] { found = date(parts[1], of: target) } else { found = nil }
            } else {
                found = date(candidate.field)
            }
            if let found {
                anchor = (found, candidate.term)
                break
            }
        }
        func item(_ state: DueItem.State, from: CivilDate?, due: CivilDate?, term: DueRule.Term?) -> DueItem {
            let conflicts = record.conflicts
            let conflicted = read.filter { !$0.contains(".") && conflicts[$0] != nil }.sorted()
            return DueItem(record: record.id, type: record.type, scope: record.scope, rule: rule.id, title: rule.title, state: state,
                           from: from, due: due, daysLate: due.map { max(0, today.dayNumber - $0.dayNumber) } ?? 0,
                           term: term?.description, remind: rule.remind, source: rule.source, conflicted: conflicted)
        }
        func isDone(_ rule: DueRule, _ record: RecordState, anchor: CivilDate?) -> Bool {
            for done in rule.done ?? [] {
                if let link = done.linkedBy {
                    if linked[link]?.contains(record.id) == true { return true }
                    continue
                }
                guard let field = done.field else { continue }
                let shown = value(field)
                if done.onOrAfterAnchor == true, let anchor, case .string(let text)? = shown, let day = CivilDate(text), day >= anchor {
                    return true
                }
                if let values = done.isOneOf, Self.isOneOf(shown, values) { return true }
                if done.present == true, Self.holdsValue(shown) { return true }
            }
            return false
        }
        guard let anchor else {
            return rule.requireAnchor == true && !isDone(rule, record, anchor: nil) ? item(.noDate, from: nil, due: nil, term: nil) : nil
        }
        if isDone(rule, record, anchor: anchor.date) { return nil }
        var term = anchor.term ?? rule.term
        if term == nil, let termBy = rule.termBy, case .string(let key)? = value(termBy.field) { term = termBy.terms[key] }
        guard let term else { return item(.noTerm, from: anchor.date, due: nil, term: nil) }
        let due = term.after(anchor.date, calendar: calendar)
        return item(today > due ? .overdue : .open, from: anchor.date, due: due, term: term)
    }

    static func holdsValue(_ value: FieldValue?) -> Bool {
        switch value {
        case nil, .null?: false
        case .string(let text)?: !text.isEmpty
        case .strings(let list)?: !list.isEmpty
        case .bool?: true
        }
    }

    static func isOneOf(_ value: FieldValue?, _ values: [String]) -> Bool {
        switch value {
        case .string(let text)?: values.contains(text)
        case .strings(let list)?: list.contains(where: values.contains)
        case .bool(let flag)?: values.contains(flag ? "true" : "false")
        case nil, .null?: false
        }
    }
}

extension DueRule.Condition {
    /// Whether a field's shown value meets this condition (rules' and reports' `when`).
    public func holds(_ shown: FieldValue?) -> Bool {
        if let present, DueRules.holdsValue(shown) != present { return false }
        if let isOneOf, !DueRules.isOneOf(shown, isOneOf) { return false }
        return true
    }
}
