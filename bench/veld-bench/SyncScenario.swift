import Foundation
import VeldCore
import VeldProtocol
import VeldServer

/// A server database prepared in-process through VeldServer's storage API, before (or
/// beside) a real `veld-server serve` on it.
enum ServerFixture {
    /// Issues a token and returns its secret.
    static func token(_ storage: any SyncStorage, user: String, role: Role, scopes: [String]) async throws -> String {
        let secret = TokenSecret.make()
        let token = DeviceToken(id: TokenSecret.makeID(), user: user, role: role, scopes: scopes, createdAt: Date())
        try await storage.insertToken(token, hash: TokenSecret.hash(secret))
        return secret
    }

    /// Stores generator records `range` through the storage's own push, as the devices
    /// that made them would: each device (the generator's 17 replicas) with a token of its
    /// own user, first the creations, then the later edits. Returns the mean state size in
    /// bytes.
    static func preload(_ storage: any SyncStorage, _ generator: DataGenerator, _ range: Range<Int>) async throws -> Int {
        var tokens: [Int: DeviceToken] = [:]
        for replica in 0..<17 {
            let token = DeviceToken(id: "tok_preload\(replica)", user: DataGenerator.author(ofReplica: replica), role: .admin,
                                    scopes: ["*"], createdAt: Date())
            try await storage.insertToken(token, hash: TokenSecret.hash(TokenSecret.make()))
            tokens[replica] = token
        }
        var bytes = 0
        for start in stride(from: range.lowerBound, to: range.upperBound, by: 1_000) {
            let stages = (start..<min(start + 1_000, range.upperBound)).map(generator.stages)
            for stage in stages { bytes += try StableJSON.encode(stage.last!.state).count }
            for round in 0..<2 {
                var byReplica: [Int: [RecordState]] = [:]
                for stage in stages where stage.count > round { byReplica[stage[round].replica, default: []].append(stage[round].state) }
                for (replica, records) in byReplica.sorted(by: { $0.key < $1.key }) {
                    let request = PushRequest(replica: DataGenerator.replica(replica), batch: UUID().uuidString.lowercased(), records: records)
                    _ = try await storage.push(request, token: tokens[replica]!, fingerprint: UUID().uuidString, at: Date())
                }
            }
        }
        return bytes / max(1, range.count)
    }

    static func serve(database: String) throws -> ServerProcess {
        let (binary, arguments) = Binaries.wrapped(Binaries.server, ["serve", "--db", database, "--port", "0", "--log-level", "warning", "--metrics-address", "off"],
                                                   variable: "VELD_BENCH_SERVER_WRAP")
        let server = try ServerProcess(binary, arguments, label: "veld-server")
        return server
    }
}

