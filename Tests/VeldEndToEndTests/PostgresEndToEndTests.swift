import Foundation
#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import VeldCore
import VeldProtocol

/// PostgreSQL for the tests: the cluster `scripts/postgres.sh` started, and clusters of
/// their own through `scripts/pg-cluster.sh` for tests that stop the database.
enum TestPostgres {
    static let url = ProcessInfo.processInfo.environment["VELD_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static let skipReason: Comment = "VELD_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped (bash scripts/test.sh starts a cluster)"
    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts")

    /// A new, empty, migrated database on the test cluster.
    static func freshDatabase() throws -> String {
        let base = try #require(url)
        let name = "veld_e2e_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        let created = try Binaries.run(URL(fileURLWithPath: "/usr/bin/psql"), [base, "-qc", "CREATE DATABASE \(name)"])
        guard created.status == 0 else { throw ServerProcess.ServerError(message: "createdb failed: \(created.stderr)") }
        var components = try #require(URLComponents(string: base))
        components.path = "/" + name
        let fresh = components.string!
        let migrated = try Binaries.run(Binaries.server, ["migrate", "--database", fresh])
        guard migrated.status == 0 else { throw ServerProcess.ServerError(message: "migrate failed: \(migrated.stderr)") }
        return fresh
    }

    /// Runs `pg-cluster.sh` through posix_spawn and waitpid: Foundation's Process never
    /// noticed this script's exit (it starts a daemon through runuser and pg_ctl), leaving
    /// the test waiting on a zombie.
    static func cluster(_ command: String, _ folder: URL) throws -> String {
        let output = folder.deletingLastPathComponent().appendingPathComponent("pg-cluster-\(command).out").path
        let errors = folder.deletingLastPathComponent().appendingPathComponent("pg-cluster-\(command).err").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errors, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let arguments = ["/bin/bash", scripts.appendingPathComponent("pg-cluster.sh").path, command, folder.path]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/bash", &actions, nil, &argv, environ)
        guard spawned == 0 else { throw ServerProcess.ServerError(message: "pg-cluster \(command): spawn failed (\(spawned))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let stdout = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
        guard status == 0 else { throw ServerProcess.ServerError(message: "pg-cluster \(command) (status \(status)): \(stderr)") }
        return stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

@Suite(.enabled(if: TestPostgres.url != nil, TestPostgres.skipReason))
struct PostgresEndToEndTests {
    @Test func twoServerProcessesOnOneDatabaseActAsOne() async throws {
        let database = try TestPostgres.freshDatabase()
        let first = try ServerProcess(databaseURL: database)
        let second = try ServerProcess(databaseURL: database)
        let anna = try Device("anna", server: first)
        let bram = try Device("bram", server: second)
        let office = try Device("office", role: .office, scopes: ["*"], server: first)
        let plan = try anna.store.create(type: "carePlan", scope: "loc-zonnehof", fields: Device.carePlan)
        try await anna.sync(first)
        try await bram.sync(second)
        try anna.store.edit(id: plan.id, changes: ["agreements": .string("Dochter belt"), "riskAssessment": .string("Valrisico")])
        try bram.store.edit(id: plan.id, changes: ["agreements": .string("Zoon komt"), "lastDiscussedAt": .string("2026-11-15")])
        // Clients spread over both processes, switching between them.
        try await anna.sync(first)
        try await bram.sync(second)
        try await office.sync(second)
        for (device, server) in [(anna, second), (bram, first), (office, first), (anna, first), (bram, second)] {
            try await device.sync(server)
        }
        let reference = try office.records()
        #expect(try anna.records() == reference)
        #expect(try bram.records() == reference)
        let state = try #require(reference[plan.id])
        #expect(state.conflicts.keys.sorted() == ["agreements"])
        #expect(state.value(of: "riskAssessment") == .string("Valrisico"))
        #expect(state.value(of: "lastDiscussedAt") == .string("2026-11-15"))
    }

    /// Rounds of the cursor test below.
    static let rounds = 8

    /// Cursor safety: pushes commit through two processes at once while a client pulls
    /// from both in a tight loop. A pull that saw a later position while an earlier one was
    /// still in flight would move the cursor past it for good; the client would then lack
    /// that change however often it synced afterwards. Only a reader at the log's end can
    /// be moved past a change, so it pulls pages of 50 (it keeps up) and the writers pause
    /// between rounds.
    ///
    /// One more writer pushes fifty new notes at a time: a push that long in the deciding
    /// must not let the small pushes that began after it and end before it move a cursor
    /// past positions it has yet to commit. (Positions from a sequence, taken before or
    /// after deciding, without the counter row's lock: the reader misses records in every
    /// run tried.)
    ///
    /// Every writer also edits one shared note in every round: pushes of one record through
    /// both processes at once must merge one after the other, so the server ends with
    /// every writer's every edit of it (none overwritten by a push that read before it).
    @Test func concurrentPushesThroughTwoProcessesNeverSkipAPullCursor() async throws {
        let database = try TestPostgres.freshDatabase()
        let servers = [try ServerProcess(databaseURL: database), try ServerProcess(databaseURL: database)]
        let writers = try (0..<6).map { try Device("writer\($0)", server: servers[$0 % 2]) }
        let reader = try Device("reader", role: .office, scopes: ["*"], server: servers[0])
        let done = Flag(), readerStarted = Flag()
        let bulk = try Device("bulk", server: servers[0])
        for note in 0..<50 {
            try bulk.store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit.merging(["summary": .string("Bulk 0-\(note)")]) { $1 })
        }
        let shared = try writers[0].store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit)
        try await writers[0].sync(servers[0])
        for writer in writers.dropFirst() { try await writer.sync(servers[1]) }

        let pulling = Task {
            var pulls = 0
            let deadline = Date().addingTimeInterval(90)
            while !done.isSet, pulls < 20_000, Date() < deadline {
                _ = try await reader.engine(servers[pulls % 2], pageSize: 50).pull()
                pulls += 1
                readerStarted.set()
            }
            return pulls
        }
        // The writers start once the reader is pulling, so its pages interleave with their
        // commits however busy the machine is.
        for _ in 0..<600 where !readerStarted.isSet { try await Task.sleep(nanoseconds: 50_000_000) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, writer) in writers.enumerated() {
                group.addTask {
                    let server = servers[index % 2]
                    var ids: [String] = []
                    for round in 0..<Self.rounds {
                        for note in 0..<6 {
                            if round > 0, note < ids.count, note % 2 == 0 {
                                _ = try writer.store.edit(id: ids[note], changes: ["summary": .string("Ronde \(round) bij \(writer.name)")])
                            } else {
                                ids.append(try writer.store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit.merging(
                                    ["summary": .string("Notitie \(round)-\(note) van \(writer.name)")]) { $1 }).id)
                            }
                        }
                        _ = try writer.store.edit(id: shared.id, changes: ["observations": .string("Ronde \(round): \(writer.name) was er")])
                        _ = try await writer.engine(server, batchSize: 2).push()
                        // A pause, so the reader catches up with the log's end between
                        // rounds: only a reader at the end can be moved past a change.
                        try await Task.sleep(nanoseconds: 100_000_000)
                    }
                    #expect(try writer.store.outbox().isEmpty)
                }
            }
            group.addTask {
                for round in 0..<Self.rounds {
                    _ = try await bulk.engine(servers[round % 2], batchSize: 25).push()
                    try await Task.sleep(nanoseconds: 100_000_000)
                    for note in 0..<50 {
                        try bulk.store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit.merging(
                            ["summary": .string("Bulk \(round + 1)-\(note)")]) { $1 })
                    }
                }
                _ = try await bulk.engine(servers[0], batchSize: 25).push()
                #expect(try bulk.store.outbox().isEmpty)
            }
            try await group.waitForAll()
        }
        done.set()
        _ = try await pulling.value
        // One last pull collects what committed after the reader's last page; it cannot
        // bring back a change the cursor already passed.
        _ = try await reader.engine(servers[1], pageSize: 3).pull()

        let check = try Device("check", role: .office, scopes: ["*"], server: servers[1])
        try await check.sync(servers[1])
        let full = try check.records()
        // 6 new notes, then 3 new and 3 edits per round; the shared one; the bulk writer's.
        let expectedCount = writers.count * (6 + (Self.rounds - 1) * 3) + 1 + 50 * (Self.rounds + 1)
        #expect(full.count == expectedCount)
        #expect(try reader.records() == full, "the reader holds every change the server holds")
        let onServer = try #require(full[shared.id])
        for writer in writers {
            let local = try #require(try writer.store.record(shared.id))
            #expect(onServer.context[writer.replica] == local.context[writer.replica], "every edit \(writer.name) pushed of the shared note is kept")
            #expect(onServer.entries(of: "observations").contains { $0.value == .string("Ronde \(Self.rounds - 1): \(writer.name) was er") })
        }
    }

