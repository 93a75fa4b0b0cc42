import Foundation
import Testing
import VeldCore
import VeldProtocol

/// Refused changes set aside, listed, retried and discarded with the built `veld`, and
/// two syncs of one profile at once, against a live server.
@Suite struct CLIRejectedTests {
    @Test func refusedChangesAreSetAsideRetriedAndDiscarded() async throws {
        let server = try ServerProcess()
        let anna = try TemporaryFolder("veld-cli-rejected")
        func veld(_ arguments: String..., stdin: String? = nil) throws -> Binaries.Result {
            try Binaries.run(Binaries.cli, arguments + ["--home", anna.url.path], stdin: stdin)
        }
        func add(_ location: String, _ summary: String) throws -> String {
            let added = try veld("visit", "add", "--location", location, "--kind", "werkbezoek", "--date", "2026-11-20",
                                 "--summary", summary)
            #expect(added.status == 0, "\(added.stderr)")
            return String(added.stdout.split(separator: " ").last ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        // Made offline, before the device knew its scopes: one in scope, two outside it.
        #expect(try veld("init", "--user", "anna").status == 0)
        let here = try add("loc-zonnehof", "Rondgang huiskamer")
        let linde = try add("loc-de-linde", "Rondgang De Linde")
        let elders = try add("loc-elders", "Verkeerde locatie")
        let first = try server.token(user: "anna", role: .carer, scopes: ["loc-zonnehof"])
        let connected = try veld("connect", "--server", server.url!.absoluteString, "--token-file", "-", stdin: first)
        #expect(connected.status == 0 && connected.stdout.contains("scopes loc-zonnehof"), "\(connected.stdout)\(connected.stderr)")

        let sync = try veld("sync")
        #expect(sync.status == 3, "\(sync.stdout)\(sync.stderr)")
        #expect(sync.stdout.contains("pushed 1") && sync.stderr.contains("veld rejected"))
        #expect(try veld("status").stdout.contains("Rejected   2"))
        let listed = try veld("rejected")
        #expect(listed.stdout.contains(linde) && listed.stdout.contains(elders) && !listed.stdout.contains(here))
        #expect(listed.stdout.contains("Scope not allowed") && listed.stdout.contains("ask the office for access"))
        let json = try JSONSerialization.jsonObject(with: Data(try veld("rejected", "--json").stdout.utf8)) as? [[String: Any]]
        #expect(Set(json?.compactMap { $0["id"] as? String } ?? []) == [linde, elders])

        // Now that the device knows its scopes, it refuses an edit its server would refuse.
        let edit = try veld("edit", linde, "summary=Nog een poging")
        #expect(edit.status != 0 && edit.stderr.contains("the server would refuse") && edit.stderr.contains("loc-de-linde"))

        // Discard one: it never reached the server, so it goes; it is kept in the log.
        let unconfirmed = try veld("discard", elders)
        #expect(unconfirmed.status != 0 && unconfirmed.stderr.contains("--yes"))
        let discarded = try veld("discard", elders, "--yes")
        #expect(discarded.status == 0 && discarded.stdout.contains("never had it"), "\(discarded.stderr)")
        #expect(try veld("rejected", "--discarded").stdout.contains(elders))
        #expect(try veld("show", elders).status != 0)

        // The office gives a token that covers De Linde too; the change goes unchanged.
        let tokens = try JSONSerialization.jsonObject(with: Data(try Binaries.run(Binaries.server,
            ["token", "list", "--db", server.database, "--json"]).stdout.utf8)) as? [[String: Any]] ?? []
        let oldID = try #require(tokens.first { $0["user"] as? String == "anna" }?["id"] as? String)
        #expect(try Binaries.run(Binaries.server, ["token", "revoke", oldID, "--db", server.database]).status == 0)
        let second = try server.token(user: "anna", role: .carer, scopes: ["loc-zonnehof", "loc-de-linde"])
        #expect(try veld("connect", "--server", server.url!.absoluteString, "--token-file", "-", stdin: second).status == 0)
        #expect(try veld("retry", "--all").stdout.contains("1 change(s)"))
        let again = try veld("sync")
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
        #expect(try veld("status", "--json").stdout.contains("\"rejected\" : 0"))

        let office = try Device("office", role: .office, scopes: ["*"], server: server)
        _ = try await office.sync(server)
        #expect(Set(try office.records().keys) == [here, linde])
    }

    /// Two `veld sync` of one profile at once (a second terminal, a cron job): the second
    /// waits for the first, and neither gets a false 409.
    @Test func twoSyncsOfOneProfileAtOnce() async throws {
        let server = try ServerProcess()
        let anna = try TemporaryFolder("veld-cli-twice")
        let token = try server.token(user: "anna", role: .carer, scopes: ["loc-zonnehof"])
        let store = try LocalStore.initialise(home: anna.url, user: "anna", role: .carer)
        try store.connect(server: server.url!, token: token)
        var ids: Set<String> = []
        for index in 0..<300 {
            ids.insert(try store.create(type: "visitNote", scope: "loc-zonnehof",
                                        fields: Device.visit.merging(["summary": .string("Bezoek \(index)")]) { $1 }).id)
        }
        let syncs = (0..<2).map { _ in
            Task.detached { try Binaries.run(Binaries.cli, ["sync", "--batch-size", "10", "--home", anna.url.path]) }
        }
        // Meanwhile the person keeps editing.
        for id in ids.prefix(20) { try store.edit(id: id, changes: ["observations": .string("Tijdens de sync")]) }
        for sync in syncs {
            let result = try await sync.value
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            #expect(!result.stderr.contains("409") && !result.stderr.contains("restored"))
        }
        let last = try Binaries.run(Binaries.cli, ["sync", "--home", anna.url.path])
        #expect(last.status == 0, "\(last.stderr)")
        #expect(try store.outbox().isEmpty)
        let office = try Device("office", role: .office, scopes: ["*"], server: server)
        _ = try await office.sync(server)
        #expect(try office.records() == (try Dictionary(uniqueKeysWithValues: store.records().map { ($0.id, $0) })))
    }
}
