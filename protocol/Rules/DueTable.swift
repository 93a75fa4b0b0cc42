import Foundation

/// The table `veld due` and `veld-server due` print: one line per item within 100 columns,
/// then each rule used once, with whom it reminds and its source.
public enum DueTable {
    /// The items `--within DAYS` and `--overdue` keep: what falls due by `today + within`
    /// days or is late, and the items without a deadline (they need someone to set one).
    public static func select(_ items: [DueItem], within days: Int?, overdueOnly: Bool, today: CivilDate) -> [DueItem] {
        items.filter { item in
            if overdueOnly, item.state != .overdue { return false }
            guard let days, let due = item.due else { return true }
            return due <= today.adding(days: days)
        }
    }

    /// `14d` → 14, `2w` → 14 (what `--within` takes); nil for anything else.
    public static func days(_ text: String) -> Int? {
        guard let unit = text.last, let n = Int(text.dropLast()), n >= 0, String(n) == String(text.dropLast()) else { return nil }
        let days = unit == "d" ? n : unit == "w" ? n * 7 : -1
        return (0...3_660).contains(days) ? days : nil
    }

    public static func render(_ items: [DueItem], rules: [DueRule], today: CivilDate) -> String {
        guard !items.isEmpty else { return "Nothing is due (as of \(today))." }
        var lines = ["\("due".padded(11)) \("late".padded(5)) \("record".padded(9)) \("type".padded(13)) \("scope".padded(15)) what"]
        for item in items {
            let due: String
            switch item.state {
            case .noTerm: due = "no term set"
            case .noDate: due = "no date set"
            case .open, .overdue: due = item.due?.description ?? ""
            }
            let late = item.daysLate > 0 ? "\(item.daysLate)d" : ""
            let record = String(item.record.prefix(8)) + (item.conflicted.isEmpty ? "" : "*")
            let line = "\(due.padded(11)) \(late.padded(5)) \(record.padded(9)) \(item.type.padded(13)) \(item.scope.padded(15)) \(item.title)"
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
    public static func wrap(_ text: String, width: Int = 100) -> [String] {
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

extension String {
    /// The text with spaces after it up to `width` characters.
    public func padded(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
