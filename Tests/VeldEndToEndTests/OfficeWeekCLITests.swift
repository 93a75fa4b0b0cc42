import Foundation
import Testing
import VeldCore
import VeldProtocol

/// The office's week through both binaries: a peildatum snapshot with an edit that arrives
/// late, a comparison that marks it, each financier's report (CSV, Excel-ready, JSON, from
/// a snapshot, with a municipality's mapping), every read in the access log without a
/// value, and bad input refused with what to do.
@Suite struct OfficeWeekCLITests {
    static let mapping = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/reports/gemeente-assen-2026.json")

    @Test func snapshotsAndReportsForEachFinancier() async throws {
        let server = try ServerProcess()
        let anna = try AuditCLITests.Device("anna", .carer, ["loc-zonnehof", "loc-de-linde"], server)
        func office(_ arguments: String...) throws -> Binaries.Result {
            try Binaries.run(Binaries.server, arguments + ["--db", server.database])
        }
        func id(_ result: Binaries.Result) throws -> String {
            #expect(result.status == 0, "\(result.stderr)")
            return try #require(result.stdout.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
        }
        let plan = try id(anna("add", "carePlan", "--scope", "loc-zonnehof", "clientCode=ZH-0042", "law=Wlz", "careStart=2026-01-05",
                               "financier=Zorgkantoor Noord", "status=besproken", "lastDiscussedAt=2026-02-10",
                               "agreements=Dochter belt wekelijks"))
        _ = try id(anna("add", "careReport", "carePlan=\(plan)", "reportedOn=2026-03-01", "kind=dagrapportage",
                        "text=Mevrouw at goed vandaag"))
        _ = try id(anna("add", "carePlan", "--scope", "loc-de-linde", "clientCode=DL-0007", "law=Wmo", "careStart=2026-03-01",
                        "financier=Gemeente Assen", "status=afgesproken", "agreedOn=2026-03-20"))
        #expect(try anna("sync").status == 0)

        // Anna edits offline; the office freezes the peildatum after her edit, before it arrives.
        #expect(try anna("edit", plan, "lastDiscussedAt=2026-08-01").status == 0)
        try await Task.sleep(for: .milliseconds(1_100))
        let moment = InternetTime.format(Date())
        try await Task.sleep(for: .milliseconds(1_100))
        let voor = try office("snapshot", "create", "--as-of", moment, "--name", "voor", "--json")
        #expect(voor.status == 0, "\(voor.stderr)")
        #expect(try anna("sync").status == 0)
        try await Task.sleep(for: .milliseconds(1_100))
        let na = try office("snapshot", "create", "--as-of", InternetTime.format(Date()), "--name", "na")
        #expect(na.status == 0 && na.stdout.contains("3 record(s)"), "\(na.stdout)\(na.stderr)")
        let again = try office("snapshot", "create", "--as-of", moment, "--name", "voor")
        #expect(again.status != 0 && again.stderr.contains("exists already"), "\(again.stderr)")

        let list = try office("snapshot", "list")
        #expect(list.status == 0 && list.stdout.contains("voor") && list.stdout.contains("na"), "\(list.stdout)")
        let shown = try office("snapshot", "show", "voor")
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("0 frozen with it, 1 received since") && shown.stdout.contains("lastDiscussedAt"), "\(shown.stdout) \(voor.stdout)")
        let compared = try office("snapshot", "compare", "voor", "na", "--json")
        let changes = try #require(try JSONSerialization.jsonObject(with: Data(compared.stdout.utf8)) as? [[String: Any]])
        #expect(changes.count == 1)
        #expect(changes.first?["field"] as? String == "lastDiscussedAt" && changes.first?["late"] as? Bool == true)
        #expect(changes.first?["before"] as? String == "2026-02-10" && changes.first?["after"] as? String == "2026-08-01")

