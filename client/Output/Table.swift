import Foundation
import VeldProtocol

/// One column of a record table: a header and how to read its cell from a record.
/// Width 0 means "the rest of the line".
struct TableColumn: Sendable {
    let header: String
    let width: Int
    let cell: @Sendable (RecordState) -> String

    static let id = TableColumn(header: "ID", width: 9) { state in
        String(state.id.prefix(8)) + (state.hasConflicts ? "!" : "")
    }
    static let scope = TableColumn(header: "SCOPE", width: 16) { $0.scope }
    static let type = TableColumn(header: "TYPE", width: 12) { $0.type }

    static func field(_ header: String, _ field: String, width: Int) -> TableColumn {
        TableColumn(header: header, width: width) { state in
            let text = state.value(of: field)?.description ?? ""
            return state.entries(of: field).count > 1 ? text + " (!)" : text
        }
    }

    static func reference(_ header: String, _ field: String) -> TableColumn {
        TableColumn(header: header, width: 9) { state in
            String((state.value(of: field)?.description ?? "").prefix(8))
        }
    }
}

/// A plain-text table that fits `maxWidth` columns: fixed columns keep their width
/// (shrinking if they must), the last takes what is left, long cells end in "…".
struct Table {
    var columns: [TableColumn]
    var maxWidth = 100

    func render(_ rows: [RecordState]) -> String {
        let widths = columnWidths()
        var lines = [line(columns.map(\.header), widths)]
        for row in rows {
            lines.append(line(columns.map { $0.cell(row) }, widths))
        }
        return lines.joined(separator: "\n")
    }

    private func columnWidths() -> [Int] {
        let gaps = columns.count - 1
        var widths = columns.map { max($0.width, 0) }
        let fixed = widths.reduce(0, +)
        let flexible = widths.firstIndex(of: 0)
        if let flexible {
            widths[flexible] = max(8, maxWidth - fixed - gaps)
        }
        while widths.reduce(0, +) + gaps > maxWidth, let widest = widths.indices.max(by: { widths[$0] < widths[$1] }) {
            widths[widest] -= 1
        }
        return widths
    }

    private func line(_ cells: [String], _ widths: [Int]) -> String {
        zip(cells, widths).enumerated().map { index, pair in
            let (cell, width) = pair
            let flat = cell.replacingOccurrences(of: "\r\n", with: " ").replacingOccurrences(of: "\n", with: " ")
                .replacingOccurrences(of: "\r", with: " ")
            let fitted = flat.count > width ? String(flat.prefix(max(width - 1, 0))) + "…" : flat
            return index == cells.count - 1 ? fitted : fitted.padding(width)
        }.joined(separator: " ")
    }
}
