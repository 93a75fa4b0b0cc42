import Foundation
import GRDB
import Logging
import PostgresNIO
import Testing
import VeldProtocol
import VeldServer
import VeldTestSupport

/// A database made by every earlier release (the schema after each migration), holding a
/// device's token and a record as that release wrote them, is brought up to date by
/// `migrate` on both storages: nothing is lost, and the token and record work as before.
enum MigrationContract {
    static let secret = "veld_migration-test-secret-0000000000000000000"
    static let recordID = "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

    /// The record and the token as the first schema held them (every later column is
    /// nullable or has a default).
    static func olderRows() throws -> (state: String, scopes: String) {
        var note = RecordState(id: recordID, type: "visitNote", scope: "loc-a")
        note.edit(["visitedAt": .string("2026-11-20"), "visitor": .string("anna"), "kind": .string("werkbezoek"),
                   "summary": .string("Rondgang"), "status": .string("concept")],
                  replica: "r-old", author: "anna", time: Fixture.time)
        return (String(decoding: try StableJSON.encode(note), as: UTF8.self), #"["loc-a"]"#)
    }

    /// After the full migration: the token authenticates, the record is there and pulls,
    /// and the token can push on top of it.
    static func check(_ storage: any SyncStorage, after name: String) async throws {
        let token = try #require(try await storage.token(hash: TokenSecret.hash(secret)), "the token, from the schema after \(name)")
        #expect(token.user == "anna" && token.role == .carer && token.scopes == ["loc-a"])
        let record = try #require(try await storage.record(id: recordID), "the record, from the schema after \(name)")
        #expect(record.value(of: "summary") == .string("Rondgang"))
        let page = try await storage.pull(scopes: .only(["loc-a"]), after: 0, limit: 10, token: token, at: Fixture.time)
        #expect(page.records.map(\.id) == [recordID])
        let edited = Records.edited(record, ["summary": .string("Rondgang en tuin")], replica: "r-old")
        let answer = try await storage.push(Records.batch("r-old", [edited]), token: token, fingerprint: "f-\(name)", at: Fixture.time) { _ in }
        #expect(answer.results.map(\.changed) == [true])
        #expect(try await storage.record(id: recordID)?.value(of: "summary") == .string("Rondgang en tuin"))
    }
}

@Suite struct SQLiteMigrationTests {
    /// Only serve and migrate make a database; another command on a path with none says so.
    @Test func anAdministratorsCommandMakesNoDatabase() async throws {
        let folder = try TemporaryFolder()
        let path = folder.url.appendingPathComponent("forgotten.sqlite").path
        let refusal = await #expect(throws: StorageError.self) {
            _ = try await StorageOpening.open(databaseURL: nil, sqlitePath: path, purpose: .administer)
        }
        #expect(refusal.map { "\($0)".contains("no Veld database at \(path)") } == true)
        #expect(!FileManager.default.fileExists(atPath: path))
        _ = try await StorageOpening.open(databaseURL: nil, sqlitePath: path, purpose: .migrate)
        _ = try await StorageOpening.open(databaseURL: nil, sqlitePath: path, purpose: .administer)
    }

