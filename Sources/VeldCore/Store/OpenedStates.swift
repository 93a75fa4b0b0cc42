import Foundation
import VeldProtocol

/// Record states this process opened or sealed lately, each with the sealed bytes it came
/// from or went to. A read that finds the same bytes in the same record's row takes the
/// state kept here instead of decrypting and decoding it again; a record edited several
/// times in a row (a form saved field by field) is decoded once.
///
/// Sound by construction: equal bytes are the same state. Every seal takes a fresh nonce,
/// and a store without encryption keeps the canonical JSON. A row changed by any other
/// path (another process, a merge, a rotation of the key) holds other bytes and is read
/// afresh. A state is kept on a write only when decoding its bytes gives it back exactly
/// (``keepsExactly(_:)``).
final class OpenedStates: @unchecked Sendable {
    private let lock = NSLock()
    /// Up to two per record, the latest first: a record edited here is read both as its
    /// state and as the state the server last proved (the base of its push delta).
    private var states: [String: [(sealed: Data, state: RecordState)]] = [:]
    private var enabled = true
    /// How many records are kept; past it, the table starts again (a pull of a whole page
    /// passes through here, and an edit needs only the records edited just before).
    let capacity: Int

    init(capacity: Int = 1024) { self.capacity = capacity }

    /// The state kept for `id` if it came from or went to exactly `sealed`.
    func state(_ id: String, sealed: Data) -> RecordState? {
        lock.withLock {
            states[id]?.first { $0.sealed == sealed }?.state
        }
    }

    func keep(_ state: RecordState, sealed: Data) {
        lock.withLock {
            guard enabled else { return }
            if states.count >= capacity, states[state.id] == nil { states.removeAll(keepingCapacity: true) }
            let kept = states[state.id] ?? []
            states[state.id] = [(sealed, state)] + kept.filter { $0.sealed != sealed }.prefix(1)
        }
    }

    /// Forgets every state (after a wipe, a purge or an erasure: what left the database
    /// leaves this process's memory too).
    func removeAll() {
        lock.withLock { states.removeAll() }
    }

    /// Off: nothing is kept (for the benchmark that shows what keeping them buys).
    func setEnabled(_ on: Bool) {
        lock.withLock {
            enabled = on
            if !on { states.removeAll() }
        }
    }

    /// Whether decoding `state`'s stable JSON gives `state` back to the bit: its times are
    /// whole seconds (``FieldEntry`` makes them so) of years 0000–9999, the range the
    /// writer formats by arithmetic.
    static func keepsExactly(_ state: RecordState) -> Bool {
        state.fields.values.allSatisfy { entries in
            entries.allSatisfy { entry in
                let seconds = entry.time.timeIntervalSince1970
                return seconds == seconds.rounded(.down) && seconds >= -62_167_219_200 && seconds < 253_402_300_800
            }
        }
    }
}
