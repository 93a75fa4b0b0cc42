import Foundation
import Testing

/// The shapes of `--json` output, which scripts depend on.
@Suite("JSON output")
struct JSONTests {
    static let recordKeys: Set<String> = ["id", "type", "scope", "deleted", "fields", "conflicts"]

    /// Checks the envelope every record view has; returns its fields.
    @discardableResult
    static func checkRecord(_ json: JSONValue, id: String? = nil, type: String,
                            sourceLocation: SourceLocation = #_sourceLocation) -> [String: JSONValue] {
        let object = json.object ?? [:]
        #expect(Set(object.keys) == recordKeys, "\(json)", sourceLocation: sourceLocation)
        if let id { #expect(object["id"] == .string(id), sourceLocation: sourceLocation) }
        #expect(object["id"]?.string.map(CLI.isRecordID) == true, "\(json)", sourceLocation: sourceLocation)
        #expect(object["type"] == .string(type), sourceLocation: sourceLocation)
        #expect(object["scope"]?.string != nil, sourceLocation: sourceLocation)
        #expect(object["deleted"]?.bool != nil, "deleted is a boolean: \(json)", sourceLocation: sourceLocation)
        #expect(object["conflicts"] == .object([:]), "no conflicts without a sync: \(json)", sourceLocation: sourceLocation)
        let fields = object["fields"]?.object
        #expect(fields != nil, "fields is an object: \(json)", sourceLocation: sourceLocation)
        return fields ?? [:]
    }

    @Test("show --json: the envelope, and each field with its JSON type")
    func show() async throws {
        let cli = try CLI()
        try await cli.initialise()
        let id = try await cli.add(
            "visit", "add", "--location", "loc-zonnehof", "--kind", "kwaliteitsbezoek", "--date", "2026-11-20",
            "--summary", "Rondgang huiskamer", "--observations", "Rustig.", "--themes", "veiligheid, Informatie",
            "--participation", "geen", "--follow-up", "Navragen bij de teamleider", "--follow-up-due", "2026-12-01",
            "--visitor", "Bram")
        let json = try await cli.show(id)
        let fields = Self.checkRecord(json, id: id, type: "visitNote")
        #expect(json["scope"] == .string("loc-zonnehof"))
        #expect(json["deleted"] == .bool(false))
        #expect(fields == [
            "visitedAt": .string("2026-11-20"),
            "visitor": .string("Bram"),
            "kind": .string("kwaliteitsbezoek"),
            "summary": .string("Rondgang huiskamer"),
            "observations": .string("Rustig."),
            // Choices are matched case-insensitively and kept in the order given.
            "themes": .array([.string("veiligheid"), .string("informatie")]),
            "participation": .array([.string("geen")]),
            "followUp": .string("Navragen bij de teamleider"),
            "followUpDue": .string("2026-12-01"),
            "status": .string("concept"),
        ])

