import ArgumentParser
import Foundation
import VeldProtocol
import VeldServer

/// `veld-server report`: a financier's report, made from the records the server holds now
/// or from a peildatum snapshot, by a report definition of the module set.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "A report for a financier (evidence, zorgkantoor, gemeente, …) as CSV, Excel-ready CSV or JSON.",
        discussion: """
            The reports are defined in the modules in force (veld-server report --list). A report \
            shows client codes, never names, and only the fields its definition lists. Without \
            --snapshot it reads the records as the server holds them now, "stand per" today (or \
            --as-of); with --snapshot, as the snapshot froze them, "stand per" its peildatum. The \
            records it reads are named in the access log.

              veld-server report evidence --period 2026 --financier "Zorgkantoor Noord" --format csv > bewijs-2026.csv
              veld-server report zorgkantoor --snapshot "najaar 2026" --format csv
              veld-server report gemeente --mapping gemeente-assen-2026.json --period 2026 --excel > assen.csv
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case csv, json
    }

    @OptionGroup var database: DatabaseOptions
    @Argument(help: ArgumentHelp("The report's id (--list shows them).", valueName: "report"))
    var report: String?
    @Flag(help: "List the reports of the module set, with their sections and sources.") var list = false
    @Option(help: ArgumentHelp("The period counted in: 2026, 2026-Q3, 2026-H1, 2026-03 or 2026-01-01..2026-06-30.", valueName: "period"))
    var period: String?
    @Option(help: ArgumentHelp("Only this financier's records, in the sections that name one (as care plans hold it).", valueName: "name"))
    var financier: String?
    @Option(help: ArgumentHelp("Make it from this snapshot (name or id): its records, and its peildatum as \"stand per\".", valueName: "name"))
    var snapshot: String?
    @Option(name: .customLong("as-of"), help: ArgumentHelp(
        "\"Stand per\" the end of this day (YYYY-MM-DD): the records as the server held them then, from the history.", valueName: "date"))
    var asOf: String?
    @Option(help: ArgumentHelp("A municipality's mapping file: its columns for the sections that take them.", valueName: "file.json"))
    var mapping: String?
    @Option(help: "csv or json.") var format: Format = .csv
    @Flag(help: "CSV that Dutch Excel opens as it is: semicolons, a UTF-8 byte order mark, decimal commas.") var excel = false
    @Option(help: ArgumentHelp("Only this section (its id), as one table.", valueName: "id")) var section: String?
    @Option(name: .shortAndLong, help: ArgumentHelp("Write to this file instead of standard output.", valueName: "file"))
    var output: String?
    @Option(help: ArgumentHelp("A scope to include (repeat it), or '*' for every scope (the default).", valueName: "scope"))
    var scope: [String] = []

    func validate() throws {
        if list { return }
        guard report != nil else { throw ValidationError("name a report (veld-server report --list shows them)") }
        if let period, ReportPeriod(period) == nil {
            throw ValidationError("--period takes 2026, 2026-Q3, 2026-H1, 2026-03 or 2026-01-01..2026-06-30, not '\(period)'")
        }
        if let asOf, CivilDate(asOf) == nil { throw ValidationError("--as-of takes a date YYYY-MM-DD, not '\(asOf)'") }
        if snapshot != nil, asOf != nil { throw ValidationError("--snapshot has its own peildatum; leave out --as-of") }
        if excel, format == .json { throw ValidationError("--excel is a CSV variant; leave out --format json") }
        if let financier, financier.trimmingCharacters(in: .whitespaces).isEmpty || financier.count > 200 || financier.contains(where: \.isNewline) {
            throw ValidationError("--financier names a financier as care plans hold it (Zorgkantoor Noord)")
        }
        if financier != nil, mapping != nil {
            throw ValidationError("a mapping file names its gemeente, which is the financier; leave out --financier")
        }
        try SnapshotCommand.validateScopes(scope)
    }

    func run() async throws {
        let storage = try await database.open()
        let set = try await ModuleSets.published(storage).set
        if list {
            printList(set)
            return
        }
        guard let report, var definition = set.report(report) else {
            throw ValidationError("no report '\(self.report ?? "")' in the module set; there are: \(set.reports.compactMap(\.id).joined(separator: ", "))")
        }
        if let section {
            guard definition.sections.contains(where: { $0.id == section }) else {
                throw ValidationError("report \(report) has no section '\(section)'; its sections: \(definition.sections.map(\.id).joined(separator: ", "))")
            }
            // Only that section is made, so only its records are read (and logged).
            definition.sections = definition.sections.filter { $0.id == section }
        }
        var request = ReportRequest(period: period.flatMap(ReportPeriod.init), referenceDate: CivilDate.today(), financier: financier)
        if let mappingSection = definition.sections.first(where: { $0.columnsFrom == "mapping" }) {
            guard let mapping else {
                throw ValidationError("report \(report) takes its columns from a municipality's mapping file: give --mapping FILE.json (SPEC.md, \"Reports\")")
            }
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: mapping)) } catch {
                throw ValidationError("cannot read the mapping file \(mapping): \(error.localizedDescription)")
            }
            do { request.mapping = try ReportMapping.parse(data, for: mappingSection, in: set) } catch let problems as ModuleProblems {
                throw ValidationError("the mapping file \(mapping) was refused:\n" + problems.reasons.map { "- \($0)" }.joined(separator: "\n"))
            }
            // Without --period, the mapping's contract year.
            if request.period == nil, let year = request.mapping?.contractYear { request.period = ReportPeriod(String(year)) }
        } else if mapping != nil {
            throw ValidationError("report \(report) has its own columns; --mapping is for a report whose columns come from a mapping file")
        }
        let filter: ScopeFilter = scope.isEmpty || scope.contains("*") ? .all : .only(Set(scope))
        var records: [RecordState]
        var snapshotName: String?
        if let snapshot {
            let frozen = try await SnapshotCommand.find(snapshot, in: storage)
            records = try await storage.snapshotRecords(id: frozen.id)
            if case .only(let wanted) = filter { records = records.filter { wanted.contains($0.scope) } }
            request.referenceDate = CivilDate.today(at: frozen.asOf)
            snapshotName = frozen.name
        } else if let asOf, let day = CivilDate(asOf) {
            // "Stand per" that day: the states the server held at its end, from the history.
            records = try await Snapshots.states(in: storage, scopes: filter, asOf: Snapshots.endOfDay(day))
            request.referenceDate = day
        } else {
            records = []
            var after: Int64 = 0
            for _ in 0..<10_000_000 {
                let page = try await storage.pull(scopes: filter, after: after, limit: 1_000, token: nil, at: Date())
                records += page.records
                after = page.lastPosition
                if !page.more { break }
            }
        }
        let made = Reports.run(definition, rules: set.rules, records: records, request: request, snapshot: snapshotName)
        // What it shows is read: logged before anything is written.
        let byID = Dictionary(records.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let named = made.recordsRead.compactMap { id in byID[id].map { AccessedRecord(id: id, type: $0.type, scope: $0.scope, effect: "read") } }
        var detail = "report \(report)" + (snapshotName.map { " snapshot=\($0)" } ?? "")
        detail += (section.map { " section=\($0)" } ?? "") + (request.period.map { " period=\($0)" } ?? "")
        detail += " stand=\(request.referenceDate) rows=\(made.sections.reduce(0) { $0 + $1.rows.count })"
        try await SnapshotCommand.log(storage, detail, named)
        let text: String
        switch (format, section) {
        case (.json, _): text = String(decoding: try StableJSON.encode(made, pretty: true), as: UTF8.self) + "\n"
        case (.csv, nil): text = ReportCSV.render(made, dialect: excel ? .excel : .plain)
        case (.csv, _?): text = made.sections.first.map { ReportCSV.render($0, dialect: excel ? .excel : .plain) } ?? ""
        }
        if let output {
            // Client codes and their figures: readable by the office's user only, as the
            // database is. Written whole or not at all.
            let url = URL(fileURLWithPath: output)
            let partial = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString.prefix(8))")
            do {
                guard FileManager.default.createFile(atPath: partial.path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
                    throw CocoaError(.fileWriteNoPermission)
                }
                guard rename(partial.path, url.path) == 0 else { throw CocoaError(.fileWriteUnknown) }
            } catch {
                try? FileManager.default.removeItem(at: partial)
                throw ValidationError("cannot write \(output): \(error.localizedDescription)")
            }
            FileHandle.standardError.write(Data("report: \(made.sections.reduce(0) { $0 + $1.rows.count }) row(s) written to \(output)\n".utf8))
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }

    func printList(_ set: SchemaSet) {
        guard !set.reports.isEmpty else {
            print("The module set defines no reports.")
            return
        }
        for report in set.reports {
            print("\(report.id ?? "")  \(report.title ?? "")")
            if let recipient = report.recipient { print("    for: \(recipient)") }
            for section in report.sections {
                let columns = section.columnsFrom == "mapping" ? "columns from --mapping FILE" : section.columns.map(\.name).joined(separator: ", ")
                for line in DueTable.wrap("- \(section.id) (\(section.type)): \(columns)", width: 96) { print("    " + line) }
            }
            if let source = report.source { for line in DueTable.wrap(source, width: 96) { print("    " + line) } }
        }
    }
}
