import Foundation

/// How big each scenario is: `smoke` (seconds, CI), `default` (a few minutes on 2
/// cores), `full` (the sizes).
struct Sizes: Sendable {
    var name: String
    var repetitions: Int
    /// Offline capture: edits per run, records they cycle over, records per batch.
    var captureEdits: Int
    var captureRecords: Int
    var captureBatch: Int
    /// First sync: records on the server; catch-up: changed records per run; push: edited
    /// records per run.
    var records: Int
    var catchUp: Int
    var push: Int
    /// Server load: device counts, seconds per run, edits per cycle.
    var devices: [Int]
    var loadSeconds: Double
    var editsPerCycle: Int
    /// Merge: merges per timed run.
    var merges: Int

    static let smoke = Sizes(name: "smoke", repetitions: 1, captureEdits: 20, captureRecords: 20, captureBatch: 10,
                             records: 1_000, catchUp: 100, push: 200, devices: [5], loadSeconds: 2, editsPerCycle: 20,
                             merges: 2_000)
    static let standard = Sizes(name: "default", repetitions: 5, captureEdits: 200, captureRecords: 60, captureBatch: 100,
                                records: 20_000, catchUp: 1_000, push: 5_000, devices: [50], loadSeconds: 5, editsPerCycle: 20,
                                merges: 20_000)
    static let full = Sizes(name: "full", repetitions: 5, captureEdits: 1_000, captureRecords: 100, captureBatch: 100,
                            records: 100_000, catchUp: 1_000, push: 10_000, devices: [50, 500], loadSeconds: 30, editsPerCycle: 20,
                            merges: 100_000)
}
