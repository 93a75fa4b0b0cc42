import Foundation
import Testing

/// add, list, show, edit, delete: per type (`veld visit …`) and for any type (`veld show …`).
@Suite("Per-type commands")
struct NounTests {
    @Test("NOUN add, list, show, edit, delete", arguments: Noun.all)
    func lifecycle(_ noun: Noun) async throws {
        let cli = try CLI()
        let fixture = try await Fixture.make(cli)
        let arguments = [noun.name, "add"] + noun.addArguments.map(fixture.substitute)
        let id = try await cli.add(arguments)
        let short = String(id.prefix(8))

        // list: only this type, as this type's table.
        let table = try await cli.ok(noun.name, "list")
        let header = try #require(table.stdoutLines.first)
        for column in noun.columns { #expect(header.contains(column), "\(table)") }
        #expect(table.stdoutLines.allSatisfy { $0.count <= 100 }, "\(table)")
        let row = table.stdoutLines.first { $0.hasPrefix(short) }
        #expect(row?.contains(noun.cell) == true, "\(table)")
        let listed = try await cli.json(noun.name, "list", "--json")
        let listedIDs = listed.array?.compactMap { $0["id"]?.string } ?? []
        #expect(listedIDs.contains(id))
        #expect(listed.array?.allSatisfy { $0["type"] == .string(noun.type) } == true, "\(listed)")
        #expect(!listedIDs.contains(fixture.deletedVisit))

        // show, by full id and by prefix.
        let shown = try await cli.ok(noun.name, "show", short)
        #expect(shown.stdoutLines.first?.hasPrefix("\(noun.type) \(id)") == true, "\(shown)")
        #expect(shown.stdout.contains(noun.cell), "\(shown)")
        let shownJSON = try await cli.json(noun.name, "show", id, "--json")
        #expect(shownJSON["id"] == .string(id))
        #expect(shownJSON["type"] == .string(noun.type))

        // edit.
        let edited = try await cli.ok(noun.name, "edit", short, "\(noun.editField)=\(noun.editValue)")
        #expect(edited.stdout.contains("Edited \(noun.type) \(id)"), "\(edited)")
        let afterEdit = try await cli.show(id)
        #expect(afterEdit["fields"]?[noun.editField] == .string(noun.editValue))
        let byStatus = try await cli.json(noun.name, "list", "--status", afterEdit["fields"]?["status"]?.string ?? "?", "--json")
        #expect(byStatus.array?.contains { $0["id"] == .string(id) } == true, "\(byStatus)")

        // delete: gone from list, back with --deleted, marked in show.
        let deleted = try await cli.ok(noun.name, "delete", short)
        #expect(deleted.stdout.contains("Deleted \(noun.type) \(id)"), "\(deleted)")
        let afterDelete = try await cli.ok(noun.name, "list")
        #expect(!afterDelete.stdout.contains(short), "\(afterDelete)")
        let withDeleted = try await cli.ok(noun.name, "list", "--deleted")
        #expect(withDeleted.stdoutLines.contains { $0.hasPrefix(short) }, "\(withDeleted)")
        let deletedJSON = try await cli.show(id)
        #expect(deletedJSON["deleted"] == .bool(true))
        #expect(deletedJSON["fields"]?[noun.editField] == .string(noun.editValue), "a deleted record keeps its fields")
        #expect(deletedJSON["fields"]?["deleted"] == nil, "deleted is a top-level key, not a field")
        let deletedText = try await cli.ok(noun.name, "show", id)
        #expect(deletedText.stdoutLines.first?.contains("DELETED") == true, "\(deletedText)")

        // Deleting again is an error and changes nothing.
        let before = try await cli.snapshot()
        try await cli.fails([noun.name, "delete", id], mentioning: ["is deleted"])
        #expect(try await cli.snapshot() == before)
    }

    @Test("NOUN show/edit/delete refuse a record of another type", arguments: Noun.all)
    func wrongType(_ noun: Noun) async throws {
        let cli = try CLI()
        let fixture = try await Fixture.make(cli)
        // The visit note for every noun but visit, whose other is the care plan.
        let other = noun.name == "visit" ? fixture.carePlan : fixture.visit
        let otherType = noun.name == "visit" ? "carePlan" : "visitNote"
        let before = try await cli.snapshot()
        for command in [["show", other], ["edit", other, "status=open"], ["delete", other]] {
            try await cli.fails([noun.name] + command, mentioning: ["is a \(otherType), not a \(noun.type)"])
        }
        #expect(try await cli.snapshot() == before)
    }

    @Test("NOUN list says so when there is nothing", arguments: Noun.all)
    func emptyList(_ noun: Noun) async throws {
        let cli = try CLI()
        try await cli.initialise()
        let table = try await cli.ok(noun.name, "list")
        #expect(table.stdout == "No records.\n", "\(table)")
        let json = try await cli.json(noun.name, "list", "--json")
        #expect(json == .array([]))
    }
}

@Suite("Generic commands")
struct GenericTests {
    @Test("veld show, list, edit, delete work on every type")
    func showEditDelete() async throws {
        let cli = try CLI()
        let fixture = try await Fixture.make(cli)
        let expected = [(fixture.visit, "visitNote"), (fixture.carePlan, "carePlan"), (fixture.goal, "carePlanGoal"),
                        (fixture.council, "councilInput")]

        let table = try await cli.ok("list")
        let header = try #require(table.stdoutLines.first)
        for column in ["ID", "TYPE", "SCOPE", "STATUS", "TITLE"] { #expect(header.contains(column), "\(table)") }
        #expect(table.stdoutLines.count == 1 + expected.count, "\(table)")
        #expect(table.stdoutLines.allSatisfy { $0.count <= 100 }, "\(table)")
        for (id, type) in expected {
            let row = table.stdoutLines.first { $0.hasPrefix(String(id.prefix(8))) }
            #expect(row?.contains(type) == true, "\(table)")
            let shown = try await cli.show(String(id.prefix(4)))
            #expect(shown["id"] == .string(id))
            #expect(shown["type"] == .string(type))
        }
        #expect(!table.stdout.contains(String(fixture.deletedVisit.prefix(8))))

        try await cli.ok("edit", fixture.council, "status=beantwoord", "receivedAt=2026-11-01")
        let council = try await cli.show(fixture.council)
        #expect(council["fields"]?["status"] == .string("beantwoord"))
        #expect(council["fields"]?["receivedAt"] == .string("2026-11-01"))

        let deleted = try await cli.ok("delete", String(fixture.goal.prefix(8)))
        #expect(deleted.stdout.contains("Deleted carePlanGoal \(fixture.goal)"), "\(deleted)")
        let after = try await cli.json("list", "--json")
        #expect(after.array?.count == 3)
        #expect(after.array?.contains { $0["id"] == .string(fixture.goal) } == false)
        let goal = try await cli.show(fixture.goal)
        #expect(goal["deleted"] == .bool(true))

        let status = try await cli.json("status", "--json")
        #expect(status["deleted"] == .number(2))
        #expect(status["pending"] == .number(5), "every record made here, deleted or not, waits to be synced")
        #expect(status["records"]?["carePlanGoal"] == nil || status["records"]?["carePlanGoal"] == .number(0))
    }

    @Test("veld list filters by type, scope, status and deleted")
    func listFilters() async throws {
        let cli = try CLI()
        let fixture = try await Fixture.make(cli)
        let other = try await cli.add(
            "visit", "add", "--location", "loc-de-linde", "--kind", "overig", "--date", "2026-11-22",
            "--summary", "Kort bezoek", "--status", "definitief")

        func ids(_ arguments: String...) async throws -> Set<String> {
            let json = try await cli.json(["list", "--json"] + arguments)
            return Set(json.array?.compactMap { $0["id"]?.string } ?? [])
        }

        #expect(try await ids() == [fixture.visit, fixture.carePlan, fixture.goal, fixture.council, other])
        #expect(try await ids("--deleted")
            == [fixture.visit, fixture.carePlan, fixture.goal, fixture.council, other, fixture.deletedVisit])
        #expect(try await ids("--type", "visitNote") == [fixture.visit, other])
        #expect(try await ids("--type", "visit") == [fixture.visit, other], "the noun names the type too")
        #expect(try await ids("--type", "visit", "--deleted") == [fixture.visit, other, fixture.deletedVisit])
        #expect(try await ids("--type", "goal") == [fixture.goal])
        #expect(try await ids("--type", "careplan") == [fixture.carePlan])
        #expect(try await ids("--type", "councilInput") == [fixture.council])
        #expect(try await ids("--scope", "loc-zonnehof") == [fixture.visit, fixture.carePlan, fixture.goal])
        #expect(try await ids("--scope", "org-bezinn") == [fixture.council])
        #expect(try await ids("--scope", "loc-de-linde") == [other])
        #expect(try await ids("--scope", "loc-de-linde", "--deleted") == [other, fixture.deletedVisit])
        #expect(try await ids("--scope", "loc-nergens") == [])
        #expect(try await ids("--status", "open") == [fixture.goal, fixture.council])
        #expect(try await ids("--status", "concept") == [fixture.visit, fixture.carePlan])
        #expect(try await ids("--status", "definitief") == [other])
        #expect(try await ids("--status", "concept", "--type", "careplan") == [fixture.carePlan])
        #expect(try await ids("--status", "concept", "--deleted", "--scope", "loc-de-linde") == [fixture.deletedVisit])

        let filtered = try await cli.ok("list", "--type", "visit")
        let header = try #require(filtered.stdoutLines.first)
        #expect(header.contains("SUMMARY") && header.contains("KIND"), "--type picks that type's table\n\(filtered)")
        let none = try await cli.ok("list", "--scope", "loc-nergens")
        #expect(none.stdout == "No records.\n", "\(none)")
    }