/// First sync (with its floor), catch-up and push, against one veld-server on SQLite
/// preloaded with `records` records.
enum SyncScenario {
    static func run(_ sizes: Sizes, _ report: Report) async throws {
        let scratch = try Scratch("sync")
        defer { scratch.remove() }
        let generator = DataGenerator()
        let database = scratch.path("server.sqlite").path
        let n = sizes.records

        let (officeToken, catchUpToken, meanBytes, preloadSeconds) = try await {
            let storage = try SQLiteSyncStorage(path: database)
            try await storage.migrate()
            let office = try await ServerFixture.token(storage, user: "bench-office", role: .office, scopes: ["*"])
            let catchUp = try await ServerFixture.token(storage, user: "Lotte Peters", role: .office, scopes: ["*"])
            var mean = 0
            let seconds = try await measureAsync { mean = try await ServerFixture.preload(storage, generator, 0..<n) }
            return (office, catchUp, mean, seconds)
        }()
        log("preloaded \(n) records (mean state \(meanBytes) bytes) in \(String(format: "%.1f", preloadSeconds)) s")
        report.note("Data: \(n) records of the four types (35% visit notes, 20% council inputs, 20% care plans, 25% goals) over 50 scopes, Dutch text from a seeded generator; a stored state (JSON with every field's dot, author and time) averages \(meanBytes) bytes.")

        let server = try ServerFixture.serve(database: database)
        Cleanup.shared.add("sync-server") { server.stop() }
        defer { server.stop(); Cleanup.shared.remove("sync-server") }

        // First sync, interleaved with its floor.
        let pages = scratch.path("pages")
        let captured = try await Floor.capture(server: server.url, token: officeToken, pageSize: SyncLimits.defaultPullLimit, into: pages)
        let floorServer = try ServerProcess(Binaries.bench, ["floor-server", pages.path], label: "floor-server")
        Cleanup.shared.add("floor-server") { floorServer.stop() }
        var syncRate: [Double] = [], syncSeconds: [Double] = [], syncRSS: [Double] = []
        var floorRate: [Double] = [], floorSeconds: [Double] = [], floorRSS: [Double] = [], ratio: [Double] = []
        var home = scratch.path("client-0")
        for rep in 0..<sizes.repetitions {
            if rep > 0 { try? FileManager.default.removeItem(at: home) }
            home = scratch.path("client-\(rep)")
            let sync = try Binaries.child(["client-first-sync", home.path, server.url.absoluteString, officeToken], as: ClientResult.self)
            guard sync.records == n else { throw BenchError("first sync pulled \(sync.records) records, expected \(n)") }
            let floorHome = scratch.path("floor-\(rep)")
            let floor = try Binaries.child(["floor-client", floorServer.url.absoluteString, pages.path, floorHome.path], as: ClientResult.self)
            try? FileManager.default.removeItem(at: floorHome)
            guard floor.records == n else { throw BenchError("the floor inserted \(floor.records) records, expected \(n)") }
            syncRate.append(Double(n) / sync.seconds)
            syncSeconds.append(sync.seconds)
            syncRSS.append(Double(sync.peakRSS) / 1_048_576)
            floorRate.append(Double(n) / floor.seconds)
            floorSeconds.append(floor.seconds)
            floorRSS.append(Double(floor.peakRSS) / 1_048_576)
            ratio.append(sync.seconds / floor.seconds)
        }
        floorServer.stop()
        Cleanup.shared.remove("floor-server")
        let s = "first sync"
        let size = n >= 1_000 ? "\(n / 1_000)k" : "\(n)"
        report.add(s, "\(size) records pulled into an empty client (SyncEngine.sync over HTTP)", unit: "records/s", values: syncRate,
                   goal: "≥ 100 000 records/s", check: { $0 >= 100_000 })
        report.add(s, "wall time of that sync", unit: "s", values: syncSeconds)
        report.add(s, "peak RSS of the client process (VmHWM)", unit: "MB", values: syncRSS, goal: "≤ 100 MB", check: { $0 <= 100 })
        report.add(s, "floor: same page bodies over loopback HTTP (URLSession) + raw SQLite insert per page", unit: "records/s",
                   values: floorRate)
        report.add(s, "floor wall time", unit: "s", values: floorSeconds)
        report.add(s, "time ratio sync / floor (same run, interleaved)", unit: "×", values: ratio, goal: "≤ 3×", check: { $0 <= 3 })
        report.note("First sync: \(captured.pages) pages of \(SyncLimits.defaultPullLimit) records, \(captured.bytes / 1_048_576) MiB of JSON before gzip; the floor's peak RSS was \(Int(Figure(floorRSS).median)) MB (it holds every record's bytes in memory before the clock starts).")

        // The device-health header (Veld-Device) on every request, as `veld sync` sends it:
        // first syncs with and without, alternating.
        var healthRatio: [Double] = []
        for rep in 0..<sizes.repetitions {
            var seconds: [Bool: Double] = [:]
            for health in rep % 2 == 0 ? [true, false] : [false, true] {
                let healthHome = scratch.path("health-\(rep)-\(health)")
                let result = try Binaries.child([health ? "client-first-sync-health" : "client-first-sync", healthHome.path,
                                                 server.url.absoluteString, officeToken], as: ClientResult.self)
                guard result.records == n else { throw BenchError("first sync pulled \(result.records) records, expected \(n)") }
                seconds[health] = result.seconds
                try? FileManager.default.removeItem(at: healthHome)
            }
            healthRatio.append(seconds[true]! / seconds[false]!)
        }
        report.add(s, "time ratio first sync with / without the Veld-Device header (same run, alternating)", unit: "×", values: healthRatio,
                   goal: "≤ 1.05×", check: { $0 <= 1.05 })

        // Catch-up: another device changes records the client holds; the client pulls, as
        // pull deltas (what a sync asks this server) and, from a copy of the same store, whole
        // (the order alternating).
        let catchUpTransport = HTTPTransport(server: server.url, token: catchUpToken)
        var catchUpMs: [Double] = [], wholeCatchUpMs: [Double] = [], catchUpRatios: [Double] = []
        let copy = scratch.path("client-copy")
        for rep in 0..<sizes.repetitions {
            let indices = (0..<sizes.catchUp).map { n - 1 - rep * sizes.catchUp - $0 }
            guard indices.allSatisfy({ $0 >= sizes.push }) else { throw BenchError("catch-up and push would edit the same records; raise the record count") }
            let replica = DataGenerator.replica(900)
            var states: [RecordState] = []
            for i in indices {
                var state = generator.record(i)
                var random = SeededRandom(seed: UInt64(i) &+ 77)
                state.edit(generator.fieldEdit(state.type, &random), replica: replica, author: "Lotte Peters", time: WallClock.now())
                states.append(state)
            }
            for start in stride(from: 0, to: states.count, by: SyncLimits.pushBatchSize) {
                let batch = Array(states[start..<min(start + SyncLimits.pushBatchSize, states.count)])
                _ = try await catchUpTransport.push(PushRequest(replica: replica, batch: UUID().uuidString.lowercased(), records: batch))
            }
            try? FileManager.default.removeItem(at: copy)
            try FileManager.default.copyItem(at: home, to: copy)
            var seconds: [Bool: Double] = [:]
            for deltas in rep % 2 == 0 ? [true, false] : [false, true] {
                let pull = try Binaries.child(["client-pull", (deltas ? home : copy).path] + (deltas ? ["deltas"] : []), as: ClientResult.self)
                guard pull.records == sizes.catchUp else { throw BenchError("catch-up pulled \(pull.records), expected \(sizes.catchUp)") }
                seconds[deltas] = pull.seconds
            }
            catchUpMs.append(seconds[true]! * 1_000)
            wholeCatchUpMs.append(seconds[false]! * 1_000)
            catchUpRatios.append(seconds[true]! / seconds[false]!)
        }
        try? FileManager.default.removeItem(at: copy)
        report.add("catch-up", "\(sizes.catchUp) changed records pulled into a client holding \(size)", unit: "ms", values: catchUpMs,
                   goal: "≤ 100 ms", check: { $0 <= 100 })
        report.add("catch-up", "the same pulled whole (no pull deltas), from a copy of the store, same run", unit: "ms", values: wholeCatchUpMs)
        report.add("catch-up", "time ratio pull deltas / whole (same run, alternating)", unit: "×", values: catchUpRatios)

        // Push: the client edits records (untimed), then pushes them: as deltas (what a sync
        // sends this server), as whole states, and as deltas one batch at a time (before two
        // batches went at once), the order rotating.
        var pushRate: [Double] = [], wholeRate: [Double] = [], serialRate: [Double] = [], ratios: [Double] = [], serialRatios: [Double] = []
        let forms = ["deltas", "whole", "deltas-serial"]
        for rep in 0..<sizes.repetitions {
            var seconds: [String: Double] = [:]
            for offset in 0..<forms.count {
                let form = forms[(rep + offset) % forms.count]
                let push = try Binaries.child(["client-push", home.path, String(sizes.push), String(rep * forms.count + forms.firstIndex(of: form)!), form],
                                              as: ClientResult.self)
                let rate = Double(push.records) / push.seconds
                switch form {
                case "deltas": pushRate.append(rate)
                case "whole": wholeRate.append(rate)
                default: serialRate.append(rate)
                }
                seconds[form] = push.seconds
            }
            ratios.append(seconds["whole"]! / seconds["deltas"]!)
            serialRatios.append(seconds["deltas-serial"]! / seconds["deltas"]!)
        }
        report.add("push", "\(sizes.push) edited records pushed as deltas, as a sync sends them (SyncEngine.push, batches of \(SyncLimits.pushBatchSize), two with the server at once)",
                   unit: "records/s", values: pushRate, goal: "≥ 20 000 records/s", check: { $0 >= 20_000 })
        report.add("push", "the same records pushed as whole states", unit: "records/s", values: wholeRate)
        report.add("push", "the same as deltas, one batch at a time", unit: "records/s", values: serialRate)
        report.add("push", "time ratio one batch at a time / two at once (same run, rotating)", unit: "×", values: serialRatios)
        report.add("push", "time ratio whole states / deltas (same run, alternating)", unit: "×", values: ratios)
    }
}
