import Foundation

/// One line of the results table.
struct ResultRow: Codable, Sendable {
    var scenario: String
    var measure: String
    var unit: String
    var figure: Figure?
    var goal: String
    /// nil when the line has no goal of its own (a floor, a detail).
    var met: Bool?
    var note: String
}

/// The machine and the run, printed beside the figures: absolute numbers are this
/// machine's.
struct Machine: Codable, Sendable {
    var cpu: String
    var cores: Int
    var memory: String
    var date: String
    var os: String
    var swift: String

    static func current() -> Machine {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" } ?? "unknown"
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let kb = meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal") }?.split(separator: " ").compactMap { Int($0) }.first ?? 0
        let release = (try? String(contentsOfFile: "/etc/os-release", encoding: .utf8))?.split(separator: "\n")
            .first { $0.hasPrefix("PRETTY_NAME=") }.map { $0.dropFirst(12).replacingOccurrences(of: "\"", with: "") } ?? "Linux"
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        #if compiler(>=6.2)
        let swift = "6.2+"
        #else
        let swift = "6.1"
        #endif
        return Machine(cpu: model, cores: ProcessInfo.processInfo.activeProcessorCount,
                       memory: "\(kb / 1_048_576) GiB", date: formatter.string(from: Date()), os: release, swift: swift)
    }

    var line: String { "\(cores) cores (nproc), \(cpu), \(memory) RAM, \(os), Swift \(swift), \(date)" }
}

final class Report: @unchecked Sendable {
    let sizeName: String
    let command: String
    let repetitions: Int
    let machine = Machine.current()
    private(set) var rows: [ResultRow] = []
    private(set) var notes: [String] = []
    private(set) var errors: [String] = []

    init(sizeName: String, command: String, repetitions: Int) {
        self.sizeName = sizeName
        self.command = command
        self.repetitions = repetitions
    }

    func add(_ scenario: String, _ measure: String, unit: String, values: [Double], goal: String = "",
             check: ((Double) -> Bool)? = nil, note: String = "") {
        let figure = Figure(values)
        let met = check.map { $0(figure.median) }
        rows.append(ResultRow(scenario: scenario, measure: measure, unit: unit, figure: figure, goal: goal, met: met, note: note))
        log("\(scenario) | \(measure): \(format(figure.median, unit)) \(unit) (min \(format(figure.min, unit)), max \(format(figure.max, unit)))\(met.map { $0 ? " goal met" : " goal missed" } ?? "")")
    }

    func skip(_ scenario: String, _ measure: String, goal: String, reason: String) {
        rows.append(ResultRow(scenario: scenario, measure: measure, unit: "", figure: nil, goal: goal, met: nil, note: "skipped: \(reason)"))
        log("SKIPPED \(scenario) | \(measure): \(reason)")
    }

    func note(_ text: String) { notes.append(text) }
    func error(_ text: String) { errors.append(text); log("ERROR \(text)") }

    func format(_ value: Double, _ unit: String) -> String {
        guard value.isFinite else { return "–" }
        switch unit {
        case "×": return String(format: "%.2f", value)
        case "bytes", "records", "edits", "requests", "errors": return grouped(Int(value.rounded()))
        case "ms", "s", "MB", "KB":
            if value >= 100 { return grouped(Int(value.rounded())) }
            if value >= 10 { return String(format: "%.1f", value) }
            return String(format: "%.2f", value)
        default:
            if value >= 1_000 { return grouped(Int(value.rounded())) }
            if value >= 10 { return String(format: "%.1f", value) }
            return String(format: "%.2f", value)
        }
    }

    func grouped(_ value: Int) -> String {
        let digits = String(abs(value))
        var out = ""
        for (n, c) in digits.reversed().enumerated() {
            if n > 0 && n % 3 == 0 { out.append(" ") }
            out.append(c)
        }
        return (value < 0 ? "-" : "") + String(out.reversed())
    }

    var markdownTable: String {
        var lines = ["| scenario | measure | goal | median | min | max | met? |", "|---|---|---|---:|---:|---:|---|"]
        for row in rows {
            let status: String
            switch row.met {
            case .some(true): status = "met"
            case .some(false): status = "**missed**"
            case .none: status = row.figure == nil ? "skipped" : "–"
            }
            var measure = row.measure
            if !row.note.isEmpty { measure += " (\(row.note))" }
            if let figure = row.figure {
                let unit = row.unit == "×" ? "×" : " \(row.unit)"
                lines.append("| \(row.scenario) | \(measure) | \(row.goal) | \(format(figure.median, row.unit))\(unit) | \(format(figure.min, row.unit)) | \(format(figure.max, row.unit)) | \(status) |")
            } else {
                lines.append("| \(row.scenario) | \(measure) | \(row.goal) | – | – | – | \(status) |")
            }
        }
        return lines.joined(separator: "\n")
    }

    var markdownSection: String {
        var text = """
        Sizes: **\(sizeName)**; each figure is the median of \(repetitions) run(s), with min and max. Reproduce with `\(command)`.
        Absolute figures are **this machine's**: \(machine.line).

        \(markdownTable)

        """
        if !notes.isEmpty {
            text += "\n" + notes.map { "- \($0)" }.joined(separator: "\n") + "\n"
        }
        if !errors.isEmpty {
            text += "\nErrors during the run:\n" + errors.map { "- \($0)" }.joined(separator: "\n") + "\n"
        }
        return text
    }

    /// Replaces the text between `<!-- figures:NAME:begin -->` and `…:end -->` in `file`.
    func write(into file: URL) throws {
        let begin = "<!-- figures:\(sizeName):begin -->"
        let end = "<!-- figures:\(sizeName):end -->"
        var text = (try? String(contentsOf: file, encoding: .utf8)) ?? "# Benchmarks\n\n"
        let block = "\(begin)\n\(markdownSection)\(end)"
        if let start = text.range(of: begin), let stop = text.range(of: end), start.upperBound <= stop.lowerBound {
            text.replaceSubrange(start.lowerBound..<stop.upperBound, with: block)
        } else {
            text += "\n\(block)\n"
        }
        try text.write(to: file, atomically: true, encoding: .utf8)
    }

    func writeJSON(to file: URL) throws {
        struct Output: Codable { var size: String; var machine: Machine; var rows: [ResultRow]; var notes: [String]; var errors: [String] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // A scenario whose every attempt failed has no figure: written as "nan", not a crash.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try encoder.encode(Output(size: sizeName, machine: machine, rows: rows, notes: notes, errors: errors)).write(to: file)
    }
}
