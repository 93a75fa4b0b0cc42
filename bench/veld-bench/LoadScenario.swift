import Foundation
import VeldCore
import VeldProtocol
import VeldServer

/// Server load: simulated devices on loopback, each in a loop of "edit 20 of its records,
/// push them, pull its scopes until nothing is left", until the run's time is up.
///
/// A device is light: its records live in memory as `RecordState`s and it talks through
/// VeldCore's `HTTPTransport` (one URLSession each), so the server, not a client
/// database, is what is loaded. The devices run in this process, on the same 2 cores
/// as the server(s): their own JSON work is in the latencies too.
enum LoadScenario {
    struct Outcome {
        var merged = 0
        var pushLatencies: [Double] = []
        var pullLatencies: [Double] = []
        var errors = 0
        var firstError: String?
        var seconds = 0.0
    }

    struct Device: Sendable {
        var index: Int
        var user: String
        var token: String
        var replica: String
        var home: String
        var neighbour: String
    }

    static func run(_ sizes: Sizes, _ report: Report) async throws {
        for devices in sizes.devices {
            try await sqlite(devices, sizes, report)
        }
        try await postgres(sizes, report)
    }

    static func makeDevices(_ count: Int, run: Int, _ storage: any SyncStorage) async throws -> [Device] {
        var list: [Device] = []
        let scopes = DataGenerator.locations
        for i in 0..<count {
            let home = scopes[i % scopes.count]
            let neighbour = scopes[(i + 1) % scopes.count]
            let user = DataGenerator.people[i % DataGenerator.people.count]
            let token = try await ServerFixture.token(storage, user: user, role: .carer, scopes: [home, neighbour])
            list.append(Device(index: i, user: user, token: token, replica: DataGenerator.replica(10_000 + run * 10_000 + i), home: home,
                               neighbour: neighbour))
        }
        return list
    }

    static func sqlite(_ count: Int, _ sizes: Sizes, _ report: Report) async throws {
        let scratch = try Scratch("load")
        defer { scratch.remove() }
        let database = scratch.path("server.sqlite").path
        let storage = try SQLiteSyncStorage(path: database)
        try await storage.migrate()
        var fleets: [[Device]] = []
        for run in 0..<sizes.repetitions { fleets.append(try await makeDevices(count, run: run, storage)) }
        let server = try ServerFixture.serve(database: database)
        Cleanup.shared.add("load-server") { server.stop() }
        defer { server.stop(); Cleanup.shared.remove("load-server") }
        var outcomes: [Outcome] = []
        for fleet in fleets {
            let head = try await storage.headPosition()
            outcomes.append(try await drive(fleet, servers: [server.url], cursor: String(head), sizes))
        }
        add(outcomes, "server load, SQLite, 1 process", count, sizes, report, throughputGoal: "≥ 20 000 merged records/s",
            throughputCheck: { $0 >= 20_000 })
    }

    static func postgres(_ sizes: Sizes, _ report: Report) async throws {
        let scenario = "server load, PostgreSQL, 2 processes"
        let script = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("scripts/pg-cluster.sh")
        guard FileManager.default.fileExists(atPath: script.path) else {
            report.skip(scenario, "merged records/s", goal: "more than SQLite", reason: "scripts/pg-cluster.sh not found (run from the repository root)")
            return
        }
        if ProcessInfo.processInfo.environment["VELD_BENCH_NO_POSTGRES"] == "1" {
            report.skip(scenario, "merged records/s", goal: "more than SQLite", reason: "VELD_BENCH_NO_POSTGRES=1")
            return
        }
        let folder = URL(fileURLWithPath: "/tmp/veld-bench-pg-\(UUID().uuidString.prefix(8))")
        let url: String
        do {
            url = try Binaries.run(URL(fileURLWithPath: "/bin/bash"), [script.path, "init", folder.path], timeout: 600)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            _ = try? Binaries.run(URL(fileURLWithPath: "/bin/bash"), [script.path, "destroy", folder.path])
            report.skip(scenario, "merged records/s", goal: "more than SQLite", reason: "could not start a PostgreSQL cluster (\(error))")
            return
        }
        let destroy = { _ = try? Binaries.run(URL(fileURLWithPath: "/bin/bash"), [script.path, "destroy", folder.path]) }
        Cleanup.shared.add("pg-cluster", destroy)
        defer { destroy(); Cleanup.shared.remove("pg-cluster") }
        _ = try Binaries.run(Binaries.server, ["migrate", "--database", url])

        for count in sizes.devices {
            let storage = try await StorageOpening.open(databaseURL: url, sqlitePath: "", purpose: .administer)
            var fleets: [[Device]] = []
            for run in 0..<sizes.repetitions { fleets.append(try await makeDevices(count, run: 100 + run + count, storage)) }
            let servers = try (0..<2).map { n in
                try ServerProcess(Binaries.server, ["serve", "--database", url, "--port", "0", "--log-level", "warning", "--metrics-address", "off"], label: "veld-server-pg-\(n)")
            }
            Cleanup.shared.add("pg-servers") { servers.forEach { $0.stop() } }
            var outcomes: [Outcome] = []
            do {
                for fleet in fleets {
                    let head = try await storage.headPosition()
                    outcomes.append(try await drive(fleet, servers: servers.map(\.url), cursor: String(head), sizes))
                }
            } catch {
                servers.forEach { $0.stop() }
                (storage as? PostgresSyncStorage)?.shutdown()
                throw error
            }
            servers.forEach { $0.stop() }
            Cleanup.shared.remove("pg-servers")
            (storage as? PostgresSyncStorage)?.shutdown()
            add(outcomes, scenario, count, sizes, report, throughputGoal: "more than SQLite", throughputCheck: nil)
        }
    }

