import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A failure of the harness itself; the run stops and exits non-zero.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Repeated measurements of one quantity: median, min and max.
struct Figure: Codable, Sendable {
    var values: [Double]

    init(_ values: [Double]) { self.values = values }

    var median: Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .nan }
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
    var min: Double { values.min() ?? .nan }
    var max: Double { values.max() ?? .nan }
}

/// Monotonic seconds.
func now() -> Double {
    Double(DispatchTime.now().uptimeNanoseconds) / 1e9
}

func measure(_ body: () throws -> Void) rethrows -> Double {
    let start = now()
    try body()
    return now() - start
}

func measureAsync(_ body: () async throws -> Void) async rethrows -> Double {
    let start = now()
    try await body()
    return now() - start
}

/// Peak resident set of this process (VmHWM), in bytes.
func peakRSS() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let digits = line.split(separator: " ").compactMap { Int($0) }
        return (digits.first ?? 0) * 1024
    }
    return 0
}

func log(_ message: String) {
    FileHandle.standardError.write(Data("bench: \(message)\n".utf8))
}

/// A folder removed at the end of the run.
final class Scratch: @unchecked Sendable {
    let url: URL
    init(_ label: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("veld-bench-\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> URL { url.appendingPathComponent(name) }
    /// Removes the directory, unless `VELD_BENCH_KEEP` is set (to look at or profile
    /// against a run's databases afterwards; the path is logged).
    func remove() {
        if ProcessInfo.processInfo.environment["VELD_BENCH_KEEP"] != nil {
            log("kept \(url.path)")
            return
        }
        try? FileManager.default.removeItem(at: url)
    }
}

/// Lock-protected value for the few places tasks share a counter.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
    var current: Value { withLock { $0 } }
}

/// A child process started with posix_spawn: stdin from /dev/null, stdout and stderr on
/// pipes, and no other descriptor inherited (Foundation's Process leaves a socket in the
/// child that a daemon it starts, like PostgreSQL, keeps open, so waiting never ends).
final class Child: @unchecked Sendable {
    let pid: pid_t
    let stdout: Int32
    let stderr: Int32
    private let status = Locked<Int32?>(nil)

    init(_ binary: URL, _ arguments: [String]) throws {
        var out: [Int32] = [0, 0], err: [Int32] = [0, 0]
        guard pipe(&out) == 0, pipe(&err) == 0 else { throw BenchError("pipe failed") }
        for fd in out + err { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        Self.closeOthers(&actions)
        let argv = ([binary.path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        // Each child leads its own process group, so stopping it also stops what it started
        // (a profiler's workload, a server under a wrapper).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        var child: pid_t = 0
        let result = posix_spawn(&child, binary.path, &actions, &attributes, argv, environ)
        close(out[1])
        close(err[1])
        guard result == 0 else {
            close(out[0]); close(err[0])
            throw BenchError("cannot start \(binary.path): \(String(cString: strerror(result)))")
        }
        pid = child
        stdout = out[0]
        stderr = err[0]
        Self.running.withLock { _ = $0.insert(child) }
    }

    /// Process groups of children not yet reaped, stopped if the run is interrupted.
    static let running = Locked<Set<pid_t>>([])

    static func killAll() {
        for pid in running.withLock({ $0 }) { kill(-pid, SIGTERM) }
    }

    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// Closes every descriptor above 2 in the child: glibc's closefrom action when it has
    /// one (2.34+), else each descriptor open now.
    private static func closeOthers(_ actions: inout posix_spawn_file_actions_t) {
        if let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
            return
        }
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.compactMap { Int32($0) } ?? []
        for fd in open where fd > 2 && fcntl(fd, F_GETFD) >= 0 { posix_spawn_file_actions_addclose(&actions, fd) }
    }

    /// Reads `fd` until end of file.
    static func readAll(_ fd: Int32) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        return data
    }

    /// Drains `fd` on a thread, handing each chunk to `handler`, and closes it at the end.
    static func drain(_ fd: Int32, _ handler: @escaping @Sendable (Data) -> Void) {
        Thread {
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                handler(Data(buffer[0..<n]))
            }
            close(fd)
        }.start()
    }

    /// Waits for the exit; the exit status (128 + signal when killed).
    @discardableResult
    func wait() -> Int32 {
        if let done = status.current { return done }
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        let code = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
        status.withLock { $0 = code }
        Self.running.withLock { _ = $0.remove(pid) }
        return code
    }

    /// Whether it has exited (reaps it if so).
    var hasExited: Bool {
        if status.current != nil { return true }
        var raw: Int32 = 0
        let result = waitpid(pid, &raw, WNOHANG)
        guard result == pid else { return result < 0 }
        let code = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
        status.withLock { $0 = code }
        Self.running.withLock { _ = $0.remove(pid) }
        return true
    }

    /// SIGTERM, then SIGKILL after `grace` seconds.
    func stop(grace: Double = 10) {
        guard !hasExited else { kill(-pid, SIGTERM); return }
        kill(-pid, SIGTERM)
        let deadline = now() + grace
        while !hasExited && now() < deadline { usleep(20_000) }
        if !hasExited { kill(-pid, SIGKILL); wait() }
    }
}

enum Binaries {
    /// veld-server and veld-bench are built into the same folder.
    static var folder: URL {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent()
    }
    static var server: URL { folder.appendingPathComponent("veld-server") }
    static var bench: URL { folder.appendingPathComponent("veld-bench") }

