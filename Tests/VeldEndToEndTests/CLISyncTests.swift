import Foundation
import Testing
import VeldCore
import VeldProtocol
import VeldTestSupport

/// `veld sync` and `veld status`, the built binary against a live server.
@Suite struct CLISyncTests {
    @Test func syncAndStatusAgainstALiveServer() async throws {
        let server = try ServerProcess()
        let anna = try TemporaryFolder("veld-cli-anna")
        let office = try TemporaryFolder("veld-cli-office")
        let annaToken = try server.token(user: "anna", role: .carer, scopes: ["loc-zonnehof"])
        let officeToken = try server.token(user: "office", role: .office, scopes: ["*"])
        func veld(_ home: TemporaryFolder, _ arguments: String..., stdin: String? = nil) throws -> Binaries.Result {
            try Binaries.run(Binaries.cli, arguments + ["--home", home.url.path], stdin: stdin)
        }
        #expect(try veld(anna, "init", "--user", "anna", "--server", server.url!.absoluteString, "--token-file", "-", stdin: annaToken + "\n").status == 0)
        #expect(try veld(office, "init", "--user", "office", "--role", "office").status == 0)
        // Not connected yet: sync says what to do.
        let unconnected = try veld(office, "sync")
        #expect(unconnected.status != 0 && unconnected.stderr.contains("veld connect"))
        #expect(try veld(office, "connect", "--server", server.url!.absoluteString, "--token-file", "-", stdin: officeToken).status == 0)

        let added = try veld(anna, "visit", "add", "--location", "loc-zonnehof", "--kind", "werkbezoek",
                             "--date", "2026-11-20", "--summary", "Rondgang huiskamer")
        #expect(added.status == 0)
        var status = try veld(anna, "status")
        #expect(status.stdout.contains("Pending    1") && status.stdout.contains("last sync never"))

        let sync = try veld(anna, "sync")
        #expect(sync.status == 0, "\(sync.stderr)")
        #expect(sync.stdout.contains("pushed 1, pulled 0, new conflicts 0"))
        status = try veld(anna, "status", "--json")
        let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        #expect(json?["pending"] as? Int == 0)
        #expect(json?["server"] as? String == server.url!.absoluteString)
        #expect(json?["lastSync"] != nil)

        let officeSync = try veld(office, "sync", "--json")
        let report = try JSONSerialization.jsonObject(with: Data(officeSync.stdout.utf8)) as? [String: Int]
        #expect(report?["pulled"] == 1 && report?["pushed"] == 0)
        #expect(try veld(office, "visit", "list").stdout.contains("Rondgang huiskamer"))

        // A revoked token: a one-line refusal that says what to do, nothing lost locally.
        let revoke = try Binaries.run(Binaries.server, ["token", "list", "--db", server.database, "--json"])
        let tokens = try JSONSerialization.jsonObject(with: Data(revoke.stdout.utf8)) as? [[String: Any]] ?? []
        let annaID = try #require(tokens.first { $0["user"] as? String == "anna" }?["id"] as? String)
        #expect(try Binaries.run(Binaries.server, ["token", "revoke", annaID, "--db", server.database]).status == 0)
        _ = try veld(anna, "edit", String(try #require(tokenID(of: added.stdout)).prefix(8)), "summary=Rondgang tuin")
        let refused = try veld(anna, "sync")
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("revoked") && refused.stderr.contains("ask the office"))
        #expect(try veld(anna, "status").stdout.contains("Pending    1"))

        // The server is gone: a clear error, the change stays pending.
        #expect(server.stop() == 0, "SIGTERM shuts the server down cleanly")
        let offline = try veld(office, "sync")
        #expect(offline.status != 0 && offline.stderr.contains("cannot reach the server"))
    }

    @Test func aClientKilledMidSyncCompletesOnTheNextSync() throws {
        let server = try ServerProcess()
        let anna = try TemporaryFolder("veld-kill-anna")
        let token = try server.token(user: "anna", role: .carer, scopes: ["loc-zonnehof"])
        let store = try LocalStore.initialise(home: anna.url, user: "anna", role: .carer)
        try store.connect(server: server.url!, token: token)
        var ids: Set<String> = []
        for index in 0..<240 {
            ids.insert(try store.create(type: "visitNote", scope: "loc-zonnehof",
                                        fields: Device.visit.merging(["summary": .string("Bezoek \(index)")]) { $1 }).id)
        }
        // Kill `veld sync` a few times at different moments.
        for round in 0..<3 {
            let process = try Subprocess(Binaries.cli, ["sync", "--batch-size", "8", "--home", anna.url.path])
            usleep(UInt32(60_000 + round * 70_000))
            process.send(SIGKILL)
            process.wait()
        }
        #expect(try LocalStore.open(home: anna.url).integrityProblems() == [])
        let final = try Binaries.run(Binaries.cli, ["sync", "--home", anna.url.path])
        #expect(final.status == 0, "\(final.stderr)")
        #expect(try store.outbox().isEmpty)
        // Everything reached the server: a fresh device pulls all of it.
        let office = try Device("office", role: .office, scopes: ["*"], server: server)
        let report = try Binaries.run(Binaries.cli, ["sync", "--home", office.home.url.path])
        #expect(report.status == 0)
        #expect(Set(try office.records().keys) == ids)
        #expect(try office.records() == (try Dictionary(uniqueKeysWithValues: store.records().map { ($0.id, $0) })))
    }

    private func tokenID(of output: String) -> String? {
        output.split(separator: " ").last.map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) }
    }
}
