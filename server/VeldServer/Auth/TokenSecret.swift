import Crypto
import Foundation
import VeldProtocol

/// Makes and hashes device tokens. A token is `veld_` and 32 random bytes in base64url
/// (256 bits); the server stores only its SHA-256, so a leaked database leaks no tokens.
public enum TokenSecret {
    public static func make() -> String {
        "veld_" + base64url(randomBytes(32))
    }

    public static func makeID() -> String {
        "tok_" + Hex.lowercase(randomBytes(4))
    }

    public static func hash(_ token: String) -> String {
        Hex.lowercase(SHA256.hash(data: Data(token.utf8)))
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    static func base64url(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { Base64URL.encode($0) }
    }

    /// SHA-256 of arbitrary bytes, hex; used to fingerprint push batches.
    public static func fingerprint<Bytes: DataProtocol>(_ data: Bytes) -> String {
        Hex.lowercase(SHA256.hash(data: data))
    }

    /// SHA-256 of `parts` one after another, hex: the same as `fingerprint` of them joined,
    /// without joining them (an access-log entry's records are most of its bytes).
    static func fingerprint(parts: [[UInt8]]) -> String {
        var hasher = SHA256()
        for part in parts { hasher.update(data: part) }
        return Hex.lowercase(hasher.finalize())
    }
}
