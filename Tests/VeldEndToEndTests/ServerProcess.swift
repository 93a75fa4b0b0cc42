import Foundation
import VeldCore
import VeldProtocol
import VeldTestSupport

/// Where the binaries under test are: beside the test bundle, or `VELD_BIN_DIR`.
enum Binaries {
    static var folder: URL {
        if let dir = ProcessInfo.processInfo.environment["VELD_BIN_DIR"] { return URL(fileURLWithPath: dir) }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent()
    }

    static var server: URL { folder.appendingPathComponent("veld-server") }
    static var cli: URL { folder.appendingPathComponent("veld") }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs a binary to completion.
    static func run(_ binary: URL, _ arguments: [String], environment: [String: String] = [:], stdin: String? = nil) throws -> Result {
        let outcome = try Subprocess.run(binary, arguments,
                                         environment: ProcessInfo.processInfo.environment.merging(environment) { $1 },
                                         input: stdin.map { Data($0.utf8) })
        return Result(status: outcome.status, stdout: String(decoding: outcome.stdout, as: UTF8.self),
                      stderr: String(decoding: outcome.stderr, as: UTF8.self))
    }
}

/// A temporary folder removed when the value goes away.
final class TemporaryFolder: @unchecked Sendable {
    let url: URL

    init(_ label: String = "veld-e2e") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// A real `veld-server serve` on a free loopback port, with its own SQLite database.
final class ServerProcess: @unchecked Sendable {
    let folder: TemporaryFolder
    var database: String { folder.url.appendingPathComponent("server.sqlite").path }
    /// Set for a server on PostgreSQL instead of its embedded SQLite.
    let databaseURL: String?
    private(set) var process: Subprocess?
    private(set) var url: URL?

    /// Arguments given to every `serve` (such as --tls-cert and --tls-key).
    let serveArguments: [String]

    /// Where the server's log (its standard error) goes; nil: nowhere.
    let logFile: URL?

    init(databaseURL: String? = nil, serveArguments: [String] = [], logFile: URL? = nil) throws {
        folder = try TemporaryFolder("veld-server")
        self.databaseURL = databaseURL
        self.serveArguments = serveArguments
        self.logFile = logFile
        try start()
    }

    /// The arguments that choose this server's database.
    var databaseArguments: [String] { databaseURL.map { ["--database", $0] } ?? ["--db", database] }

    deinit { process?.send(SIGTERM); process?.wait() }

