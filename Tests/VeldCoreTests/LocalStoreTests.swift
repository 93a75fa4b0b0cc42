import Foundation
import GRDB
import Testing
@testable import VeldCore
import VeldProtocol

@Suite struct LocalStoreTests {
    @Test func initCreatesAPrivateDatabaseWithOneReplicaID() throws {
        let home = try TemporaryHome()
        let store = try home.store()
        let profile = try store.profile()
        #expect(profile.replicaID.hasPrefix("r-") && profile.replicaID.count == 26)
        let attributes = try FileManager.default.attributesOfItem(atPath: store.databaseURL.path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        // Reopening keeps the replica id; initialising again is refused.
        #expect(try LocalStore.open(home: home.url).profile().replicaID == profile.replicaID)
        #expect(throws: LocalStoreError.self) { try LocalStore.initialise(home: home.url, user: "bob", role: .carer) }
        #expect(try LocalStore.open(home: home.url).profile().user == "anna")
    }

    @Test func openingWithoutAProfileSaysToInit() throws {
        let home = try TemporaryHome()
        let error = #expect(throws: LocalStoreError.self) { try LocalStore.open(home: home.url) }
        #expect(error?.kind == .notInitialised)
        #expect(error?.description.contains("veld init") == true)
        #expect(!FileManager.default.fileExists(atPath: home.url.appendingPathComponent(LocalStore.databaseName).path))
    }

    @Test func aBatchOfEditsIsKeptWholeOrNotAtAll() throws {
        let home = try TemporaryHome()
        let store = try home.store()
        let notes = try (0..<3).map { _ in try store.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields) }
        let queued = try store.outbox()
        let before = try store.records()
        // The last edit is refused (an unknown status): none of the batch is kept.
        let error = #expect(throws: LocalStoreError.self) {
            try store.edit([(notes[0].id, ["summary": .string("Eerste")]), (notes[1].id, ["summary": .string("Tweede")]),
                            (notes[2].id, ["status": .string("onbekend")])])
        }
        #expect(error?.description.contains("status") == true)
        #expect(try store.records() == before)
        #expect(try store.outbox() == queued)

