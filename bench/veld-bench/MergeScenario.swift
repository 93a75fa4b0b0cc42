import Foundation
import VeldProtocol

/// Merges of two concurrent states of a ~1 KB record: Veld's `RecordState.merged(with:)`
/// against pycrdt on the same record and edits, interleaved run by run.
///
/// Veld, A and B are states that share a base (every field written by one replica) and
/// then each edit on their own replica: A writes summary and observations, B writes
/// summary and followUp, so summary ends in a conflict.
///   - in memory: `a.merged(with: b)` on decoded states;
///   - bytes: decode A and B from their stable JSON, merge, encode the result (what a
///     server does with a pushed state and its stored one).
/// pycrdt: see bench/pycrdt_merge.py (merge_updates of the two full-state updates; and a
/// fresh Doc applying both).
enum MergeScenario {
    struct PycrdtResult: Decodable {
        var merge_updates_per_s: Double
        var apply_per_s: Double
        var update_bytes: [Int]
        var pycrdt: String
    }

    static func run(_ sizes: Sizes, _ report: Report, python: String?, script: String) throws {
        let scratch = try Scratch("merge")
        defer { scratch.remove() }
        let generator = DataGenerator()
        var random = SeededRandom(seed: 7)
        var baseFields = generator.fields(0, &random)
        baseFields["followUp"] = .string(Dutch.sentences(1, &random))
        baseFields["followUpDue"] = .string("2026-04-15")
        let aChanges: [String: FieldValue] = ["summary": .string("Rondgang huiskamer, tuin en keuken"),
                                              "observations": .string(Dutch.sentences(3, &random))]
        let bChanges: [String: FieldValue] = ["summary": .string("Rondgang met de cliëntenraad"),
                                              "followUp": .string(Dutch.sentences(1, &random))]
        var base = RecordState(id: RecordIDs.make(), type: "visitNote", scope: DataGenerator.locations[0])
        base.edit(baseFields, replica: DataGenerator.replica(1), author: "Anna de Vries", time: WallClock.now())
        var a = base, b = base
        a.edit(aChanges, replica: DataGenerator.replica(2), author: "Joost Bakker", time: WallClock.now())
        b.edit(bChanges, replica: DataGenerator.replica(3), author: "Sanne Mulder", time: WallClock.now())
        let aJSON = try StableJSON.encode(a), bJSON = try StableJSON.encode(b)
        let check = try a.merged(with: b)
        guard check.entries(of: "summary").count == 2, check.value(of: "followUp") == bChanges["followUp"],
              check.value(of: "observations") == aChanges["observations"] else { throw BenchError("merge check failed") }

        // The same record for pycrdt, as plain JSON values.
        func plain(_ fields: [String: FieldValue]) -> [String: Any] {
            fields.mapValues { value -> Any in
                switch value {
                case .null: return NSNull()
                case .bool(let flag): return flag
                case .string(let text): return text
                case .strings(let list): return list
                }
            }
        }
        let spec = scratch.path("record.json")
        try JSONSerialization.data(withJSONObject: ["base": plain(baseFields), "a": plain(aChanges), "b": plain(bChanges)])
            .write(to: spec)

        var memory: [Double] = [], bytes: [Double] = []
        var yMerge: [Double] = [], yApply: [Double] = [], ratio: [Double] = [], bytesRatio: [Double] = []
        var pycrdtVersion = "", updateBytes: [Int] = []
        var pythonProblem: String?
        if python == nil { pythonProblem = "no Python with pycrdt (set VELD_BENCH_PYTHON; scripts/bench.sh makes a venv)" }
        for _ in 0..<sizes.repetitions {
            var sink = 0
            let memorySeconds = try measure {
                for _ in 0..<sizes.merges { sink &+= try a.merged(with: b).fields.count }
            }
            let bytesSeconds = try measure {
                for _ in 0..<max(1, sizes.merges / 4) {
                    // StableJSON: how Veld reads and writes states everywhere.
                    let left = try StableJSON.decode(RecordState.self, from: aJSON)
                    let right = try StableJSON.decode(RecordState.self, from: bJSON)
                    sink &+= try StableJSON.encode(left.merged(with: right)).count
                }
            }
            if sink == 42 { log("") }  // keeps the loops from being optimised away
            memory.append(Double(sizes.merges) / memorySeconds)
            bytes.append(Double(max(1, sizes.merges / 4)) / bytesSeconds)
            if let python, pythonProblem == nil {
                do {
                    let out = try Binaries.run(URL(fileURLWithPath: python), [script, spec.path, String(sizes.merges)])
                    let result = try JSONDecoder().decode(PycrdtResult.self, from: Data(out.split(separator: "\n").last!.utf8))
                    yMerge.append(result.merge_updates_per_s)
                    yApply.append(result.apply_per_s)
                    ratio.append(memory.last! / result.merge_updates_per_s)
                    bytesRatio.append(bytes.last! / result.merge_updates_per_s)
                    pycrdtVersion = result.pycrdt
                    updateBytes = result.update_bytes
                } catch {
                    pythonProblem = "pycrdt run failed: \(error)"
                }
            }
        }
        let s = "merge"
        report.add(s, "Veld RecordState.merged(with:) on decoded states", unit: "merges/s", values: memory)
        report.add(s, "Veld decode both from JSON + merge + encode", unit: "merges/s", values: bytes)
        if let pythonProblem {
            report.skip(s, "pycrdt comparison", goal: "faster than pycrdt", reason: pythonProblem)
            if python != nil { report.error(pythonProblem) }
        } else {
            report.add(s, "pycrdt \(pycrdtVersion) merge_updates(A, B) of full-state updates", unit: "merges/s", values: yMerge)
            report.add(s, "pycrdt new Doc + apply_update(B) + apply_update(A)", unit: "merges/s", values: yApply)
            report.add(s, "ratio Veld in-memory / pycrdt merge_updates (same run)", unit: "×", values: ratio,
                       goal: "> 1× (faster than pycrdt)", check: { $0 > 1 })
            report.add(s, "ratio Veld JSON decode+merge+encode / pycrdt merge_updates", unit: "×", values: bytesRatio,
                       goal: "> 1×", check: { $0 > 1 })
            report.note("Merge: one visit note (Veld state \(aJSON.count) and \(bJSON.count) bytes of JSON; the pycrdt full-state updates \(updateBytes.map(String.init).joined(separator: " and ")) bytes). Base written by one replica; A sets summary and observations, B sets summary and followUp, concurrently. Veld keeps both summaries (a conflict), Yjs keeps one. Veld is timed over \(sizes.merges) in-memory merges (and a quarter as many JSON round trips), pycrdt over \(sizes.merges) merges per run, in a Python process started right after each Veld run (Python start-up not timed).")
        }
    }
}
