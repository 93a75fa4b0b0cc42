import Foundation
import Logging
import VeldProtocol

/// How far each device has pulled (`lastPullAt`, `lastCursor`), kept in memory and
/// written in the background, many devices in one transaction.
///
/// Writing it in every pull made each pull a write transaction: an fsync, queued behind
/// the pushes on the one writer. Now a pull only notes its mark here; the first mark
/// after a quiet moment starts a write at once, and marks noted while a write is under way
/// go together in the next one. So the database lags behind the last pulls by at most
/// the time one write waits for the writer (under load, a few push transactions; when
/// idle, milliseconds). The store that holds the marks overlays them on the tokens it
/// reads, so its own readers see them at once; another process (`veld-server devices`)
/// reads the database and sees them after that lag. `flush()` (at shutdown) writes what
/// is left; a process that is killed loses at most the marks of that last moment, which
/// the device's next pull puts right.
final class PullMarks: @unchecked Sendable {
    /// A device's last pull (`at`, `cursor`) and what it last said of itself (`health`),
    /// either or both.
    struct Mark: Equatable, Sendable {
        var at: Date?
        var cursor: Int64?
        var health: DeviceHealth?
        var healthAt: Date?

        init(at: Date? = nil, cursor: Int64? = nil, health: DeviceHealth? = nil, healthAt: Date? = nil) {
            self.at = at
            self.cursor = cursor
            self.health = health
            self.healthAt = healthAt
        }

        /// `self` with the parts `newer` holds, where they are not older.
        func merged(with newer: Mark) -> Mark {
            var mark = self
            if let at = newer.at, mark.at.map({ $0 <= at }) ?? true {
                mark.at = at
                mark.cursor = newer.cursor
            }
            if let healthAt = newer.healthAt, mark.healthAt.map({ $0 <= healthAt }) ?? true {
                mark.health = newer.health
                mark.healthAt = healthAt
            }
            return mark
        }
    }

    typealias Writer = @Sendable (_ marks: [String: Mark]) async throws -> Void

    private let lock = NSLock()
    /// Marks not yet known to be written, by token id.
    private var pending: [String: Mark] = [:]
    /// The newest mark this process noted per token, written or not: what the overlay
    /// shows. (Overlaying only pending marks raced with a write that finished between a
    /// reader's query and its overlay, showing the older value.) One entry per device.
    private var latest: [String: Mark] = [:]
    private var writing = false
    private var idle: [CheckedContinuation<Void, Never>] = []
    private var writeMarks: Writer
    private let logger: Logger

    init(logger: Logger = Logger(label: "veld-server.pull-marks"), write: @escaping Writer) {
        self.logger = logger
        writeMarks = write
    }

    /// What writes the marks (for a store that can only say so once it is initialised).
    var writer: Writer {
        get { lock.withLock { writeMarks } }
        set { lock.withLock { writeMarks = newValue } }
    }

    /// Notes a pull; starts a background write unless one is under way.
    func note(token: String, at date: Date, cursor: Int64) {
        note(token: token, Mark(at: date, cursor: cursor))
    }

    /// Notes what a device said of itself (`Veld-Device`). The same report again within a
    /// minute is not written again: a device says it with every request.
    func note(token: String, health: DeviceHealth, at date: Date) {
        if let held = mark(for: token), held.health == health, let at = held.healthAt, date.timeIntervalSince(at) < 60, date >= at { return }
        note(token: token, Mark(health: health, healthAt: date))
    }

    private func note(token: String, _ mark: Mark) {
        let start: Bool = lock.withLock {
            let newest = (latest[token] ?? Mark()).merged(with: mark)
            if newest == latest[token] { return false }
            latest[token] = newest
            pending[token] = (pending[token] ?? Mark()).merged(with: mark)
            if writing { return false }
            writing = true
            return true
        }
        if start { Task { await self.drain() } }
    }

    /// The newest mark this process noted for `token`, if any.
    func mark(for token: String) -> Mark? {
        lock.withLock { latest[token] }
    }

    /// `token` with its unwritten mark, if that is newer than what the database said.
    func overlay(_ token: DeviceToken) -> DeviceToken {
        guard let mark = mark(for: token.id) else { return token }
        var token = token
        if let at = mark.at, token.lastPullAt.map({ $0 <= at }) ?? true {
            token.lastPullAt = at
            token.lastCursor = mark.cursor
        }
        if let healthAt = mark.healthAt, token.healthAt.map({ $0 <= healthAt }) ?? true {
            token.health = mark.health
            token.healthAt = healthAt
        }
        return token
    }

    /// Writes every pending mark and returns when nothing is left (and no write is under way).
    func flush() async {
        let start: Bool = lock.withLock {
            if writing || pending.isEmpty { return false }
            writing = true
            return true
        }
        if start {
            await drain()
        } else {
            await withCheckedContinuation { continuation in
                let done: Bool = lock.withLock {
                    if !writing && pending.isEmpty { return true }
                    idle.append(continuation)
                    return false
                }
                if done { continuation.resume() }
            }
        }
    }

    /// Writes batches until no mark is pending. Only one drain runs at a time.
    private func drain() async {
        var failures = 0
        while true {
            // Taking the batch and standing down happen under one lock, so a mark noted
            // meanwhile is either in this batch or starts its own drain.
            let batch: [String: Mark]? = lock.withLock {
                if pending.isEmpty || failures >= 3 {
                    writing = false
                    return nil
                }
                return pending
            }
            guard let batch else { break }
            do {
                try await writer(batch)
                failures = 0
                lock.withLock {
                    // Keep a mark noted while this batch was written.
                    for (token, mark) in batch where pending[token] == mark { pending[token] = nil }
                }
            } catch {
                failures += 1
                logger.warning("could not note the devices' last pulls (\(batch.count)); retrying: \(error)")
                // After three failures the marks stay pending; the next pull tries again.
                if failures < 3 { try? await Task.sleep(for: .seconds(1)) }
            }
        }
        let waiting: [CheckedContinuation<Void, Never>] = lock.withLock {
            let waiting = idle
            idle = []
            return waiting
        }
        waiting.forEach { $0.resume() }
    }
}
