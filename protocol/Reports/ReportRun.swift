import Foundation

/// A period a report counts in: both days included.
public struct ReportPeriod: Codable, Hashable, Sendable, CustomStringConvertible {
    public var from: CivilDate
    public var to: CivilDate

    public init(from: CivilDate, to: CivilDate) {
        self.from = from
        self.to = to
    }

    /// `2026` (a year), `2026-03` (a month), `2026-Q2` (a quarter), `2026-H2` (a half year)
    /// or `2026-01-01..2026-06-30`; nil for anything else.
    public init?(_ text: String) {
        if let range = text.range(of: "..") {
            guard let from = CivilDate(String(text[..<range.lowerBound])), let to = CivilDate(String(text[range.upperBound...])),
                  from <= to else { return nil }
            self.init(from: from, to: to)
            return
        }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard let year = Int(parts[0]), parts[0].count == 4, CivilDate.years.contains(year) else { return nil }
        func months(_ first: Int, _ count: Int) -> ReportPeriod? {
            guard let from = CivilDate(year: year, month: first, day: 1) else { return nil }
            let last = first + count - 1
            guard let to = CivilDate(year: year, month: last, day: CivilDate.daysIn(month: last, year: year)) else { return nil }
            return ReportPeriod(from: from, to: to)
        }
        var found: ReportPeriod?
        switch parts.count {
        case 1: found = months(1, 12)
        case 2:
            let tail = parts[1]
            if tail.count == 2, let month = Int(tail), (1...12).contains(month) { found = months(month, 1) }
            else if tail.count == 2, tail.first == "Q", let q = Int(tail.dropFirst()), (1...4).contains(q) { found = months(q * 3 - 2, 3) }
            else if tail.count == 2, tail.first == "H", let h = Int(tail.dropFirst()), (1...2).contains(h) { found = months(h * 6 - 5, 6) }
        default: break
        }
        guard let found else { return nil }
        self = found
    }

    public func contains(_ date: CivilDate) -> Bool { from <= date && date <= to }

    public var description: String { "\(from)..\(to)" }
}

/// What a report is asked for: its period, its reference date ("stand per") and its financier.
public struct ReportRequest: Hashable, Sendable {
    public var period: ReportPeriod?
    /// The day the state is taken on: overdue deadlines are counted on it.
    public var referenceDate: CivilDate
    /// Only the records of this financier, in the sections that name a financier field.
    public var financier: String?
    /// A municipality's own columns for the sections with `columnsFrom: mapping`.
    public var mapping: ReportMapping?
    public var calendar: WorkingCalendar

    public init(period: ReportPeriod? = nil, referenceDate: CivilDate, financier: String? = nil, mapping: ReportMapping? = nil,
                calendar: WorkingCalendar = .nl) {
        self.period = period
        self.referenceDate = referenceDate
        self.financier = financier
        self.mapping = mapping
        self.calendar = calendar
    }
}

/// A report made: each section a table of text cells.
public struct ReportOutput: Encodable, Hashable, Sendable {
    public struct Table: Encodable, Hashable, Sendable {
        public var id: String
        public var title: String
        public var columns: [String]
        public var rows: [[String]]
        /// The columns that hold numbers with a decimal (averages): the Excel variant writes a comma.
        public var decimalColumns: [Int] = []

        enum CodingKeys: String, CodingKey { case id, title, columns, rows }

        public init(id: String, title: String, columns: [String], rows: [[String]], decimalColumns: [Int] = []) {
            self.id = id
            self.title = title
            self.columns = columns
            self.rows = rows
            self.decimalColumns = decimalColumns
        }
    }

    public var report: String
    public var title: String
    public var recipient: String?
    public var source: String?
    public var financier: String?
    public var period: ReportPeriod?
    /// "Stand per": the day the state was taken on.
    public var referenceDate: CivilDate
    /// The snapshot it was made from, when it was.
    public var snapshot: String?
    public var sections: [Table]
    /// The records whose values the report shows or counts (for the access log; not printed).
    public var recordsRead: [String]

