import Foundation
import PropertyBased
import Testing
import VeldTestSupport
import VeldProtocol

/// The merge laws and "nothing is lost that is not superseded", over generated histories
/// of 2–6 replicas editing, deleting and merging one record in random order, with
/// duplicated and reordered deliveries.
@Suite struct MergeLawTests {
    static let operations = Gen.int(in: 0...999_999).array(of: 1...60)
    static let replicaCounts = Gen.int(in: 2...6)

    static func run(_ replicas: Int, _ codes: [Int]) -> History {
        var history = History(replicaCount: replicas)
        for code in codes { history.apply(code) }
        return history
    }

    /// Three states from the pool a history produced (any replica, any moment).
    static func pick(_ history: History, _ seeds: [Int]) -> [RecordState] {
        seeds.map { history.snapshots[$0 % history.snapshots.count] }
    }

    @Test func mergeIsCommutative() async {
        await checkProperty(count: 200, input: Self.replicaCounts, Self.operations, Gen.int(in: 0...10_000).array(of: 2)) { n, codes, seeds in
            let states = Self.pick(Self.run(n, codes), seeds)
            let ab = try states[0].merged(with: states[1])
            let ba = try states[1].merged(with: states[0])
            #expect(ab == ba)
        }
    }

    @Test func mergeIsAssociative() async {
        await checkProperty(count: 200, input: Self.replicaCounts, Self.operations, Gen.int(in: 0...10_000).array(of: 3)) { n, codes, seeds in
            let s = Self.pick(Self.run(n, codes), seeds)
            let left = try s[0].merged(with: s[1]).merged(with: s[2])
            let right = try s[0].merged(with: s[1].merged(with: s[2]))
            #expect(left == right)
        }
    }

    @Test func mergeIsIdempotent() async {
        await checkProperty(count: 200, input: Self.replicaCounts, Self.operations, Gen.int(in: 0...10_000).array(of: 2)) { n, codes, seeds in
            let s = Self.pick(Self.run(n, codes), seeds)
            let self0 = try s[0].merged(with: s[0])
            #expect(self0 == s[0])
            let once = try s[0].merged(with: s[1])
            let twice = try once.merged(with: s[1])
            let back = try once.merged(with: s[0])
            #expect(twice == once)
            #expect(back == once)
        }
    }

