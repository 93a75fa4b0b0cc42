import Foundation
import GRDB
import Testing
import VeldCore
import VeldProtocol

/// A real veld-server on a loopback port and three devices, each a client core with its
/// own SQLite file: anna and bram (visitors at loc-zonnehof) and the office (all scopes).
@Suite struct SyncEndToEndTests {
    struct Team {
        let server: ServerProcess
        let anna: Device
        let bram: Device
        let office: Device

        init() throws {
            server = try ServerProcess()
            anna = try Device("anna", server: server)
            bram = try Device("bram", server: server)
            office = try Device("office", role: .office, scopes: ["*"], server: server)
        }

        var all: [Device] { [anna, bram, office] }

        /// Everyone syncs twice, so everyone has seen everything.
        func syncAll() async throws {
            for _ in 0..<2 { for device in all { try await device.sync(server) } }
        }

        func expectConverged(sourceLocation: SourceLocation = #_sourceLocation) throws {
            // Visitors hold exactly the office's records of their scope.
            let reference = try office.records().filter { $0.value.scope == "loc-zonnehof" }
            for device in [anna, bram] {
                #expect(try device.records() == reference, "\(device.name) differs from the office", sourceLocation: sourceLocation)
            }
            for device in all { #expect(try device.store.outbox().isEmpty, "\(device.name) still has pending changes") }
        }
    }

    @Test func offlineEditsEverywhereConverge() async throws {
        let team = try Team()
        // Offline: everyone captures something.
        let visit = try team.anna.store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit)
        let plan = try team.bram.store.create(type: "carePlan", scope: "loc-zonnehof", fields: Device.carePlan)
        let advice = try team.office.store.create(type: "councilInput", scope: "org-bezinn", fields: [
            "council": .string("Cliëntenraad Zonnehof"), "kind": .string("adviesaanvraag"),
            "topic": .string("Nieuwe dagbesteding"), "status": .string("open"),
        ])
        // Syncs in an awkward order.
        let first = try await team.bram.sync(team.server)
        #expect(first.pushed == 1)
        try await team.office.sync(team.server)
        try await team.anna.sync(team.server)
        try await team.syncAll()
        try team.expectConverged()
        let office = try team.office.records()
        #expect(Set(office.keys) == [visit.id, plan.id, advice.id])
        // Visitors never receive a scope they do not work in.
        #expect(try team.anna.records()[advice.id] == nil)
        // Equal where they overlap.
        #expect(try team.anna.records()[plan.id] == office[plan.id])
    }