    @Test func aProcessKilledMidPushLosesNothingAcknowledged() async throws {
        let database = try TestPostgres.freshDatabase()
        let first = try ServerProcess(databaseURL: database)
        let second = try ServerProcess(databaseURL: database)
        let anna = try Device("anna", server: first)
        var ids: Set<String> = []
        for index in 0..<300 {
            ids.insert(try anna.store.create(type: "visitNote", scope: "loc-zonnehof",
                                             fields: Device.visit.merging(["summary": .string("Bezoek \(index)")]) { $1 }).id)
        }
        let killer = Task {
            try await Task.sleep(nanoseconds: 200_000_000)
            first.kill()
        }
        _ = try? await anna.engine(first, batchSize: 5).sync()
        _ = try? await killer.value
        first.kill()
        // Whatever the dead process acknowledged left the outbox and is in the database.
        let pending = Set(try anna.store.outbox().map(\.recordID))
        let office = try Device("office", role: .office, scopes: ["*"], server: second)
        try await office.sync(second)
        #expect(Set(try office.records().keys) == ids.subtracting(pending), "acknowledged exactly what is stored")
        // The survivor takes the rest.
        try await anna.sync(second)
        try await office.sync(second)
        #expect(Set(try office.records().keys) == ids)
        #expect(try anna.store.outbox().isEmpty)
    }

