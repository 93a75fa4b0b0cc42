import Foundation
import PropertyBased
import Testing
import VeldProtocol
import VeldTestSupport

/// Reports as data: the built-in definitions, golden CSV files for fixed records, the Excel
/// variant read back by a real CSV reader (Python's), the definition checks, and, on
/// generated records, that a report shows no field its definition does not list.
@Suite struct ReportTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("golden")
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples")
    static let time = Date(timeIntervalSince1970: 1_795_168_800)

    static func set() throws -> SchemaSet {
        let klachten = try ModuleDocument.parse(try ExampleModules.klachten(), alongside: SchemaSet.builtIn.modules)
        return try SchemaSet(modules: SchemaSet.builtIn.modules + [klachten])
    }

    /// Fixed records: two Wlz plans of Zorgkantoor Noord and a Wmo plan of Gemeente Assen,
    /// goals, rapportages in and outside 2026, meldingen (one across Koningsdag), a shared
    /// werkbezoek, an advice request with a formula-like topic, and complaints.
    static func records() -> [RecordState] {
        var n = 0
        func make(_ type: String, _ scope: String, _ fields: [String: FieldValue]) -> RecordState {
            n += 1
            var state = RecordState(id: String(format: "00000000-0000-4000-8000-%012d", n), type: type, scope: scope)
            state.edit(fields, replica: "r-anna", author: "anna", time: time)
            return state
        }
        let p1 = make("carePlan", "loc-zonnehof", ["clientCode": .string("ZH-0042"), "law": .string("Wlz"),
                                                   "financier": .string("Zorgkantoor Noord"), "careStart": .string("2026-01-05"),
                                                   "lastDiscussedAt": .string("2026-02-10"), "status": .string("besproken"),
                                                   "agreements": .string("GEHEIM: afspraken met familie")])
        let p2 = make("carePlan", "loc-zonnehof", ["clientCode": .string("ZH-0043"), "law": .string("Wlz"),
                                                   "financier": .string("zorgkantoor noord "), "careStart": .string("2026-10-01"),
                                                   "status": .string("concept")])
        let p3 = make("carePlan", "loc-de-linde", ["clientCode": .string("DL-0007"), "law": .string("Wmo"),
                                                   "financier": .string("Gemeente Assen"), "careStart": .string("2026-03-01"),
                                                   "careEnd": .string("2026-11-30"), "agreedOn": .string("2026-03-20"),
                                                   "lastDiscussedAt": .string("2026-09-01"), "status": .string("afgesproken")])
        var records = [p1, p2, p3]
        records.append(make("carePlanGoal", "loc-zonnehof", ["carePlan": .string(p1.id), "domain": .string("welzijn"),
                                                             "goal": .string("Dagelijks naar buiten"), "status": .string("open"),
                                                             "evaluatedAt": .string("2026-08-01")]))
        records.append(make("carePlanGoal", "loc-zonnehof", ["carePlan": .string(p1.id), "domain": .string("wonen"),
                                                             "goal": .string("Eigen kamer inrichten"), "status": .string("bereikt"),
                                                             "evaluatedAt": .string("2026-06-15")]))
        records.append(make("carePlanGoal", "loc-de-linde", ["carePlan": .string(p3.id), "domain": .string("gezondheid"),
                                                             "goal": .string("Zelf medicatie"), "status": .string("open")]))
        for (plan, day) in [(p1, "2026-03-01"), (p1, "2026-07-14"), (p1, "2025-12-30"), (p2, "2026-11-02"), (p3, "2026-05-05")] {
            records.append(make("careReport", plan.scope, ["carePlan": .string(plan.id), "reportedOn": .string(day),
                                                           "kind": .string("dagrapportage"), "text": .string("GEHEIM rapportage \(day)")]))
        }
        records.append(make("melding", "loc-zonnehof", ["title": .string("Valpartij"), "kind": .string("fout"), "raisedOn": .string("2026-03-02"),
                                                        "themes": .strings(["veiligheid"]), "acknowledgedOn": .string("2026-03-05"),
                                                        "status": .string("afgehandeld")]))
        records.append(make("melding", "loc-zonnehof", ["title": .string("Dossier kwijt"), "kind": .string("fout"), "raisedOn": .string("2026-04-24"),
                                                        "themes": .strings(["veiligheid", "informatie"]), "acknowledgedOn": .string("2026-04-30"),
                                                        "status": .string("opgepakt")]))
        records.append(make("melding", "loc-de-linde", ["title": .string("Oud"), "kind": .string("onmogelijkheid"), "raisedOn": .string("2025-12-01"),
                                                        "status": .string("gemeld")]))
        records.append(make("visitNote", "loc-zonnehof", ["visitedAt": .string("2026-05-12"), "visitor": .string("bram"),
                                                          "kind": .string("werkbezoek"), "summary": .string("Rondgang; \"tuin\" en keuken"),
                                                          "observations": .string("GEHEIM observaties"), "sharedWithFinancier": .bool(true),
                                                          "themes": .strings(["wonen en welzijn"]), "followUp": .string("Hek repareren"),
                                                          "followUpDue": .string("2026-06-01"), "status": .string("definitief")]))
        records.append(make("visitNote", "loc-de-linde", ["visitedAt": .string("2026-10-02"), "visitor": .string("bram"),
                                                          "kind": .string("werkbezoek"), "summary": .string("Niet gedeeld"),
                                                          "status": .string("concept")]))
        records.append(make("councilInput", "org-bezinn", ["council": .string("Cliëntenraad Zonnehof"), "kind": .string("adviesaanvraag"),
                                                           "topic": .string("=Nieuwe dagbesteding"), "receivedAt": .string("2026-09-01"),
                                                           "responseDue": .string("2026-10-01"), "respondedOn": .string("2026-09-15"),
                                                           "status": .string("beantwoord")]))
        records.append(make("participation", "org-bezinn", ["subject": .string("Ontwikkelplan 2026"), "body": .string("cliëntenraad"),
                                                            "form": .string("advies gevraagd"), "on": .string("2026-04-14"),
                                                            "outcome": .string("Advies overgenomen"), "reportedBackOn": .string("2026-05-01")]))
        records.append(make("ontwikkelplan", "org-bezinn", ["title": .string("Meer tijd voor de cliënt"), "financier": .string("Zorgkantoor Noord"),
                                                            "period": .string("2026"), "stage": .string("voortgang"),
                                                            "themes": .strings(["persoonsgerichte zorg"]), "progress": .string("Helft van de teams"),
                                                            "progressOn": .string("2026-10-01"), "evidence": .string("Roosters Q3")]))
        records.append(make("klacht", "loc-zonnehof", ["receivedOn": .string("2026-02-02"), "subject": .string("Bejegening"),
                                                       "channel": .string("schriftelijk"), "status": .string("afgehandeld"),
                                                       "judgedOn": .string("2026-03-02")]))
        records.append(make("klacht", "loc-zonnehof", ["receivedOn": .string("2026-06-01"), "subject": .string("Eten"),
                                                       "channel": .string("schriftelijk"), "status": .string("afgehandeld"),
                                                       "judgedOn": .string("2026-06-16")]))
        var deleted = make("klacht", "loc-zonnehof", ["receivedOn": .string("2026-06-02"), "subject": .string("Weg"),
                                                      "channel": .string("mondeling"), "status": .string("ontvangen")])
        deleted.edit([RecordState.deletedField: .bool(true)], replica: "r-anna", author: "anna", time: time)
        records.append(deleted)
        return records
    }

    static func run(_ id: String, financier: String? = nil, mapping: ReportMapping? = nil) throws -> ReportOutput {
        let set = try set()
        let report = try #require(set.report(id))
        let request = ReportRequest(period: ReportPeriod("2026"), referenceDate: CivilDate("2026-12-07")!, financier: financier, mapping: mapping)
        return Reports.run(report, rules: set.rules, records: records(), request: request)
    }

    /// Compares with `golden/NAME`; VELD_UPDATE_GOLDEN=1 writes it instead (read it before committing).
    static func expectGolden(_ text: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let url = golden.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["VELD_UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: golden, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
            return
        }
        let expected = String(decoding: try Data(contentsOf: url), as: UTF8.self)
        #expect(text == expected, "\(name) differs from its golden file", sourceLocation: sourceLocation)
    }

    static func mapping() throws -> ReportMapping {
        let set = try set()
        let section = try #require(set.report("gemeente")?.sections.first)
        return try ReportMapping.parse(try Data(contentsOf: examples.appendingPathComponent("reports/gemeente-assen-2026.json")),
                                       for: section, in: set)
    }

    @Test func theBuiltInReportsAreThere() throws {
        let set = try Self.set()
        #expect(SchemaSet.builtIn.reports.compactMap(\.id) == ["evidence", "zorgkantoor", "gemeente"])
        // The complaints module adds its section to the evidence pack.
        #expect(set.report("evidence")?.sections.map(\.id) == ["clients", "meldingen", "werkbezoeken", "adviesaanvragen", "klachten"])
        #expect(SchemaSet.builtIn.report("evidence")?.sections.map(\.id) == ["clients", "meldingen", "werkbezoeken", "adviesaanvragen"])
        for report in set.reports { #expect(report.source?.isEmpty == false) }
    }

    @Test func goldenCSV() throws {
        try Self.expectGolden(ReportCSV.render(try Self.run("evidence", financier: "Zorgkantoor Noord"), dialect: .plain), "evidence-2026.csv")
        try Self.expectGolden(ReportCSV.render(try Self.run("zorgkantoor", financier: "Zorgkantoor Noord"), dialect: .plain), "zorgkantoor-2026.csv")
        try Self.expectGolden(ReportCSV.render(try Self.run("gemeente", mapping: try Self.mapping()), dialect: .plain), "gemeente-assen-2026.csv")
        try Self.expectGolden(ReportCSV.render(try Self.run("evidence", financier: "Zorgkantoor Noord"), dialect: .excel), "evidence-2026-excel.csv")
    }

    /// The figures the golden file holds, checked by hand from the records above.
    @Test func evidenceFigures() throws {
        let output = try Self.run("evidence", financier: "Zorgkantoor Noord")
        let clients = try #require(output.sections.first { $0.id == "clients" })
        #expect(clients.columns == ["cliëntcode", "zorgplan aanwezig", "laatste bespreking", "laatste evaluatie doelen",
                                    "termijnen te laat", "rapportages in periode"])
        // The financier matches whatever its case and spaces; the Wmo plan is another financier's.
        #expect(clients.rows == [["ZH-0042", "ja", "2026-02-10", "2026-08-01", "1", "2"],
                                 ["ZH-0043", "nee", "", "", "1", "1"]])
        let meldingen = try #require(output.sections.first { $0.id == "meldingen" })
        // 2 to 5 March: 3 working days; 24 to 30 April over Koningsdag (27th): 3 working days.
        #expect(meldingen.rows == [["informatie", "1", "0", "3.0"], ["veiligheid", "2", "1", "3.0"]])
        let advice = try #require(output.sections.first { $0.id == "adviesaanvragen" })
        #expect(advice.rows == [["Cliëntenraad Zonnehof", "=Nieuwe dagbesteding", "2026-09-01", "2026-10-01", "2026-09-15", "10", "beantwoord"]])
        let complaints = try #require(output.sections.first { $0.id == "klachten" })
        // 2 Feb → 2 Mar: 20 working days; 1 → 16 June: 11; the deleted one is left out.
        #expect(complaints.rows == [["schriftelijk", "2", "2", "15.5"]])
        #expect(!output.recordsRead.isEmpty)
    }

    /// The Excel variant read back by Python's csv module, as a spreadsheet would read it:
    /// a byte order mark, semicolons, accents intact, a decimal comma, no formula.
    @Test func excelVariantReadsBack() throws {
        let output = try Self.run("evidence", financier: "Zorgkantoor Noord")
        let text = ReportCSV.render(output, dialect: .excel)
        #expect(text.hasPrefix("\u{FEFF}"))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("veld-excel-\(UUID().uuidString).csv")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(text.utf8).write(to: file)
        let script = """
            import csv, json, sys
            raw = open(sys.argv[1], 'rb').read()
            assert raw.startswith(b'\\xef\\xbb\\xbf'), 'no byte order mark'
            rows = list(csv.reader(open(sys.argv[1], encoding='utf-8-sig', newline=''), delimiter=';'))
            print(json.dumps({'rows': rows}))
            """
        let outcome = try Subprocess.run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script, file.path])
        #expect(outcome.status == 0, "\(String(decoding: outcome.stderr, as: UTF8.self))")
        struct Read: Decodable { var rows: [[String]] }
        let read = try JSONDecoder().decode(Read.self, from: outcome.stdout)
        #expect(read.rows.first == ["Bewijsdossier: zorgplannen, rapportages, meldingen en advies"])
        // Each section: its title, then exactly its header and rows, cell for cell.
        for section in output.sections {
            let start = try #require(read.rows.firstIndex(of: [section.title]))
            #expect(read.rows[start + 1] == section.columns)
            for (offset, row) in section.rows.enumerated() {
                var expected = row
                for index in section.decimalColumns { expected[index] = expected[index].replacingOccurrences(of: ".", with: ",") }
                expected = expected.map { $0.hasPrefix("=") ? "'" + $0 : $0 }
                #expect(read.rows[start + 2 + offset] == expected)
            }
        }
        #expect(read.rows.contains { $0.contains("15,5") })
        #expect(read.rows.contains { $0.contains("'=Nieuwe dagbesteding") })
        #expect(read.rows.contains { $0.contains("Cliëntenraad Zonnehof") })
    }

    @Test func plainCSVQuotesWhatItMust() {
        let table = ReportOutput.Table(id: "t", title: "T", columns: ["a", "b"], rows: [["x,y", "zeg \"ja\"\nnu"]], decimalColumns: [])
        #expect(ReportCSV.render(table, dialect: .plain) == "a,b\r\n\"x,y\",\"zeg \"\"ja\"\"\nnu\"\r\n")
        // Excel: commas quoted too, so an Excel with a comma list separator keeps the cell whole.
        #expect(ReportCSV.render(table, dialect: .excel) == "\u{FEFF}a;b\r\n\"x,y\";\"zeg \"\"ja\"\"\nnu\"\r\n")
        let formula = ReportOutput.Table(id: "t", title: "T", columns: ["a"], rows: [["ok,=cmd|' /C calc'!A0"], ["+1"], ["@SUM(A1)"]])
        #expect(ReportCSV.render(formula, dialect: .excel) == "\u{FEFF}a\r\n\"ok,=cmd|' /C calc'!A0\"\r\n'+1\r\n'@SUM(A1)\r\n")
    }

    /// Sections added to a report the set does not hold wait for it: the module fits an
    /// older set, and no report shows them until the report arrives.
    @Test func anExtensionWaitsForItsReport() throws {
        let klachten = try ModuleDocument.parse(try ExampleModules.klachten())
        let older = try ModuleDocument.parse(try ExampleModules.releasedVeldCore(4))
        let set = try SchemaSet(modules: [older, klachten])
        #expect(set.reports.isEmpty && set.report("evidence") == nil)
        #expect(try Self.set().report("evidence")?.sections.last?.id == "klachten")
    }

    /// With a period, a client's row is there when the care ran in it: a plan that ended
    /// before the period, or started after it, is not reported. Without a financier, the
    /// report is every financier's, and says so.
    @Test func clientsAreThoseInCareInThePeriod() throws {
        let set = try Self.set()
        let evidence = try #require(set.report("evidence"))
        var records = Self.records()
        func plan(_ code: String, _ start: String, _ end: String?) -> RecordState {
            var state = RecordState(id: RecordIDs.make(), type: "carePlan", scope: "loc-zonnehof")
            var fields: [String: FieldValue] = ["clientCode": .string(code), "law": .string("Wlz"), "careStart": .string(start),
                                                "financier": .string("Zorgkantoor Noord"), "status": .string("afgesproken")]
            if let end { fields["careEnd"] = .string(end) }
            state.edit(fields, replica: "r-anna", author: "anna", time: Self.time)
            return state
        }
        records += [plan("ZH-ENDED", "2024-01-01", "2025-12-31"), plan("ZH-LATER", "2027-01-04", nil), plan("ZH-ENDS", "2020-01-01", "2026-01-01")]
        let request = ReportRequest(period: ReportPeriod("2026"), referenceDate: CivilDate("2026-12-07")!)
        let output = Reports.run(evidence, rules: set.rules, records: records, request: request)
        let codes = output.sections[0].rows.map { $0[0] }
        // Every financier's: the Wmo plan of Gemeente Assen (in care in 2026) too.
        #expect(codes == ["DL-0007", "ZH-0042", "ZH-0043", "ZH-ENDS"], "\(codes)")
        #expect(output.financier == Reports.allFinanciers)
        #expect(ReportCSV.render(output, dialect: .plain).contains("financier,(alle)\r\n"))
        let always = Reports.run(evidence, rules: set.rules, records: records, request: ReportRequest(referenceDate: CivilDate("2026-12-07")!))
        #expect(always.sections[0].rows.count == 6)
    }

    @Test func periods() {
        #expect(ReportPeriod("2026") == ReportPeriod(from: CivilDate("2026-01-01")!, to: CivilDate("2026-12-31")!))
        #expect(ReportPeriod("2028-02") == ReportPeriod(from: CivilDate("2028-02-01")!, to: CivilDate("2028-02-29")!))
        #expect(ReportPeriod("2026-Q3") == ReportPeriod(from: CivilDate("2026-07-01")!, to: CivilDate("2026-09-30")!))
        #expect(ReportPeriod("2026-H1") == ReportPeriod(from: CivilDate("2026-01-01")!, to: CivilDate("2026-06-30")!))
        #expect(ReportPeriod("2026-03-01..2026-03-31")?.contains(CivilDate("2026-03-31")!) == true)
        for bad in ["", "26", "2026-13", "2026-Q5", "2026-H3", "2026-12-31..2026-01-01", "2026-1", "x", "2026-02-30..2026-03-01"] {
            #expect(ReportPeriod(bad) == nil, "\(bad)")
        }
    }

    @Test func brokenDefinitionsAreRefusedWithTheirReasons() throws {
        let base = try #require(Modules.builtIn.first)
        func refused(_ change: (inout ModuleDocument) -> Void) -> [String] {
            var module = base
            change(&module)
            return module.problems()
        }
        let cases: [(String, (inout ModuleDocument) -> Void)] = [
            ("has no field nosuch", { $0.reports![0].sections[3].columns[0].field = "nosuch" }),
            ("exactly one of field, count", { $0.reports![0].sections[0].columns[1].count = true }),
            ("shows only the field it groups by", { $0.reports![0].sections[0].columns[0].field = "law" }),
            ("adds sections only", { $0.reports!.append(ReportDefinition(extends: "gemeente", title: "x", sections: $0.reports![0].sections)) }),
            ("does not point at carePlan", { $0.reports![0].sections[0].columns[5].linked = "acknowledgement.bulletin" }),
            ("is a longText field, not date", { $0.reports![0].sections[0].columns[2].latest = "agreements" }),
            ("type nosuch is in no module", { $0.reports![0].sections[0].type = "nosuch" }),
            ("source starts with its grade", { $0.reports![0].source = "somewhere" }),
            ("is listed twice", { $0.reports![0].sections.append($0.reports![0].sections[0]) }),
            ("when goes with count", { $0.reports![0].sections[0].columns[1].when = [.init(field: "law", present: true)] }),
            ("is not a value of carePlan.status", { $0.reports![0].sections[0].columns[1].any = [.init(field: "status", isOneOf: ["klaar"])] }),
            ("columnsFrom mapping takes its columns", { $0.reports![2].sections[0].columns = [.init(name: "x", constant: "y")] }),
        ]
        for (reason, change) in cases {
            let problems = refused(change)
            #expect(problems.contains { $0.contains(reason) }, "\(reason): \(problems)")
        }
        // A misspelt key is refused by the parser, never ignored.
        var object = try #require(try JSONSerialization.jsonObject(with: try StableJSON.encode(base)) as? [String: Any])
        var reports = try #require(object["reports"] as? [[String: Any]])
        var sections = try #require(reports[0]["sections"] as? [[String: Any]])
        sections[0]["gropuBy"] = sections[0].removeValue(forKey: "groupBy")
        reports[0]["sections"] = sections
        object["reports"] = reports
        do {
            _ = try ModuleDocument.parse(try JSONSerialization.data(withJSONObject: object))
            Issue.record("a misspelt key was accepted")
        } catch let problems as ModuleProblems {
            #expect(problems.reasons.contains { $0.contains("unknown key \"gropuBy\"") }, "\(problems.reasons)")
        }
    }

    @Test func mappingFilesAreChecked() throws {
        let set = try Self.set()
        let section = try #require(set.report("gemeente")?.sections.first)
        let good = try Self.mapping()
        #expect(good.gemeente == "Gemeente Assen")
        for (json, reason) in [
            (#"{"gemeente": "X", "contractYear": 2026, "columns": [{"name": "a", "field": "bsn"}]}"#, "has no field bsn"),
            (#"{"gemeente": "X", "contractYear": 2026, "columns": []}"#, "at least one"),
            (#"{"gemeente": "X", "contractYear": 26, "columns": [{"name": "a", "constant": "b"}]}"#, "contractYear"),
            (#"{"gemeente": "X", "contractYear": 2026, "colums": []}"#, "unknown key"),
            (#"{"gemeente": "X", "contractYear": 2026, "columns": [{"name": "a", "field": "status", "count": true}]}"#, "exactly one"),
            ("not json", "not JSON"),
            (#"{"gemeente": "X", "contractYear": 2026, "columns": [{"name": "a", "field": "agreements"}]}"#, "free text"),
            (#"{"gemeente": "X\nY", "contractYear": 2026, "columns": [{"name": "a", "constant": "b"}]}"#, "gemeente"),
            (#"{"gemeente": "X", "contractYear": 2026, "columns": [{"name": "a", "workingDays": {"from": "careStart", "tot": "careEnd"}}]}"#, "unknown key"),
        ] {
            do {
                _ = try ReportMapping.parse(Data(json.utf8), for: section, in: set)
                Issue.record("accepted: \(json)")
            } catch let problems as ModuleProblems {
                #expect(problems.reasons.contains { $0.contains(reason) }, "\(reason): \(problems.reasons)")
            }
        }
    }

    /// Generated records of every type, every text field holding a marker that names it:
    /// whatever a report (or a mapping) shows, it shows no marker of a field its definition
    /// does not list; and a grouped count adds up to the records it selected.
    @Test func aReportShowsOnlyTheFieldsItLists() async throws {
        let set = try Self.set()
        let mapping = try Self.mapping()
        await checkProperty(count: 60, input: Gen.int(in: 0...1_000_000).array(of: 40...120)) { codes in
            // Compute-bound: let the tests that wait on timers run between cases.
            await Task.yield()
            var codes = codes.makeIterator()
            func next(_ n: Int) -> Int { (codes.next() ?? 7) % max(n, 1) }
            var records: [RecordState] = []
            var ids: [String: [String]] = [:]
            for (index, schema) in set.schemas.enumerated() {
                for copy in 0..<(1 + next(3)) {
                    let id = String(format: "00000000-0000-4000-8000-%06d%06d", index, copy)
                    ids[schema.type, default: []].append(id)
                    var fields: [String: FieldValue] = [:]
                    for field in schema.fields where next(5) != 0 {
                        switch field.kind {
                        case .text: fields[field.name] = .string("M:\(schema.type).\(field.name):\(next(9))")
                        case .date: fields[field.name] = .string(CivilDate(dayNumber: CivilDate("2025-06-01")!.dayNumber + next(900)).description)
                        case .choice(let values): fields[field.name] = .string(values[next(values.count)])
                        case .choices(let values): fields[field.name] = .strings(Array(Set((0...next(3)).map { _ in values[next(values.count)] })).sorted())
                        case .bool: fields[field.name] = .bool(next(2) == 0)
                        case .reference(let target): fields[field.name] = .string(ids[target]?.first ?? id)
                        }
                    }
                    var state = RecordState(id: id, type: schema.type, scope: ["loc-a", "loc-b"][next(2)])
                    state.edit(fields, replica: "r-gen", author: "gen", time: Self.time)
                    records.append(state)
                }
            }
            for report in set.reports {
                await Task.yield()
                let request = ReportRequest(period: next(2) == 0 ? ReportPeriod("2026") : nil, referenceDate: CivilDate("2026-12-07")!,
                                            financier: next(2) == 0 ? nil : "M:carePlan.financier:\(next(9))", mapping: mapping)
                let output = Reports.run(report, rules: set.rules, records: records, request: request)
                for (section, table) in zip(report.sections, output.sections) {
                    let columns = section.columnsFrom == "mapping" ? mapping.columns : section.columns
                    var listed = section.fieldsRead
                    for column in columns { listed.formUnion(column.fieldsRead(of: section.type)) }
                    for cell in table.rows.joined() where cell.contains("M:") {
                        let parts = cell.split(separator: ":")
                        #expect(parts.count >= 2 && listed.contains(String(parts[1])), "\(report.id ?? "")/\(section.id) shows \(cell)")
                    }
                    #expect(table.rows.allSatisfy { $0.count == columns.count })
                    // A grouped count over a field of one value each adds up to the records selected.
                    if section.financier == nil || request.financier == nil,
                       let group = section.groupBy, let countColumn = columns.firstIndex(where: { $0.count == true && $0.when == nil && $0.linked == nil }),
                       group == ReportDefinition.scopeField || set.named(section.type)?.fields.first(where: { $0.name == group }).map({
                           if case .choices = $0.kind { false } else { true } }) == true {
                        let total = table.rows.compactMap { Int($0[countColumn]) }.reduce(0, +)
                        let selected = records.filter { record in
                            guard record.type == section.type, !record.isDeleted, (section.when ?? []).allSatisfy({ condition in
                                let shown = record.value(of: condition.field)
                                if let values = condition.isOneOf {
                                    switch shown {
                                    case .string(let v)?: return values.contains(v)
                                    case .strings(let list)?: return list.contains(where: values.contains)
                                    case .bool(let b)?: return values.contains(b ? "true" : "false")
                                    default: return false
                                    }
                                }
                                return true
                            }) else { return false }
                            if let field = section.inPeriod, let period = request.period {
                                guard case .string(let text)? = record.value(of: field), let day = CivilDate(text) else { return false }
                                return period.contains(day)
                            }
                            return true
                        }.count
                        #expect(total == selected, "\(report.id ?? "")/\(section.id)")
                    }
                }
            }
        }
    }
}
