import ArgumentParser
import Foundation
import VeldCore
import VeldProtocol

/// `veld due`: what the module set's rules say is due or overdue among this device's
/// records, worked out offline from the local data.
struct Due: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What is due or overdue in your scopes, soonest first (offline, from this device's records).",
        discussion: """
            The deadlines come from the rules of the module set this device keeps (`veld schema` shows its \
            version); a term in working days skips weekends and the Dutch public holidays of the Algemene \
            termijnenwet. A rule whose term the office has not set yet (one per gemeente, say) is listed as \
            "no term set"; one that needs a date the record does not hold, as "no date set". A field in \
            conflict counts as its shown value and the item is marked with *.

              veld due                        everything open, the most overdue first
              veld due --within 14d           what falls due in the next 14 days, and what is late
              veld due --scope loc-zonnehof --json
            """)

    @OptionGroup var home: HomeOptions
    @Option(help: ArgumentHelp("Only what falls due within this many days (14d) or weeks (2w), and what is late.", valueName: "period"))
    var within: String?
    @Option(help: "Only this scope, e.g. loc-zonnehof.") var scope: String?
    @Flag(help: "Only what is late.") var overdue = false
    @Option(name: .customLong("as-of"), help: ArgumentHelp("Count from this day instead of today (YYYY-MM-DD, Amsterdam time).", valueName: "date"))
    var asOf: String?
    @Flag(help: "Print a JSON array.") var json = false

    func validate() throws {
        if let within, Self.days(within) == nil {
            throw ValidationError("--within takes a number of days or weeks, e.g. 14d or 2w (at most 3660 days), not '\(within)'")
        }
        if let asOf, CivilDate(asOf) == nil { throw ValidationError("--as-of takes a date YYYY-MM-DD, not '\(asOf)'") }
    }

    /// `14d` → 14, `2w` → 14; nil for anything else.
    static func days(_ text: String) -> Int? {
        guard let unit = text.last, let n = Int(text.dropLast()), n >= 0, String(n) == String(text.dropLast()) else { return nil }
        let days = unit == "d" ? n : unit == "w" ? n * 7 : -1
        return (0...3_660).contains(days) ? days : nil
    }

    func run() throws {
        let store = try home.openStore()
        let set = try store.schemaSet()
        let today = asOf.flatMap(CivilDate.init) ?? CivilDate.today()
        var items = DueRules.evaluate(set.rules, records: try store.records(RecordQuery(scope: scope)), today: today)
        if let within, let days = Self.days(within) {
            let until = today.adding(days: days)
            items = items.filter { $0.due.map { $0 <= until } ?? true }
        }
        if overdue { items = items.filter { $0.state == .overdue } }
        if json {
            print(String(decoding: try StableJSON.encode(items, pretty: true), as: UTF8.self))
            return
        }
        print(DueTable.render(items, rules: set.rules, today: today))
    }
}

/// The table `veld due` and `veld-server due` print: one line per item within 100 columns,
/// then each rule used once, with whom it reminds and its source.
enum DueTable {
    static func render(_ items: [DueItem], rules: [DueRule], today: CivilDate) -> String {
        guard !items.isEmpty else { return "Nothing is due (as of \(today))." }
        var lines = ["\("due".padding(11)) \("late".padding(5)) \("record".padding(9)) \("type".padding(13)) \("scope".padding(15)) what"]
        for item in items {
            let due: String
            switch item.state {
            case .noTerm: due = "no term set"
            case .noDate: due = "no date set"
            case .open, .overdue: due = item.due?.description ?? ""
            }
            let late = item.daysLate > 0 ? "\(item.daysLate)d" : ""
            let record = String(item.record.prefix(8)) + (item.conflicted.isEmpty ? "" : "*")
            let line = "\(due.padding(11)) \(late.padding(5)) \(record.padding(9)) \(item.type.padding(13)) \(item.scope.padding(15)) \(item.title)"
            lines.append(line.count > 100 ? String(line.prefix(99)) + "…" : line)
        }
        let late = items.filter { $0.state == .overdue }.count
        lines.append("\(items.count) item\(items.count == 1 ? "" : "s"), \(late) late (as of \(today)).")
        if items.contains(where: { !$0.conflicted.isEmpty }) {
            lines.append("* a field the rule reads is in conflict: its shown value was used (`veld conflicts`).")
        }
        lines.append("")
        let used = Set(items.map(\.rule))
        for rule in rules where used.contains(rule.id) {
            lines.append(contentsOf: wrap("\(rule.id): \(rule.title); reminds \(rule.remind.joined(separator: ", ")). \(rule.source)"))
        }
        return lines.joined(separator: "\n")
    }

    /// Words wrapped to 100 columns, continuation lines indented.
    static func wrap(_ text: String, width: Int = 100) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty, line.count + 1 + word.count > width {
                lines.append(line)
                line = "    "
            }
            line += (line.isEmpty || line == "    " ? "" : " ") + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines.map { $0.count > width ? String($0.prefix(width - 1)) + "…" : $0 }
    }
}