    @Test(arguments: ["wrong password", "missing database", "unreachable"])
    func badConfigurationSaysWhatToDo(_ case: String) throws {
        let base = try #require(TestPostgres.url)
        var components = try #require(URLComponents(string: base))
        let hint: String
        switch `case` {
        case "wrong password": components.password = "not-the-password"; hint = "password"
        case "missing database": components.path = "/no_such_database"; hint = "does not exist"
        default: components.port = 1; hint = "cannot reach PostgreSQL"
        }
        for command in [["serve", "--port", "0"], ["migrate"], ["token", "list"]] {
            let result = try Binaries.run(Binaries.server, command + ["--database", components.string!])
            #expect(result.status != 0, "\(command)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "one line: \(result.stderr)")
            #expect(result.stderr.contains(hint), "\(command): \(result.stderr)")
            #expect(!result.stderr.contains("not-the-password"), "no password in messages")
        }
    }

    @Test    func aLostDatabaseGives503AndTheServerRecovers() async throws {
        let folder = try TemporaryFolder("veld-pg-lost")
        let cluster = folder.url.appendingPathComponent("cluster")
        let database = try TestPostgres.cluster("init", cluster)
        defer { _ = try? TestPostgres.cluster("destroy", cluster) }
        #expect(try Binaries.run(Binaries.server, ["migrate", "--database", database]).status == 0)
        let server = try ServerProcess(databaseURL: database)
        let anna = try Device("anna", server: server)
        try anna.store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit)
        try await anna.sync(server)

        _ = try TestPostgres.cluster("stop", cluster)
        var request = URLRequest(url: server.url!.appendingPathComponent("v1/pull"))
        request.setValue("Bearer \(anna.token)", forHTTPHeaderField: "Authorization")
        let (body, response) = try await URLSession.shared.data(for: request)
        let http = try #require(response as? HTTPURLResponse)
        #expect(http.statusCode == 503)
        #expect(http.value(forHTTPHeaderField: "Retry-After") != nil)
        #expect(try StableJSON.decode(Problem.self, from: body).type == "urn:veld:problem:unavailable")
        // Edits made meanwhile wait in the outbox; nothing is lost.
        try anna.store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit)
        await #expect(throws: SyncTransportError.self) { try await anna.sync(server) }
        #expect(try anna.store.outbox().count == 1)

        _ = try TestPostgres.cluster("start", cluster)
        // The process recovers by itself once the database is back (bounded wait).
        var recovered = false
        for _ in 0..<60 where !recovered {
            if (try? await anna.sync(server)) != nil { recovered = true } else { try await Task.sleep(nanoseconds: 500_000_000) }
        }
        #expect(recovered)
        #expect(try anna.store.outbox().isEmpty)
    }
}

/// A one-way switch shared between tasks.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
