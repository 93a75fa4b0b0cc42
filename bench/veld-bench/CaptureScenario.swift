import Foundation
@_spi(Benchmarks) import VeldCore
import VeldProtocol

/// Offline capture: edits per second into a LocalStore (state + outbox, one transaction
/// per edit), against a raw SQLite insert of the same bytes (the JSON state each edit
/// wrote) with the same pragmas, one transaction per row; and both batched.
enum CaptureScenario {
    static func run(_ sizes: Sizes, _ report: Report) throws {
        let scratch = try Scratch("capture")
        defer { scratch.remove() }
        let generator = DataGenerator()
        let perEditStore = try seededStore(scratch.path("store"), generator, sizes.captureRecords)
        let batchedStore = try seededStore(scratch.path("store-batched"), generator, sizes.captureRecords)
        // The same edits into a store that keeps no opened states: what keeping them buys.
        let coldStore = try seededStore(scratch.path("store-cold"), generator, sizes.captureRecords)
        coldStore.keepOpenedStates(false)
        let raw = try RawTable(path: scratch.path("raw.sqlite").path)
        let rawBatched = try RawTable(path: scratch.path("raw-batched.sqlite").path)

        var storeRate: [Double] = [], rawRate: [Double] = [], ratio: [Double] = []
        var batchedRate: [Double] = [], rawBatchedRate: [Double] = [], batchedRatio: [Double] = []
        var coldRatio: [Double] = []
        var bytes = 0
        for rep in 0..<sizes.repetitions {
            let edits = (0..<sizes.captureEdits).map { n -> (String, [String: FieldValue]) in
                let i = n % sizes.captureRecords
                var random = SeededRandom(seed: UInt64(rep * 1_000_003 + n))
                return (generator.id(i), generator.fieldEdit(generator.type(i), &random))
            }
            // One transaction per edit, through the public API; the store that keeps no
            // opened states first or second in turn.
            var states: [RecordState] = []
            let cold = { try measure { for (id, changes) in edits { try coldStore.edit(id: id, changes: changes) } } }
            let coldFirst = rep % 2 == 0 ? try cold() : nil
            let storeSeconds = try measure {
                for (id, changes) in edits { states.append(try perEditStore.edit(id: id, changes: changes)) }
            }
            let coldSeconds = try coldFirst ?? cold()
            coldRatio.append(coldSeconds / storeSeconds)
            let rows = try states.map { ($0.id, try StableJSON.encode($0)) }
            bytes = rows.reduce(0) { $0 + $1.1.count } / max(1, rows.count)
            let rawSeconds = try measure { for row in rows { try raw.insert(CollectionOfOne(row)) } }
            storeRate.append(Double(edits.count) / storeSeconds)
            rawRate.append(Double(edits.count) / rawSeconds)
            ratio.append(storeSeconds / rawSeconds)

            // Batched: LocalStore.edit(_:) with captureBatch edits per transaction.
            var batchedStates: [RecordState] = []
            let batchedSeconds = try measure {
                for start in stride(from: 0, to: edits.count, by: sizes.captureBatch) {
                    batchedStates += try batchedStore.edit(edits[start..<min(start + sizes.captureBatch, edits.count)]
                        .map { (id: $0.0, changes: $0.1) })
                }
            }
            let batchedRows = try batchedStates.map { ($0.id, try StableJSON.encode($0)) }
            let rawBatchedSeconds = try measure {
                for start in stride(from: 0, to: batchedRows.count, by: sizes.captureBatch) {
                    try rawBatched.insert(batchedRows[start..<min(start + sizes.captureBatch, batchedRows.count)])
                }
            }
            batchedRate.append(Double(edits.count) / batchedSeconds)
            rawBatchedRate.append(Double(edits.count) / rawBatchedSeconds)
            batchedRatio.append(batchedSeconds / rawBatchedSeconds)
        }
        try raw.close()
        try rawBatched.close()

        let s = "offline capture"
        report.add(s, "LocalStore.edit, one transaction per edit", unit: "edits/s", values: storeRate)
        report.add(s, "floor: raw SQLite insert of the same bytes, one transaction per row", unit: "rows/s", values: rawRate)
        report.add(s, "time ratio LocalStore.edit / raw insert (same run, interleaved)", unit: "×", values: ratio,
                   goal: "≤ 2×", check: { $0 <= 2 })
        report.add(s, "time ratio LocalStore.edit keeping no opened states / keeping them (same run, alternating)", unit: "×",
                   values: coldRatio)
        report.add(s, "LocalStore.edit(_:) batched, \(sizes.captureBatch) edits per transaction", unit: "edits/s", values: batchedRate)
        report.add(s, "floor: raw insert, \(sizes.captureBatch) rows per transaction", unit: "rows/s", values: rawBatchedRate)
        report.add(s, "time ratio batched edits / batched raw insert", unit: "×", values: batchedRatio,
                   goal: "≤ 3×", check: { $0 <= 3 })
        report.note("Offline capture: \(sizes.captureEdits) one-field edits per run over \(sizes.captureRecords) records; the states written average \(bytes) bytes of JSON. Both sides use WAL and synchronous=FULL, so one-transaction-per-edit is bounded by this disk's fsync.")
    }

    /// A visitor's store holding records 0..<count of the generator (parents before goals).
    /// `encrypted: false` keeps the values unsealed, for EncryptionScenario's comparison.
    static func seededStore(_ home: URL, _ generator: DataGenerator, _ count: Int, encrypted: Bool = true) throws -> LocalStore {
        let store = encrypted ? try LocalStore.initialise(home: home, user: "bench-visitor", role: .carer)
            : try LocalStore.initialiseWithoutEncryption(home: home, user: "bench-visitor", role: .carer)
        var random = SeededRandom(seed: 1)
        for i in 0..<count {
            let type = generator.type(i)
            let fields = generator.fields(i, &random)
            let scope: String? = type == "carePlanGoal" ? nil : generator.scope(i)
            try store.create(type: type, scope: scope, fields: fields, id: generator.id(i))
        }
        return store
    }
}
