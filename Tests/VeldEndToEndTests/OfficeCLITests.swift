import Foundation
import Testing
import VeldCore
import VeldProtocol
import VeldTestSupport

/// The office's work with the CLI alone, against a live server: see the queue, compare
/// values, resolve (by number, by a merged text, from a file, interactively), sync, and
/// read the history.
@Suite struct OfficeCLITests {
    final class Person: @unchecked Sendable {
        let home: TemporaryFolder
        init(_ name: String, role: Role, scopes: [String], server: ServerProcess) throws {
            home = try TemporaryFolder("veld-office-\(name)")
            let token = try server.token(user: name, role: role, scopes: scopes)
            let result = try run("init", "--user", name, "--role", role.rawValue, "--server", server.url!.absoluteString,
                                 "--token-file", "-", stdin: token + "\n")
            guard result.status == 0 else { throw ServerProcess.ServerError(message: result.stderr) }
        }

        @discardableResult
        func run(_ arguments: String..., stdin: String? = nil) throws -> Binaries.Result {
            try run(arguments, stdin: stdin)
        }

        func run(_ arguments: [String], stdin: String? = nil) throws -> Binaries.Result {
            try Binaries.run(Binaries.cli, arguments + ["--home", home.url.path], stdin: stdin ?? "")
        }

        func json(_ arguments: String...) throws -> Any {
            let result = try run(arguments + ["--json"])
            return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        }

        func sync() throws { #expect(try run("sync").status == 0) }
    }

    struct Team {
        let server: ServerProcess
        let anna: Person
        let bram: Person
        let office: Person
        let id: String

        /// A care plan both visitors changed concurrently in two fields.
        init() throws {
            server = try ServerProcess()
            anna = try Person("anna", role: .carer, scopes: ["loc-zonnehof"], server: server)
            bram = try Person("bram", role: .carer, scopes: ["loc-zonnehof"], server: server)
            office = try Person("office", role: .office, scopes: ["*"], server: server)
            let added = try anna.json("careplan", "add", "--location", "loc-zonnehof", "--client-code", "ZH-0042",
                                      "--law", "Wlz", "--care-start", "2026-10-01") as? [String: Any]
            id = try #require(added?["id"] as? String)
            try anna.sync()
            try bram.sync()
            try anna.run("edit", id, "agreements=Dochter belt wekelijks\nZoon komt op zondag", "riskAssessment=Valrisico")
            try bram.run("edit", id, "agreements=Dochter belt wekelijks\nBuurvrouw doet boodschappen", "riskAssessment=Valrisico 's nachts")
            try anna.sync()
            try bram.sync()
            try anna.sync()
            try office.sync()
        }

        func everyoneSyncs() throws { for person in [anna, bram, office, anna, bram] { try person.sync() } }

        func field(_ name: String, on person: Person) throws -> Any? {
            (try person.json("show", id) as? [String: Any]).flatMap { ($0["fields"] as? [String: Any])?[name] }
        }

        func conflictCount(on person: Person) throws -> Int {
            ((try person.json("show", id) as? [String: Any])?["conflicts"] as? [String: Any])?.count ?? -1
        }
    }

    @Test func theOfficeClearsTheQueueAndEveryoneConverges() throws {
        let team = try Team()
        // The queue: both fields, oldest first, as a table and as JSON.
        let queue = try team.office.run("conflicts")
        #expect(queue.status == 0)
        #expect(queue.stdout.contains("agreements") && queue.stdout.contains("riskAssessment"))
        let listed = try team.office.json("conflicts") as? [[String: Any]] ?? []
        #expect(Set(listed.compactMap { $0["field"] as? String }) == ["agreements", "riskAssessment"])

        // Side by side, with a line diff of the long text.
        let shown = try team.office.run("conflicts", "show", String(team.id.prefix(8)))
        #expect(shown.stdout.contains("anna on r-") && shown.stdout.contains("bram on r-"))
        #expect(shown.stdout.contains("- Zoon komt op zondag") || shown.stdout.contains("+ Zoon komt op zondag"))
        #expect(shown.stdout.contains("+ Buurvrouw doet boodschappen") || shown.stdout.contains("- Buurvrouw doet boodschappen"))

        // One field by number, the other with a merged text from standard input.
        let values = (try team.office.json("conflicts", "show", team.id) as? [[String: Any]] ?? [])
            .first { $0["field"] as? String == "riskAssessment" }?["values"] as? [[String: Any]] ?? []
        let bramsNumber = try #require(values.firstIndex { $0["author"] as? String == "bram" }) + 1
        #expect(try team.office.run("resolve", team.id, "--field", "riskAssessment", "--take", String(bramsNumber)).status == 0)
        let merged = "Dochter belt wekelijks\nZoon komt op zondag\nBuurvrouw doet boodschappen"
        let resolved = try team.office.run("resolve", team.id, "--field", "agreements", "--value-file", "-", stdin: merged + "\n")
        #expect(resolved.status == 0, "\(resolved.stderr)")
        #expect(resolved.stdout.contains("No conflict left"))
        #expect(try team.office.run("conflicts").stdout.contains("No conflicts."))

        try team.everyoneSyncs()
        for person in [team.anna, team.bram, team.office] {
            #expect(try team.conflictCount(on: person) == 0)
            #expect(try team.field("agreements", on: person) as? String == merged)
            #expect(try team.field("riskAssessment", on: person) as? String == "Valrisico 's nachts")
        }

        // The evidence: who changed what, oldest first.
        let history = try team.office.json("history", team.id) as? [String: Any]
        let changes = history?["changes"] as? [[String: Any]] ?? []
        #expect(changes.compactMap { $0["user"] as? String } == ["anna", "anna", "bram", "office"])
        let last = changes.last?["fields"] as? [[String: Any]] ?? []
        #expect(Set(last.compactMap { $0["field"] as? String }) == ["agreements", "riskAssessment"])
        let agreements = last.first { $0["field"] as? String == "agreements" }
        #expect((agreements?["old"] as? [String])?.count == 2)
        #expect(((agreements?["new"] as? [[String: Any]])?.first?["value"] as? String) == merged)
        let text = try team.office.run("history", String(team.id.prefix(8)))
        #expect(text.status == 0 && text.stdout.contains("CONFLICT beside"))
        // A visitor may read the history of its own scope.
        #expect(try team.anna.run("history", team.id).status == 0)
    }