    /// Runs a child to completion and returns its stdout; a non-zero exit (or running
    /// past `timeout` seconds, when it is killed) is an error that carries its stderr.
    static func run(_ binary: URL, _ arguments: [String], timeout: Double = 900) throws -> String {
        let child = try Child(binary, arguments)
        let errData = Locked(Data())
        Child.drain(child.stderr) { chunk in errData.withLock { $0.append(chunk) } }
        let timedOut = Locked(false)
        let killer = DispatchWorkItem {
            if !child.hasExited { timedOut.withLock { $0 = true }; kill(-child.pid, SIGKILL) }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        let outData = Child.readAll(child.stdout)
        close(child.stdout)
        let status = child.wait()
        killer.cancel()
        let stderr = String(decoding: errData.current, as: UTF8.self)
        guard status == 0 else {
            let why = timedOut.current ? "was killed after \(Int(timeout)) s" : "exited with \(status)"
            throw BenchError("\(binary.lastPathComponent) \(arguments.prefix(2).joined(separator: " ")) \(why): \(stderr.suffix(2000))")
        }
        return String(decoding: outData, as: UTF8.self)
    }

    /// A profiler to run a child under, from `$VELD_BENCH_WRAP` (client children) or
    /// `$VELD_BENCH_SERVER_WRAP` (veld-server), e.g.
    /// `perf record -g -o /tmp/{cmd}.perf` or `valgrind --tool=callgrind --callgrind-out-file=/tmp/{cmd}.cg`;
    /// `{cmd}` becomes the child's subcommand.
    static func wrapped(_ binary: URL, _ arguments: [String], variable: String) -> (URL, [String]) {
        guard let wrapper = ProcessInfo.processInfo.environment[variable], !wrapper.isEmpty else { return (binary, arguments) }
        let words = wrapper.split(separator: " ").map { $0.replacingOccurrences(of: "{cmd}", with: arguments.first ?? "child") }
        let tool = words[0].hasPrefix("/") ? words[0]
            : (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":").map { "\($0)/\(words[0])" }
                .first { FileManager.default.isExecutableFile(atPath: $0) } ?? words[0]
        return (URL(fileURLWithPath: tool), Array(words.dropFirst()) + [binary.path] + arguments)
    }

    /// Runs `veld-bench <arguments>` as a child and decodes the JSON line it prints last.
    static func child<T: Decodable>(_ arguments: [String], as: T.Type, timeout: Double = 900) throws -> T {
        let (binary, wrappedArguments) = wrapped(bench, arguments, variable: "VELD_BENCH_WRAP")
        let out = try run(binary, wrappedArguments, timeout: timeout)
        guard let line = out.split(separator: "\n").last else { throw BenchError("child \(arguments.first ?? "") printed nothing") }
        return try JSONDecoder().decode(T.self, from: Data(line.utf8))
    }
}

/// A long-running child that prints "... http://127.0.0.1:PORT ..." when ready
/// (veld-server serve, veld-bench floor-server). Stopped with SIGTERM, then SIGKILL.
final class ServerProcess: @unchecked Sendable {
    let child: Child
    let url: URL
    let label: String

    init(_ binary: URL, _ arguments: [String], label: String) throws {
        self.label = label
        child = try Child(binary, arguments)
        var buffer = Data()
        let deadline = now() + 60
        var byte: UInt8 = 0
        while !buffer.contains(10), now() < deadline {
            var poller = pollfd(fd: child.stdout, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 200) >= 0 else { break }
            if poller.revents == 0 { if child.hasExited { break } else { continue } }
            let n = read(child.stdout, &byte, 1)
            if n <= 0 { break }
            buffer.append(byte)
        }
        let line = String(decoding: buffer, as: UTF8.self)
        let errLabel = label
        Child.drain(child.stderr) { data in FileHandle.standardError.write(Data("[\(errLabel)] ".utf8) + data) }
        Child.drain(child.stdout) { _ in }
        guard let range = line.range(of: "http://127.0.0.1:"),
              let end = line[range.upperBound...].firstIndex(where: { !$0.isNumber }),
              let url = URL(string: String(line[range.lowerBound..<end])) else {
            child.stop()
            throw BenchError("\(label) did not say where it listens: '\(line)'")
        }
        self.url = url
    }

    func stop() { child.stop() }

    deinit { child.stop() }
}

/// Processes and clusters to stop however the run ends.
final class Cleanup: @unchecked Sendable {
    static let shared = Cleanup()
    private let actions = Locked<[(String, () -> Void)]>([])
    func add(_ name: String, _ action: @escaping () -> Void) { actions.withLock { $0.append((name, action)) } }
    func remove(_ name: String) { actions.withLock { $0.removeAll { $0.0 == name } } }
    func runAll() {
        let all = actions.withLock { list -> [(String, () -> Void)] in defer { list.removeAll() }; return list }
        for (_, action) in all.reversed() { action() }
    }
}
