import Foundation
import GRDB
import VeldCore
import VeldProtocol

/// What a client child process reports, as one JSON line on stdout.
struct ClientResult: Codable, Sendable {
    var seconds: Double
    var records: Int
    var peakRSS: Int
    var bytes: Int = 0
}

/// The client side of a scenario, run in a child process so its peak RSS is its own.
enum ClientCommands {
    static func print(_ result: ClientResult) throws {
        let data = try JSONEncoder().encode(result)
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }

    /// `client-first-sync HOME URL TOKEN`: a new device's first `sync()` into an empty store.
    static func firstSync(home: URL, server: URL, token: String) async throws {
        let store = try LocalStore.initialise(home: home, user: "bench-office", role: .office)
        try store.connect(server: server, token: token)
        let engine = SyncEngine(store: store, transport: HTTPTransport(server: server, token: token))
        var pulled = 0
        let seconds = try await measureAsync { pulled = try await engine.sync().pulled }
        try print(ClientResult(seconds: seconds, records: pulled, peakRSS: peakRSS()))
    }

    /// `client-pull HOME`: one `pull()` of whatever changed since this store's cursor.
    static func pull(home: URL) async throws {
        let store = try LocalStore.open(home: home)
        let settings = try store.syncSettings()
        guard let server = settings.server, let token = settings.token else { throw BenchError("the store at \(home.path) is not connected") }
        let engine = SyncEngine(store: store, transport: HTTPTransport(server: server, token: token))
        var changed = 0
        let seconds = try await measureAsync { changed = try await engine.pull().changed }
        try print(ClientResult(seconds: seconds, records: changed, peakRSS: peakRSS()))
    }

    /// `client-push HOME COUNT ROUND`: edits records 0..<COUNT (untimed; written in batches
    /// by ``BatchedEdits`` since LocalStore has no batched edit), then times `push()`.
    static func push(home: URL, count: Int, round: Int) async throws {
        let generator = DataGenerator()
        let profile = try LocalStore.open(home: home).profile()
        let edits = (0..<count).map { i -> (String, [String: FieldValue]) in
            var random = SeededRandom(seed: UInt64(i) &* 31 &+ UInt64(round) &* 7_919)
            return (generator.id(i), generator.fieldEdit(generator.type(i), &random))
        }
        let writer = try BatchedEdits(database: home.appendingPathComponent(LocalStore.databaseName), profile: profile)
        try writer.apply(edits, batchSize: 500)
        try writer.close()
        let store = try LocalStore.open(home: home)
        let pending = try store.outbox().count
        guard pending >= count else { throw BenchError("expected \(count) records in the outbox, found \(pending)") }
        let settings = try store.syncSettings()
        guard let server = settings.server, let token = settings.token else { throw BenchError("the store is not connected") }
        let engine = SyncEngine(store: store, transport: HTTPTransport(server: server, token: token))
        var pushed = 0
        let seconds = try await measureAsync { pushed = try await engine.push().pushed }
        let left = try store.outbox().count
        guard pushed == pending, left == 0 else {
            throw BenchError("push acknowledged \(pushed) of \(pending); outbox still holds \(left)")
        }
        try print(ClientResult(seconds: seconds, records: pushed, peakRSS: peakRSS()))
    }
}

/// Edits in one transaction per batch, written to a LocalStore's own tables the way
/// `LocalStore.edit(id:changes:)` writes them (read and decode the state, validate the
/// changes, edit, validate the state, save the record row and its outbox entry).
///
/// LocalStore has no public batched edit; this stands in for one so the harness can
/// measure what batching would buy, and fill an outbox of 10k edits without 10k fsyncs.
/// It mirrors `saveLocalEdit` in Sources/VeldCore/Store/LocalStore+Records.swift and must
/// follow it if that changes (the push scenario fails loudly if the outbox is wrong).
final class BatchedEdits {
    let pool: DatabasePool
    let profile: Profile

    init(database: URL, profile: Profile) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        pool = try DatabasePool(path: database.path, configuration: configuration)
        self.profile = profile
    }

    func close() throws { try pool.close() }

    /// Returns the edited states.
    @discardableResult
    func apply(_ edits: [(String, [String: FieldValue])], batchSize: Int) throws -> [RecordState] {
        var states: [RecordState] = []
        states.reserveCapacity(edits.count)
        for start in stride(from: 0, to: edits.count, by: batchSize) {
            try pool.write { db in
                for (id, changes) in edits[start..<min(start + batchSize, edits.count)] {
                    states.append(try edit(id: id, changes: changes, db: db))
                }
            }
        }
        return states
    }

    func edit(id: String, changes: [String: FieldValue], db: Database) throws -> RecordState {
        guard let row = try Row.fetchOne(db, sql: "SELECT state FROM record WHERE id = ?", arguments: [id]) else {
            throw BenchError("no record \(id) in the store")
        }
        var state = try StableJSON.decode(RecordState.self, from: Data((row["state"] as String).utf8))
        guard let schema = Schemas.named(state.type) else { throw BenchError("unknown type \(state.type)") }
        let problems = schema.validateChanges(changes, role: profile.role, recordID: id)
        guard problems.isEmpty else { throw BenchError("invalid edit: \(problems)") }
        state.edit(changes, replica: profile.replicaID, author: profile.user, time: WallClock.now())
        let invalid = schema.validate(state)
        guard invalid.isEmpty else { throw BenchError("invalid state: \(invalid)") }
        let now = WallClock.now()
        let json = String(decoding: try StableJSON.encode(state), as: UTF8.self)
        let status: String? = if case .string(let text)? = state.value(of: "status") { text } else { nil }
        try db.execute(sql: "UPDATE record SET state = ?, status = ?, deleted = ?, hasConflicts = ?, updatedAt = ? WHERE id = ?",
                       arguments: [json, status, state.isDeleted, state.hasConflicts, now, id])
        let queuedAt = try Date.fetchOne(db, sql: "SELECT queuedAt FROM outbox WHERE recordID = ?", arguments: [id]) ?? now
        try db.execute(sql: "INSERT OR REPLACE INTO outbox (recordID, counter, queuedAt) VALUES (?, ?, ?)",
                       arguments: [id, state.context[profile.replicaID], queuedAt])
        return state
    }
}
