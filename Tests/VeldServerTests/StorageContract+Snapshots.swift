import Foundation
import PropertyBased
import Testing
import VeldProtocol
import VeldServer
import VeldTestSupport

/// Peildatum snapshots on every storage: a snapshot is the replay of the history up to its
/// moment, its late arrivals are exactly the entries written by then and received after,
/// and nothing changes a snapshot once made but an erasure.
extension StorageContract {
    /// One device's offline work: edits at their author times, pushes at theirs.
    struct OfflineEvent {
        var device: Int
        var time: Int
        /// nil: a push of every record edited since the last push.
        var edit: (record: Int, field: String, value: String)?
    }

    static func offlineEvents(_ codes: [Int]) -> [OfflineEvent] {
        var events: [OfflineEvent] = []
        var codes = codes.makeIterator()
        func next(_ n: Int) -> Int { (codes.next() ?? 3) % n }
        let fields = ["summary", "observations", "status", "followUp"]
        for _ in 0..<(4 + next(30)) {
            let device = next(2)
            let time = 10 + next(1_990)
            if next(3) == 0 {
                events.append(OfflineEvent(device: device, time: time, edit: nil))
            } else {
                let field = fields[next(fields.count)]
                let value = field == "status" ? ["concept", "definitief"][next(2)] : "tekst \(next(1_000))"
                events.append(OfflineEvent(device: device, time: time, edit: (next(3), field, value)))
            }
        }
        // Every device pushes what it still holds at the end.
        events += [OfflineEvent(device: 0, time: 2_000, edit: nil), OfflineEvent(device: 1, time: 2_000, edit: nil)]
        return events.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)
    }

    /// Generated offline histories around a peildatum T (second 1,000) frozen at F (second
    /// 1,500), with pushes up to second 2,000 already stored: the snapshot's states are the
    /// pushes received by T merged in order, and its late arrivals (frozen, and received
    /// since) are exactly the new entries written by T and received after it.
    static func snapshotsAreTheHistoryAtT(_ make: StorageFactory) async {
        let asOf = Fixture.time(plus: 1_000), frozen = Fixture.time(plus: 1_500)
        await checkProperty(count: 25, input: Gen.int(in: 0...1_000_000).array(of: 120...120)) { codes in
            let storage = try await make()
            let tokens = [try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"]),
                          try await storage.issueToken(user: "bram", role: .carer, scopes: ["loc-a"])]
            let replicas = ["r-anna", "r-bram"]
            // Anna made the three notes before anyone went offline; both devices hold them.
            let notes = (0..<3).map { _ in Records.visitNote(replica: "r-anna") }
            try await storage.accept(Records.batch("r-anna", notes), token: tokens[0], at: Fixture.time)
            var local = [notes, notes]
            var unsent: [Set<Int>] = [[], []]
            var server = Dictionary(uniqueKeysWithValues: notes.map { ($0.id, $0) })
            var atT = server
            var expectedLate: [String] = []
            for event in offlineEvents(codes) {
                let device = event.device
                if let edit = event.edit {
                    local[device][edit.record].edit([edit.field: .string(edit.value)], replica: replicas[device],
                                                    author: tokens[device].token.user, time: Fixture.time(plus: event.time))
                    unsent[device].insert(edit.record)
                    continue
                }
                guard !unsent[device].isEmpty else { continue }
                let states = unsent[device].sorted().map { local[device][$0] }
                unsent[device] = []
                let received = Fixture.time(plus: event.time)
                try await storage.accept(Records.batch(replicas[device], states), token: tokens[device], at: received)
                for state in states {
                    let before = server[state.id]!
                    let after = try before.merged(with: state)
                    if after == before { continue }
                    server[state.id] = after
                    if received <= asOf { atT[state.id] = after }
                    for (field, entries) in after.fields {
                        let old = Set(before.entries(of: field).map(\.dot))
                        for entry in entries where !old.contains(entry.dot) && entry.time <= asOf && received > asOf {
                            expectedLate.append("\(state.id) \(field) \(entry.dot.replica) \(entry.time.timeIntervalSince1970) "
                                                + "\(received.timeIntervalSince1970) \(received > frozen)")
                        }
                    }
                }
            }
            let snapshot = try await Snapshots.create(in: storage, name: "peildatum", asOf: asOf, scopes: .all, by: "admin:test", now: frozen)
            let states = try await storage.snapshotRecords(id: snapshot.id)
            #expect(Dictionary(uniqueKeysWithValues: states.map { ($0.id, $0) }) == atT)
            #expect(snapshot.records == atT.count)
            let late = try await Snapshots.allLateArrivals(snapshot, in: storage).map {
                "\($0.record) \($0.field) \($0.replica) \($0.authoredAt.timeIntervalSince1970) \($0.receivedAt.timeIntervalSince1970) \($0.afterFreezing)"
            }
            #expect(late.sorted() == expectedLate.sorted())
            #expect(snapshot.lateArrivals == expectedLate.filter { $0.hasSuffix("false") }.count)
            #expect(try await storage.snapshotLate(id: snapshot.id).allSatisfy { !$0.afterFreezing })
        }
    }

    /// A snapshot never changes: not by a second one of its name, not by later pushes (late
    /// ones included), not by another snapshot. An erasure takes the erased client's
    /// records out of it, and nothing else. Its making is in the access log.
    static func snapshotsNeverChange(_ make: StorageFactory) async throws {
        let storage = try await make()
        let anna = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
        let note = Records.visitNote(replica: "r-anna")
        let plan = Records.carePlan(replica: "r-anna", changes: ["clientCode": .string("ZH-0099")])
        var goal = RecordState(id: RecordIDs.make(), type: "carePlanGoal", scope: "loc-a")
        goal.edit(["carePlan": .string(plan.id), "domain": .string("welzijn"), "goal": .string("Naar buiten"), "status": .string("open")],
                  replica: "r-anna", author: "anna", time: Fixture.time)
        try await storage.accept(Records.batch("r-anna", [note, plan, goal]), token: anna, at: Fixture.time(plus: 10))
        let first = try await Snapshots.create(in: storage, name: "voorjaar", asOf: Fixture.time(plus: 100), scopes: .all,
                                               by: "admin:test", now: Fixture.time(plus: 200))
        let frozen = try await storage.snapshotRecords(id: first.id)
        #expect(Set(frozen.map(\.id)) == [note.id, plan.id, goal.id])
        await #expect(throws: Snapshots.Failure.nameTaken("voorjaar")) {
            _ = try await Snapshots.create(in: storage, name: "voorjaar", asOf: Fixture.time(plus: 150), scopes: .all, by: "admin:test",
                                           now: Fixture.time(plus: 300))
        }
        await #expect(throws: Snapshots.Failure.future) {
            _ = try await Snapshots.create(in: storage, name: "later", asOf: Fixture.time(plus: 500), scopes: .all, by: "admin:test",
                                           now: Fixture.time(plus: 300))
        }
        // A late edit (written at 50, received at 400) and a new record: the snapshot holds what it held.
        let late = Records.edited(note, ["summary": .string("Laat binnen")], replica: "r-anna", at: 50)
        var fresh = RecordState(id: RecordIDs.make(), type: "visitNote", scope: "loc-a")
        fresh.edit(Records.visitFields, replica: "r-anna", author: "anna", time: Fixture.time(plus: 300))
        try await storage.accept(Records.batch("r-anna", [late, fresh]), token: anna, at: Fixture.time(plus: 400))
        let second = try await Snapshots.create(in: storage, name: "najaar", asOf: Fixture.time(plus: 450), scopes: .only(["loc-a"]),
                                                by: "admin:test", now: Fixture.time(plus: 500))
        #expect(try await storage.snapshotRecords(id: first.id) == frozen)
        #expect(try await storage.snapshots().first { $0.id == first.id } == first)
        #expect(try await storage.snapshotLate(id: first.id).isEmpty)
        let since = try await Snapshots.allLateArrivals(first, in: storage)
        #expect(since.map(\.field) == ["summary"] && since.allSatisfy(\.afterFreezing))
        #expect(second.records == 4 && second.scopes == ["loc-a"])
        // Compared: the summary changed, late (written before the first peildatum); one record added, not late.
        let changes = Snapshots.compare(earlier: first, frozen, later: second, try await storage.snapshotRecords(id: second.id))
        #expect(changes.filter { $0.kind == .changed }.map { "\($0.field ?? "") \($0.before ?? "") \($0.after ?? "") \($0.late)" }
                == ["summary Rondgang huiskamer Laat binnen true"])
        #expect(changes.filter { $0.kind == .added }.map(\.late) == [false])
        // Erasing the client takes its plan and goal out of both snapshots; the note stays.
        let entry = Erasure.entry(at: Fixture.time(plus: 600), by: "admin:test", reason: "verzoek", clientCode: "ZH-0099")
        _ = try await storage.erase(recordIDs: try await storage.recordIDs(clientCode: "ZH-0099"), at: Fixture.time(plus: 600), entry: entry)
        #expect(try await storage.snapshotRecords(id: first.id).map(\.id) == [note.id])
        #expect(try await storage.snapshotRecords(id: second.id).contains { $0.id == plan.id || $0.id == goal.id } == false)
        // The making of each is logged, naming the records it froze.
        let logged = try await storage.accessEntries(AccessQuery(action: .report, limit: 10))
        #expect(logged.filter { $0.detail.hasPrefix("snapshot create") }.count == 2)
        #expect(logged.first { $0.detail.contains(first.id) }.map { Set($0.records.map(\.id)) } == [note.id, plan.id, goal.id])
    }

    /// What a device said of itself is kept, the newest report winning (an older one noted
    /// late does not replace it), beside its last pull; another opening of the database
    /// reads it once written.
    static func deviceHealthIsKept(_ make: StorageFactory) async throws {
        let storage = try await make()
        let anna = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
        let newer = DeviceHealth(app: "1.2.0", outbox: 3, oldest: Fixture.time(plus: -600), records: 40)
        let older = DeviceHealth(app: "1.1.0", outbox: 9, oldest: nil, records: 12)
        _ = try await storage.pull(scopes: .only(["loc-a"]), after: 0, limit: 10, token: anna.token, at: Fixture.time(plus: 5))
        storage.noteDeviceHealth(token: anna.id, health: newer, at: Fixture.time(plus: 10))
        storage.noteDeviceHealth(token: anna.id, health: older, at: Fixture.time(plus: 1))
        // The same report again within a minute is not written again.
        storage.noteDeviceHealth(token: anna.id, health: newer, at: Fixture.time(plus: 30))
        await storage.flushPendingWrites()
        let token = try #require(try await storage.tokens().first { $0.id == anna.id })
        #expect(token.health == newer && token.healthAt == Fixture.time(plus: 10))
        #expect(token.lastPullAt == Fixture.time(plus: 5))
        #expect(try await storage.token(hash: TokenSecret.hash(anna.secret))?.health == newer)
    }
}