    /// A one-field edit of a record the server holds goes as a delta (SPEC.md, "Deltas"):
    /// that field and the context, a few hundred bytes where the whole care plan is more;
    /// the server fills in the rest and every device ends with the same whole state. A server
    /// that no longer holds the record (taken out by hand, without a new epoch) refuses the
    /// delta, and the same sync sends the record whole.
    @Test func aOneFieldEditGoesAsADelta() async throws {
        let team = try Team()
        var fields = Device.carePlan
        fields["agreements"] = .string(String(repeating: "Dagelijks naar buiten met begeleiding; koffie in de huiskamer. ", count: 20))
        let plan = try team.anna.store.create(type: "carePlan", scope: "loc-zonnehof", fields: fields)
        try await team.anna.sync(team.server)
        try await team.bram.sync(team.server)
        _ = try team.bram.store.edit(id: plan.id, changes: ["status": .string("besproken")])
        let bram = team.bram, store = team.bram.store
        let recorder = RecordingTransport(HTTPTransport(server: team.server.url!, token: bram.token, epoch: { try? store.knownEpoch() }))
        let report = try await bram.engine(team.server, transport: recorder).sync()
        #expect(report.pushed == 1 && report.pushRefused == nil)
        let push = try #require(recorder.pushes.first)
        #expect(push.records.isEmpty && push.deltas.map(\.id) == [plan.id])
        #expect(push.deltas.first.map { Array($0.fields.keys) } == ["status"])
        let whole = RecordStateJSON.encode(try store.record(plan.id)).count
        let body = RecordStateJSON.encode(push).count
        #expect(body < 600 && body * 3 < whole, "a delta push of \(body) bytes for a record of \(whole)")
        try await team.syncAll()
        try team.expectConverged()
        #expect(try team.anna.store.record(plan.id).value(of: "status") == .string("besproken"))

        // A record of bram's own taken out of the server's database by hand: the delta is
        // refused (409) and the record goes again whole, in the same sync. (One with others'
        // edits in it could not go back this way; `veld-server epoch --renew` is for that.)
        let own = try store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit)
        try await bram.sync(team.server)
        try await bram.sync(team.server)
        _ = try store.edit(id: own.id, changes: ["summary": .string("Rondgang, daarna koffie")])
        let database = try DatabaseQueue(path: team.server.database)
        try await database.write { db in try db.execute(sql: "DELETE FROM record WHERE id = ?", arguments: [own.id]) }
        let again = RecordingTransport(HTTPTransport(server: team.server.url!, token: bram.token, epoch: { try? store.knownEpoch() }))
        let second = try await bram.engine(team.server, transport: again).sync()
        #expect(second.pushed == 1 && second.pushRefused == nil && second.parked == 0)
        #expect(again.pushes.map(\.deltas.count) == [1, 0] && again.pushes.last?.records.map(\.id) == [own.id])
        #expect(try store.outbox().isEmpty)
        let rows = try await database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM record WHERE id = ?", arguments: [own.id]) }
        #expect(rows == 1)
    }

    /// A one-field edit comes to the other devices as a delta too (SPEC.md, "Pull deltas"):
    /// that field and the context, filled in from the state each device last pulled. A
    /// device whose last pulled state is gone, or is not the server's state at its cursor,
    /// cannot fill it in: it asks for the page whole, in the same sync, and ends with the
    /// same state as everyone else.
    @Test func aOneFieldEditIsPulledAsADelta() async throws {
        let team = try Team()
        var fields = Device.carePlan
        fields["agreements"] = .string(String(repeating: "Dagelijks naar buiten met begeleiding; koffie in de huiskamer. ", count: 20))
        let plan = try team.anna.store.create(type: "carePlan", scope: "loc-zonnehof", fields: fields)
        try await team.syncAll()
        let bram = team.bram, store = team.bram.store
        let database = try DatabaseQueue(path: store.databaseURL.path)
        // The state bram pulled first, before the edit below: later older than the server's at his cursor.
        let older = try await database.read { db in try Data.fetchOne(db, sql: "SELECT sealedState FROM record WHERE id = ?", arguments: [plan.id]) }
        func recorder() -> RecordingTransport {
            RecordingTransport(HTTPTransport(server: team.server.url!, token: bram.token, epoch: { try? store.knownEpoch() }))
        }
        _ = try team.anna.store.edit(id: plan.id, changes: ["status": .string("besproken")])
        try await team.anna.sync(team.server)
        let first = recorder()
        let report = try await bram.engine(team.server, transport: first).sync()
        #expect(report.pulled == 1)
        let page = try #require(first.pulls.last?.page)
        #expect(first.pulls.allSatisfy(\.deltas) && page.records.isEmpty && page.deltas.map(\.id) == [plan.id])
        #expect(page.deltas.first.map { Array($0.fields.keys) } == ["status"])
        #expect(page.proofs.count == 1 && page.digests.count == 1)
        let whole = try store.record(plan.id)
        #expect(page.digests.first == PullDeltas.digest(of: whole) && whole.value(of: "status") == .string("besproken"))
        let body = RecordStateJSON.encode(page).count, wholeBody = RecordStateJSON.encode(PullResponse(records: [whole], cursor: page.cursor, more: false, proofs: page.proofs)).count
        #expect(body < 600 && body * 3 < wholeBody, "a delta page of \(body) bytes for a whole one of \(wholeBody)")
        try await team.syncAll()
        try team.expectConverged()

        // bram's last pulled state taken away, then one older than the server's state at his
        // cursor (status not yet besproken) put in its place: each time the page comes again
        // whole, and he converges.
        for (round, tamper) in ["UPDATE record SET proof = NULL WHERE id = ?", "UPDATE record SET provenState = ? WHERE id = ?"].enumerated() {
            _ = try team.anna.store.edit(id: plan.id, changes: ["lastDiscussedAt": .string("2026-11-2\(round + 1)")])
            try await team.anna.sync(team.server)
            try await database.write { db in
                try db.execute(sql: tamper, arguments: round == 0 ? [plan.id] : [older, plan.id])
            }
            let again = recorder()
            let second = try await bram.engine(team.server, transport: again).sync()
            #expect(second.pulled == 1, "round \(round)")
            #expect(again.pulls.map(\.deltas) == [true, false], "round \(round): a delta page, then the same page whole")
            #expect(again.pulls.first?.page.deltas.map(\.id) == [plan.id] && again.pulls.last?.page.records.map(\.id) == [plan.id])
            try await team.syncAll()
            try team.expectConverged()
        }
    }

    @Test func differentFieldsMergeSilentlySameFieldConflictsEverywhere() async throws {
        let team = try Team()
        let plan = try team.anna.store.create(type: "carePlan", scope: "loc-zonnehof", fields: Device.carePlan)
        try await team.syncAll()
        // Offline, concurrently: different fields, and one field both change.
        try team.anna.store.edit(id: plan.id, changes: ["riskAssessment": .string("Valrisico"), "agreements": .string("Dochter belt wekelijks")])
        try team.bram.store.edit(id: plan.id, changes: ["lastDiscussedAt": .string("2026-11-15"), "agreements": .string("Zoon komt op zondag")])
        try await team.anna.sync(team.server)
        let bramReport = try await team.bram.sync(team.server)
        #expect(bramReport.newConflicts == 1)
        try await team.syncAll()
        try team.expectConverged()
        for device in team.all {
            let state = try #require(try device.records()[plan.id])
            #expect(state.value(of: "riskAssessment") == .string("Valrisico"))
            #expect(state.value(of: "lastDiscussedAt") == .string("2026-11-15"))
            #expect(state.conflicts.keys.sorted() == ["agreements"], "\(device.name)")
            #expect(Set(state.entries(of: "agreements").map(\.value)) == [.string("Dochter belt wekelijks"), .string("Zoon komt op zondag")])
            #expect(Set(state.entries(of: "agreements").map(\.author)) == ["anna", "bram"])
        }
        // The office resolves: an edit that saw both values replaces them everywhere.
        try team.office.store.edit(id: plan.id, changes: ["agreements": .string("Dochter belt wekelijks, zoon komt op zondag")])
        try await team.syncAll()
        try team.expectConverged()
        #expect(try team.anna.records()[plan.id]?.conflicts.isEmpty == true)
        #expect(try team.bram.records()[plan.id]?.value(of: "agreements") == .string("Dochter belt wekelijks, zoon komt op zondag"))
    }

    @Test func deleteVersusEditIsAConflictNotALoss() async throws {
        let team = try Team()
        let visit = try team.anna.store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit)
        try await team.syncAll()
        try team.anna.store.delete(id: visit.id)
        try team.bram.store.edit(id: visit.id, changes: ["observations": .string("Nog even aangevuld")])
        try await team.syncAll()
        try team.expectConverged()
        let state = try #require(try team.office.records()[visit.id])
        #expect(state.isDeleted)
        #expect(state.entries(of: "observations").contains { $0.value == .string("Nog even aangevuld") })
        #expect(state.conflicts["observations"] != nil)
        #expect(try team.office.store.records(RecordQuery(onlyConflicts: true)).map(\.id) == [visit.id])
    }

    @Test func aSyncCutBetweenPushAndPullThenRepeatedLosesNothing() async throws {
        let team = try Team()
        for index in 0..<7 {
            try team.anna.store.create(type: "visitNote", scope: "loc-zonnehof",
                                       fields: Device.visit.merging(["summary": .string("Bezoek \(index)")]) { $1 })
        }
        try team.bram.store.create(type: "carePlan", scope: "loc-zonnehof", fields: Device.carePlan)
        try await team.bram.sync(team.server)
        // Anna's sync pushes two batches of three, then the connection drops before the pull.
        let cut = CuttingTransport(HTTPTransport(server: team.server.url!, token: team.anna.token), cut: .afterPushes(2))
        await #expect(throws: CuttingTransport.Interrupted.self) {
            try await team.anna.engine(team.server, transport: cut, batchSize: 3).sync()
        }
        #expect(try team.anna.store.outbox().count == 1)
        // A sync cut in the middle of pulling (pages of two), on the office.
        let pulling = CuttingTransport(HTTPTransport(server: team.server.url!, token: team.office.token), cut: .afterPulls(2))
        await #expect(throws: CuttingTransport.Interrupted.self) {
            try await team.office.engine(team.server, transport: pulling, pageSize: 2).sync()
        }
        #expect(try team.office.records().count == 4)
        // Run again: everything completes.
        try await team.syncAll()
        try team.expectConverged()
        #expect(try team.office.records().count == 8)
    }

    @Test func anEditDuringAPushStaysInTheOutbox() async throws {
        let team = try Team()
        let visit = try team.anna.store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit)
        // The edit lands between reading the state and the server's acknowledgement.
        let editing = EditingTransport(HTTPTransport(server: team.server.url!, token: team.anna.token)) {
            try team.anna.store.edit(id: visit.id, changes: ["summary": .string("Tijdens het pushen bewerkt")])
        }
        let report = try await team.anna.engine(team.server, transport: editing).sync()
        #expect(report.editedDuringSync == 1)
        #expect(try team.anna.store.outbox().map(\.recordID) == [visit.id])
        try await team.syncAll()
        try team.expectConverged()
        #expect(try team.bram.records()[visit.id]?.value(of: "summary") == .string("Tijdens het pushen bewerkt"))
    }

    @Test func aServerKilledMidSyncLosesNothingAcknowledged() async throws {
        let team = try Team()
        for index in 0..<300 {
            try team.anna.store.create(type: "visitNote", scope: "loc-zonnehof",
                                       fields: Device.visit.merging(["summary": .string("Bezoek \(index)")]) { $1 })
        }
        // Push in small batches while the server is killed part-way.
        let server = team.server
        let killer = Task {
            try await Task.sleep(nanoseconds: 150_000_000)
            server.kill()
        }
        do {
            try await team.anna.engine(team.server, batchSize: 5).sync()
        } catch {
            // Expected when the kill lands mid-sync.
        }
        _ = try? await killer.value
        if server.process != nil { server.kill() }
        let pendingAfterKill = try team.anna.store.outbox().count
        // Acknowledged batches left the outbox; the rest is still there.
        #expect(pendingAfterKill <= 300)
        try server.start()
        for device in team.all { try device.store.connect(server: server.url!, token: device.token) }
        try await team.syncAll()
        try team.expectConverged()
        #expect(try team.office.records().count == 300)
    }

    /// A record the server refuses is set aside with the server's reason; the device's
    /// other records still go, and the pull still runs.
    @Test func aRefusedRecordIsSetAsideAndTheRestSyncs() async throws {
        let team = try Team()
        // Bram's token only covers loc-zonnehof; a record elsewhere is refused, alone.
        let elsewhere = try team.bram.store.create(type: "visitNote", scope: "loc-de-linde", fields: Device.visit)
        let here = try team.bram.store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit)
        try team.anna.store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit)
        _ = try await team.anna.sync(team.server)
        let report = try await team.bram.sync(team.server)
        #expect(report.pushed == 1 && report.parked == 1 && report.pushRefused == nil)
        #expect(report.pulled >= 1, "the pull ran after the refusal")
        let parked = try team.bram.store.parked()
        #expect(parked.map(\.recordID) == [elsewhere.id])
        #expect(parked.first?.problem.status == 403)
        #expect(parked.first?.problem.detail.contains("loc-de-linde") == true && parked.first?.problem.detail.contains("ask the office") == true)
        #expect(parked.first?.advice.contains("veld discard") == true && parked.first?.advice.contains("veld retry") == true)
        let officeReport = try await team.office.sync(team.server)
        #expect(officeReport.pulled == 2)
        #expect(try team.office.records()[here.id] != nil)
        #expect(try team.bram.store.outbox().map(\.recordID) == [elsewhere.id])
        // The next sync leaves the set-aside record alone, and says nothing new.
        let again = try await team.bram.sync(team.server)
        #expect(again.pushed == 0 && again.parked == 0)
        // Discarding it goes back to the server's state: none, so the record goes.
        let discarded = try team.bram.store.discard(id: elsewhere.id,
                                                     serverState: try await HTTPTransport(server: team.server.url!, token: team.bram.token).record(id: elsewhere.id))
        #expect(discarded.state == elsewhere)
        #expect(try team.bram.store.outbox().isEmpty && team.bram.store.parked().isEmpty)
        #expect(throws: LocalStoreError.self) { try team.bram.store.record(elsewhere.id) }
        #expect(try team.bram.store.discardedChanges().map(\.recordID) == [elsewhere.id])
    }
}

