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
        let decimals = dialect == .excel ? Set(table.decimalColumns) : []
        for row in table.rows { text += line(row, dialect, decimals: decimals) }
        return text
    }

    /// `decimals`: cells that are numbers Veld wrote (`15.5`), written with a decimal comma
    /// and unquoted, so Excel reads them as numbers.
    static func line(_ cells: [String], _ dialect: Dialect, decimals: Set<Int> = []) -> String {
        cells.enumerated().map { index, cell in
            decimals.contains(index) && cell.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") })
                ? cell.replacingOccurrences(of: ".", with: ",") : quoted(cell, dialect)
        }.joined(separator: dialect.separator) + "\r\n"
    }

    static func quoted(_ cell: String, _ dialect: Dialect) -> String {
        var cell = cell
        // A cell Excel would read as a formula is written as text (OWASP's advice).
        if dialect == .excel, let first = cell.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) {
            cell = "'" + cell
        }
        // The Excel variant also quotes commas: an Excel whose list separator is a comma
        // would otherwise split the cell, and could run what follows as a formula.
        let special = cell.contains(dialect.separator) || (dialect == .excel && cell.contains(","))
            || cell.contains("\"") || cell.contains("\n") || cell.contains("\r")
            || cell.hasPrefix(" ") || cell.hasSuffix(" ")
        return special ? "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : cell
    }
}
