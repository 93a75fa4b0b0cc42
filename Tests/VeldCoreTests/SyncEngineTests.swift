import Foundation
import Testing
@testable import VeldCore
import VeldProtocol

/// The sync engine against an in-memory server with scripted failures: no network, every
/// interleaving on demand.
@Suite struct SyncEngineTests {
    /// Merges pushes into a dictionary and pages through a change log; fails on cue.
    final class MemoryServer: SyncTransport, @unchecked Sendable {
        private let lock = NSLock()
        private var states: [String: RecordState] = [:]
        private var log: [String] = []
        private var failures: [any Error] = []
        private(set) var pushBatches: [String] = []
        private(set) var pullCursors: [String] = []

        /// The next requests fail with these errors, in order.
        func failNext(_ errors: any Error...) { lock.withLock { failures += errors } }

        private func nextFailure() -> (any Error)? {
            lock.withLock { failures.isEmpty ? nil : failures.removeFirst() }
        }

        func push(_ request: PushRequest) async throws -> PushResponse {
            lock.withLock { pushBatches.append(request.batch) }
            if let failure = nextFailure() { throw failure }
            return try lock.withLock {
                var results: [PushResponse.Result] = []
                for state in request.records {
                    let merged = try states[state.id].map { try $0.merged(with: state) } ?? state
                    let changed = merged != states[state.id]
                    if changed {
                        states[state.id] = merged
                        log.removeAll { $0 == state.id }
                        log.append(state.id)
                    }
                    results.append(.init(id: state.id, changed: changed, position: nil, conflicts: merged.hasConflicts))
                }
                return PushResponse(batch: request.batch, results: results)
            }
        }

        func pull(since cursor: String, limit: Int) async throws -> PullResponse {
            lock.withLock { pullCursors.append(cursor) }
            if let failure = nextFailure() { throw failure }
            return lock.withLock {
                let start = Int(cursor) ?? 0
                let page = Array(log.dropFirst(start).prefix(limit))
                return PullResponse(records: page.map { states[$0]! }, cursor: String(start + page.count),
                                    more: start + page.count < log.count)
            }
        }

        var stored: [String: RecordState] { lock.withLock { states } }
    }

    static func engine(_ store: LocalStore, _ server: MemoryServer, attempts: Int = 4, batchSize: Int = 500, pageSize: Int = 500,
                       slept: SleepLog = SleepLog()) -> SyncEngine {
        SyncEngine(store: store, transport: server, retry: RetryPolicy(attempts: attempts, initialDelay: 0.5, maximumDelay: 2),
                   batchSize: batchSize, pageSize: pageSize, sleep: { slept.append($0) })
    }

    final class SleepLog: @unchecked Sendable {
        private let lock = NSLock()
        private var delays: [TimeInterval] = []
        func append(_ delay: TimeInterval) { lock.withLock { delays.append(delay) } }
        var all: [TimeInterval] { lock.withLock { delays } }
    }

