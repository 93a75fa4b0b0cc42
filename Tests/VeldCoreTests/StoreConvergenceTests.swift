import Foundation
import PropertyBased
import Testing
import VeldTestSupport
@testable import VeldCore
import VeldProtocol

/// Several devices, each with its own SQLite store, edit a few shared records and pass
/// states to one another in a generated order (the shape sync will have, without the
/// network). Afterwards every store holds the same states, and every edit a store
/// acknowledged is either current or was seen by an edit that superseded it.
@Suite struct StoreConvergenceTests {
    struct AcknowledgedEdit {
        let recordID: String
        let dot: Dot
        let values: [String: FieldValue]
        let saw: VersionVector
    }

    static let fields = ["summary", "observations", "followUp", "kind"]

    @Test func storesConvergeAndLoseNothingAcknowledged() async throws {
        await checkProperty(count: 25, input: Gen.int(in: 2...4), Gen.int(in: 0...999_999).array(of: 1...40)) { deviceCount, codes in
            let homes = try (0..<deviceCount).map { _ in try TemporaryHome() }
            let stores = try homes.enumerated().map { index, home in try home.store(user: "user\(index)") }
            // Two shared records, created on device 0 and handed to everyone.
            let shared = try (0..<2).map { _ in
                try stores[0].create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields)
            }
            var acknowledged: [AcknowledgedEdit] = []
            for state in shared {
                let replica = try stores[0].profile().replicaID
                acknowledged.append(AcknowledgedEdit(recordID: state.id, dot: Dot(replica: replica, counter: 1),
                                                     values: TemporaryHome.visitFields, saw: VersionVector()))
            }
            for store in stores.dropFirst() { try store.merge(remote: shared) }

            for code in codes {
                let device = code % deviceCount
                let other = (code / 10) % deviceCount
                let record = shared[(code / 100) % shared.count].id
                if code % 3 == 0 {
                    // Pass every record of `device` to `other`.
                    try stores[other].merge(remote: stores[device].records(RecordQuery(includeDeleted: true)))
                } else {
                    let field = Self.fields[(code / 1000) % (Self.fields.count - 1)]
                    let value: FieldValue = .string("\(field) \(code)")
                    let replica = try stores[device].profile().replicaID
                    let after = try stores[device].edit(id: record, changes: [field: value])
                    var saw = after.context
                    saw = VersionVector(saw.counters.merging([replica: after.context[replica] - 1]) { $1 })
                    acknowledged.append(AcknowledgedEdit(recordID: record, dot: Dot(replica: replica, counter: after.context[replica]),
                                                         values: [field: value], saw: saw))
                }
            }
            // Everyone passes everything to everyone.
            for _ in 0..<2 {
                for sender in stores { for receiver in stores where receiver !== sender {
                    try receiver.merge(remote: sender.records(RecordQuery(includeDeleted: true)))
                } }
            }
            let final = try stores[0].records(RecordQuery(includeDeleted: true))
            for store in stores.dropFirst() {
                #expect(try store.records(RecordQuery(includeDeleted: true)) == final)
            }
            let byID = Dictionary(uniqueKeysWithValues: final.map { ($0.id, $0) })
            for edit in acknowledged {
                let state = try #require(byID[edit.recordID])
                for (field, value) in edit.values {
                    let present = state.entries(of: field).contains { $0.dot == edit.dot && $0.value == value }
                    let superseded = acknowledged.contains { other in
                        other.recordID == edit.recordID && other.dot != edit.dot && other.values[field] != nil
                            && other.saw.contains(edit.dot)
                    }
                    #expect(present != superseded, "edit \(edit.dot) of \(field): present \(present), superseded \(superseded)")
                }
            }
        }
    }
}
