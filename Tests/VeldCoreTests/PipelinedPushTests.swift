import Foundation
import PropertyBased
import Testing
@testable import VeldCore
import VeldProtocol
import VeldTestSupport

/// A push keeps two batches with the server at once. On generated runs (records, batch
/// size, and for each request whether it goes through, fails before the server stores
/// it, fails after the server stored it, or is refused as a whole) nothing acknowledged
/// is lost: every record whose outbox entry was cleared is on the server in the state
/// the device holds, and a later clean push leaves the server holding every record.
@Suite struct PipelinedPushTests {
    enum Fate: Int, CaseIterable { case through, lostBefore, lostAfter, refused }

    /// Passes each push to the in-memory server, or not, as the script says; counts how
    /// many pushes are with it at once.
    final class Scripted: SyncTransport, @unchecked Sendable {
        let inner: SyncEngineTests.MemoryServer
        private let lock = NSLock()
        private var script: [Fate]
        private var inFlight = 0
        private(set) var mostInFlight = 0
        private(set) var requests = 0
        /// The first push waits (up to 10 s) until a second one has arrived: whether the
        /// engine sends the next batch before the first is answered does not then depend on
        /// how busy the machine is.
        let firstWaitsForSecond: Bool

        init(_ inner: SyncEngineTests.MemoryServer, script: [Fate], firstWaitsForSecond: Bool = false) {
            self.inner = inner
            self.script = script
            self.firstWaitsForSecond = firstWaitsForSecond
        }

        func push(_ request: PushRequest) async throws -> PushResponse {
            let (fate, number): (Fate, Int) = lock.withLock {
                inFlight += 1
                requests += 1
                mostInFlight = max(mostInFlight, inFlight)
                return (script.isEmpty ? .through : script.removeFirst(), requests)
            }
            defer { lock.withLock { inFlight -= 1 } }
            if firstWaitsForSecond, number == 1 {
                for _ in 0..<10_000 where lock.withLock({ requests }) < 2 { try await Task.sleep(nanoseconds: 1_000_000) }
            } else {
                // Long enough for the engine to send the next batch meanwhile, mostly.
                try await Task.sleep(nanoseconds: 5_000_000)
            }
            switch fate {
            case .through: return try await inner.push(request)
            case .lostBefore: throw SyncTransportError.unreachable("no network")
            case .lostAfter:
                _ = try await inner.push(request)
                throw SyncTransportError.unreachable("the answer was lost")
            case .refused: throw SyncTransportError.rejected(Problem(type: .unauthenticated, status: 401, detail: "token revoked"))
            }
        }

        func pull(since cursor: String, limit: Int) async throws -> PullResponse { try await inner.pull(since: cursor, limit: limit) }
    }

    /// A device's store holding `count` new visit notes, all in the outbox (and its home,
    /// which removes the folder when it goes).
    static func store(withVisits count: Int) throws -> (TemporaryHome, LocalStore) {
        let home = try TemporaryHome()
        let store = try home.store()
        for index in 0..<count {
            try store.create(type: "visitNote", scope: "loc-zonnehof",
                             fields: TemporaryHome.visitFields.merging(["summary": .string("Bezoek \(index)")]) { $1 })
        }
        return (home, store)
    }

    @Test func nothingAcknowledgedIsLostWithTwoBatchesInFlight() async {
        let fates = Gen.int(in: 0...(Fate.allCases.count - 1)).array(of: 0...8)
        await checkProperty(count: 40, input: Gen.int(in: 2...14), Gen.int(in: 1...4), fates) { (count: Int, batchSize: Int, codes: [Int]) async throws in
            let (home, store) = try Self.store(withVisits: count)
            defer { withExtendedLifetime(home) {} }
            let server = SyncEngineTests.MemoryServer()
            let scripted = Scripted(server, script: codes.map { Fate(rawValue: $0)! })
            let engine = SyncEngine(store: store, transport: scripted, retry: RetryPolicy(attempts: 1), batchSize: batchSize,
                                    sleep: { _ in })
            let report = try? await engine.push()
            let waiting = Set(try store.outbox().map(\.recordID))
            let all = try store.records()
            #expect(all.count == count)
            for record in all where !waiting.contains(record.id) {
                #expect(server.stored[record.id] == record, "acknowledged, so the server must hold it")
            }
            if let report {
                #expect(report.pushed == count - waiting.count)
                if report.pushRefused == nil { #expect(waiting.isEmpty) }
            }
            // Then the network is fine: everything arrives.
            let again = try await SyncEngine(store: store, transport: server, batchSize: batchSize, sleep: { _ in }).push()
            #expect(again.pushRefused == nil)
            #expect(try store.outbox().isEmpty)
            for record in try store.records() { #expect(server.stored[record.id] == record) }
        }
    }

    @Test func twoBatchesAreWithTheServerAtOnce() async throws {
        let (home, store) = try Self.store(withVisits: 12)
        defer { withExtendedLifetime(home) {} }
        let server = SyncEngineTests.MemoryServer()
        let scripted = Scripted(server, script: [], firstWaitsForSecond: true)
        let report = try await SyncEngine(store: store, transport: scripted, batchSize: 2, sleep: { _ in }).push()
        #expect(report.pushed == 12)
        #expect(scripted.requests == 6)
        #expect(scripted.mostInFlight == 2, "the engine keeps two batches with the server, never more")
        #expect(try store.outbox().isEmpty)
    }

    /// A refusal of the batch as a whole stops the push: the batch already with the server
    /// is answered and acknowledged, nothing after it is sent.
    @Test func aWholeRefusalStopsAfterTheBatchInFlight() async throws {
        let (home, store) = try Self.store(withVisits: 10)
        defer { withExtendedLifetime(home) {} }
        let server = SyncEngineTests.MemoryServer()
        let scripted = Scripted(server, script: [.through, .refused, .through])
        let report = try await SyncEngine(store: store, transport: scripted, batchSize: 2, sleep: { _ in }).push()
        #expect(report.pushRefused?.status == 401)
        // Batches 1 and 3 went through (3 was sent while 2 was with the server).
        #expect(report.pushed == 4)
        #expect(scripted.requests == 3)
        #expect(try store.outbox().count == 6)
        #expect(server.stored.count == 4)
    }
}