    @Test func interactiveResolveFromStandardInput() throws {
        let team = try Team()
        // Fields in schema order: riskAssessment, then agreements. Take value 1, then write one.
        let session = try team.office.run("resolve", String(team.id.prefix(8)), stdin: "x\n1\ne\nAlle afspraken samen\n")
        #expect(session.status == 0, "\(session.stderr)")
        #expect(session.stdout.contains("Please answer one of"))
        #expect(session.stdout.contains("Resolved agreements, riskAssessment"))
        #expect(try team.conflictCount(on: team.office) == 0)
        #expect(try team.field("agreements", on: team.office) as? String == "Alle afspraken samen")
        try team.everyoneSyncs()
        #expect(try team.field("agreements", on: team.bram) as? String == "Alle afspraken samen")

        // Skipping everything changes nothing.
        let fresh = try Team()
        let skipped = try fresh.office.run("resolve", fresh.id, stdin: "s\ns\n")
        #expect(skipped.stdout.contains("Nothing resolved"))
        #expect(try fresh.conflictCount(on: fresh.office) == 2)
    }

    @Test func resolveRefusesWhatItCannotDo() throws {
        let team = try Team()
        for arguments in [["--field", "agreements", "--take", "3"], ["--field", "clientCode", "--take", "1"],
                          ["--field", "agreements"], ["--take", "1"], ["--keep"], ["--keep", "--delete"]] {
            let result = try team.office.run(["resolve", team.id] + arguments)
            #expect(result.status != 0, "\(arguments)")
            #expect(result.stderr.contains("Error:"), "\(arguments): \(result.stderr)")
        }
        #expect(try team.conflictCount(on: team.office) == 2)
    }

    @Test func deletedAndEditedIsKeptOrDeleted() throws {
        let team = try Team()
        try team.anna.run("delete", team.id)
        try team.bram.run("edit", team.id, "lastDiscussedAt=2026-11-15")
        try team.anna.sync()
        try team.bram.sync()
        try team.office.sync()
        let queue = try team.office.run("conflicts")
        #expect(queue.stdout.contains(" del"))
        #expect(try team.office.run("resolve", team.id, "--keep").status == 0)
        #expect(try team.field("lastDiscussedAt", on: team.office) as? String == "2026-11-15")
        try team.everyoneSyncs()
        let record = try team.anna.json("show", team.id) as? [String: Any]
        #expect(record?["deleted"] as? Bool == false)
    }

    @Test func devicesShowWhoHasNotSynced() throws {
        let team = try Team()
        let late = try Person("carla", role: .carer, scopes: ["loc-zonnehof"], server: team.server)
        _ = late
        let devices = try Binaries.run(Binaries.server, ["devices", "--db", team.server.database, "--json"])
        let rows = try JSONSerialization.jsonObject(with: Data(devices.stdout.utf8)) as? [[String: Any]] ?? []
        let byUser = Dictionary(uniqueKeysWithValues: rows.map { ($0["user"] as? String ?? "", $0) })
        #expect(byUser["carla"]?["lastPullAt"] == nil)
        #expect(byUser["office"]?["behind"] as? Int == 0)
        #expect((byUser["anna"]?["replica"] as? String)?.hasPrefix("r-") == true)
        #expect(rows.first?["user"] as? String == "carla", "the stalest device first")
        let table = try Binaries.run(Binaries.server, ["devices", "--db", team.server.database])
        #expect(table.stdout.contains("carla") && table.stdout.contains("never"))
    }
}
