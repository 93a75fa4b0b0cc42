import Foundation
import GRDB
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import VeldProtocol
import VeldServer

/// What the access log (NEN 7513) costs: two `veld-server` processes on copies of one
/// preloaded SQLite database, one as always and one with the log switched off
/// (`VELD_BENCH_ACCESS_LOG_OFF=1`, for this comparison only), measured back to back in
/// each run, the order alternating (the raw pulls twice, A B B A): raw pull pages (the
/// server's work, the client only reads the cursor), a client's first sync, and a
/// client's push.
enum AccessLogScenario {
    static func run(_ sizes: Sizes, _ report: Report) async throws {
        let scratch = try Scratch("access-log")
        defer { scratch.remove() }
        let generator = DataGenerator()
        let n = sizes.records
        let logged = scratch.path("logged.sqlite").path
        let unlogged = scratch.path("unlogged.sqlite").path
        // One office token per run: a token binds to the replica of its first push, and
        // each run's client is a new device. Both databases hold them all (one is a copy).
        let officeTokens: [String] = try await {
            let storage = try SQLiteSyncStorage(path: logged)
            try await storage.migrate()
            var tokens: [String] = []
            for _ in 0..<sizes.repetitions {
                tokens.append(try await ServerFixture.token(storage, user: "bench-office", role: .office, scopes: ["*"]))
            }
            _ = try await ServerFixture.preload(storage, generator, 0..<n)
            return tokens
        }()
        // A consistent copy through SQLite (copying the files of a database that may still
        // be open gave the copy torn pages: "database disk image is malformed").
        // The preloading storage may still be closing (its last connection checkpoints the
        // WAL under an exclusive lock), so this connection waits instead of failing at once.
        try patientQueue(logged).inDatabase { db in try db.execute(sql: "VACUUM INTO ?", arguments: [unlogged]) }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: unlogged)  // serve refuses less
        let on = try ServerFixture.serve(database: logged)
        Cleanup.shared.add("access-on") { on.stop() }
        let (binary, arguments) = Binaries.wrapped(Binaries.server, ["serve", "--db", unlogged, "--port", "0", "--log-level", "warning", "--metrics-address", "off"],
                                                   variable: "VELD_BENCH_SERVER_WRAP")
        let off = try ServerProcess(URL(fileURLWithPath: "/usr/bin/env"), ["VELD_BENCH_ACCESS_LOG_OFF=1", binary.path] + arguments,
                                    label: "veld-server (no access log)")
        Cleanup.shared.add("access-off") { off.stop() }
        defer {
            on.stop()
            off.stop()
            Cleanup.shared.remove("access-on")
            Cleanup.shared.remove("access-off")
        }

