import Foundation
import Testing
import VeldProtocol
import VeldServer

/// The evidence part of the storage contract: history, the state as of a date, and how
/// far each device has pulled.
extension StorageContract {
    /// Every accepted change is kept, oldest first, with who pushed it through which
    /// device and what it did to each field; refused and replayed batches add nothing.
    static func historyKeepsEveryAcceptedChange(_ make: StorageFactory) async throws {
        let storage = try await make()
        let anna = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
        let bram = try await storage.issueToken(user: "bram", role: .carer, scopes: ["loc-a"])
        let note = Records.visitNote(replica: "r-anna")
        let first = Records.batch("r-anna", [note])
        try await storage.accept(first, token: anna, at: Fixture.time(plus: 0))
        try await storage.accept(first, token: anna, at: Fixture.time(plus: 5))  // a replay
        let annaEdit = Records.edited(note, ["summary": .string("Rondgang tuin")], replica: "r-anna", author: "anna")
        try await storage.accept(Records.batch("r-anna", [annaEdit]), token: anna, at: Fixture.time(plus: 10))
        let bramEdit = Records.edited(note, ["summary": .string("Rondgang keuken")], replica: "r-bram", author: "bram")
        try await storage.accept(Records.batch("r-bram", [bramEdit]), token: bram, at: Fixture.time(plus: 20))
        _ = try? await storage.push(Records.batch("r-bram", [Records.edited(bramEdit, ["summary": .string("x")], replica: "r-bram")]),
                                    token: bram.token, fingerprint: "refused", at: Fixture.time(plus: 30)) { _ in
            throw Problem(type: .invalidRecord, status: 422, detail: "refused")
        }
        // Unchanged state: no history either.
        try await storage.accept(Records.batch("r-bram", [bramEdit]), token: bram, at: Fixture.time(plus: 40))

        let history = try await storage.history(recordID: note.id)
        #expect(history.map(\.user) == ["anna", "anna", "bram"])
        #expect(history.map(\.replica) == ["r-anna", "r-anna", "r-bram"])
        #expect(history.map(\.device) == [anna.id, anna.id, bram.id])
        #expect(history.map(\.receivedAt) == [Fixture.time(plus: 0), Fixture.time(plus: 10), Fixture.time(plus: 20)])
        #expect(history.map(\.position) == history.map(\.position).sorted())
        // The first change sets every field; the second replaces the summary; the third
        // adds a concurrent value beside it.
        #expect(Set(history[0].fields.map(\.field)) == Set(note.fields.keys))
        #expect(history[0].fields.allSatisfy { $0.old.isEmpty && $0.new.count == 1 })
        #expect(history[1].fields == [FieldChange(field: "summary", old: note.entries(of: "summary").map(\.value),
                                                  new: annaEdit.entries(of: "summary"))])
        #expect(history[2].fields == [FieldChange(field: "summary", old: [], new: bramEdit.entries(of: "summary"),
                                                  kept: [.string("Rondgang tuin")])])
        #expect(try await storage.history(recordID: RecordIDs.make()).isEmpty)
    }

    /// What a pull delta carries (SPEC.md, "Pull deltas"): for each record that existed at the
    /// cursor, every field any change after it touched, from the history; none for a record
    /// that did not change or came after the cursor.
    static func changedFieldsAfterACursor(_ make: StorageFactory) async throws {
        let storage = try await make()
        let anna = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
        let bram = try await storage.issueToken(user: "bram", role: .carer, scopes: ["loc-a"])
        let note = Records.visitNote(replica: "r-anna"), other = Records.visitNote(replica: "r-anna")
        try await storage.accept(Records.batch("r-anna", [note, other]), token: anna, at: Fixture.time(plus: 0))
        let created = try await storage.headPosition()
        let summary = Records.edited(note, ["summary": .string("Rondgang tuin")], replica: "r-anna")
        try await storage.accept(Records.batch("r-anna", [summary]), token: anna, at: Fixture.time(plus: 10))
        let middle = try await storage.headPosition()
        // A concurrent value beside it, and another field of the same record.
        let concurrent = Records.edited(note, ["summary": .string("Rondgang keuken"), "observations": .string("Koffie")], replica: "r-bram",
                                        author: "bram")
        try await storage.accept(Records.batch("r-bram", [concurrent]), token: bram, at: Fixture.time(plus: 20))
        // A record made after `created` and edited since: it goes whole, so it is not named.
        let made = Records.visitNote(replica: "r-anna")
        try await storage.accept(Records.batch("r-anna", [made]), token: anna, at: Fixture.time(plus: 25))
        try await storage.accept(Records.batch("r-anna", [Records.edited(made, ["status": .string("definitief")], replica: "r-anna")]),
                                 token: anna, at: Fixture.time(plus: 26))
        let unknown = RecordIDs.make()
        let all = [note.id, other.id, made.id, unknown]
        #expect(try await storage.changedFields(ids: all, after: 0).isEmpty, "every record came after 0")
        #expect(try await storage.changedFields(ids: all, after: created) == [note.id: ["summary", "observations"]])
        #expect(try await storage.changedFields(ids: all, after: middle) == [note.id: ["summary", "observations"]])
        #expect(try await storage.changedFields(ids: [other.id, unknown], after: created).isEmpty)
        #expect(try await storage.changedFields(ids: all, after: try await storage.headPosition()).isEmpty)
        #expect(try await storage.changedFields(ids: [], after: 0).isEmpty)
        // More changes after the cursor than the bound: none named, the page goes whole.
        let cursor = try await storage.headPosition()
        var busy = try #require(try await storage.record(id: other.id))
        let bound = PullDeltas.maxHistoryRows(records: 1)
        for round in 0..<bound {
            busy = Records.edited(busy, ["summary": .string("Ronde \(round)")], replica: "r-anna")
            try await storage.accept(Records.batch("r-anna", [busy]), token: anna, at: Fixture.time(plus: 30 + round))
        }
        #expect(try await storage.changedFields(ids: [other.id], after: cursor) == [other.id: ["summary"]], "at the bound")
        busy = Records.edited(busy, ["summary": .string("Ronde \(bound)")], replica: "r-anna")
        try await storage.accept(Records.batch("r-anna", [busy]), token: anna, at: Fixture.time(plus: 30 + bound))
        #expect(try await storage.changedFields(ids: [other.id], after: cursor).isEmpty, "past the bound")
    }

    /// What the data said at a moment: the state after the last change accepted then.
    static func stateAsOfADate(_ make: StorageFactory) async throws {
        let storage = try await make()
        let anna = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
        let note = Records.visitNote(replica: "r-anna")
        try await storage.accept(Records.batch("r-anna", [note]), token: anna, at: Fixture.time(plus: 100))
        let edited = Records.edited(note, ["status": .string("definitief")], replica: "r-anna")
        try await storage.accept(Records.batch("r-anna", [edited]), token: anna, at: Fixture.time(plus: 200))
        #expect(try await storage.state(recordID: note.id, asOf: Fixture.time(plus: 99)) == nil)
        #expect(try await storage.state(recordID: note.id, asOf: Fixture.time(plus: 100)) == note)
        #expect(try await storage.state(recordID: note.id, asOf: Fixture.time(plus: 150)) == note)
        #expect(try await storage.state(recordID: note.id, asOf: Fixture.time(plus: 500)) == edited)

        // Many changes: the history keeps deltas between snapshots, and every moment
        // still has its state, across several snapshots.
        var state = edited
        var expected: [(Int, RecordState)] = []
        for step in 0..<(HistoryDelta.snapshotEvery * 2 + 5) {
            let field = ["observations", "followUp", "summary"][step % 3]
            state = Records.edited(state, [field: .string("\(field) \(step)")], replica: "r-anna", at: 300 + step)
            try await storage.accept(Records.batch("r-anna", [state]), token: anna, at: Fixture.time(plus: 1_000 + step * 10))
            expected.append((1_000 + step * 10, state))
        }
        for (moment, state) in expected {
            #expect(try await storage.state(recordID: note.id, asOf: Fixture.time(plus: moment)) == state)
            #expect(try await storage.state(recordID: note.id, asOf: Fixture.time(plus: moment + 5)) == state)
        }
        #expect(try await storage.state(recordID: note.id, asOf: Fixture.time(plus: 999)) == edited)
    }

    /// A pull remembers where the device got to, so the office can see who lags behind.
    static func deviceCursors(_ make: StorageFactory) async throws {
        let storage = try await make()
        let anna = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
        let office = try await storage.issueToken(user: "olga", role: .office, scopes: ["*"])
        #expect(try await storage.headPosition() == 0)
        let notes = (0..<3).map { _ in Records.visitNote(replica: "r-anna") }
        try await storage.accept(Records.batch("r-anna", notes), token: anna)
        let head = try await storage.headPosition()
        #expect(head > 0)
        let page = try await storage.pull(scopes: .all, after: 0, limit: 2, token: office.token, at: Fixture.time(plus: 60))
        let tokens = Dictionary(uniqueKeysWithValues: try await storage.tokens().map { ($0.id, $0) })
        #expect(tokens[office.id]?.lastCursor == page.lastPosition)
        #expect(tokens[office.id]?.lastPullAt == Fixture.time(plus: 60))
        #expect(tokens[anna.id]?.lastCursor == nil)
        #expect(tokens[anna.id]?.lastPushAt == Fixture.time)
        #expect(head - page.lastPosition > 0, "the office is behind by one record")
    }

    /// The epoch and the proofs (SPEC.md, "Server epochs and restores"): every state a pull
    /// serves comes with the server's proof of exactly it; a renewed epoch keeps the key, so
    /// proofs made before still hold; a recovery push's changes are marked in the history.
    static func epochsAndProofs(_ make: StorageFactory) async throws {
        let storage = try await make()
        let identity = try await storage.identity()
        #expect(ServerEpoch.isValid(identity.epoch))
        // A database that was never restored takes no proven state.
        #expect(identity.recoveryFrom == nil && identity.proofsAccepted(at: Fixture.time) == nil)
        #expect(try await storage.openRecoveryWindow(at: Fixture.time).recoveryFrom == nil)
        let anna = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
        let notes = (0..<3).map { _ in Records.visitNote(replica: "r-anna") }
        try await storage.accept(Records.batch("r-anna", notes), token: anna)
        let page = try await storage.pullEncoded(scopes: .all, hiding: [], after: 0, limit: 10, token: nil, at: Fixture.time)
        #expect(page.proofs.count == 3 && page.states.count == 3)
        let served = try page.states.map { try StableJSON.decode(RecordState.self, from: Data($0)) }
        for (state, proof) in zip(served, page.proofs) {
            #expect(identity.proofs.verifies(proof, of: state))
            #expect(!identity.proofs.verifies(proof, of: Records.edited(state, ["summary": .string("x")], replica: "r-anna")))
        }
        #expect(Set(page.proofs).count == 3)

        let renewed = try await storage.renewEpoch()
        #expect(try await storage.identity().recoveryPending)
        let again = try await storage.openRecoveryWindow(at: Fixture.time)
        #expect(renewed != identity.epoch && again.epoch == renewed && again.recoveryFrom == Fixture.time)
        #expect(again.proofsAccepted(at: Fixture.time(plus: (ServerEpoch.recoveryDays - 1) * 86_400)) != nil)
        #expect(again.proofsAccepted(at: Fixture.time(plus: ServerEpoch.recoveryDays * 86_400 + 1)) == nil)
        #expect(try await storage.openRecoveryWindow(at: Fixture.time(plus: 999)).recoveryFrom == Fixture.time)
        #expect(zip(served, page.proofs).allSatisfy { again.proofs.verifies($1, of: $0) })

        let edit = Records.edited(notes[0], ["summary": .string("Teruggezet")], replica: "r-anna")
        try await storage.accept(PushRequest(replica: "r-anna", batch: UUID().uuidString.lowercased(), records: [edit], recovery: true),
                                 token: anna)
        #expect(try await storage.history(recordID: notes[0].id).map(\.recovered) == [false, true])
        #expect(try await storage.history(recordID: notes[1].id).map(\.recovered) == [false])
    }
}