    @Test func retriesConnectionErrorsAndServerFailuresWithBackoffKeepingTheBatchID() async throws {
        let home = try TemporaryHome()
        let store = try home.store()
        try store.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields)
        let server = MemoryServer()
        server.failNext(SyncTransportError.unreachable("connection refused"), SyncTransportError.serverFailed(status: 503, detail: "busy"))
        let slept = SleepLog()
        let report = try await Self.engine(store, server, slept: slept).sync()
        #expect(report.pushed == 1)
        #expect(server.pushBatches.count == 3)
        #expect(Set(server.pushBatches).count == 1, "a retried batch keeps its id so the server can replay it")
        #expect(slept.all.count == 2)
        #expect(slept.all[0] >= 0.25 && slept.all[0] <= 0.5)
        #expect(slept.all[1] >= 0.5 && slept.all[1] <= 1.0)
        #expect(try store.outbox().isEmpty)
    }

    @Test func neverRetriesARefusal() async throws {
        let home = try TemporaryHome()
        let store = try home.store()
        try store.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields)
        let server = MemoryServer()
        server.failNext(SyncTransportError.rejected(Problem(type: .scopeForbidden, status: 403, detail: "scope loc-zonnehof is not in this device's token")))
        let slept = SleepLog()
        // A refusal that names no record is about the batch as a whole: reported, not
        // retried, the outbox kept, and the pull still runs.
        let report = try await Self.engine(store, server, slept: slept).sync()
        #expect(report.pushRefused?.status == 403)
        #expect(report.pushed == 0 && report.parked == 0)
        #expect(server.pushBatches.count == 1)
        #expect(slept.all.isEmpty)
        #expect(try store.outbox().count == 1)
        #expect(server.pullCursors == ["0"], "the pull runs after a refused push")
    }

    /// 408, 429 and 503 mean "later": the engine waits as long as `Retry-After` says (at
    /// most a minute), then sends the same batch again.
    @Test func waitsAsTheServerAsks() async throws {
        let home = try TemporaryHome()
        let store = try home.store()
        try store.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields)
        let server = MemoryServer()
        server.failNext(SyncTransportError.busy(status: 503, retryAfter: 7, detail: "busy"),
                        SyncTransportError.busy(status: 429, retryAfter: 600, detail: "slow down"),
                        SyncTransportError.busy(status: 408, retryAfter: nil, detail: "timeout"))
        let slept = SleepLog()
        let report = try await Self.engine(store, server, slept: slept).sync()
        #expect(report.pushed == 1)
        #expect(slept.all.prefix(2) == [7, 60])
        #expect(slept.all.count == 3 && slept.all[2] <= 2, "without Retry-After: the backoff (at most its 2 s here)")
        #expect(Set(server.pushBatches).count == 1, "the same batch id on every attempt")
        #expect(try store.outbox().isEmpty)
    }

    /// A refusal that names records sets exactly those aside; the rest goes again under a
    /// new batch id and is acknowledged, and an edit puts the refused one back.
    @Test func aRefusalOfSomeRecordsSetsExactlyThoseAside() async throws {
        let home = try TemporaryHome()
        let store = try home.store()
        let refused = try store.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields)
        let fine = try store.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields)
        let server = MemoryServer()
        server.failNext(SyncTransportError.rejected(Problem(type: .fieldForbidden, status: 403, detail: "no",
                                                            records: [.init(id: refused.id, field: "status", reason: "office only")])))
        let report = try await Self.engine(store, server).sync()
        #expect(report.parked == 1 && report.pushed == 1 && report.pushRefused == nil)
        #expect(server.stored.keys.sorted() == [fine.id])
        #expect(Set(server.pushBatches).count == 2, "the rest went under a new batch id")
        let parked = try store.parked()
        #expect(parked.map(\.recordID) == [refused.id] && parked.first?.reasons == ["office only"])
        #expect(try store.outbox().map(\.isParked) == [true])
        // The next sync leaves it alone; an edit puts it back in the push.
        _ = try await Self.engine(store, server).sync()
        #expect(server.stored[refused.id] == nil)
        try store.edit(id: refused.id, changes: ["summary": .string("Verbeterd")])
        #expect(try store.parked().isEmpty)
        _ = try await Self.engine(store, server).sync()
        #expect(try server.stored[refused.id] != nil && store.outbox().isEmpty)
    }

    /// A batch the server finds too large (413) goes again in halves, in order, until it
    /// passes: one oversized batch never stops a device's sync for good.
    @Test func aBatchTooLargeGoesInHalves() async throws {
        let home = try TemporaryHome()
        let store = try home.store()
        var ids: [String] = []
        for _ in 0..<8 { ids.append(try store.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields).id) }
        let server = MemoryServer()
        let tooLarge = SyncTransportError.rejected(Problem(type: .tooLarge, status: 413, detail: "too large"))
        server.failNext(tooLarge, tooLarge)
        let report = try await Self.engine(store, server).sync()
        #expect(report.pushed == 8 && report.parked == 0 && report.pushRefused == nil)
        #expect(server.pushBatches.count == 5, "8 refused, 4 refused, then 2, 2 and 4")
        #expect(Set(server.stored.keys) == Set(ids))
        #expect(try store.outbox().isEmpty)
    }

    /// Discarding goes back to the server's state but keeps this device's counter, so the
    /// next edit takes a dot no discarded edit spent.
    @Test func aDiscardKeepsTheDevicesCounter() async throws {
        let home = try TemporaryHome()
        let store = try home.store()
        let note = try store.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields)
        let server = MemoryServer()
        _ = try await Self.engine(store, server).sync()
        let serverState = try #require(server.stored[note.id])
        try store.edit(id: note.id, changes: ["summary": .string("Weg te gooien")])
        try store.edit(id: note.id, changes: ["summary": .string("Ook weg")])
        let replica = try store.profile().replicaID
        let discarded = try store.discard(id: note.id, serverState: serverState)
        #expect(discarded.state.context[replica] == 3)
        let now = try store.record(note.id)
        #expect(now.fields == serverState.fields)
        #expect(now.context[replica] == 3, "the counter stays where the discarded edits left it")
        let next = try store.edit(id: note.id, changes: ["summary": .string("Opnieuw")])
        #expect(next.entries(of: "summary").first?.dot.counter == 4)
        #expect(try store.discardedChanges().map(\.state) == [discarded.state])
    }

    @Test func givesUpAfterTheLastAttemptAndLosesNothing() async throws {
        let home = try TemporaryHome()
        let store = try home.store()
        try store.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields)
        let server = MemoryServer()
        for _ in 0..<3 { server.failNext(SyncTransportError.unreachable("no network")) }
        await #expect(throws: SyncTransportError.self) { try await Self.engine(store, server, attempts: 3).sync() }
        #expect(server.pushBatches.count == 3)
        #expect(try store.outbox().count == 1)
        let again = try await Self.engine(store, server).sync()
        #expect(again.pushed == 1)
    }

    @Test func pullsPageByPageAndAdvancesTheCursorOnlyAfterAPageIsCommitted() async throws {
        let source = try TemporaryHome()
        let writer = try source.store(user: "bram")
        let server = MemoryServer()
        for index in 0..<7 {
            try writer.create(type: "visitNote", scope: "loc-zonnehof",
                              fields: TemporaryHome.visitFields.merging(["summary": .string("Bezoek \(index)")]) { $1 })
        }
        _ = try await Self.engine(writer, server, batchSize: 3).push()
        #expect(server.stored.count == 7)

        let home = try TemporaryHome()
        let reader = try home.store()
        _ = try await Self.engine(reader, server, pageSize: 2).pull()
        #expect(try reader.records().count == 7)
        // On another device the third page fails for good: two pages (four records) are
        // in, and the cursor says exactly that.
        let fresh = try TemporaryHome()
        let second = try fresh.store()
        let cutAfterTwoPages = CutPulls(inner: server, allowed: 2)
        await #expect(throws: SyncTransportError.self) {
            try await SyncEngine(store: second, transport: cutAfterTwoPages, retry: RetryPolicy(attempts: 1), pageSize: 2).pull()
        }
        #expect(try second.records().count == 4)
        #expect(try second.syncSettings().cursor == "4")
        // The next pull starts where the last committed page ended.
        _ = try await SyncEngine(store: second, transport: server, pageSize: 2).pull()
        #expect(try second.records().count == 7)
        #expect(server.pullCursors.suffix(2) == ["4", "6"])
    }

    @Test func aServerThatDoesNotAdvanceItsCursorIsCaught() async throws {
        let home = try TemporaryHome()
        let store = try home.store()
        await #expect(throws: SyncTransportError.self) {
            try await SyncEngine(store: store, transport: StuckServer()).pull()
        }
    }

    struct CutPulls: SyncTransport {
        let inner: MemoryServer
        let allowed: Int
        func push(_ request: PushRequest) async throws -> PushResponse { try await inner.push(request) }
        func pull(since cursor: String, limit: Int) async throws -> PullResponse {
            if (Int(cursor) ?? 0) / limit >= allowed { throw SyncTransportError.unreachable("cut") }
            return try await inner.pull(since: cursor, limit: limit)
        }
    }

    struct StuckServer: SyncTransport {
        func push(_ request: PushRequest) async throws -> PushResponse { PushResponse(batch: request.batch, results: []) }
        func pull(since cursor: String, limit: Int) async throws -> PullResponse {
            PullResponse(records: [], cursor: cursor, more: true)
        }
    }
}