        // The evidence pack for one zorgkantoor: client codes and figures, none of the free text.
        let evidence = try office("report", "evidence", "--period", "2026", "--financier", "Zorgkantoor Noord", "--format", "csv")
        #expect(evidence.status == 0, "\(evidence.stderr)")
        #expect(evidence.stdout.contains("ZH-0042,ja,2026-08-01,,0,1"), "\(evidence.stdout)")
        #expect(!evidence.stdout.contains("DL-0007") && !evidence.stdout.contains("Dochter") && !evidence.stdout.contains("Mevrouw"))
        // From the earlier snapshot the plan was last discussed in February.
        let frozen = try office("report", "evidence", "--snapshot", "voor", "--period", "2026", "--section", "clients")
        #expect(frozen.stdout.hasPrefix("cliëntcode,") && frozen.stdout.contains("ZH-0042,ja,2026-02-10,"), "\(frozen.stdout)")
        let excelFile = FileManager.default.temporaryDirectory.appendingPathComponent("veld-bewijs-\(UUID().uuidString).csv")
        defer { try? FileManager.default.removeItem(at: excelFile) }
        let excel = try office("report", "evidence", "--period", "2026", "--excel", "--output", excelFile.path)
        #expect(excel.status == 0 && excel.stdout.isEmpty, "\(excel.stderr)")
        let mode = (try FileManager.default.attributesOfItem(atPath: excelFile.path)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600, "a report file is its owner's only: \(String(mode ?? 0, radix: 8))")
        let bytes = try Data(contentsOf: excelFile)
        #expect(bytes.starts(with: [0xEF, 0xBB, 0xBF]) && String(decoding: bytes, as: UTF8.self).contains("cliëntcode;zorgplan aanwezig"))
        let zorgkantoor = try office("report", "zorgkantoor", "--snapshot", "na", "--format", "json")
        let made = try #require(try JSONSerialization.jsonObject(with: Data(zorgkantoor.stdout.utf8)) as? [String: Any])
        #expect(made["snapshot"] as? String == "na" && made["report"] as? String == "zorgkantoor", "\(zorgkantoor.stderr)")
        let gemeente = try office("report", "gemeente", "--mapping", Self.mapping.path, "--period", "2026")
        #expect(gemeente.status == 0 && gemeente.stdout.contains("Assen,2026,WMO-BG-01,DL-0007,loc-de-linde,Wmo"), "\(gemeente.stdout)\(gemeente.stderr)")
        #expect(!gemeente.stdout.contains("ZH-0042"))

        // Bad input: one clear line each, nothing written.
        for (arguments, says) in [(["report", "gemeente", "--period", "2026"], "--mapping"),
                                  (["report", "evidence", "--period", "2026-13"], "--period takes"),
                                  (["report", "nosuch"], "no report 'nosuch'"),
                                  (["report", "evidence", "--snapshot", "nosuch"], "no snapshot named"),
                                  (["report", "evidence", "--section", "nosuch"], "has no section"),
                                  (["snapshot", "create", "--as-of", "2999-01-01", "--name", "toekomst"], "in the future"),
                                  (["snapshot", "create", "--as-of", "gisteren", "--name", "x"], "--as-of takes")] {
            let result = try Binaries.run(Binaries.server, arguments + ["--db", server.database])
            #expect(result.status != 0 && result.stderr.contains(says), "\(arguments): \(result.stderr)")
        }
        #expect(try office("snapshot", "list", "--json").stdout.contains("toekomst") == false)

        // Every read above is in the access log, with records and without a value.
        let log = try office("audit", "--action", "report", "--json", "--limit", "100")
        #expect(log.status == 0, "\(log.stderr)")
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(log.stdout.utf8)) as? [[String: Any]])
        let details = entries.compactMap { $0["detail"] as? String }
        for kind in ["snapshot create", "snapshot show", "snapshot compare", "report evidence", "report zorgkantoor", "report gemeente"] {
            #expect(details.contains { $0.hasPrefix(kind) }, "no \(kind) entry: \(details)")
        }
        #expect(entries.first { ($0["detail"] as? String)?.hasPrefix("report evidence") == true }
            .map { (($0["records"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String }.contains(plan) } == true)
        #expect(!log.stdout.contains("Dochter") && !log.stdout.contains("Mevrouw") && !log.stdout.contains("2026-08-01"))
    }

    /// `veld schema --usage`: each field with the rules and reports that read it; the
    /// fields nothing reads are marked.
    @Test func schemaUsageShowsWhatEachFieldIsFor() throws {
        let home = try TemporaryFolder("veld-usage")
        let json = try Binaries.run(Binaries.cli, ["schema", "--usage", "--json", "--home", home.url.path])
        #expect(json.status == 0, "\(json.stderr)")
        let usage = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        func of(_ type: String, _ field: String) -> [String: Any]? {
            usage.first { $0["type"] as? String == type && $0["field"] as? String == field }
        }
        #expect((of("carePlan", "clientCode")?["reports"] as? [String])?.contains("evidence/clients") == true)
        #expect((of("carePlan", "careStart")?["rules"] as? [String])?.contains("wlz-zorgplanbespreking") == true)
        #expect((of("careReport", "carePlan")?["scope"] as? Bool) == true)
        #expect((of("visitNote", "observations")?["rules"] as? [String]) == [] && (of("visitNote", "observations")?["reports"] as? [String]) == [])
        let table = try Binaries.run(Binaries.cli, ["schema", "--usage", "careplan", "--home", home.url.path])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("carePlan.riskAssessment") && table.stdout.contains("used by no rule or report"), "\(table.stdout)")
        #expect(!table.stdout.contains("visitNote."))
        #expect(table.stdout.split(separator: "\n").allSatisfy { $0.count <= 100 }, "\(table.stdout)")
        let unknown = try Binaries.run(Binaries.cli, ["schema", "--usage", "nosuch", "--home", home.url.path])
        #expect(unknown.status != 0 && unknown.stderr.contains("unknown type"))
    }
}
