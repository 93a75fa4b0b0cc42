import Foundation
import GRDB
import VeldProtocol

/// Group commit for SQLite pushes: the pushes that arrive while a transaction is being
/// written wait, then go into the next transaction together, each in its own savepoint.
///
/// A push's answer is given only after the transaction that holds it committed (so what
/// was acknowledged is on disk); a push that throws rolls back its savepoint and gets its
/// error, the others in the group are unaffected; a commit that fails fails every push of
/// the group (none was acknowledged, so each client resends). With one device pushing,
/// a group is one push, as before.
final class PushGroups: @unchecked Sendable {
    typealias Work = @Sendable (Database) throws -> PushResponse

    private struct Waiting {
        let work: Work
        let continuation: CheckedContinuation<PushResponse, any Error>
    }

    private let pool: DatabasePool
    private let lock = NSLock()
    private var queue: [Waiting] = []
    private var writing = false
    /// At most this many pushes share a transaction, so one group's latency stays bounded
    /// (`VELD_PUSH_GROUP` overrides it; 1 turns grouping off, for comparisons).
    private let groupLimit = ProcessInfo.processInfo.environment["VELD_PUSH_GROUP"].flatMap { Int($0) }.map { max(1, $0) } ?? 64

    init(pool: DatabasePool) { self.pool = pool }

    func submit(_ work: @escaping Work) async throws -> PushResponse {
        try await withCheckedThrowingContinuation { continuation in
            let start: Bool = lock.withLock {
                queue.append(Waiting(work: work, continuation: continuation))
                if writing { return false }
                writing = true
                return true
            }
            if start { Task { await self.drain() } }
        }
    }

    private func drain() async {
        while true {
            let group: [Waiting] = lock.withLock {
                let group = Array(queue.prefix(groupLimit))
                queue.removeFirst(group.count)
                if group.isEmpty { writing = false }
                return group
            }
            guard !group.isEmpty else { return }
            var results: [Result<PushResponse, any Error>] = []
            do {
                results = try await pool.write { db in
                    var results: [Result<PushResponse, any Error>] = []
                    results.reserveCapacity(group.count)
                    for waiting in group {
                        var response: PushResponse?
                        do {
                            try db.inSavepoint {
                                response = try waiting.work(db)
                                return .commit
                            }
                            results.append(.success(response!))
                        } catch {
                            results.append(.failure(error))
                        }
                    }
                    return results
                }
            } catch {
                results = group.map { _ in .failure(error) }
            }
            for (waiting, result) in zip(group, results) { waiting.continuation.resume(with: result) }
        }
    }
}
