import Foundation
import Testing

/// The tour a new user takes: init, one record of each type, list, show, edit, status.
@Suite("Tour")
struct TourTests {
    @Test("init, add one of each type, list, show, edit, status")
    func tour() async throws {
        let cli = try CLI()
        let initialised = try await cli.ok("init", "--user", "anna", "--role", "carer")
        #expect(initialised.stdout.contains("Initialised Veld for anna (carer)"))
        #expect(initialised.stdout.contains(cli.home.path))
        #expect(initialised.stdoutLines.contains { $0.hasPrefix("Replica id: ") })

        let observations = "Bewoners zitten in de huiskamer.\nDe tuin is open."
        let visit = try await cli.add(
            "visit", "add", "--location", "loc-zonnehof", "--kind", "werkbezoek", "--date", "2026-11-20",
            "--summary", "Rondgang huiskamer", "--observations", observations)
        let carePlan = try await cli.add(
            "careplan", "add", "--location", "loc-zonnehof", "--client-code", "ZH-0042", "--law", "Wlz",
            "--care-start", "2026-10-01")
        let goal = try await cli.add(
            "goal", "add", "--care-plan", String(carePlan.prefix(8)), "--domain", "welzijn",
            "--goal", "Dagelijks naar buiten")
        let council = try await cli.add(
            "council", "add", "--scope", "org-bezinn", "--council", "Cliëntenraad Zonnehof", "--kind", "adviesaanvraag",
            "--topic", "Nieuwe dagbesteding", "--response-due", "2026-12-15")
        #expect(Set([visit, carePlan, goal, council]).count == 4)

        // The goal inherits the care plan's scope and points at it by full id.
        let goalJSON = try await cli.show(goal)
        #expect(goalJSON["scope"] == .string("loc-zonnehof"))
        #expect(goalJSON["type"] == .string("carePlanGoal"))
        #expect(goalJSON["fields"]?["carePlan"] == .string(carePlan))
        #expect(goalJSON["fields"]?["status"] == .string("open"))

        // The visit table: header and row, nothing wider than 100 characters.
        let table = try await cli.ok("visit", "list")
        let lines = table.stdoutLines
        #expect(lines.count == 2, "\(table)")
        #expect(lines.allSatisfy { $0.count <= 100 }, "\(table)")
        let header = try #require(lines.first)
        for column in ["ID", "DATE", "SCOPE", "KIND", "STATUS", "SUMMARY"] {
            #expect(header.contains(column), "\(table)")
        }
        let row = try #require(lines.dropFirst().first)
        #expect(row.hasPrefix(String(visit.prefix(8))))
        for cell in ["2026-11-20", "loc-zonnehof", "werkbezoek", "concept", "Rondgang huiskamer"] {
            #expect(row.contains(cell), "\(table)")
        }

        let shown = try await cli.json("visit", "show", visit, "--json")
        #expect(shown == (try await cli.show(visit)), "visit show --json and show --json agree")
        #expect(shown["id"] == .string(visit))
        #expect(shown["type"] == .string("visitNote"))
        #expect(shown["scope"] == .string("loc-zonnehof"))
        #expect(shown["deleted"] == .bool(false))
        #expect(shown["fields"]?["summary"] == .string("Rondgang huiskamer"))
        #expect(shown["fields"]?["observations"] == .string(observations))
        #expect(shown["fields"]?["visitor"] == .string("anna"), "the visitor defaults to the profile's user")
        #expect(shown["fields"]?["status"] == .string("concept"))

        let edited = try await cli.ok("edit", visit, "summary=Rondgang huiskamer en tuin")
        #expect(edited.stdout.contains("Edited visitNote \(visit)"))
        let afterEdit = try await cli.show(visit)
        #expect(afterEdit["fields"]?["summary"] == .string("Rondgang huiskamer en tuin"))
        #expect(afterEdit["fields"]?["observations"] == .string(observations), "an edit leaves other fields alone")
        let text = try await cli.ok("show", visit)
        #expect(text.stdoutLines.first?.hasPrefix("visitNote \(visit)") == true, "\(text)")
        #expect(text.stdoutLines.contains { $0.contains("summary") && $0.hasSuffix("Rondgang huiskamer en tuin") }, "\(text)")

        // Four records made here, none synced; editing one does not add to the count.
        let status = try await cli.ok("status")
        #expect(status.stdout.contains("Pending    4 record(s)"), "\(status)")
        #expect(status.stdout.contains("Conflicts  0"), "\(status)")
        #expect(status.stdout.contains("1 visitNote, 1 councilInput, 1 carePlan, 1 carePlanGoal"), "\(status)")
        #expect(status.stdout.contains("anna (carer)"), "\(status)")

        let statusJSON = try await cli.json("status", "--json")
        #expect(statusJSON["pending"] == .number(4))
        #expect(statusJSON["conflicts"] == .number(0))
        #expect(statusJSON["deleted"] == .number(0))
        #expect(statusJSON["user"] == .string("anna"))
        #expect(statusJSON["role"] == .string("carer"))
        #expect(statusJSON["home"] == .string(cli.home.path))
        #expect(statusJSON["replica"]?.string?.isEmpty == false)
        #expect(statusJSON["records"] == .object([
            "visitNote": .number(1), "carePlan": .number(1), "carePlanGoal": .number(1), "councilInput": .number(1),
        ]))
    }

    @Test("--home DIR wins over $VELD_HOME")
    func explicitHome() async throws {
        let cli = try CLI()
        let other = cli.root.appendingPathComponent("other").path
        try await cli.ok("init", "--user", "bram", "--home", other)
        let status = try await cli.json("status", "--json", "--home", other)
        #expect(status["user"] == .string("bram"))
        #expect(status["home"] == .string(other))
        // VELD_HOME (this instance's home) was never initialised.
        try await cli.fails(["status"], mentioning: ["veld init"])
        #expect(!FileManager.default.fileExists(atPath: cli.home.appendingPathComponent("veld.sqlite").path))
    }
}
