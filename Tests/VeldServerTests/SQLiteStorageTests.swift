import Foundation
import GRDB
import Testing
import VeldProtocol
import VeldServer

/// The storage contract on the embedded SQLite backend, each store a fresh file.
@Suite struct SQLiteStorageTests {
    @Test(arguments: StorageContract.allCases)
    func contract(_ check: StorageContract) async throws {
        let folder = try TemporaryFolder()
        try await check.run(folder.sqliteFactory)
        withExtendedLifetime(folder) {}
    }

    /// Two storages on one file (as a second process would be), pushes of the same records
    /// through both in turn: each push merges with what the other wrote since, so no edit is
    /// merged against a state that is no longer the record's, and none is lost.
    @Test func twoStoragesOnOneFileKeepEveryEdit() async throws {
        let folder = try TemporaryFolder()
        let path = folder.url.appendingPathComponent("veld-server.sqlite").path
        let stores = [try SQLiteSyncStorage(path: path), try SQLiteSyncStorage(path: path)]
        try await stores[0].migrate()
        var tokens: [IssuedToken] = []
        for index in 0..<3 { tokens.append(try await stores[0].issueToken(user: "user\(index)", role: .carer, scopes: ["loc-a"])) }
        let ids = (0..<3).map { _ in RecordIDs.make() }
        var states = tokens.indices.map { index in ids.map { Records.visitNote(id: $0, replica: "r-\(index)", author: "user\(index)") } }
        for round in 0..<4 {
            for index in tokens.indices {
                if round > 0 {
                    for i in ids.indices {
                        states[index][i].edit(["summary": .string("Ronde \(round) van user\(index)")], replica: "r-\(index)",
                                              author: "user\(index)", time: Fixture.time)
                    }
                }
                let response = try await stores[(index + round) % 2].accept(Records.batch("r-\(index)", states[index]), token: tokens[index])
                #expect(response.results.allSatisfy { $0.changed })
            }
        }
        for id in ids {
            let record = try #require(try await stores[1].record(id: id))
            for index in tokens.indices {
                #expect(record.context["r-\(index)"] == 4, "every edit of r-\(index) is kept")
                #expect(record.entries(of: "summary").contains { $0.value == .string("Ronde 3 van user\(index)") })
            }
        }
        withExtendedLifetime(folder) {}
    }

    /// The file and its folder are created owner-only, and a reopened store still holds what was written.
    @Test func fileIsPrivateAndDurable() async throws {
        let folder = try TemporaryFolder()
        let path = folder.url.appendingPathComponent("data/veld-server.sqlite").path
        let token: IssuedToken
        let note = Records.visitNote(replica: "r-anna")
        do {
            let storage = try SQLiteSyncStorage(path: path)
            #expect(try await storage.needsMigration())
            try await storage.migrate()
            #expect(try await !storage.needsMigration())
            token = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
            try await storage.accept(Records.batch("r-anna", [note]), token: token)
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let folderAttributes = try FileManager.default.attributesOfItem(atPath: folder.url.appendingPathComponent("data").path)
        #expect((folderAttributes[.posixPermissions] as? NSNumber)?.intValue == 0o700)
        do {
            let reopened = try SQLiteSyncStorage(path: path)
            #expect(try await !reopened.needsMigration())
            #expect(try await reopened.record(id: note.id) == note)
            #expect(try await reopened.token(hash: TokenSecret.hash(token.secret))?.replica == "r-anna")
        }
        withExtendedLifetime(folder) {}
    }

    /// The access log changed with plain SQL, as sqlite3 would, is found by `--verify`.
    @Test func accessLogTamperingIsDetected() async throws {
        let folder = try TemporaryFolder()
        let path = folder.url.appendingPathComponent("veld-server.sqlite").path
        let storage = try SQLiteSyncStorage(path: path)
        try await storage.migrate()
        let other = try DatabaseQueue(path: path)
        try await StorageContract.tamperingIsDetected(storage, AccessLogTables(log: "accessLog", index: "accessRecord", recordColumn: "recordID", head: "accessHead") { sql in
            try await other.write { try $0.execute(sql: sql) }
        })
        withExtendedLifetime(folder) {}
    }

    /// Ten one-line edits of a record holding 1 MiB of text add about ten lines to its
    /// history, not ten megabytes: the history stores what changed.
    @Test func historyStoresWhatChanged() async throws {
        let folder = try TemporaryFolder()
        let path = folder.url.appendingPathComponent("veld-server.sqlite").path
        let storage = try SQLiteSyncStorage(path: path)
        try await storage.migrate()
        let anna = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
        var note = Records.visitNote(replica: "r-anna", changes: ["observations": .string(String(repeating: "Rustig. ", count: 131_000))])
        try await storage.accept(Records.batch("r-anna", [note]), token: anna)
        for step in 0..<10 {
            note = Records.edited(note, ["summary": .string("Rondgang \(step)")], replica: "r-anna", at: step)
            try await storage.accept(Records.batch("r-anna", [note]), token: anna, at: Fixture.time(plus: step + 1))
        }
        let stateBytes = try StableJSON.encode(note).count
        let id = note.id
        let historyBytes = try await DatabaseQueue(path: path).read { db in
            try Int.fetchOne(db, sql: "SELECT SUM(LENGTH(state) + COALESCE(LENGTH(delta), 0)) FROM history WHERE recordID = ?",
                             arguments: [id]) ?? 0
        }
        #expect(historyBytes < stateBytes + 20_000, "history holds \(historyBytes) bytes for a \(stateBytes)-byte state")
        #expect(try await storage.state(recordID: note.id, asOf: Fixture.time(plus: 100)) == note)
        withExtendedLifetime(folder) {}
    }
}