        var pullOn: [Double] = [], pullOff: [Double] = [], pullRatio: [Double] = []
        var manyOn: [Double] = [], manyOff: [Double] = [], manyRatio: [Double] = []
        let pullers = 8
        var syncOn: [Double] = [], syncOff: [Double] = [], syncRatio: [Double] = []
        var pushOn: [Double] = [], pushOff: [Double] = [], pushRatio: [Double] = []
        for rep in 0..<sizes.repetitions {
            let servers = rep % 2 == 0 ? [(on, true), (off, false)] : [(off, false), (on, true)]
            let officeToken = officeTokens[rep]
            var pull: [Bool: Double] = [:], sync: [Bool: Double] = [:], push: [Bool: Double] = [:]
            // The raw pulls in the order A B B A, each server's two times added: on a shared
            // machine whose speed drifts within a run, the drift falls on both alike.
            let abba = servers + servers.reversed()
            for (server, isOn) in abba {
                let seconds = try await pullPages(server.url, token: officeToken, expect: n)
                pull[isOn, default: 0] += seconds
            }
            // The server's capacity: devices pulling at once share the log's commits.
            var many: [Bool: Double] = [:]
            for (server, isOn) in abba {
                many[isOn, default: 0] += try await measureAsync {
                    try await withThrowingTaskGroup(of: Double.self) { group in
                        for _ in 0..<pullers { group.addTask { try await pullPages(server.url, token: officeToken, expect: n) } }
                        for try await _ in group {}
                    }
                }
            }
            manyOn.append(Double(2 * n * pullers) / many[true]!)
            manyOff.append(Double(2 * n * pullers) / many[false]!)
            manyRatio.append(many[true]! / many[false]!)
            for (server, isOn) in servers {
                let home = scratch.path("client-\(isOn ? "on" : "off")-\(rep)")
                let first = try Binaries.child(["client-first-sync", home.path, server.url.absoluteString, officeToken], as: ClientResult.self)
                guard first.records == n else { throw BenchError("first sync pulled \(first.records) records, expected \(n)") }
                sync[isOn] = first.seconds
                let pushed = try Binaries.child(["client-push", home.path, String(sizes.push), String(rep)], as: ClientResult.self)
                push[isOn] = pushed.seconds
                try? FileManager.default.removeItem(at: home)
            }
            pullOn.append(Double(2 * n) / pull[true]!)
            pullOff.append(Double(2 * n) / pull[false]!)
            pullRatio.append(pull[true]! / pull[false]!)
            syncOn.append(Double(n) / sync[true]!)
            syncOff.append(Double(n) / sync[false]!)
            syncRatio.append(sync[true]! / sync[false]!)
            pushOn.append(Double(sizes.push) / push[true]!)
            pushOff.append(Double(sizes.push) / push[false]!)
            pushRatio.append(push[true]! / push[false]!)
        }
        // Both databases whole after the load (a torn page would fail a pull with a 500).
        on.stop()
        off.stop()
        for path in [logged, unlogged] {
            let problems = try await patientQueue(path).read { try String.fetchAll($0, sql: "PRAGMA integrity_check") }.filter { $0 != "ok" }
            if !problems.isEmpty { throw BenchError("\(path) failed its integrity check: \(problems.prefix(3))") }
        }
        let s = "access log"
        let size = n >= 1_000 ? "\(n / 1_000)k" : "\(n)"
        report.add(s, "pull pages of 500, raw HTTP (\(size) records), with the log", unit: "records/s", values: pullOn)
        report.add(s, "the same without the log", unit: "records/s", values: pullOff)
        report.add(s, "time ratio pull with / without the log (same run, interleaved)", unit: "×", values: pullRatio,
                   goal: "≤ 1.10×", check: { $0 <= 1.10 })
        report.add(s, "\(pullers) devices pulling every page at once, raw HTTP, with the log", unit: "records/s", values: manyOn)
        report.add(s, "the same without the log", unit: "records/s", values: manyOff)
        report.add(s, "time ratio \(pullers) pullers with / without the log", unit: "×", values: manyRatio,
                   goal: "≤ 1.10×", check: { $0 <= 1.10 })
        report.add(s, "first sync of \(size) records (SyncEngine.sync), with the log", unit: "records/s", values: syncOn)
        report.add(s, "the same without the log", unit: "records/s", values: syncOff)
        report.add(s, "time ratio first sync with / without the log", unit: "×", values: syncRatio, goal: "≤ 1.10×", check: { $0 <= 1.10 })
        report.add(s, "push of \(sizes.push) edited records (SyncEngine.push), with the log", unit: "records/s", values: pushOn)
        report.add(s, "the same without the log", unit: "records/s", values: pushOff)
        report.add(s, "time ratio push with / without the log", unit: "×", values: pushRatio, goal: "≤ 1.10×", check: { $0 <= 1.10 })
        report.note("Access log: each pull page of 500 records writes one entry naming its 500 records (id, type, scope), committed (fsync) before the page is answered (the record index is built when it is asked for); each push batch writes one entry in its own transaction.")
    }

    /// A connection that waits up to 10 s for another process's or connection's lock.
    static func patientQueue(_ path: String) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        return try DatabaseQueue(path: path, configuration: configuration)
    }

    /// Every page from 0, reading only each page's cursor and `more`; the seconds it took.
    static func pullPages(_ server: URL, token: String, expect: Int) async throws -> Double {
        let session = URLSession(configuration: .ephemeral)
        defer { session.finishTasksAndInvalidate() }
        var cursor = "0"
        var pages = 0
        let seconds = try await measureAsync {
            for _ in 0..<100_000 {
                var components = URLComponents(url: server.appendingPathComponent("v1/pull"), resolvingAgainstBaseURL: false)!
                components.queryItems = [URLQueryItem(name: "since", value: cursor), URLQueryItem(name: "limit", value: "500")]
                var request = URLRequest(url: components.url!)
                request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
                request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
                let (data, response) = try await session.data(for: request)
                guard (response as? HTTPURLResponse)?.statusCode == 200 else { throw BenchError("pull: \(response)") }
                // `{"cursor":"N","more":true|false,"records":[` (PullPages.body).
                let head = String(decoding: data.prefix(64), as: UTF8.self)
                guard let start = head.range(of: #"{"cursor":""#)?.upperBound, let end = head[start...].firstIndex(of: "\"") else {
                    throw BenchError("a pull page without a cursor")
                }
                cursor = String(head[start..<end])
                pages += 1
                if head.contains(#""more":false"#) { return }
            }
        }
        guard pages >= expect / 500 else { throw BenchError("pulled \(pages) pages, expected \(expect / 500) or more") }
        return seconds
    }
}
