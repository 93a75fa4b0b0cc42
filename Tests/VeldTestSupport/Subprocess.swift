import CVeldSpawn
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process started with `posix_spawn`, for tests that run Veld's binaries (and
/// openssl, curl).
///
/// Foundation's `Process` on Linux (swift-corelibs-foundation in Swift 6.3) scans
/// `/proc/self/fd` before every launch and can read past a directory entry's name
/// (fixed upstream after 6.3): about one full test run in five crashed with SIGSEGV inside
/// `Process.run()`. This type does the little the tests need without that scan: the
/// child gets stdin, stdout and stderr as asked, every other descriptor closed, the
/// default signal dispositions and an empty signal mask.
///
/// ```swift
/// let child = try Subprocess(URL(fileURLWithPath: "/usr/bin/env"), ["openssl", "version"], stdout: .pipe)
/// let said = child.stdout!.readDataToEndOfFile()
/// let status = child.wait()   // .exited(0)
/// ```
public final class Subprocess: @unchecked Sendable {
    /// Where one of the child's standard streams goes.
    public enum Stream: Sendable {
        /// /dev/null.
        case null
        /// A descriptor the caller owns (and keeps open until the child has started).
        case descriptor(Int32)
        /// A new pipe; the parent's end is `stdin`, `stdout` or `stderr`.
        case pipe
    }

    /// How the child ended.
    public enum Termination: Equatable, Sendable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        /// The exit code, or the signal number for a child killed by a signal (as
        /// Foundation's `terminationStatus`).
        public var code: Int32 {
            switch self {
            case .exited(let code), .signalled(let code): code
            }
        }

