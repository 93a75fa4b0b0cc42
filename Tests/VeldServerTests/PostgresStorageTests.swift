import Foundation
import Logging
import PostgresNIO
import Testing
import VeldProtocol
import VeldServer
import VeldTestSupport

/// The throwaway PostgreSQL cluster the test scripts start (`scripts/postgres.sh`).
enum PostgresTestDatabase {
    static let url = ProcessInfo.processInfo.environment["VELD_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static let skipReason: Comment = "VELD_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped (bash scripts/test.sh starts a cluster)"

    /// A new, empty database on the test cluster, migrated; its URL.
    static func freshURL() async throws -> String {
        let base = try #require(url)
        let components = try #require(URLComponents(string: base))
        let name = "veld_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let connection = try await PostgresConnection.connect(
            configuration: .init(host: components.host!, port: components.port ?? 5432, username: components.user ?? "veld",
                                 password: components.password, database: "veld", tls: .disable),
            id: 1, logger: logger)
        try await connection.query("CREATE DATABASE \(unescaped: name)", logger: logger)
        try await connection.close()
        var fresh = components
        fresh.path = "/" + name
        return fresh.string!
    }

    /// A plain connection to the database at `url`, as psql would make: for tests that
    /// change rows outside Veld.
    static func connection(to url: String, id: Int) async throws -> (PostgresConnection, Logger) {
        let components = try #require(URLComponents(string: url))
        let logger = { var logger = Logger(label: "test"); logger.logLevel = .critical; return logger }()
        let connection = try await PostgresConnection.connect(
            configuration: .init(host: components.host!, port: components.port ?? 5432, username: components.user ?? "veld",
                                 password: components.password, database: String(components.path.dropFirst()), tls: .disable),
            id: id, logger: logger)
        return (connection, logger)
    }

    static var factory: StorageFactory {
        {
            let storage = try PostgresSyncStorage(url: try await freshURL(), maximumConnections: 4)
            try await storage.migrate()
            return storage
        }
    }
}

/// The very same storage contract as SQLite, on PostgreSQL.
@Suite(.enabled(if: PostgresTestDatabase.url != nil, PostgresTestDatabase.skipReason))
struct PostgresStorageTests {
    @Test(arguments: StorageContract.allCases)
    func contract(_ check: StorageContract) async throws {
        try await check.run(PostgresTestDatabase.factory)
    }

    /// The access log changed with plain SQL, as psql would, is found by `--verify`.
    @Test func accessLogTamperingIsDetected() async throws {
        let url = try await PostgresTestDatabase.freshURL()
        let storage = try PostgresSyncStorage(url: url, maximumConnections: 2)
        try await storage.migrate()
        let (connection, logger) = try await PostgresTestDatabase.connection(to: url, id: 2)
        try await StorageContract.tamperingIsDetected(storage, AccessLogTables(log: "access_log", index: "access_record", recordColumn: "record_id", head: "access_head") { sql in
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        })
        try await connection.close()
    }

