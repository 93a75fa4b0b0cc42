import Foundation
import VeldProtocol

/// What the push policy costs: the strict read of a push body and `PushPolicy.check` +
/// `decide` against the stored states, pure (no I/O), for an ordinary batch and for the
/// worst push the limits allow.
///
/// - ordinary: 500 visit notes, each the stored state plus one new edit of one field;
/// - worst case: 4 records (a 16 MiB body), each with one field holding the most
///   concurrent values a field may hold (64, one per replica) at 60 KiB each (3.75 MiB of
///   values, under the 4 MiB per record), pushed back with a new edit of another field.
enum PolicyScenario {
    static func run(_ sizes: Sizes, _ report: Report) throws {
        let s = "push policy"
        let pusher = Pusher(tokenID: "tok_bench", user: "Anna de Vries", role: .visitor, scopes: .all)
        let me = DataGenerator.replica(1)
        let generator = DataGenerator()

        // Ordinary batch.
        var stored: [String: RecordState] = [:]
        var pushed: [RecordState] = []
        for i in 0..<500 {
            let sample = (i / 7) * DataGenerator.blockSize + i % 7
            var random = SeededRandom(seed: UInt64(i))
            var state = RecordState(id: generator.id(sample), type: "visitNote", scope: DataGenerator.locations[0])
            state.edit(generator.fields(sample, &random), replica: DataGenerator.replica(2), author: "Joost Bakker", time: WallClock.now())
            stored[state.id] = state
            state.edit(["summary": .string("Rondgang \(i)")], replica: me, author: pusher.user, time: WallClock.now())
            pushed.append(state)
        }
        let ordinary = PushRequest(replica: me, batch: UUID().uuidString.lowercased(), records: pushed)
        let ordinaryBody = Data(RecordStateJSON.encode(ordinary))
        let ordinaryRates = try (0..<max(3, sizes.repetitions)).map { _ in
            let seconds = try measure { _ = try decide(ordinaryBody, pusher, stored) }
            return Double(pushed.count) / seconds
        }
        report.add(s, "500 ordinary records: strict read + check + decide", unit: "records/s", values: ordinaryRates)

        // The worst case the limits allow.
        var worstStored: [String: RecordState] = [:]
        var worst: [RecordState] = []
        let big = String(repeating: "Bewoners waren tevreden over de maaltijd. ", count: 1_460)  // about 60 KiB
        for r in 0..<4 {
            var state = RecordState(id: RecordIDs.make(), type: "visitNote", scope: DataGenerator.locations[0])
            var random = SeededRandom(seed: UInt64(r))
            state.edit(generator.fields(r, &random), replica: DataGenerator.replica(500), author: "Joost Bakker", time: WallClock.now())
            let base = state
            for n in 0..<SyncLimits.maxEntriesPerField {
                var branch = base
                branch.edit(["observations": .string("\(n) " + big)], replica: DataGenerator.replica(600 + n), author: "Joost Bakker",
                            time: WallClock.now())
                state = try state.merged(with: branch)
            }
            worstStored[state.id] = state
            // The device pulled the conflict and edits another field: the 64 values travel.
            state.edit(["summary": .string("Rondgang \(r)")], replica: me, author: pusher.user, time: WallClock.now())
            worst.append(state)
        }
        let conflicted = worstStored.values.first!.entries(of: "observations").count
        let worstRequest = PushRequest(replica: me, batch: UUID().uuidString.lowercased(), records: worst)
        let worstBody = Data(RecordStateJSON.encode(worstRequest))
        let worstMs = try (0..<max(3, sizes.repetitions)).map { _ in try measure { _ = try decide(worstBody, pusher, worstStored) } * 1_000 }
        report.add(s, "worst case at the limits (\(worstBody.count / 1_048_576) MiB body): strict read + check + decide", unit: "ms",
                   values: worstMs, goal: "≤ 1 000 ms", check: { $0 <= 1_000 })
        report.note("Push policy: pure, no I/O. Ordinary: 500 visit notes, each its stored state plus one new edit (\(ordinaryBody.count / 1_024) KiB body). Worst case: 4 visit notes whose observations hold \(conflicted) concurrent values of about 60 KiB each, pushed back whole with a new edit of another field; the stored states are the same records before that edit. Before the limits, one push of 800 concurrent entries in one field took 40 s to validate, inside the write transaction.")
    }

    static func decide(_ body: Data, _ pusher: Pusher, _ stored: [String: RecordState]) throws -> PushPolicy.Outcome {
        let read = try RecordStateJSON.readPush(body)
        guard read.invalid.isEmpty else { throw BenchError("the bench body is invalid: \(read.invalid[0].reason)") }
        let checked = try PushPolicy.check(read.request, by: pusher, in: .builtIn)
        return try PushPolicy.decide(checked, fingerprint: "bench", inputs: PushPolicy.Inputs(stored: stored))
    }
}
