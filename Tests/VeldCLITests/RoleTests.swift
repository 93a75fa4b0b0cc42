import Foundation
import Testing

/// Which role may write what: the office decides on care plans and answers council input.
@Suite("Roles")
struct RoleTests {
    @Test("an office profile may review a care plan and answer council input", arguments: ["office", "admin"])
    func office(_ role: String) async throws {
        let cli = try CLI()
        let fixture = try await Fixture.make(cli, role: role)
        try await cli.ok("careplan", "edit", fixture.carePlan, "reviewedBy=Directie Zonnehof", "reviewedOn=2026-11-23",
                         "status=vastgesteld", "approvedBy=Directie")
        let carePlan = try await cli.show(fixture.carePlan)
        #expect(carePlan["fields"]?["reviewedBy"] == .string("Directie Zonnehof"))
        #expect(carePlan["fields"]?["reviewedOn"] == .string("2026-11-23"))
        // Retired fields and values are still the office's to write: records hold them.
        #expect(carePlan["fields"]?["approvedBy"] == .string("Directie"))
        #expect(carePlan["fields"]?["status"] == .string("vastgesteld"))
        let table = try await cli.ok("careplan", "list", "--status", "vastgesteld")
        let row = table.stdoutLines.first { $0.hasPrefix(String(fixture.carePlan.prefix(8))) }
        #expect(row?.contains("vastgesteld") == true && row?.contains("Directie Zonnehof") == true, "\(table)")

        let added = try await cli.json(
            "careplan", "add", "--location", "loc-zonnehof", "--client-code", "ZH-0043", "--law", "Zvw",
            "--care-start", "2026-10-01", "--status", "vastgesteld", "--reviewed-by", "Directie", "--json")
        #expect(added["fields"]?["status"] == .string("vastgesteld"))
        #expect(added["fields"]?["reviewedBy"] == .string("Directie"))

        try await cli.ok("edit", fixture.council, "response=Wij nemen het advies over.", "status=beantwoord")
        let council = try await cli.show(fixture.council)
        #expect(council["fields"]?["response"] == .string("Wij nemen het advies over."))

        // The office is still held to the schema.
        let before = try await cli.snapshot()
        try await cli.fails(["careplan", "edit", fixture.carePlan, "status=goedgekeurd"], mentioning: ["'goedgekeurd'"])
        try await cli.fails(["careplan", "edit", fixture.carePlan, "clientCode=111222333"], mentioning: ["BSN"])
        #expect(try await cli.snapshot() == before)
    }

    @Test("a visitor may mark their own visit note definitief")
    func visitorDefinitief() async throws {
        let cli = try CLI()
        let fixture = try await Fixture.make(cli)
        try await cli.ok("visit", "edit", fixture.visit, "status=definitief")
        #expect(try await cli.show(fixture.visit)["fields"]?["status"] == .string("definitief"))
        try await cli.ok("careplan", "edit", fixture.carePlan, "status=besproken", "lastDiscussedAt=2026-11-19",
                         "participants=cliënt, mantelzorger")
        let fields = try await cli.show(fixture.carePlan)["fields"]
        #expect(fields?["status"] == .string("besproken"))
        #expect(fields?["participants"] == .array([.string("cliënt"), .string("mantelzorger")]))
    }

    @Test("a council profile may not read or write care plans, nor answer advice")
    func council() async throws {
        let cli = try CLI()
        try await cli.initialise(user: "cora", role: "council")
        let council = try await cli.add(
            "council", "add", "--scope", "org-bezinn", "--council", "Cliëntenraad Zonnehof", "--kind", "adviesaanvraag",
            "--topic", "Nieuwe dagbesteding")
        let before = try await cli.snapshot()
        try await cli.fails(["careplan", "add", "--location", "loc-zonnehof", "--client-code", "ZH-0042", "--law", "Wlz",
                             "--care-start", "2026-10-01"], mentioning: ["council role may not read or write carePlan records"])
        try await cli.fails(["edit", council, "response=x"], mentioning: ["council role"])
        #expect(try await cli.snapshot() == before)
    }
}