    /// A push is acknowledged only with its access-log entry: without the chain's head row
    /// (deleted with plain SQL) the entry cannot be appended, and the push is refused with
    /// nothing stored.
    @Test func aPushThatCannotBeLoggedIsNotAccepted() async throws {
        let url = try await PostgresTestDatabase.freshURL()
        let storage = try PostgresSyncStorage(url: url, maximumConnections: 2)
        try await storage.migrate()
        let token = try await storage.issueToken(user: "anna", role: .visitor, scopes: ["loc-a"])
        _ = try await storage.accept(Records.batch("r-a", [Records.visitNote(replica: "r-a", author: "anna")]), token: token)
        let (connection, logger) = try await PostgresTestDatabase.connection(to: url, id: 3)
        try await connection.query("DELETE FROM access_head", logger: logger)
        try await connection.close()
        let before = try await storage.pull(scopes: .all, after: 0, limit: 100, token: nil, at: Fixture.time)
        await #expect(throws: StorageError.self) {
            _ = try await storage.accept(Records.batch("r-a", [Records.visitNote(replica: "r-a", author: "anna")]), token: token)
        }
        let after = try await storage.pull(scopes: .all, after: 0, limit: 100, token: nil, at: Fixture.time)
        #expect(after == before)
    }

    /// Migrating twice, or from two processes at once, is safe; the schema is then current.
    @Test func migrationIsRepeatableAndConcurrent() async throws {
        let url = try await PostgresTestDatabase.freshURL()
        let first = try PostgresSyncStorage(url: url)
        let second = try PostgresSyncStorage(url: url)
        #expect(try await first.pendingMigrations().count == 14, "v1…v14")
        async let a: Void = first.migrate()
        async let b: Void = second.migrate()
        _ = try await (a, b)
        #expect(try await first.pendingMigrations().isEmpty)
        try await first.migrate()
        #expect(try await second.headPosition() == 0)
    }

    /// Two stores on one database (two server processes) pushing concurrently: positions
    /// commit in order, so a reader that only moves forward never skips one.
    @Test func concurrentPushesNeverLetAPullSkipAChange() async throws {
        let url = try await PostgresTestDatabase.freshURL()
        let writers = [try PostgresSyncStorage(url: url), try PostgresSyncStorage(url: url)]
        try await writers[0].migrate()
        let reader = try PostgresSyncStorage(url: url)
        var tokens: [IssuedToken] = []
        for index in 0..<6 {
            tokens.append(try await writers[0].issueToken(user: "user\(index)", role: .carer, scopes: ["loc-a"]))
        }
        let issued = tokens
        let pushed = try await withThrowingTaskGroup(of: [String].self) { group in
            for (index, token) in issued.enumerated() {
                group.addTask {
                    var ids: [String] = []
                    for round in 0..<15 {
                        let notes = (0..<3).map { _ in Records.visitNote(replica: "r-\(index)", author: "user\(index)") }
                        try await writers[(index + round) % 2].accept(Records.batch("r-\(index)", notes), token: token)
                        ids += notes.map(\.id)
                    }
                    return ids
                }
            }
            // Meanwhile a reader pulls in a tight loop, only ever moving forward.
            group.addTask {
                var seen: [String] = []
                var cursor: Int64 = 0
                let deadline = Date().addingTimeInterval(60)
                // Bounded in count and time; ends as soon as everything has been seen.
                for _ in 0..<100_000 where seen.count < 6 * 15 * 3 && Date() < deadline {
                    let page = try await reader.pull(scopes: .all, after: cursor, limit: 7, token: nil, at: Fixture.time)
                    seen += page.records.map(\.id)
                    cursor = page.lastPosition
                }
                return seen.map { "seen:" + $0 }
            }
            var all: [String] = []
            for try await ids in group { all += ids }
            return all
        }
        let seen = Set(pushed.filter { $0.hasPrefix("seen:") }.map { String($0.dropFirst(5)) })
        let written = Set(pushed.filter { !$0.hasPrefix("seen:") })
        #expect(written.count == 6 * 15 * 3)
        #expect(seen == written, "the forward-only reader missed \(written.subtracting(seen).count) record(s)")
    }

    /// First pushes that would bind one replica to several tokens, through two stores at
    /// once: exactly one token gets the replica, every other push is refused as a replica
    /// mismatch and stores nothing; and one token's first pushes under two replicas bind
    /// it to exactly one.
    @Test func aReplicaIsBoundToOneTokenHoweverManyPushAtOnce() async throws {
        let url = try await PostgresTestDatabase.freshURL()
        let stores = [try PostgresSyncStorage(url: url), try PostgresSyncStorage(url: url)]
        try await stores[0].migrate()
        var tokens: [IssuedToken] = []
        for _ in 0..<6 { tokens.append(try await stores[0].issueToken(user: "anna", role: .carer, scopes: ["loc-a"])) }
        // Each push through one of the two stores at once; the ones taken, by index.
        func atOnce(_ pushes: [(request: PushRequest, token: IssuedToken)]) async throws -> [Int] {
            try await withThrowingTaskGroup(of: Int?.self) { group in
                for (index, push) in pushes.enumerated() {
                    group.addTask {
                        do {
                            _ = try await stores[index % 2].accept(push.request, token: push.token)
                            return index
                        } catch let problem as Problem where problem.is(.replicaMismatch) {
                            return nil
                        }
                    }
                }
                var taken: [Int] = []
                for try await index in group { if let index { taken.append(index) } }
                return taken
            }
        }
        let notes = tokens.map { _ in Records.visitNote(replica: "r-shared", author: "anna") }
        let accepted = try await atOnce(zip(notes, tokens).map { (Records.batch("r-shared", [$0]), $1) }).map { notes[$0].id }
        #expect(accepted.count == 1, "one token binds the replica, the others are refused")
        #expect(try await stores[1].everything().records.map(\.id) == accepted, "a refused push stores nothing")

        let single = try await stores[0].issueToken(user: "bram", role: .carer, scopes: ["loc-a"])
        let replicas = (0..<6).map { "r-bram-\($0)" }
        let bound = try await atOnce(replicas.map { (Records.batch($0, [Records.visitNote(replica: $0, author: "bram")]), single) })
        #expect(bound.count == 1, "a token is bound to one replica: \(bound)")
    }

    /// Pushes of the same records through two stores at once (two server processes) merge
    /// one after the other: devices that each create the same record ids (a push that
    /// finds one created meanwhile starts over) and then edit them end with every device's
    /// every edit, and the positions stay one per change.
    @Test func pushesOfTheSameRecordsThroughTwoStoresKeepEveryEdit() async throws {
        let url = try await PostgresTestDatabase.freshURL()
        let stores = [try PostgresSyncStorage(url: url), try PostgresSyncStorage(url: url)]
        try await stores[0].migrate()
        var tokens: [IssuedToken] = []
        for index in 0..<6 {
            tokens.append(try await stores[0].issueToken(user: "user\(index)", role: .carer, scopes: ["loc-a"]))
        }
        let ids = (0..<4).map { _ in RecordIDs.make() }
        let issued = tokens
        let changes = try await withThrowingTaskGroup(of: Int.self) { group in
            for (index, token) in issued.enumerated() {
                group.addTask {
                    var states = ids.map { Records.visitNote(id: $0, replica: "r-\(index)", author: "user\(index)") }
                    var changed = 0
                    for round in 0..<5 {
                        if round > 0 {
                            for i in states.indices {
                                states[i].edit(["summary": .string("Ronde \(round) van user\(index)")], replica: "r-\(index)",
                                               author: "user\(index)", time: Fixture.time)
                            }
                        }
                        let response = try await stores[(index + round) % 2].accept(Records.batch("r-\(index)", states), token: token)
                        changed += response.results.filter(\.changed).count
                    }
                    return changed
                }
            }
            var total = 0
            for try await changed in group { total += changed }
            return total
        }
        let (records, positions) = try await stores[1].everything(pageSize: 3)
        #expect(records.count == ids.count)
        for record in records {
            for index in 0..<6 {
                #expect(record.context["r-\(index)"] == 5, "every edit of r-\(index) is kept")
                #expect(record.entries(of: "summary").contains { $0.value == .string("Ronde 4 van user\(index)") })
            }
        }
        #expect(changes == 6 * 5 * ids.count, "each push changed each record")
        #expect(try await stores[0].headPosition() == Int64(changes), "one position per change, none twice")
        #expect(positions == positions.sorted() && Set(positions).count == positions.count)
    }
}