    enum CodingKeys: String, CodingKey {
        case report, title, recipient, source, financier, period, referenceDate, snapshot, sections
    }

    init(report: String, title: String, recipient: String?, source: String?, financier: String?, period: ReportPeriod?,
         referenceDate: CivilDate, snapshot: String?, sections: [Table], recordsRead: [String]) {
        self.report = report
        self.title = title
        self.recipient = recipient
        self.source = source
        self.financier = financier
        self.period = period
        self.referenceDate = referenceDate
        self.snapshot = snapshot
        self.sections = sections
        self.recordsRead = recordsRead
    }
}

/// The reports' one evaluation, with no I/O: the same definition, records and request give
/// the same tables on any machine.
public enum Reports {
    public static let yes = "ja"
    public static let no = "nee"
    /// The row of the records without a value in the field a section groups by.
    public static let noValue = "(geen)"
    /// The financier of a report made for every financier.
    public static let allFinanciers = "(alle)"

    /// Makes `report` over `records` (deleted ones are left out), counting overdue
    /// deadlines with `rules` on the request's reference date.
    public static func run(_ report: ReportDefinition, rules: [DueRule], records: [RecordState], request: ReportRequest,
                           snapshot: String? = nil) -> ReportOutput {
        var byID: [String: RecordState] = [:]
        for record in records where !record.isDeleted { byID[record.id] = record }
        let live = byID.values.sorted { $0.id < $1.id }
        var overdue: [String: Int] = [:]
        if report.sections.contains(where: { $0.columns.contains { $0.overdue == true } }) {
            for item in DueRules.evaluate(rules, records: live, today: request.referenceDate, calendar: request.calendar)
            where item.state == .overdue {
                overdue[item.record, default: 0] += 1
            }
        }
        // For each `linked` a column names: the records pointing at each id.
        var pointing: [String: [String: [RecordState]]] = [:]
        for section in report.sections {
            for column in section.columns + (section.columnsFrom == "mapping" ? request.mapping?.columns ?? [] : []) {
                guard let link = column.linked, pointing[link] == nil else { continue }
                let parts = link.split(separator: ".", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { continue }
                var map: [String: [RecordState]] = [:]
                for record in live where record.type == parts[0] {
                    if case .string(let target)? = record.value(of: parts[1]) { map[target, default: []].append(record) }
                }
                pointing[link] = map
            }
        }
        var read: Set<String> = []
        var tables: [ReportOutput.Table] = []
        for section in report.sections {
            let columns = section.columnsFrom == "mapping" ? request.mapping?.columns ?? [] : section.columns
            let selected = live.filter { select($0, section, request) }
            var rows: [(key: [String], cells: [String])] = []
            func cells(for group: [RecordState], key: String?) -> [String] {
                columns.map { column in
                    cell(column, group: group, key: key, section: section, request: request, overdue: overdue,
                         pointing: pointing, read: &read)
                }
            }
            if let groupBy = section.groupBy {
                var groups: [String: [RecordState]] = [:]
                for record in selected {
                    for key in groupKeys(record, groupBy) { groups[key, default: []].append(record) }
                }
                for (key, group) in groups {
                    rows.append(([key], cells(for: group, key: key)))
                    read.formUnion(group.map(\.id))
                }
            } else {
                for record in selected {
                    rows.append(([record.id], cells(for: [record], key: nil)))
                    read.insert(record.id)
                }
            }
            // Rows in the order of their cells, then their key: the same on every machine.
            rows.sort { a, b in a.cells != b.cells ? a.cells.lexicographicallyPrecedes(b.cells) : a.key.lexicographicallyPrecedes(b.key) }
            let decimals = section.groupBy == nil ? [] : columns.indices.filter { columns[$0].workingDays != nil }
            tables.append(.init(id: section.id, title: section.title, columns: columns.map(\.name), rows: rows.map(\.cells),
                                decimalColumns: decimals))
        }
        return ReportOutput(report: report.id ?? "", title: report.title ?? "", recipient: report.recipient, source: report.source,
                            financier: request.financier ?? request.mapping?.gemeente
                                ?? (report.sections.contains { $0.financier != nil } ? allFinanciers : nil),
                            period: request.period,
                            referenceDate: request.referenceDate, snapshot: snapshot, sections: tables, recordsRead: read.sorted())
    }

    static func select(_ record: RecordState, _ section: ReportDefinition.Section, _ request: ReportRequest) -> Bool {
        guard record.type == section.type else { return false }
        for condition in section.when ?? [] where !holds(condition, record) { return false }
        if let field = section.financier, let wanted = request.financier ?? request.mapping?.gemeente {
            guard case .string(let text)? = record.value(of: field), normalized(text) == normalized(wanted) else { return false }
        }
        if let field = section.inPeriod, let period = request.period {
            guard let day = date(record, field), period.contains(day) else { return false }
        }
        if let span = section.active, let period = request.period {
            guard let start = date(record, span.from), start <= period.to else { return false }
            if let end = date(record, span.to), end < period.from { return false }
        }
        return true
    }

    static func normalized(_ text: String) -> String {
        text.trimmingCharacters(in: .whitespaces).lowercased()
    }

    static func holds(_ condition: DueRule.Condition, _ record: RecordState) -> Bool {
        condition.holds(record.value(of: condition.field))
    }

    static func date(_ record: RecordState, _ field: String) -> CivilDate? {
        if case .string(let text)? = record.value(of: field) { return CivilDate(text) }
        return nil
    }

    static func groupKeys(_ record: RecordState, _ field: String) -> [String] {
        if field == ReportDefinition.scopeField { return [record.scope] }
        switch record.value(of: field) {
        case .string(let text)? where !text.isEmpty: return [text]
        case .strings(let list)? where !list.isEmpty: return Array(Set(list)).sorted()
        case .bool(let flag)?: return [flag ? yes : no]
        default: return [noValue]
        }
    }

    /// A field's shown value as a cell: a list joined with ", ", a flag as ja/nee.
    static func text(_ value: FieldValue?) -> String {
        switch value {
        case .string(let text)?: text
        case .strings(let list)?: list.joined(separator: ", ")
        case .bool(let flag)?: flag ? yes : no
        case nil, .null?: ""
        }
    }

    static func cell(_ column: ReportDefinition.Column, group: [RecordState], key: String?, section: ReportDefinition.Section,
                     request: ReportRequest, overdue: [String: Int], pointing: [String: [String: [RecordState]]],
                     read: inout Set<String>) -> String {
        if let constant = column.constant { return constant }
        if let field = column.field {
            if let key { return key }
            guard let record = group.first else { return "" }
            return field == ReportDefinition.scopeField ? record.scope : text(record.value(of: field))
        }
        // The records the column counts or dates: the row's own, or those pointing at them.
        var subjects = group
        if let link = column.linked {
            subjects = group.flatMap { pointing[link]?[$0.id] ?? [] }
            if let field = column.inPeriod, let period = request.period {
                subjects = subjects.filter { date($0, field).map(period.contains) ?? false }
            }
            read.formUnion(subjects.map(\.id))
        }
        if column.count == true {
            return String(subjects.filter { record in (column.when ?? []).allSatisfy { holds($0, record) } }.count)
        }
        if let field = column.latest {
            return subjects.compactMap { date($0, field) }.max()?.description ?? ""
        }
        if let conditions = column.any {
            return group.contains { record in conditions.allSatisfy { holds($0, record) } } ? yes : no
        }
        if column.overdue == true {
            return String(group.reduce(0) { $0 + (overdue[$1.id] ?? 0) })
        }
        if let span = column.workingDays {
            let days = group.compactMap { record -> Int? in
                // A span of more than about ten years is a typing error, not a duration.
                guard let from = date(record, span.from), let to = date(record, span.to),
                      to.dayNumber - from.dayNumber <= 3_660 else { return nil }
                return request.calendar.workingDays(from: from, to: to)
            }
            guard !days.isEmpty else { return "" }
            if key == nil { return String(days[0]) }
            return decimal(Double(days.reduce(0, +)) / Double(days.count))
        }
        return ""
    }

    /// One decimal, with a point (the Excel variant writes a comma).
    static func decimal(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