        public var description: String {
            switch self {
            case .exited(let code): "exit \(code)"
            case .signalled(let signal): "signal \(signal)"
            }
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let pid: pid_t
    /// The write end of the child's stdin, when it was `.pipe`.
    public let stdin: FileHandle?
    /// The read end of the child's stdout, when it was `.pipe`.
    public let stdout: FileHandle?
    /// The read end of the child's stderr, when it was `.pipe`.
    public let stderr: FileHandle?

    /// Writing to a child that stopped reading must fail, not kill the test process.
    private static let pipesGiveErrors: Bool = { signal(SIGPIPE, SIG_IGN); return true }()

    private let lock = NSLock()
    private var ended: Termination?

    /// Starts `executable` with `arguments` (argv[0] is the executable's path).
    /// `environment` nil means this process's environment.
    public init(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
                directory: URL? = nil, stdin: Stream = .null, stdout: Stream = .null, stderr: Stream = .null) throws {
        _ = Self.pipesGiveErrors
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        // The parent's ends of any pipes, and the child's ends to close after the spawn.
        var parentEnds: [Int32?] = [nil, nil, nil]
        var childEnds: [Int32] = []
        var nullDevice: Int32 = -1
        func closeAll() {
            for fd in childEnds { close(fd) }
            for fd in parentEnds.compactMap({ $0 }) { close(fd) }
            if nullDevice >= 0 { close(nullDevice) }
        }
        for (target, stream) in [(Int32(0), stdin), (1, stdout), (2, stderr)] {
            let source: Int32
            switch stream {
            case .null:
                if nullDevice < 0 { nullDevice = open("/dev/null", O_RDWR | O_CLOEXEC) }
                guard nullDevice >= 0 else { closeAll(); throw Failure(description: "cannot open /dev/null: errno \(errno)") }
                source = nullDevice
            case .descriptor(let fd):
                source = fd
            case .pipe:
                var ends: [Int32] = [-1, -1]
                guard veld_pipe_cloexec(&ends) == 0 else { closeAll(); throw Failure(description: "pipe2 failed: errno \(errno)") }
                // ends[0] reads, ends[1] writes; the child's stdin reads, its stdout/stderr write.
                let (child, parent) = target == 0 ? (ends[0], ends[1]) : (ends[1], ends[0])
                childEnds.append(child)
                parentEnds[Int(target)] = parent
                source = child
            }
            // dup2 onto 0, 1, 2 clears close-on-exec there, so the child keeps exactly these.
            posix_spawn_file_actions_adddup2(&actions, source, target)
        }
        veld_spawn_closefrom(&actions, 3)
        if let directory { veld_spawn_chdir(&actions, directory.path) }

        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable.path] + arguments).map { strdup($0) }
        let environ = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") }
        defer {
            for pointer in argv { free(pointer) }
            for pointer in environ { free(pointer) }
        }
        var child: pid_t = 0
        let result = (argv + [nil]).withUnsafeBufferPointer { argvBuffer in
            (environ + [nil]).withUnsafeBufferPointer { environBuffer in
                posix_spawn(&child, executable.path, &actions, &attributes,
                            argvBuffer.baseAddress!, environBuffer.baseAddress!)
            }
        }
        for fd in childEnds { close(fd) }
        childEnds = []
        if nullDevice >= 0 { close(nullDevice) }
        nullDevice = -1
        guard result == 0 else {
            for fd in parentEnds.compactMap({ $0 }) { close(fd) }
            throw Failure(description: "cannot start \(executable.path): \(String(cString: strerror(result)))")
        }
        pid = child
        self.stdin = parentEnds[0].map { FileHandle(fileDescriptor: $0, closeOnDealloc: true) }
        self.stdout = parentEnds[1].map { FileHandle(fileDescriptor: $0, closeOnDealloc: true) }
        self.stderr = parentEnds[2].map { FileHandle(fileDescriptor: $0, closeOnDealloc: true) }
    }

    /// What a child run to completion by `run` said and how it ended.
    public struct Outcome: Sendable {
        public let termination: Termination
        public let stdout: Data
        public let stderr: Data
        public var status: Int32 { termination.code }
    }

    /// Runs `executable` to completion, feeding it `input` on stdin (nothing: /dev/null) and
    /// collecting stdout and stderr, both read at once so neither pipe can fill up.
    public static func run(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
                           directory: URL? = nil, input: Data? = nil) throws -> Outcome {
        let child = try Subprocess(executable, arguments, environment: environment, directory: directory,
                                   stdin: input == nil ? .null : .pipe, stdout: .pipe, stderr: .pipe)
        let errors = Collected()
        let reader = Thread { errors.set(child.stderr!.readDataToEndOfFile()) }
        reader.start()
        if let input, let writer = child.stdin {
            // A child that exits without reading gives EPIPE here, not SIGPIPE (ignored in init).
            try? writer.write(contentsOf: input)
            try? writer.close()
        }
        let output = child.stdout!.readDataToEndOfFile()
        let termination = child.wait()
        return Outcome(termination: termination, stdout: output, stderr: errors.get())
    }

    private final class Collected: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var data = Data()
        func set(_ value: Data) { data = value; done.signal() }
        func get() -> Data { done.wait(); return data }
    }

    /// Waits for the child to end (blocking this thread) and reaps it.
    @discardableResult
    public func wait() -> Termination {
        if let ended = lock.withLock({ ended }) { return ended }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else {
                // Reaped already by a concurrent wait(): that one records how it ended.
                while true {
                    if let ended = lock.withLock({ ended }) { return ended }
                    usleep(1_000)
                }
            }
        }
        let termination = Self.termination(status)
        lock.withLock { ended = termination }
        return termination
    }

    /// Waits for the child to end without blocking a task's thread.
    @discardableResult
    public func terminated() async -> Termination {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: self.wait()) }
            thread.start()
        }
    }

    /// Whether the child has not ended yet (without reaping it).
    public var isRunning: Bool {
        if lock.withLock({ ended }) != nil { return false }
        var info = siginfo_t()
        guard waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 else { return false }
        return info._sifields._sigchld.si_pid == 0
    }

    /// Sends `signal` (SIGTERM unless said otherwise) if the child has not been reaped.
    public func send(_ signal: Int32 = SIGTERM) {
        guard lock.withLock({ ended }) == nil else { return }
        kill(pid, signal)
    }

    private static func termination(_ status: Int32) -> Termination {
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import as functions.
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
    }
}