        // A cleared optional field leaves `fields`; a bool flips and stays a bool.
        try await cli.ok("edit", id, "observations=", "councilInvolved=ja", "themes=wonen en welzijn")
        let edited = try await cli.show(id)
        let editedFields = Self.checkRecord(edited, id: id, type: "visitNote")
        #expect(editedFields["observations"] == nil, "\(edited)")
        #expect(editedFields["councilInvolved"] == .bool(true))
        #expect(editedFields["themes"] == .array([.string("wonen en welzijn")]))
    }

    @Test("show --json of each type")
    func showEveryType() async throws {
        let cli = try CLI()
        let fixture = try await Fixture.make(cli)
        let carePlan = Self.checkRecord(try await cli.show(fixture.carePlan), id: fixture.carePlan, type: "carePlan")
        #expect(carePlan == [
            "clientCode": .string("ZH-0042"), "law": .string("Wlz"), "careStart": .string("2026-10-01"),
            "status": .string("concept"),
        ])
        let goal = Self.checkRecord(try await cli.show(fixture.goal), id: fixture.goal, type: "carePlanGoal")
        #expect(goal == [
            "carePlan": .string(fixture.carePlan), "domain": .string("welzijn"),
            "goal": .string("Dagelijks naar buiten"), "status": .string("open"),
        ])
        let council = Self.checkRecord(try await cli.show(fixture.council), id: fixture.council, type: "councilInput")
        #expect(council == [
            "council": .string("Cliëntenraad Zonnehof"), "kind": .string("adviesaanvraag"),
            "topic": .string("Nieuwe dagbesteding"), "responseDue": .string("2026-12-15"), "status": .string("open"),
        ])
        let deleted = try await cli.show(fixture.deletedVisit)
        let deletedFields = Self.checkRecord(deleted, id: fixture.deletedVisit, type: "visitNote")
        #expect(deleted["deleted"] == .bool(true))
        #expect(deletedFields["summary"] == .string("Gesprek met bewoners"))
        #expect(deletedFields["deleted"] == nil, "\(deleted)")
    }

    @Test("list --json is an array of record views, in the order they were made")
    func list() async throws {
        let cli = try CLI()
        let fixture = try await Fixture.make(cli)
        let json = try await cli.json("list", "--json")
        let records = try #require(json.array, "\(json)")
        #expect(records.compactMap { $0["id"]?.string } == [fixture.visit, fixture.carePlan, fixture.goal, fixture.council])
        for record in records {
            Self.checkRecord(record, type: record["type"]?.string ?? "?")
            #expect(record["deleted"] == .bool(false))
        }
        // Each element equals what show --json prints.
        for record in records {
            #expect(try await cli.show(record["id"]?.string ?? "?") == record)
        }

        let withDeleted = try #require(try await cli.json("list", "--deleted", "--json").array)
        #expect(withDeleted.count == 5)
        let deleted = withDeleted.first { $0["id"] == .string(fixture.deletedVisit) }
        #expect(deleted?["deleted"] == .bool(true))

        let typed = try #require(try await cli.json("careplan", "list", "--json").array)
        #expect(typed.count == 1)
        Self.checkRecord(try #require(typed.first), id: fixture.carePlan, type: "carePlan")

        #expect(try await cli.json("list", "--type", "goal", "--scope", "org-bezinn", "--json") == .array([]))
    }

    @Test("add --json prints the new record, as show --json does", arguments: Noun.all)
    func add(_ noun: Noun) async throws {
        let cli = try CLI()
        let fixture = try await Fixture.make(cli)
        let arguments = [noun.name, "add"] + noun.addArguments.map(fixture.substitute) + ["--json"]
        let added = try await cli.json(arguments)
        Self.checkRecord(added, type: noun.type)
        #expect(added["deleted"] == .bool(false))
        let id = try #require(added["id"]?.string)
        #expect(try await cli.show(id) == added)
        let status = try await cli.json("status", "--json")
        #expect(status["pending"] == .number(6), "the add --json record was stored")
    }

    @Test("status --json")
    func status() async throws {
        let cli = try CLI()
        try await cli.initialise(user: "Office Zonnehof", role: "office")
        let empty = try await cli.json("status", "--json")
        #expect(Set(empty.object.map { Array($0.keys) } ?? [])
            == ["user", "role", "replica", "home", "records", "deleted", "pending", "conflicts", "rejected"])
        #expect(empty["user"] == .string("Office Zonnehof"))
        #expect(empty["role"] == .string("office"))
        #expect(empty["records"] == .object([:]))
        #expect(empty["pending"] == .number(0))
        #expect(empty["deleted"] == .number(0))
        #expect(empty["conflicts"] == .number(0))
        let text = try await cli.ok("status")
        #expect(text.stdout.contains("Records    none\n"), "\(text)")
        #expect(text.stdout.contains("Pending    0"), "\(text)")
        #expect(text.stdout.contains(empty["replica"]?.string ?? "?"), "\(text)")
    }
}