    /// After every replica has seen every edit, all hold the same state, and that state
    /// holds exactly the entries that no other edit of the same field saw: nothing is
    /// lost that was not superseded, and nothing superseded survives.
    @Test func replicasThatSawTheSameEditsAreEqualAndLoseNothing() async {
        await checkProperty(count: 300, input: Self.replicaCounts, Self.operations) { n, codes in
            var history = Self.run(n, codes)
            history.syncAll()
            for replica in history.replicas.dropFirst() {
                #expect(replica == history.replicas[0])
            }
            let final = history.replicas[0]
            for field in History.allFields {
                #expect(History.entries(of: field, in: final) == history.expectedEntries(of: field), "field \(field)")
            }
            // The context has seen every edit ever made.
            for edit in history.edits { #expect(final.context.contains(edit.dot)) }
        }
    }

    /// Merging the same set of states in two different orders gives the same result.
    @Test func deliveryOrderDoesNotMatter() async {
        await checkProperty(count: 200, input: Self.replicaCounts, Self.operations, Gen.int(in: 0...10_000).array(of: 2...8)) { n, codes, seeds in
            let states = Self.pick(Self.run(n, codes), seeds)
            let forward = try states.dropFirst().reduce(states[0]) { try $0.merged(with: $1) }
            let reversed = try states.reversed().dropFirst().reduce(states.last!) { try $0.merged(with: $1) }
            #expect(forward == reversed)
        }
    }

    /// A local edit made after seeing state S supersedes exactly what S held for the
    /// edited fields: merged with any other state T, the edited field keeps the new entry
    /// plus T's entries that S had not seen, and nothing else.
    @Test func anEditSupersedesExactlyWhatItSaw() async {
        await checkProperty(count: 300, input: Self.replicaCounts, Self.operations, Gen.int(in: 0...10_000).array(of: 2)) { n, codes, seeds in
            let history = Self.run(n, codes)
            let seen = Self.pick(history, [seeds[0]])[0]
            let other = Self.pick(history, [seeds[1]])[0]
            var edited = seen
            let dot = edited.edit(["summary": .string("nieuw")], replica: "r-editor", author: "editor", time: Date())
            let merged = try edited.merged(with: other)
            let expected = Set(["\(dot)=nieuw"]).union(
                other.entries(of: "summary").filter { !seen.context.contains($0.dot) }.map { "\($0.dot)=\($0.value)" })
            #expect(History.entries(of: "summary", in: merged) == expected)
            // Fields the edit did not write are unaffected by it.
            let withoutEdit = try seen.merged(with: other)
            for field in ["kind", "observations", "status"] {
                #expect(merged.entries(of: field) == withoutEdit.entries(of: field))
            }
        }
    }

    /// Two replicas that start from one state and edit the same field concurrently both
    /// keep both values; editing different fields merges with no conflict at all.
    @Test func concurrentEditsOfOneFieldAreAllKeptOfDifferentFieldsMergeCleanly() async {
        let fields = Gen.int(in: 0...3).map { History.fieldNames[$0] }
        await checkProperty(count: 200, input: Self.operations, fields, fields, Gen.int(in: 2...6)) { codes, f1, f2, writers in
            var base = Self.run(2, codes)
            base.syncAll()
            let common = base.replicas[0]
            let states = (0..<writers).map { index -> RecordState in
                var state = common
                state.edit([f1: .string("waarde \(index)")], replica: "w\(index)", author: "w\(index)", time: Date())
                return state
            }
            let merged = try states.dropFirst().reduce(states[0]) { try $0.merged(with: $1) }
            #expect(Set(merged.entries(of: f1).map(\.value)) == Set((0..<writers).map { FieldValue.string("waarde \($0)") }))
            #expect(merged.conflicts[f1]?.count == writers)

            var left = common
            var right = common
            left.edit([f1: .string("links")], replica: "w-left", author: "l", time: Date())
            if f2 != f1 {
                right.edit([f2: .string("rechts")], replica: "w-right", author: "r", time: Date())
                let clean = try left.merged(with: right)
                #expect(clean.value(of: f1) == .string("links"))
                #expect(clean.value(of: f2) == .string("rechts"))
                #expect(clean.entries(of: f1).count == 1 && clean.entries(of: f2).count == 1)
                #expect(clean.conflicts.keys.filter { $0 == f1 || $0 == f2 }.isEmpty)
            }
        }
    }

    /// A delete concurrent with an edit never hides the edit: the edited field shows both
    /// the value the deleter saw and the new one.
    @Test func deleteConcurrentWithEditIsAVisibleConflict() async {
        await checkProperty(count: 200, input: Self.operations, Gen.int(in: 0...3).map { History.fieldNames[$0] }) { codes, field in
            var base = Self.run(2, codes)
            base.syncAll()
            var deleter = base.replicas[0]
            var editor = base.replicas[1]
            deleter.delete(allFields: History.fieldNames, replica: "d", author: "d", time: Date())
            editor.edit([field: .string("bewerkt")], replica: "e", author: "e", time: Date())
            let merged = try deleter.merged(with: editor)
            #expect(merged.isDeleted)
            #expect(merged.entries(of: field).contains { $0.value == .string("bewerkt") })
            #expect(merged.conflicts[field] != nil)
        }
    }

    /// What reads show for a field in conflict is the same on every replica.
    @Test func shownValueIsDeterministic() async {
        await checkProperty(count: 200, input: Self.replicaCounts, Self.operations) { n, codes in
            var history = Self.run(n, codes)
            history.syncAll()
            for field in History.allFields {
                let shown = history.replicas.map { $0.shownEntry(of: field) }
                #expect(Set(shown.map { $0?.dot }).count == 1)
            }
        }
    }

    /// A state survives the stable JSON encoding unchanged, and encodes byte-identically.
    @Test func stableJSONRoundTrips() async throws {
        await checkProperty(count: 100, input: Self.replicaCounts, Self.operations) { n, codes in
            let history = Self.run(n, codes)
            let state = history.snapshots.last!
            let data = try StableJSON.encode(state)
            let back = try StableJSON.decode(RecordState.self, from: data)
            #expect(back == state)
            let again = try StableJSON.encode(back)
            #expect(again == data)
        }
    }
}