/// The database URL's `sslmode` and `sslrootcert`, against the test cluster (which speaks
/// TLS with a certificate from a throwaway CA, `VELD_TEST_POSTGRES_CA`).
@Suite(.enabled(if: PostgresTestDatabase.url != nil, PostgresTestDatabase.skipReason))
struct PostgresTLSTests {
    static func url(_ query: String) throws -> String {
        try #require(PostgresTestDatabase.url) + "?" + query
    }

    @Test func verifyFullWithTheClustersCAIsEncrypted() async throws {
        let ca = try #require(ProcessInfo.processInfo.environment["VELD_TEST_POSTGRES_CA"])
        for mode in ["verify-full", "verify-ca", "require"] {
            let storage = try PostgresSyncStorage(url: try Self.url("sslmode=\(mode)&sslrootcert=\(ca)"), maximumConnections: 2)
            defer { storage.shutdown() }
            #expect(try await storage.checkConnection(), "sslmode=\(mode) did not encrypt")
            // The pool's connections go through the same TLS (this throws otherwise).
            _ = try await storage.pendingMigrations()
        }
        let plain = try PostgresSyncStorage(url: try Self.url("sslmode=disable"), maximumConnections: 2)
        defer { plain.shutdown() }
        #expect(try await plain.checkConnection() == false)
    }

    @Test func aCertificateFromAnotherCAIsRefused() async throws {
        let other = try TestCA(name: "Not the database's CA")
        let storage = try PostgresSyncStorage(url: try Self.url("sslmode=verify-full&sslrootcert=\(other.certificate)"), maximumConnections: 2)
        defer { storage.shutdown() }
        await #expect {
            try await storage.checkConnection()
        } throws: { error in
            "\(error)".contains("TLS handshake")
        }
    }

    @Test func unknownSettingsAreRefusedWithTheChoices() throws {
        #expect { _ = try PostgresSyncStorage(url: try Self.url("sslmode=sometimes")) } throws: { "\($0)".contains("verify-full") }
        #expect { _ = try PostgresSyncStorage(url: try Self.url("sslcert=x.pem")) } throws: { "\($0)".contains("sslmode and sslrootcert") }
        #expect { _ = try PostgresSyncStorage(url: try Self.url("sslmode=disable&sslrootcert=x.pem")) } throws: { "\($0)".contains("verify-full") }
        // A verifying mode needs something to verify against; the system's CAs only with the host name checked.
        #expect { _ = try PostgresSyncStorage(url: try Self.url("sslmode=verify-full")) } throws: { "\($0)".contains("sslrootcert=FILE") }
        #expect { _ = try PostgresSyncStorage(url: try Self.url("sslmode=verify-ca&sslrootcert=system")) } throws: { "\($0)".contains("verify-full only") }
    }
}
