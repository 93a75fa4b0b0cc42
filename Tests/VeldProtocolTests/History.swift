import Foundation
import VeldProtocol

/// A generated run of several replicas editing, deleting and merging one record, with an
/// oracle: every edit ever made, each with the context its replica had seen when it made it.
///
/// Operations are decoded from plain integers so the property-test library can generate
/// and shrink them as an array. A merge may deliver an old snapshot of the sender, which
/// models reordered and duplicated delivery.
struct History {
    struct Edit {
        let dot: Dot
        let values: [String: FieldValue]
        /// What the editing replica had seen just before the edit.
        let saw: VersionVector
    }

    static let fieldNames = ["summary", "kind", "observations", "status"]
    static let allFields = fieldNames + [RecordState.deletedField]
    static let recordID = "6f1c2a5e-4b0e-4c3a-9d55-0a7e8c1f2b3d"

    private(set) var replicas: [RecordState]
    /// Every state any replica ever held, oldest first: the pool that laws are checked on.
    private(set) var snapshots: [RecordState]
    private(set) var edits: [Edit] = []
    private(set) var snapshotsOf: [[RecordState]]

    init(replicaCount: Int) {
        let empty = RecordState(id: Self.recordID, type: "visitNote", scope: "loc-zonnehof")
        replicas = Array(repeating: empty, count: replicaCount)
        snapshots = [empty]
        snapshotsOf = Array(repeating: [empty], count: replicaCount)
    }

    static func replicaName(_ index: Int) -> String { "r\(index)" }

    /// Applies one operation decoded from `code`.
    mutating func apply(_ code: Int) {
        let n = replicas.count
        let actor = (code / 10) % n
        let other = (code / 100) % n
        switch code % 10 {
        case 0...4:
            let mask = (code / 1000) % 15 + 1
            var values: [String: FieldValue] = [:]
            for (bit, field) in Self.fieldNames.enumerated() where mask & (1 << bit) != 0 {
                values[field] = (code / 7) % 9 == 0 ? .null : .string("\(field)-\(code)")
            }
            edit(actor, values, timeSeed: code)
        case 5:
            var state = replicas[actor]
            let saw = state.context
            let dot = state.delete(allFields: Self.fieldNames, replica: Self.replicaName(actor), author: "a\(actor)",
                                   time: Self.time(code))
            var written: [String: FieldValue] = [:]
            for (field, entries) in state.fields {
                if let entry = entries.first(where: { $0.dot == dot }) { written[field] = entry.value }
            }
            edits.append(Edit(dot: dot, values: written, saw: saw))
            record(actor, state)
        default:
            // Deliver the sender's current state, or an old snapshot of it.
            let history = snapshotsOf[other]
            let pick = code % 20 < 15 ? history.count - 1 : (code / 10_000) % history.count
            receive(actor, history[pick])
        }
    }

    mutating func edit(_ actor: Int, _ values: [String: FieldValue], timeSeed: Int = 0) {
        var state = replicas[actor]
        let saw = state.context
        let dot = state.edit(values, replica: Self.replicaName(actor), author: "a\(actor)", time: Self.time(timeSeed))
        edits.append(Edit(dot: dot, values: values, saw: saw))
        record(actor, state)
    }

    mutating func receive(_ actor: Int, _ incoming: RecordState) {
        // swiftlint:disable:next force_try
        record(actor, try! replicas[actor].merged(with: incoming))
    }

    /// Every replica sends its state to every other until all have seen everything.
    mutating func syncAll() {
        for _ in 0..<2 {
            for sender in replicas.indices {
                for receiver in replicas.indices where receiver != sender {
                    receive(receiver, replicas[sender])
                }
            }
        }
    }

    private mutating func record(_ actor: Int, _ state: RecordState) {
        replicas[actor] = state
        snapshots.append(state)
        snapshotsOf[actor].append(state)
    }

    /// Wall times that jump back and forth: causality must not depend on them.
    static func time(_ seed: Int) -> Date {
        Date(timeIntervalSince1970: 1_790_000_000 + Double((seed * 7919) % 100_000))
    }

    /// The oracle: the (dot, value) pairs of `field` that no later edit of that field saw.
    func expectedEntries(of field: String) -> Set<String> {
        let writers = edits.filter { $0.values[field] != nil }
        let surviving = writers.filter { candidate in
            !writers.contains { $0.dot != candidate.dot && $0.saw.contains(candidate.dot) }
        }
        return Set(surviving.map { "\($0.dot)=\($0.values[field]!)" })
    }

    static func entries(of field: String, in state: RecordState) -> Set<String> {
        Set(state.entries(of: field).map { "\($0.dot)=\($0.value)" })
    }
}