        let edited = try store.edit(notes.map { ($0.id, ["summary": .string("Samen opgeslagen")]) })
        #expect(try store.records().filter { $0.value(of: "summary") == .string("Samen opgeslagen") }.count == 3)
        // Each outbox entry now names the counter of the batch's edit and keeps its queue time.
        let entries = try store.outbox()
        let replica = try store.profile().replicaID
        #expect(entries.map(\.recordID).sorted() == notes.map(\.id).sorted())
        for state in edited {
            let entry = try #require(entries.first { $0.recordID == state.id })
            #expect(entry.counter == state.context[replica])
            #expect(entry.queuedAt == queued.first { $0.recordID == state.id }?.queuedAt)
        }
    }

    @Test func anEditAndItsOutboxEntryAreOneTransaction() throws {
        let home = try TemporaryHome()
        let store = try home.store()
        let note = try store.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields)
        let outboxBefore = try store.outbox()

        let failing = try LocalStore(home: home.url, clock: WallClock.now,
                                     faults: FaultInjection(afterRecordWrite: { throw InjectedFailure() }))
        try failing.unlock(KeyFileStore(home: home.url))
        #expect(throws: InjectedFailure.self) {
            try failing.edit(id: note.id, changes: ["summary": .string("Rondgang tuin")])
        }
        #expect(throws: InjectedFailure.self) {
            try failing.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields)
        }
        // Neither the record state nor the outbox moved.
        #expect(try store.record(note.id) == note)
        #expect(try store.outbox() == outboxBefore)
        #expect(try store.records().count == 1)

        // Without the fault the same edit lands in both.
        let edited = try store.edit(id: note.id, changes: ["summary": .string("Rondgang tuin")])
        #expect(try store.outbox().first?.counter == edited.context[try store.profile().replicaID])
        #expect(edited.context[try store.profile().replicaID] == 2)
    }

    @Test func invalidEditsWriteNothing() throws {
        let home = try TemporaryHome()
        let store = try home.store()
        let note = try store.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields)
        for changes: [String: FieldValue] in [["kind": .string("feest")], ["summary": .null], ["visitedAt": .string("gisteren")],
                                              ["nope": .bool(true)], ["councilInvolved": .string("ja")]] {
            #expect(throws: LocalStoreError.self) { try store.edit(id: note.id, changes: changes) }
        }
        #expect(try store.record(note.id) == note)
        #expect(try store.outbox().count == 1)
        #expect(throws: LocalStoreError.self) { try store.create(type: "invoice", scope: "loc-zonnehof", fields: [:]) }
        #expect(throws: LocalStoreError.self) {
            try store.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields.filter { $0.key != "summary" })
        }
        #expect(try store.records().count == 1)
    }

    @Test func migrationsRunOnAnEmptyAndOnAnExistingDatabase() throws {
        let home = try TemporaryHome()
        // An existing database made by the first release: v1 only, with data in it.
        FileManager.default.createFile(atPath: home.url.appendingPathComponent(LocalStore.databaseName).path, contents: nil)
        let old = try LocalStore(home: home.url, clock: WallClock.now, faults: FaultInjection(), migrateUpTo: "v1-records-outbox")
        try old.writer.write { db in
            try ProfileRow(Profile(replicaID: "r-old", user: "anna", role: .carer, createdAt: Date())).insert(db)
        }
        // The rows as that release wrote them (today's code writes today's schema).
        var note = RecordState(id: RecordIDs.make(), type: "visitNote", scope: "loc-zonnehof")
        note.edit(TemporaryHome.visitFields, replica: "r-old", author: "anna", time: WallClock.now())
        try old.writer.write { db in
            let now = Date()
            try db.execute(sql: """
                INSERT INTO record (id, type, scope, state, status, deleted, hasConflicts, createdAt, updatedAt)
                VALUES (?, ?, ?, ?, ?, 0, 0, ?, ?)
                """, arguments: [note.id, note.type, note.scope, String(decoding: try StableJSON.encode(note), as: UTF8.self),
                                 "concept", now, now])
            try db.execute(sql: "INSERT INTO outbox (recordID, counter, queuedAt) VALUES (?, 1, ?)", arguments: [note.id, now])
        }
        #expect(try old.writer.read { try $0.tableExists("syncState") } == false)

        let upgraded = try LocalStore.open(home: home.url)
        let (hasSyncState, applied) = try upgraded.writer.read { db in
            (try db.tableExists("syncState"), try LocalStore.migrator.appliedIdentifiers(db))
        }
        #expect(hasSyncState)
        #expect(applied == Set(LocalStore.migrator.migrations))
        #expect(try upgraded.record(note.id) == note)
        #expect(try upgraded.outbox().map(\.recordID) == [note.id])
        // Its plaintext was sealed on the way, and left the files.
        #expect(try upgraded.keyStatus().generation == 1)
        #expect(try upgraded.keyStatus().compactPending == false)
        #expect(try upgraded.writer.read { db in try Data.fetchOne(db, sql: "SELECT sealedState FROM record") }?.first == DataKeys.magic)
        #expect(try DatabaseFiles.containing("Rondgang huiskamer", in: home.url).isEmpty)

        // And on an empty one.
        let freshHome = try TemporaryHome()
        let fresh = try freshHome.store()
        let (freshApplied, changes) = try fresh.writer.read { db in
            (try LocalStore.migrator.appliedIdentifiers(db), try LocalStore.migrator.hasSchemaChanges(db))
        }
        #expect(freshApplied == Set(LocalStore.migrator.migrations))
        #expect(changes == false)
    }

    @Test func queriesByTypeScopeStatusAndConflicts() throws {
        let home = try TemporaryHome()
        let store = try home.store()
        let a = try store.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields)
        let b = try store.create(type: "visitNote", scope: "loc-de-linde", fields: TemporaryHome.visitFields)
        try store.edit(id: b.id, changes: ["status": .string("definitief")])
        let council = try store.create(type: "councilInput", scope: "org-bezinn", fields: [
            "council": .string("Cliëntenraad Zonnehof"), "kind": .string("signaal"), "topic": .string("Maaltijden"),
            "status": .string("open"),
        ])
        #expect(Set(try store.records(RecordQuery(type: "visitNote")).map(\.id)) == [a.id, b.id])
        #expect(try store.records(RecordQuery(scope: "org-bezinn")).map(\.id) == [council.id])
        #expect(try store.records(RecordQuery(type: "visitNote", status: "definitief")).map(\.id) == [b.id])
        #expect(try store.records(RecordQuery(onlyConflicts: true)).isEmpty)

        // Bram edits after seeing this device's state: his value simply replaces it.
        var theirs = a
        theirs.edit(["summary": .string("Rondgang tuin")], replica: "r-bram", author: "bram", time: Date())
        #expect(try store.merge(remote: [theirs]) == MergeSummary(changed: 1, newConflicts: 0))
        #expect(try store.record(a.id).value(of: "summary") == .string("Rondgang tuin"))
        #expect(try store.merge(remote: [theirs]) == MergeSummary(changed: 0, newConflicts: 0))
        #expect(try store.records(RecordQuery(onlyConflicts: true)).isEmpty)
        // Carla edits the same field concurrently with this device: a conflict.
        try store.edit(id: a.id, changes: ["summary": .string("Rondgang huiskamer en keuken")])
        var concurrent = a
        concurrent.edit(["summary": .string("Rondgang zolder")], replica: "r-carla", author: "carla", time: Date())
        #expect(try store.merge(remote: [concurrent]) == MergeSummary(changed: 1, newConflicts: 1))
        let conflicted = try store.records(RecordQuery(onlyConflicts: true))
        #expect(conflicted.map(\.id) == [a.id])
        #expect(conflicted[0].conflicts["summary"]?.count == 2)
        #expect(try store.status().conflicts == 1)

        // Deleting hides a record from lists unless deleted ones are asked for.
        try store.delete(id: council.id)
        #expect(try store.records(RecordQuery(scope: "org-bezinn")).isEmpty)
        #expect(try store.records(RecordQuery(scope: "org-bezinn", includeDeleted: true)).map(\.isDeleted) == [true])
    }

    @Test func idPrefixesResolveOnlyWhenUnique() throws {
        let home = try TemporaryHome()
        let store = try home.store()
        let note = try store.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields)
        #expect(try store.record(String(note.id.prefix(8))).id == note.id)
        #expect(try store.record(note.id.uppercased()).id == note.id)
        #expect(throws: LocalStoreError.self) { try store.record("abc") }
        #expect(throws: LocalStoreError.self) { try store.record("ffffffff-0000") }
    }

    @Test func typedModelsRoundTripThroughTheSchema() throws {
        let home = try TemporaryHome()
        let store = try home.store()
        let visit = VisitNote(scope: "loc-zonnehof", visitedAt: "2026-11-20", visitor: "anna", kind: "dialoog",
                              summary: "Zelfanalyse besproken", observations: "Lang\nverhaal", themes: ["informatie"],
                              participation: ["cliëntenraad", "verwantenraad"], followUpDue: "2026-12-01")
        #expect(try store.insert(visit) == visit)
        let plan = try store.insert(CarePlan(scope: "loc-zonnehof", clientCode: "ZH-0042", law: "Wlz",
                                             deliveryForm: "pgb", careStart: "2026-10-01",
                                             participants: ["cliënt", "naasten"], agreedWith: ["cliënt"],
                                             agreedOn: "2026-10-03", responsibleProfessional: "Eva de Wit"))
        let goal = try store.insert(CarePlanGoal(carePlan: plan.id, domain: "welzijn", goal: "Dagelijks naar buiten"))
        #expect(goal.scope == "loc-zonnehof")
        let council = CouncilInput(scope: "org-bezinn", council: "Cliëntenraad", kind: "adviesaanvraag",
                                   topic: "Dagbesteding", responseDue: "2026-12-15")
        #expect(try store.insert(council) == council)
        #expect(try store.all(CarePlanGoal.self).map(\.goal) == ["Dagelijks naar buiten"])
        #expect(try store.all(CarePlan.self) == [plan])
        #expect(throws: (any Error).self) { try VisitNote(state: store.record(plan.id)) }
        // A visitor's model with an office-only value is refused by the schema.
        #expect(throws: LocalStoreError.self) {
            try store.insert(CarePlan(scope: "loc-zonnehof", clientCode: "ZH-1", law: "Wmo", careStart: "2026-01-01",
                                      status: "vastgesteld"))
        }
    }

    @Test func fieldInputFollowsTheSchema() throws {
        let themes = try #require(Schemas.visitNote.field("themes"))
        #expect(try FieldInput.parse("Veiligheid, INFORMATIE", for: themes, recordID: "x", type: "visitNote")
                == .strings(["veiligheid", "informatie"]))
        let participants = try #require(Schemas.carePlan.field("participants"))
        #expect(try FieldInput.parse("client,naasten", for: participants, recordID: "x", type: "carePlan")
                == .strings(["cliënt", "naasten"]))
        let flag = try #require(Schemas.visitNote.field("councilInvolved"))
        #expect(try FieldInput.parse("nee", for: flag, recordID: "x", type: "visitNote") == .bool(false))
        #expect(throws: ValidationError.self) { try FieldInput.parse("misschien", for: flag, recordID: "x", type: "visitNote") }
        let date = try #require(Schemas.visitNote.field("visitedAt"))
        #expect(throws: ValidationError.self) { try FieldInput.parse("2026-02-30", for: date, recordID: "x", type: "visitNote") }
        #expect(try FieldInput.parse("  ", for: date, recordID: "x", type: "visitNote") == .null)
    }

    @Test func homeFollowsFlagThenEnvironmentThenXDG() {
        #expect(VeldHome.resolve(explicit: "/a", environment: ["VELD_HOME": "/b"]).path == "/a")
        #expect(VeldHome.resolve(explicit: nil, environment: ["VELD_HOME": "/b", "XDG_DATA_HOME": "/c"]).path == "/b")
        #expect(VeldHome.resolve(explicit: nil, environment: ["XDG_DATA_HOME": "/c"]).path == "/c/veld")
        #expect(VeldHome.resolve(explicit: nil, environment: ["HOME": "/h"]).path == "/h/.local/share/veld")
    }

    /// A visitor's delete re-asserts only the fields a visitor may write: re-asserting an
    /// office decision it holds an old copy of would be refused on every later sync.
    @Test func aVisitorsDeleteLeavesOfficeDecisionsAlone() throws {
        let home = try TemporaryHome()
        let store = try home.store()
        var plan = RecordState(id: RecordIDs.make(), type: "carePlan", scope: "loc-zonnehof")
        plan.edit(["clientCode": .string("ZH-0042"), "financing": .string("Wlz"), "careStart": .string("2026-10-01"),
                   "status": .string("vastgesteld"), "approvedBy": .string("m.devries")],
                  replica: "r-office", author: "office", time: Date())
        try store.merge(remote: [plan])
        let deleted = try store.delete(id: plan.id)
        let replica = try store.profile().replicaID
        #expect(deleted.isDeleted)
        #expect(deleted.entries(of: "approvedBy").map(\.dot.replica) == ["r-office"])
        #expect(deleted.entries(of: "status").map(\.dot.replica) == ["r-office"])
        #expect(deleted.entries(of: "clientCode").map(\.dot.replica) == [replica])
        // Every new entry the delete wrote is one a visitor may write.
        for (field, entries) in deleted.fields {
            for entry in entries where entry.dot.replica == replica {
                #expect(Schemas.carePlan.field(field)?.permits(.visitor, toWrite: entry.value) == true, "\(field)")
            }
        }
    }
}
