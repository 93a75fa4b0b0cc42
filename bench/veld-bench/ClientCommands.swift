import Foundation
import GRDB
@_spi(Benchmarks) import VeldCore
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
    /// `encrypted: false` (`client-first-sync-unencrypted`): the same into a store that
    /// keeps its values unsealed, for the side-by-side figure of what encryption costs.
    /// `health: true` (`client-first-sync-health`): the transport says how the device is
    /// doing with every request, as `veld sync` does, for what that costs.
    static func firstSync(home: URL, server: URL, token: String, encrypted: Bool = true, health: Bool = false) async throws {
        let store = encrypted ? try LocalStore.initialise(home: home, user: "bench-office", role: .office)
            : try LocalStore.initialiseWithoutEncryption(home: home, user: "bench-office", role: .office)
        try store.connect(server: server, token: token)
        let engine = SyncEngine(store: store, transport: HTTPTransport(server: server, token: token,
                                                                         health: health ? store.healthReports() : nil))
        var pulled = 0
        let seconds = try await measureAsync { pulled = try await engine.sync().pulled }
        try print(ClientResult(seconds: seconds, records: pulled, peakRSS: peakRSS()))
    }

    /// `client-pull HOME [deltas]`: one `pull()` of whatever changed since this store's
    /// cursor, with `deltas` asking for pull deltas (as a sync does with a server that takes them).
    static func pull(home: URL, deltas: Bool = false) async throws {
        let store = try LocalStore.open(home: home)
        let settings = try store.syncSettings()
        guard let server = settings.server, let token = settings.token else { throw BenchError("the store at \(home.path) is not connected") }
        let engine = SyncEngine(store: store, transport: HTTPTransport(server: server, token: token))
        // Without a pull base (a pull from 0 that completed) the pull would ask whole.
        if deltas, try store.pullBase() == nil { throw BenchError("the store at \(home.path) has no pull base: it would pull whole") }
        var changed = 0
        let seconds = try await measureAsync { changed = try await engine.pull(deltas: deltas).changed }
        try print(ClientResult(seconds: seconds, records: changed, peakRSS: peakRSS()))
    }

    /// `client-push HOME COUNT ROUND`: edits records 0..<COUNT (untimed; batched edits of
    /// 500 per transaction), then times `push()`.
    /// Edits `count` records (untimed), then pushes them, timed: whole states, or with
    /// `deltas` as a sync sends them to a server that takes deltas (each record's changed
    /// fields against the state the client last pulled).
    static func push(home: URL, count: Int, round: Int, deltas: Bool = false, inFlight: Int = 2) async throws {
        let generator = DataGenerator()
        let edits = (0..<count).map { i -> (String, [String: FieldValue]) in
            var random = SeededRandom(seed: UInt64(i) &* 31 &+ UInt64(round) &* 7_919)
            return (generator.id(i), generator.fieldEdit(generator.type(i), &random))
        }
        let editor = try LocalStore.open(home: home)
        for start in stride(from: 0, to: edits.count, by: 500) {
            try editor.edit(edits[start..<min(start + 500, edits.count)].map { (id: $0.0, changes: $0.1) })
        }
        // The push starts from the database alone, as `veld sync` in a process of its own
        // does (nothing the edits left decoded in memory is taken over).
        let store = try LocalStore.open(home: home)
        let pending = try store.outbox().count
        guard pending >= count else { throw BenchError("expected \(count) records in the outbox, found \(pending)") }
        let settings = try store.syncSettings()
        guard var server = settings.server, let token = settings.token else { throw BenchError("the store is not connected") }
        // To profile a push again against a kept run's server database (`VELD_BENCH_KEEP`),
        // served on a new port.
        if let other = ProcessInfo.processInfo.environment["VELD_BENCH_SERVER_URL"], let url = URL(string: other) { server = url }
        let engine = SyncEngine(store: store, transport: HTTPTransport(server: server, token: token), batchesInFlight: inFlight)
        var pushed = 0
        let seconds = try await measureAsync { pushed = try await engine.push(deltas: deltas).pushed }
        let left = try store.outbox().count
        guard pushed == pending, left == 0 else {
            throw BenchError("push acknowledged \(pushed) of \(pending); outbox still holds \(left)")
        }
        try print(ClientResult(seconds: seconds, records: pushed, peakRSS: peakRSS()))
    }
}
