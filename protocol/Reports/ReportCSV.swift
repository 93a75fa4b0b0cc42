import Foundation

/// A report as CSV (RFC 4180: commas, CRLF, quotes where needed), or as the variant Dutch
/// Excel opens as it is: semicolons, a UTF-8 byte order mark, decimal commas, and no cell
/// that Excel would run as a formula.
public enum ReportCSV {
    public enum Dialect: Sendable {
        case plain
        case excel

        var separator: String { self == .excel ? ";" : "," }
    }

    /// The whole report: a few lines that say what it is (title, financier, period, "stand
    /// per"), then each section's title, header and rows, an empty line between them.
    public static func render(_ output: ReportOutput, dialect: Dialect) -> String {
        var lines: [[String]] = [[output.title]]
        if let recipient = output.recipient { lines.append(["voor", recipient]) }
        if let financier = output.financier { lines.append(["financier", financier]) }
        if let period = output.period { lines.append(["periode", period.from.description, period.to.description]) }
        lines.append(["stand per", output.referenceDate.description])
        if let snapshot = output.snapshot { lines.append(["peildatum-snapshot", snapshot]) }
        if let source = output.source { lines.append(["bron", source]) }
        var text = lines.map { line($0, dialect) }.joined()
        for section in output.sections {
            text += "\r\n" + line([section.title], dialect) + Self.table(section, dialect: dialect)
        }
        return (dialect == .excel ? "\u{FEFF}" : "") + text
    }

    /// One section alone: its header and its rows.
    public static func render(_ table: ReportOutput.Table, dialect: Dialect) -> String {
        (dialect == .excel ? "\u{FEFF}" : "") + Self.table(table, dialect: dialect)
    }

    static func table(_ table: ReportOutput.Table, dialect: Dialect) -> String {
        var text = line(table.columns, dialect)
        for row in table.rows {
            var cells = row
            if dialect == .excel {
                for index in table.decimalColumns where index < cells.count {
                    cells[index] = cells[index].replacingOccurrences(of: ".", with: ",")
                }
            }
            text += line(cells, dialect)
        }
        return text
    }

    static func line(_ cells: [String], _ dialect: Dialect) -> String {
        cells.map { quoted($0, dialect) }.joined(separator: dialect.separator) + "\r\n"
    }

    static func quoted(_ cell: String, _ dialect: Dialect) -> String {
        var cell = cell
        // A cell Excel would read as a formula is written as text (OWASP's advice).
        if dialect == .excel, let first = cell.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) {
            cell = "'" + cell
        }
        let special = cell.contains(dialect.separator) || cell.contains("\"") || cell.contains("\n") || cell.contains("\r")
            || cell.hasPrefix(" ") || cell.hasSuffix(" ")
        return special ? "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : cell
    }
}
