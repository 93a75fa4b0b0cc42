import Crypto
import Foundation
import VeldProtocol

/// The server's epoch and the key of its proofs, as a database keeps them (the `setting`
/// table, made by migration v13): a backup carries both, so a restored server checks the
/// proofs it gave before, and a restore (or a backup copied into place by hand) brings an
/// epoch of its own (SPEC.md, "Server epochs").
public struct ServerIdentity: Sendable {
    public let epoch: String
    public let proofs: ServerProofs
    /// When a server restored from a backup first served (nil: never restored, or not yet
    /// served since): proven states are taken for ``ServerEpoch/recoveryDays`` after it.
    public let recoveryFrom: Date?
    /// Restored, and not yet served since.
    public let recoveryPending: Bool

    /// The names in the `setting` table.
    static let epochSetting = "epoch"
    static let proofKeySetting = "proofKey"
    /// `pending` (a restore or a backup copy, not yet served) or when it was first served.
    static let restoredSetting = "restoredAt"
    static let pending = "pending"

    init(epoch: String, proofKey: String, restoredAt: String? = nil) throws {
        guard ServerEpoch.isValid(epoch), let key = Data(base64Encoded: proofKey), key.count == 32 else {
            throw StorageError.configuration(
                "the database's epoch or proof key is damaged; restore the last good backup with `veld-server restore --from FILE`")
        }
        self.epoch = epoch
        proofs = ServerProofs(key: key)
        recoveryPending = restoredAt == Self.pending
        recoveryFrom = restoredAt.flatMap { InternetTime.parse($0) }
    }

    /// Until when proven states are taken (nil: not now).
    public var recoveryUntil: Date? {
        recoveryFrom.map { $0.addingTimeInterval(Double(ServerEpoch.recoveryDays) * 86_400) }
    }

    /// The proofs to check proven states with at `date`: nil outside the days after a
    /// restore, when the server takes none.
    public func proofsAccepted(at date: Date) -> ServerProofs? {
        guard let until = recoveryUntil, date < until else { return nil }
        return proofs
    }

    /// A new epoch id.
    static func newEpoch() -> String {
        ServerEpoch.make(random: Array(SymmetricKey(size: .bits128).withUnsafeBytes { Data($0) }))
    }

    /// A new proof key, base64.
    static func newProofKey() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()
    }
}

/// The server's proofs of the states it serves: HMAC-SHA256 of a state's stable JSON under
/// the server's key, its first 16 bytes in base64url after `p1.`.
///
/// ```swift
/// let proof = proofs.proof(ofJSON: json)          // "p1.Xq3v…" (25 characters)
/// proofs.verifies(proof, of: state)               // true for the state `json` encodes
/// ```
public struct ServerProofs: ProofChecking {
    /// The key's bytes (`SymmetricKey` is not `Sendable` here).
    let key: [UInt8]
    /// HMAC with the key already taken in (its two padded blocks hashed), copied for each
    /// proof: a pull page or a push batch makes hundreds of proofs with one key.
    private let keyed: KeyedMAC

    public init(key: some DataProtocol) {
        self.key = Array(key)
        keyed = KeyedMAC(HMAC<SHA256>(key: SymmetricKey(data: self.key)))
    }

    static let prefix = "p1."

    /// The proof of the state whose stable JSON is `json` (as the record row keeps it).
    public func proof(ofJSON json: some DataProtocol) -> String {
        var mac = keyed.mac
        mac.update(data: json)
        return mac.finalize().withUnsafeBytes { Self.prefix + Base64URL.encode(UnsafeRawBufferPointer(rebasing: $0.prefix(16))) }
    }

    public func proof(ofJSON json: String) -> String {
        proof(ofJSON: Array(json.utf8))
    }

    /// The proof of a stored state made before proofs were stored with it: of its encoding
    /// as the check makes it (the row's text may be in other bytes, from an older release).
    public func proof(ofStored json: String) -> String {
        guard let state = try? RecordStateJSON.decode(Data(json.utf8)) else { return proof(ofJSON: json) }
        return proof(ofJSON: RecordStateJSON.encode(state))
    }

    /// Whether `proof` is this key's proof of `state`, compared in constant time.
    public func verifies(_ proof: String, of state: RecordState) -> Bool {
        let expected = Array(self.proof(ofJSON: RecordStateJSON.encode(state)).utf8)
        let given = Array(proof.utf8)
        guard given.count == expected.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(given, expected) { difference |= a ^ b }
        return difference == 0
    }
}

/// A storage's identity, read from the database on first use and kept.
final class ServerIdentityCache: @unchecked Sendable {
    private let lock = NSLock()
    private var cached: ServerIdentity?

    func value(_ read: () async throws -> ServerIdentity) async throws -> ServerIdentity {
        if let identity = lock.withLock({ cached }) { return identity }
        let identity = try await read()
        lock.withLock { cached = identity }
        return identity
    }

    func clear() { lock.withLock { cached = nil } }
}

/// A keyed HMAC to copy from. Copying is safe from any thread: the hash states are
/// copied on write, and this one is never written.
private struct KeyedMAC: @unchecked Sendable {
    let mac: HMAC<SHA256>
    init(_ mac: HMAC<SHA256>) { self.mac = mac }
}

/// Base64url without padding (RFC 4648 §5), as proofs and token secrets are written.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    public static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(alphabet[Int(n >> 18 & 63)]); out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)]); out.append(alphabet[Int(n & 63)])
            i += 3
        }
        let rest = bytes.count - i
        if rest > 0 {
            let n = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
            out.append(alphabet[Int(n >> 18 & 63)]); out.append(alphabet[Int(n >> 12 & 63)])
            if rest == 2 { out.append(alphabet[Int(n >> 6 & 63)]) }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
