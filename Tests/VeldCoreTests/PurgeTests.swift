import Foundation
import PropertyBased
import Testing
@testable import VeldCore
import VeldProtocol
import VeldTestSupport

/// Scope removal and wipe on the device, on generated stores: after the token loses
/// scopes the device keeps exactly the records of the scopes it still holds; an unsent
/// change of a removed scope is kept in the discard log, never dropped silently; the
/// receipt counts exactly what went; a wipe leaves nothing but the receipt.
@Suite struct PurgeTests {
    static let scopes = ["loc-a", "loc-b", "loc-c", "loc-d"]

    /// Records from `codes`: scope `code % 4`, synced (merged from another device) when
    /// `code / 4` is even, else a local change not yet sent.
    static func populate(_ store: LocalStore, _ codes: [Int]) throws -> [(id: String, scope: String, unsent: Bool)] {
        var made: [(String, String, Bool)] = []
        for code in codes {
            let scope = scopes[code % scopes.count]
            if (code / 4) % 2 == 0 {
                var state = RecordState(id: RecordIDs.make(), type: "visitNote", scope: scope)
                state.edit(TemporaryHome.visitFields, replica: "r-elsewhere", author: "bram", time: Date(timeIntervalSince1970: 1_795_168_800))
                try store.merge(remote: [state])
                made.append((state.id, scope, false))
            } else {
                let state = try store.create(type: "visitNote", scope: scope, fields: TemporaryHome.visitFields)
                made.append((state.id, scope, true))
            }
        }
        return made
    }

    @Test func aNarrowedTokenLeavesExactlyItsScopes() async {
        await checkProperty(count: 60, input: Gen.int(in: 0...1_000).array(of: 0...14), Gen.int(in: 0...15)) { (codes: [Int], mask: Int) async throws in
            let home = try TemporaryHome()
            let store = try home.store()
            let made = try Self.populate(store, codes)
            // The first identity removes nothing: a record in a scope the token never held
            // is this device's own mistake, refused on push and set aside, not purged.
            let identity = { (scopes: [String]) in DeviceIdentity(token: "tok_1", user: "anna", role: .carer, scopes: scopes, replica: nil) }
            #expect(try store.adopt(identity(Self.scopes)) == nil)
            #expect(try store.records(RecordQuery(includeDeleted: true)).count == made.count)
            let kept = Self.scopes.enumerated().filter { mask & (1 << $0.offset) != 0 }.map(\.element)
            let receipt = try store.adopt(identity(kept))
            let staying = made.filter { kept.contains($0.scope) }
            let going = made.filter { !kept.contains($0.scope) }
            #expect(Set(try store.records(RecordQuery(includeDeleted: true)).map(\.id)) == Set(staying.map(\.id)))
            #expect(Set(try store.outbox().map(\.recordID)) == Set(staying.filter(\.unsent).map(\.id)))
            #expect(Set(try store.discardedChanges().map(\.recordID)) == Set(going.filter(\.unsent).map(\.id)))
            if going.isEmpty {
                #expect(receipt == nil)
                #expect(try store.pendingReceipts().isEmpty)
            } else {
                let receipt = try #require(receipt)
                #expect(receipt.kind == .scopes && receipt.records == going.count && receipt.unsent == going.filter(\.unsent).count)
                #expect(receipt.scopes == Set(going.map(\.scope)).sorted())
                #expect(try store.pendingReceipts() == [receipt])
                #expect(receipt.problem == nil)
            }
            #expect(try store.integrityProblems().isEmpty)
            // Narrowed to nothing: what stayed goes now.
            #expect(try store.adopt(identity([]))?.records ?? 0 == staying.count)
            #expect(try store.records(RecordQuery(includeDeleted: true)).isEmpty)
        }
    }

    /// A first identity narrower than what the device holds takes nothing.
    @Test func aFirstIdentityPurgesNothing() throws {
        let home = try TemporaryHome()
        let store = try home.store()
        let made = try Self.populate(store, Array(0..<8))
        #expect(try store.adopt(DeviceIdentity(token: "tok_1", user: "anna", role: .carer, scopes: ["loc-a"], replica: nil)) == nil)
        #expect(try store.records(RecordQuery(includeDeleted: true)).count == made.count)
    }

    @Test func aWipeLeavesNothingButItsReceipt() async {
        await checkProperty(count: 30, input: Gen.int(in: 0...1_000).array(of: 0...14)) { (codes: [Int]) async throws in
            let home = try TemporaryHome()
            let store = try home.store()
            let made = try Self.populate(store, codes)
            let receipt = try #require(try store.wipe())
            #expect(receipt.kind == .wipe && receipt.records == made.count && receipt.unsent == made.filter(\.unsent).count)
            #expect(try store.records(RecordQuery(includeDeleted: true)).isEmpty)
            #expect(try store.outbox().isEmpty && store.discardedChanges().isEmpty)
            #expect(try store.pendingReceipts() == [receipt] && store.wipedAt() != nil)
            #expect(try store.wipe() == nil, "a second wipe reports again")
            #expect(try store.pendingReceipts().count == 1)
        }
    }
}