/// Passes every request on, and keeps each push it sent.
final class RecordingTransport: SyncTransport, @unchecked Sendable {
    let inner: any SyncTransport
    private let lock = NSLock()
    private var sent: [PushRequest] = []
    private var received: [(deltas: Bool, page: PullResponse)] = []

    init(_ inner: any SyncTransport) { self.inner = inner }

    var pushes: [PushRequest] { lock.withLock { sent } }
    /// Every page pulled, and whether it was asked with deltas.
    var pulls: [(deltas: Bool, page: PullResponse)] { lock.withLock { received } }

    func push(_ request: PushRequest) async throws -> PushResponse {
        lock.withLock { sent.append(request) }
        return try await inner.push(request)
    }

    func pull(since cursor: String, limit: Int) async throws -> PullResponse { try await inner.pull(since: cursor, limit: limit) }
    func pullEncoded(since cursor: String, limit: Int, holding schemas: String?) async throws -> (page: PullResponse, encoded: [String]?) {
        try await pullEncoded(since: cursor, limit: limit, holding: schemas, deltas: nil)
    }
    func pullEncoded(since cursor: String, limit: Int, holding schemas: String?, deltas base: String?) async throws
        -> (page: PullResponse, encoded: [String]?) {
        let answer = try await inner.pullEncoded(since: cursor, limit: limit, holding: schemas, deltas: base)
        lock.withLock { received.append((base != nil, answer.page)) }
        return answer
    }
    func me() async throws -> DeviceIdentity? { try await inner.me() }
    func schemas(ifNoneMatch etag: String?) async throws -> SchemaFetch { try await inner.schemas(ifNoneMatch: etag) }
}

/// Runs `edit` after the push reached the server, before the engine clears the outbox.
final class EditingTransport: SyncTransport, @unchecked Sendable {
    let inner: any SyncTransport
    let edit: @Sendable () throws -> Void
    private let lock = NSLock()
    private var done = false

    init(_ inner: any SyncTransport, edit: @escaping @Sendable () throws -> Void) {
        self.inner = inner
        self.edit = edit
    }

    func push(_ request: PushRequest) async throws -> PushResponse {
        let response = try await inner.push(request)
        let first = lock.withLock { () -> Bool in defer { done = true }; return !done }
        if first { try edit() }
        return response
    }

    func pull(since cursor: String, limit: Int) async throws -> PullResponse {
        try await inner.pull(since: cursor, limit: limit)
    }
}