    @Test("tables stay within 100 characters: long values are cut, line breaks flattened")
    func tableWidth() async throws {
        let cli = try CLI()
        try await cli.initialise()
        let long = String(repeating: "Rondgang door de huiskamer ", count: 8)
        let longScope = "loc-" + String(repeating: "zonnehof-", count: 6) + "oost"
        let visit = try await cli.add(
            "visit", "add", "--location", longScope, "--kind", "zorgplanbespreking", "--date", "2026-11-20",
            "--summary", long)
        let twoLines = try await cli.add(
            "visit", "add", "--location", "loc-zonnehof", "--kind", "werkbezoek", "--date", "2026-11-20",
            "--summary", "Eerste regel\nTweede regel ëé")
        let carePlan = try await cli.add(
            "careplan", "add", "--location", longScope, "--client-code", String(repeating: "ZH-", count: 10),
            "--law", "Jeugdwet", "--care-start", "2026-10-01", "--last-discussed", "2026-11-01")
        _ = try await cli.add("goal", "add", "--care-plan", carePlan, "--domain", "gezondheid en bewegen",
                              "--goal", long)
        _ = try await cli.add("council", "add", "--scope", longScope, "--council", long, "--kind", "ongevraagd advies",
                              "--topic", long, "--status", "in behandeling")

        for command in [["list"], ["visit", "list"], ["careplan", "list"], ["goal", "list"], ["council", "list"]] {
            let table = try await cli.ok(command)
            #expect(table.stdoutLines.count >= 2, "\(table)")
            for line in table.stdoutLines {
                #expect(line.count <= 100, "\(line.count) characters: \(line)")
            }
        }
        let visits = try await cli.ok("visit", "list")
        #expect(visits.stdoutLines.count == 3, "a summary with a line break still takes one row\n\(visits)")
        let cut = visits.stdoutLines.first { $0.hasPrefix(String(visit.prefix(8))) }
        #expect(cut?.hasSuffix("…") == true, "\(visits)")
        let flattened = visits.stdoutLines.first { $0.hasPrefix(String(twoLines.prefix(8))) }
        #expect(flattened?.hasSuffix("Eerste regel Tweede regel ëé") == true, "\(visits)")
    }
}

/// `veld add TYPE`: any type by its name or noun, with field=value pairs, checked against
/// its schema with the same words as the typed commands.
@Suite struct GenericAddTests {
    @Test func anyTypeIsAddedFromFieldValuePairs() async throws {
        let cli = try CLI()
        try await cli.initialise(role: "office")
        let visit = try await cli.add("add", "visitNote", "--location", "loc-zonnehof", "visitedAt=2026-11-20", "visitor=anna",
                                      "kind=werkbezoek", "summary=Rondgang", "status=concept", "themes=veiligheid, informatie")
        let shown = try await cli.show(visit)
        #expect(shown["type"]?.string == "visitNote" && shown["scope"]?.string == "loc-zonnehof")
        #expect(shown["fields"]?["themes"]?.array?.count == 2)
        let plan = try await cli.add("add", "careplan", "--scope", "loc-zonnehof", "clientCode=ZH-0099", "financing=Wlz",
                                     "careStart=2026-10-01", "status=concept")
        // A goal takes its scope from its care plan, given by an id prefix.
        let goal = try await cli.add("add", "goal", "carePlan=\(plan.prefix(8))", "domain=welzijn", "goal=Dagelijks naar buiten",
                                     "status=open")
        #expect(try await cli.show(goal)["scope"]?.string == "loc-zonnehof")
        let council = try await cli.json(["add", "council", "--scope", "org-bezinn", "council=Cliëntenraad Zonnehof", "kind=signaal",
                                          "topic=Maaltijden", "status=open", "--json"])
        #expect(council["scope"]?.string == "org-bezinn")

        try await cli.fails(["add", "invoice", "--scope", "loc-zonnehof"], mentioning: ["unknown type 'invoice'", "visitNote"])
        try await cli.fails(["add", "visit", "--location", "loc-zonnehof", "visitedAt=2026-11-20", "visitor=anna", "kind=werkbezoek",
                             "summary=Rondgang", "status=concept", "mood=goed"], mentioning: ["mood"])
        try await cli.fails(["add", "visit", "--location", "org-bezinn", "visitedAt=2026-11-20", "visitor=anna", "kind=werkbezoek",
                             "summary=Rondgang", "status=concept"], mentioning: ["org-bezinn"])
        try await cli.fails(["add", "visit", "visitedAt=2026-11-20", "visitor=anna", "kind=feest", "summary=Rondgang",
                             "status=concept", "--location", "loc-zonnehof"], mentioning: ["kind", "werkbezoek"])
        try await cli.fails(["add", "goal", "--scope", "loc-de-linde", "carePlan=\(plan.prefix(8))", "domain=welzijn", "goal=x",
                             "status=open"], mentioning: ["scope"])
        #expect(try await cli.json(["list", "--json"]).array?.count == 4, "no refused add wrote anything")
    }
}
