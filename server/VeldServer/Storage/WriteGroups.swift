import Foundation
import GRDB
import VeldProtocol

/// Group commit for SQLite writes (pushes, access-log entries): the writes that arrive
/// while a transaction is being written wait, then go into the next transaction together,
/// each in its own savepoint.
///
/// A write's answer is given only after the transaction that holds it committed (so what
/// was acknowledged is on disk); a write that throws rolls back its savepoint and gets its
/// error, the others in the group are unaffected; a commit that fails fails every write of
/// the group (none was acknowledged, so each client resends). With one device pushing,
/// a group is one write, as before.
final class WriteGroups: @unchecked Sendable {
    private struct Waiting {
        /// Does the work inside its savepoint and keeps its result.
        let run: @Sendable (Database) throws -> Void
        /// Resumes the caller with the kept result, or with the error.
        let finish: @Sendable ((any Error)?) -> Void
    }

    private let pool: DatabasePool
    /// Where groups are written, one after another: a thread of its own that waits for
    /// the disk, so a group costs one hand-over to it and one back to each caller (not a
    /// task, a hop to the database's queue and back, then the callers).
    private let writer = DispatchQueue(label: "veld.write-groups")
    private let lock = NSLock()
    private var queue: [Waiting] = []
    private var writing = false
    /// At most this many writes share a transaction, so one group's latency stays bounded
    /// (`VELD_PUSH_GROUP` overrides it; 1 turns grouping off, for comparisons).
    private let groupLimit = ProcessInfo.processInfo.environment["VELD_PUSH_GROUP"].flatMap { Int($0) }.map { max(1, $0) } ?? 64

    init(pool: DatabasePool) { self.pool = pool }

    func submit<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let kept = Kept<T>()
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let waiting = Waiting(run: { db in kept.value = try work(db) }, finish: { error in
                if let error { continuation.resume(throwing: error) } else if let value = kept.value {
                    continuation.resume(returning: value)
                } else {
                    continuation.resume(throwing: CancellationError())
                }
            })
            let start: Bool = lock.withLock {
                queue.append(waiting)
                if writing { return false }
                writing = true
                return true
            }
            if start { writer.async { self.drain() } }
        }
    }

    private func drain() {
        while true {
            let group: [Waiting] = lock.withLock {
                let group = Array(queue.prefix(groupLimit))
                queue.removeFirst(group.count)
                if group.isEmpty { writing = false }
                return group
            }
            guard !group.isEmpty else { return }
            var outcomes: [(any Error)?] = []
            do {
                outcomes = try pool.write { db in
                    // Alone in its transaction, a write that throws rolls all of it back.
                    if group.count == 1 {
                        try group[0].run(db)
                        return [nil]
                    }
                    var outcomes: [(any Error)?] = []
                    outcomes.reserveCapacity(group.count)
                    for waiting in group {
                        do {
                            try db.inSavepoint {
                                try waiting.run(db)
                                return .commit
                            }
                            outcomes.append(nil)
                        } catch {
                            outcomes.append(error)
                        }
                    }
                    return outcomes
                }
            } catch {
                outcomes = group.map { _ in error }
            }
            for (waiting, outcome) in zip(group, outcomes) { waiting.finish(outcome) }
        }
    }
}

/// A write's result, kept between its savepoint and the commit.
private final class Kept<T>: @unchecked Sendable {
    var value: T?
}