    @Test(arguments: SQLiteSyncStorage.migrationNames)
    func fromEveryEarlierSchema(_ name: String) async throws {
        let folder = try TemporaryFolder()
        let path = folder.url.appendingPathComponent("veld-server.sqlite").path
        do {
            let old = try SQLiteSyncStorage(path: path)
            try await old.migrate(through: name)
        }
        let rows = try MigrationContract.olderRows()
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(sql: "INSERT INTO record (id, type, scope, state, position) VALUES (?, 'visitNote', 'loc-a', ?, 1)",
                           arguments: [MigrationContract.recordID, rows.state])
            try db.execute(sql: "UPDATE counter SET value = 1 WHERE name = 'position'")
            try db.execute(sql: """
                INSERT INTO token (id, hash, user, role, scopes, createdAt) VALUES ('tok_0ld0ld00', ?, 'anna', 'carer', ?, ?)
                """, arguments: [TokenSecret.hash(MigrationContract.secret), rows.scopes, Fixture.time])
        }
        try await queue.close()
        let older = name != SQLiteSyncStorage.migrationNames.last
        if older {
            // serve (and every other command) refuses an older schema and names the command that updates it.
            await #expect(throws: StorageError.self) {
                _ = try await StorageOpening.open(databaseURL: nil, sqlitePath: path, purpose: .serve)
            }
            let refusal = await #expect(throws: StorageError.self) {
                _ = try await StorageOpening.open(databaseURL: nil, sqlitePath: path, purpose: .administer)
            }
            #expect(refusal.map { "\($0)".contains("veld-server migrate --db \(path)") } == true, "\(String(describing: refusal))")
        }
        let storage = try SQLiteSyncStorage(path: path)
        #expect(try await storage.needsMigration() == older)
        _ = try await StorageOpening.open(databaseURL: nil, sqlitePath: path, purpose: .migrate)
        #expect(try await storage.needsMigration() == false)
        try await MigrationContract.check(storage, after: name)
    }
}

@Suite(.enabled(if: PostgresTestDatabase.url != nil, PostgresTestDatabase.skipReason))
struct PostgresMigrationTests {
    @Test(arguments: PostgresSyncStorage.migrationNames)
    func fromEveryEarlierSchema(_ name: String) async throws {
        let url = try await PostgresTestDatabase.freshURL()
        let old = try PostgresSyncStorage(url: url, maximumConnections: 2)
        try await old.migrate(through: name)
        let rows = try MigrationContract.olderRows()
        let (connection, logger) = try await PostgresTestDatabase.connection(to: url, id: 3)
        try await connection.query("""
            INSERT INTO record (id, type, scope, state, position) VALUES (\(MigrationContract.recordID), 'visitNote', 'loc-a', \(rows.state), 1)
            """, logger: logger)
        try await connection.query("UPDATE counter SET value = 1 WHERE name = 'position'", logger: logger)
        try await connection.query("""
            INSERT INTO token (id, hash, "user", role, scopes, created_at)
            VALUES ('tok_0ld0ld00', \(TokenSecret.hash(MigrationContract.secret)), 'anna', 'carer', \(rows.scopes), \(Fixture.time))
            """, logger: logger)
        try await connection.close()
        let storage = try PostgresSyncStorage(url: url, maximumConnections: 2)
        #expect(try await storage.pendingMigrations() == Array(PostgresSyncStorage.migrationNames.drop { $0 != name }.dropFirst()))
        try await storage.migrate()
        #expect(try await storage.pendingMigrations().isEmpty)
        try await MigrationContract.check(storage, after: name)
    }
}

/// Which types go with a care plan when a client is erased or audited: derived from the
/// module set, so a module's own client-bound type is never left behind.
@Suite struct PlanChildrenTests {
    @Test func theTypesThatBelongToAPlanComeFromTheSet() throws {
        #expect(ClientRecords.planChildren(in: .builtIn) == ["carePlanGoal": "carePlan", "careReport": "carePlan"])
        let module = try ModuleDocument.parse(Data("""
            {"module": "medicatie", "version": 1, "summary": "medication under a care plan",
             "types": [{"type": "medicatie", "noun": "medicatie", "summary": "a medication", "readers": ["carer", "office", "admin"],
                        "scope": {"rule": "inheritedFrom", "field": "plan"},
                        "fields": [{"name": "plan", "kind": "reference", "references": "carePlan", "required": true, "summary": "the plan"},
                                   {"name": "middel", "kind": "text", "summary": "the medication"}]}]}
            """.utf8), alongside: SchemaSet.builtIn.modules)
        let set = try SchemaSet(modules: SchemaSet.builtIn.modules + [module])
        #expect(ClientRecords.planChildren(in: set)["medicatie"] == "plan")
    }
}