    /// Starts the server (again) on the same database, on a new free port (or `port`).
    func start(port: Int = 0) throws {
        var log: Int32 = -1
        if let logFile {
            log = open(logFile.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard log >= 0 else { throw ServerError(message: "cannot open \(logFile.path) for the server's log") }
        }
        defer { if log >= 0 { close(log) } }
        let process = try Subprocess(Binaries.server,
                                     ["serve"] + databaseArguments + ["--port", String(port), "--log-level", "warning", "--metrics-address", "127.0.0.1:0"]
                                         + serveArguments,
                                     stdout: .pipe, stderr: log >= 0 ? .descriptor(log) : .null)
        let out = process.stdout!
        // A line says where it listens (the metrics' line may come before it).
        var buffer = Data()
        let deadline = Date().addingTimeInterval(30)
        func listening() -> String? {
            String(decoding: buffer, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast()
                .first { $0.contains("listening on") }.map(String.init)
        }
        while listening() == nil, Date() < deadline {
            let chunk = out.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
        }
        let line = listening() ?? String(decoding: buffer, as: UTF8.self)
        guard let range = line.range(of: "https://127.0.0.1:") ?? line.range(of: "http://127.0.0.1:"), let end = line[range.upperBound...].firstIndex(where: { !$0.isNumber }),
              let url = URL(string: String(line[range.lowerBound..<end])) else {
            process.send(SIGKILL)
            process.wait()
            throw ServerError(message: "veld-server did not say where it listens: '\(line)'")
        }
        // Keep draining its output so the server never blocks on a full pipe, and keep it.
        output.set(buffer)
        let output = output
        out.readabilityHandler = { handle in output.append(handle.availableData) }
        self.process = process
        self.url = url
    }

    /// What the server wrote on standard output since it last started.
    let output = Output()

    final class Output: @unchecked Sendable {
        private let lock = NSLock()
        private var data = Data()
        func set(_ value: Data) { lock.withLock { data = value } }
        func append(_ more: Data) { lock.withLock { data.append(more) } }
        var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
    }

    /// The metrics address the server printed, waiting up to 10 s for it.
    func metricsURL() async throws -> URL {
        for _ in 0..<100 {
            if let range = output.text.range(of: #"http://127\.0\.0\.1:[0-9]+/metrics"#, options: .regularExpression) {
                return URL(string: String(output.text[range]))!
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ServerError(message: "veld-server did not say where its metrics are: '\(output.text)'")
    }

    /// SIGKILL: no chance to finish anything.
    func kill() {
        guard let process else { return }
        process.send(SIGKILL)
        process.wait()
        self.process = nil
    }

    /// SIGTERM: graceful shutdown.
    func stop() -> Int32 {
        guard let process else { return -1 }
        process.send(SIGTERM)
        let ended = process.wait()
        self.process = nil
        return ended.code
    }

    /// Issues a device token through `veld-server token create`.
    func token(user: String, role: Role, scopes: [String]) throws -> String {
        var arguments = ["token", "create"] + databaseArguments + ["--user", user, "--role", role.rawValue]
        for scope in scopes { arguments += ["--scope", scope] }
        let result = try Binaries.run(Binaries.server, arguments)
        guard result.status == 0 else { throw ServerError(message: "token create failed: \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    struct ServerError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}

/// One device: a client core with its own SQLite file and its own token.
final class Device: @unchecked Sendable {
    let home: TemporaryFolder
    let store: LocalStore
    let token: String
    let name: String

    init(_ name: String, role: Role = .carer, scopes: [String] = ["loc-zonnehof"], server: ServerProcess) throws {
        self.name = name
        home = try TemporaryFolder("veld-device-\(name)")
        store = try LocalStore.initialise(home: home.url, user: name, role: role)
        token = try server.token(user: name, role: role, scopes: scopes)
        try store.connect(server: server.url!, token: token)
    }

    var replica: String { (try? store.profile().replicaID) ?? "" }

    func engine(_ server: ServerProcess, transport: (any SyncTransport)? = nil, batchSize: Int = 500, pageSize: Int = 500) -> SyncEngine {
        let store = store
        return SyncEngine(store: store, transport: transport ?? HTTPTransport(server: server.url!, token: token, health: { try? store.health() },
                                                                                 epoch: { try? store.knownEpoch() }),
                   retry: RetryPolicy(attempts: 3, initialDelay: 0.05, maximumDelay: 0.2),
                   batchSize: batchSize, pageSize: pageSize)
    }

    @discardableResult
    func sync(_ server: ServerProcess) async throws -> SyncReport {
        try await engine(server).sync()
    }

    func records() throws -> [String: RecordState] {
        Dictionary(uniqueKeysWithValues: try store.records(RecordQuery(includeDeleted: true)).map { ($0.id, $0) })
    }

    static let visit: [String: FieldValue] = [
        "visitedAt": .string("2026-11-20"), "visitor": .string("anna"), "kind": .string("werkbezoek"),
        "summary": .string("Rondgang huiskamer"), "status": .string("concept"),
    ]

    static let carePlan: [String: FieldValue] = [
        "clientCode": .string("ZH-0042"), "financing": .string("Wlz"), "careStart": .string("2026-10-01"),
        "status": .string("concept"),
    ]
}

/// A transport that passes requests on and then fails on cue, as a dropped network or a
/// killed process would, to cut a sync off at a chosen point.
final class CuttingTransport: SyncTransport, @unchecked Sendable {
    enum Cut { case afterPushes(Int), afterPulls(Int) }
    struct Interrupted: Error {}

    let inner: any SyncTransport
    let cut: Cut
    private let lock = NSLock()
    private var pushes = 0
    private var pulls = 0

    init(_ inner: any SyncTransport, cut: Cut) {
        self.inner = inner
        self.cut = cut
    }

    /// The first `n` pushes go through, counted as they are sent (the engine has two
    /// batches with the server at once).
    func push(_ request: PushRequest) async throws -> PushResponse {
        if case .afterPushes(let n) = cut {
            let allowed = lock.withLock {
                guard pushes < n else { return false }
                pushes += 1
                return true
            }
            if !allowed { throw Interrupted() }
        }
        return try await inner.push(request)
    }

    func pull(since cursor: String, limit: Int) async throws -> PullResponse {
        if case .afterPushes = cut { throw Interrupted() }
        if case .afterPulls(let n) = cut, lock.withLock({ pulls }) >= n { throw Interrupted() }
        let response = try await inner.pull(since: cursor, limit: limit)
        lock.withLock { pulls += 1 }
        return response
    }
}
