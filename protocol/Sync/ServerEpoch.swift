import Foundation

/// What lets every edit a device holds survive a server restored from a backup
/// (protocol/SPEC.md, "Server epochs").
///
/// A server has an epoch, a random id it names in every answer (`Veld-Epoch`) and in
/// `GET /v1/me`. A restore gives it a new one. A device that meets a new epoch starts its
/// cursor over and pushes back every record whose state the server lacks or holds older.
///
/// The device may hold other devices' edits the restored server lost, and a push may not
/// carry edits of other replicas the server has not seen (403 `forged-dot`). So the server
/// vouches for every state it serves: a pull page carries, for each record, a proof (an
/// HMAC of the state under a key only the server holds, and its backups). A device keeps
/// the last state it was served with its proof and, after a restore, sends it back with
/// the push (``ProvenState``): the server checks the proof and takes the state as its own
/// before it judges the push, so nothing the server once held is refused as forged, and no
/// device can make up an edit of another.
public enum ServerEpoch {
    /// The header naming the server's epoch on every answer, and the epoch a device
    /// knows on its requests (a push or pull under an older epoch gets 409 `epoch-changed`).
    public static let headerName = "Veld-Epoch"

    /// Epoch ids: `e-` and 32 lowercase hex digits.
    public static func isValid(_ epoch: String) -> Bool {
        let utf8 = Array(epoch.utf8)
        return utf8.count == 34 && utf8[0] == UInt8(ascii: "e") && utf8[1] == UInt8(ascii: "-")
            && utf8[2...].allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// How long after a restore the server takes proven states back: long enough for every
    /// device that is in use to sync once, short enough that a proof made with a stolen
    /// backup's key is no use for long (SPEC.md, "Server epochs and restores").
    public static let recoveryDays = 30

    /// A new epoch id from `random` 16 bytes.
    public static func make(random: [UInt8]) -> String {
        "e-" + random.prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    /// The answer to a push or pull that names an epoch the server no longer has.
    public static func changed(from known: String, to current: String) -> Problem {
        Problem(type: .epochChanged, status: 409,
                detail: "the server was restored from a backup (its epoch is now \(current), this device knew \(known)); sync again: the device starts its cursor over and sends back what the server lacks. Nothing was stored.")
    }
}

/// A record state exactly as the server once served it, with the server's proof of it:
/// what a push after a restore carries so the server can take back what it lost.
///
/// ```json
/// {"proof": "p1.QWx0aG91Z2ggdGhl", "state": RecordState}
/// ```
public struct ProvenState: Codable, Hashable, Sendable {
    public var proof: String
    public var state: RecordState

    public init(proof: String, state: RecordState) {
        self.proof = proof
        self.state = state
    }
}

/// Checks the server's proofs: the server's key, behind a seam so ``PushPolicy`` stays
/// pure (the server implements it; a device has no key and checks nothing).
public protocol ProofChecking: Sendable {
    /// Whether `proof` is the server's proof of `state`.
    func verifies(_ proof: String, of state: RecordState) -> Bool
}
