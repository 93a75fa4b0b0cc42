import Foundation
import VeldProtocol

/// The one push pipeline both storages run inside their write transaction: they read the
/// policy's inputs, this decides, they persist what it says.
///
/// ```swift
/// switch try PushPipeline.decide(push, fingerprint: fingerprint, inputs: inputs, check: check) {
/// case .answer(let response): return response        // a replay: nothing to write
/// case .persist(let plan): write(plan); return plan.response
/// }
/// ```
enum PushPipeline {
    enum Step {
        /// The same batch again: answer as the first time, write nothing.
        case answer(PushResponse)
        /// Accepted: write the plan in this transaction, then answer.
        case persist(PushPlan)
    }

    /// `PushPolicy.decide`, then the caller's extra `check` on the stored states (the
    /// storage tests use it to refuse on cue) before anything is written.
    static func decide(_ push: CheckedPush, fingerprint: String, inputs: PushPolicy.Inputs,
                       check: ([String: RecordState]) throws -> Void) throws -> Step {
        switch try PushPolicy.decide(push, fingerprint: fingerprint, inputs: inputs) {
        case .replay(let json):
            return .answer(try StableJSON.decode(PushResponse.self, from: Data(json.utf8)))
        case .write(let plan):
            try check(inputs.stored)
            return .persist(plan)
        }
    }
}