    static func add(_ outcomes: [Outcome], _ scenario: String, _ count: Int, _ sizes: Sizes, _ report: Report,
                    throughputGoal: String, throughputCheck: ((Double) -> Bool)?) {
        let label = "\(count) devices, \(sizes.editsPerCycle) edits per cycle, \(Int(sizes.loadSeconds)) s per run"
        report.add(scenario, "\(label): merged records/s", unit: "records/s",
                   values: outcomes.map { Double($0.merged) / $0.seconds }, goal: throughputGoal, check: throughputCheck)
        report.add(scenario, "push latency p50", unit: "ms", values: outcomes.map { percentile($0.pushLatencies, 0.5) * 1_000 })
        report.add(scenario, "push latency p99", unit: "ms", values: outcomes.map { percentile($0.pushLatencies, 0.99) * 1_000 },
                   goal: "≤ 100 ms", check: { $0 <= 100 })
        report.add(scenario, "pull latency p50", unit: "ms", values: outcomes.map { percentile($0.pullLatencies, 0.5) * 1_000 })
        report.add(scenario, "pull latency p99", unit: "ms", values: outcomes.map { percentile($0.pullLatencies, 0.99) * 1_000 },
                   goal: "≤ 100 ms", check: { $0 <= 100 })
        report.add(scenario, "errors", unit: "errors", values: outcomes.map { Double($0.errors) }, goal: "0", check: { $0 == 0 },
                   note: outcomes.compactMap(\.firstError).first.map { "first: \($0.prefix(120))" } ?? "")
        if outcomes.contains(where: { $0.errors > 0 }) {
            report.error("\(scenario), \(count) devices: \(outcomes.map(\.errors).reduce(0, +)) request(s) failed; first: \(outcomes.compactMap(\.firstError).first ?? "")")
        }
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }

    /// Runs every device until the deadline (or a cap of cycles), returns what happened.
    static func drive(_ fleet: [Device], servers: [URL], cursor: String, _ sizes: Sizes) async throws -> Outcome {
        let generator = DataGenerator()
        let start = now()
        let deadline = start + sizes.loadSeconds
        let maxCycles = 100_000
        let outcomes = await withTaskGroup(of: Outcome.self) { group in
            for device in fleet {
                group.addTask {
                    await simulate(device, server: servers[device.index % servers.count], cursor: cursor, deadline: deadline,
                                   maxCycles: maxCycles, editsPerCycle: sizes.editsPerCycle, generator: generator)
                }
            }
            var all: [Outcome] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        var total = Outcome()
        total.seconds = now() - start
        for outcome in outcomes {
            total.merged += outcome.merged
            total.pushLatencies += outcome.pushLatencies
            total.pullLatencies += outcome.pullLatencies
            total.errors += outcome.errors
            total.firstError = total.firstError ?? outcome.firstError
        }
        return total
    }

    static func simulate(_ device: Device, server: URL, cursor start: String, deadline: Double, maxCycles: Int,
                         editsPerCycle: Int, generator: DataGenerator) async -> Outcome {
        var outcome = Outcome()
        let transport = HTTPTransport(server: server, token: device.token, timeout: 30)
        var random = SeededRandom(seed: UInt64(device.index) &* 1_000_003 &+ 17)
        // The device's own records, made on its first cycle.
        let slots = [0, 7, 11]
        var records: [RecordState] = (0..<editsPerCycle).map { j in
            let sample = (j * 3 + device.index) * DataGenerator.blockSize + slots[j % slots.count]
            var state = RecordState(id: RecordIDs.make(), type: generator.type(sample), scope: device.home)
            state.edit(generator.fields(sample, &random), replica: device.replica, author: device.user, time: WallClock.now())
            return state
        }
        var cursor = start
        var cycle = 0
        while now() < deadline && cycle < maxCycles {
            if cycle > 0 {
                for j in records.indices {
                    records[j].edit(generator.fieldEdit(records[j].type, &random), replica: device.replica, author: device.user,
                                    time: WallClock.now())
                }
            }
            cycle += 1
            let request = PushRequest(replica: device.replica, batch: UUID().uuidString.lowercased(), records: records)
            let began = now()
            do {
                let response = try await transport.push(request)
                outcome.pushLatencies.append(now() - began)
                outcome.merged += response.results.filter(\.changed).count
            } catch {
                outcome.errors += 1
                outcome.firstError = outcome.firstError ?? "push: \(error)"
                continue
            }
            var pages = 0
            while pages < 20 && now() < deadline + 5 {
                pages += 1
                let began = now()
                do {
                    let page = try await transport.pull(since: cursor, limit: SyncLimits.defaultPullLimit)
                    outcome.pullLatencies.append(now() - began)
                    cursor = page.cursor
                    if !page.more { break }
                } catch {
                    outcome.errors += 1
                    outcome.firstError = outcome.firstError ?? "pull: \(error)"
                    break
                }
            }
        }
        return outcome
    }
}
