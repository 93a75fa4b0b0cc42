import Foundation
import Testing
@testable import VeldCore
import VeldProtocol

@Suite struct ConflictResolutionTests {
    /// A store holding a visit note whose summary two others changed concurrently.
    static func conflicted() throws -> (TemporaryHome, LocalStore, RecordState, others: [RecordState]) {
        let home = try TemporaryHome()
        let store = try home.store(user: "office", role: .office)
        let base = try store.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields)
        var anna = base
        anna.edit(["summary": .string("Rondgang huiskamer en keuken")], replica: "r-anna", author: "anna",
                  time: Date(timeIntervalSince1970: 1_790_000_000))
        var bram = base
        bram.edit(["summary": .string("Rondgang tuin"), "observations": .string("Tuin")], replica: "r-bram", author: "bram",
                  time: Date(timeIntervalSince1970: 1_790_000_100))
        try store.merge(remote: [anna, bram])
        return (home, store, try store.record(base.id), [anna, bram])
    }

    @Test func conflictsListEveryFieldWithItsValuesShownOneFirst() throws {
        let (_, store, state, _) = try Self.conflicted()
        let conflicts = try store.conflicts()
        #expect(conflicts.map(\.field) == ["summary"])
        #expect(conflicts[0].entries.map(\.author) == ["bram", "anna"], "latest time first, as reads show it")
        #expect(conflicts[0].entries[0].value == state.value(of: "summary"))
        #expect(conflicts[0].since == Date(timeIntervalSince1970: 1_790_000_000))
        #expect(!conflicts[0].deleteVersusEdit)
    }

    @Test func takingAValueIsAnEditThatCoversEveryValue() throws {
        let (_, store, state, others) = try Self.conflicted()
        let resolved = try store.resolve(id: state.id, ["summary": .take(1)])
        #expect(resolved.value(of: "summary") == .string("Rondgang huiskamer en keuken"))
        #expect(resolved.conflicts.isEmpty)
        #expect(try store.outbox().map(\.recordID) == [state.id])
        // Wherever it goes, it wins: merged with either side's old state, one value.
        for other in others {
            let merged = try other.merged(with: resolved)
            #expect(merged.entries(of: "summary").map(\.value) == [.string("Rondgang huiskamer en keuken")])
        }
    }

    @Test func writingAMergedValue() throws {
        let (_, store, state, _) = try Self.conflicted()
        let resolved = try store.resolve(id: state.id, ["summary": .value(.string("Rondgang huiskamer, keuken en tuin"))])
        #expect(resolved.entries(of: "summary").map(\.value) == [.string("Rondgang huiskamer, keuken en tuin")])
        #expect(resolved.entries(of: "summary")[0].author == "office")
    }

    @Test func aResolutionConcurrentWithANewEditIsANewConflict() throws {
        let (_, store, state, others) = try Self.conflicted()
        let resolved = try store.resolve(id: state.id, ["summary": .take(0)])
        // Carla had seen only Bram's value and edits again, concurrently with the resolution.
        var carla = others[1]
        carla.edit(["summary": .string("Rondgang tuin en schuur")], replica: "r-carla", author: "carla", time: Date())
        let merged = try resolved.merged(with: carla)
        #expect(Set(merged.entries(of: "summary").map(\.value)) == [.string("Rondgang tuin"), .string("Rondgang tuin en schuur")])
    }

    @Test func refusesWhatItCannotMeanWithoutWriting() throws {
        let (_, store, state, _) = try Self.conflicted()
        let outbox = try store.outbox()
        #expect(throws: LocalStoreError.self) { try store.resolve(id: state.id, ["kind": .take(0)]) }
        #expect(throws: LocalStoreError.self) { try store.resolve(id: state.id, ["summary": .take(2)]) }
        // A list someone looked at before a sync brought a third value is not the list now.
        let stale = [state.conflicts["summary"]![0]]
        let error = #expect(throws: LocalStoreError.self) {
            try store.resolve(id: state.id, ["summary": .take(0)], expecting: ["summary": stale])
        }
        #expect(error?.description.contains("changed since") == true)
        #expect(throws: LocalStoreError.self) { try store.resolve(id: state.id, ["summary": .value(.null)]) }
        #expect(try store.record(state.id).conflicts.count == 1)
        #expect(try store.outbox() == outbox)
    }

    @Test func deletedVersusEditedResolvesByKeepingOrDeleting() throws {
        let home = try TemporaryHome()
        let store = try home.store(user: "office", role: .office)
        let base = try store.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields)
        var deleter = base
        deleter.delete(allFields: Schemas.visitNote.fieldNames, replica: "r-anna", author: "anna", time: Date())
        var editor = base
        editor.edit(["summary": .string("Toch nog aangevuld")], replica: "r-bram", author: "bram", time: Date())
        try store.merge(remote: [deleter, editor])
        let conflicts = try store.conflicts()
        #expect(conflicts.map(\.field) == ["summary"])
        #expect(conflicts[0].deleteVersusEdit)

        let kept = try store.resolveDeletion(id: base.id, keep: true)
        #expect(!kept.isDeleted)
        #expect(kept.value(of: "summary") == .string("Toch nog aangevuld"))
        #expect(kept.conflicts.isEmpty)
        #expect(try store.records().map(\.id) == [base.id])

        // The other way: delete after all, having seen the edit.
        let home2 = try TemporaryHome()
        let store2 = try home2.store(user: "office", role: .office)
        try store2.merge(remote: [try deleter.merged(with: editor)])
        let deleted = try store2.resolveDeletion(id: base.id, keep: false)
        #expect(deleted.isDeleted && deleted.conflicts.isEmpty)
        #expect(try editor.merged(with: deleted).isDeleted)
        #expect(try store2.records().isEmpty)
    }

    /// A visitor keeps a plan she deleted while the office made it `vastgesteld`: keeping
    /// undoes her delete and leaves the office's decision to the office.
    @Test func aVisitorKeepsHerDeletedPlanWithoutTouchingTheOfficesDecision() throws {
        let home = try TemporaryHome()
        let store = try home.store()
        let plan = try store.create(type: "carePlan", scope: "loc-zonnehof", fields: [
            "clientCode": .string("ZH-0042"), "financing": .string("Wlz"), "careStart": .string("2026-10-01"),
            "status": .string("besproken"),
        ])
        var byOffice = plan
        byOffice.edit(["status": .string("vastgesteld"), "approvedBy": .string("olga")], replica: "r-office", author: "olga",
                      time: WallClock.now())
        try store.delete(id: plan.id)
        try store.merge(remote: [byOffice])
        let kept = try store.resolveDeletion(id: plan.id, keep: true)
        #expect(!kept.isDeleted)
        #expect(kept.entries(of: "status").contains { $0.value == .string("vastgesteld") })
        #expect(kept.entries(of: "approvedBy") == byOffice.entries(of: "approvedBy"))
    }
}
