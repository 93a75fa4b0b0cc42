/// FNV-1a, 64 bits: the one checksum Veld computes itself (pull deltas' digests, SPEC.md
/// "Pull deltas"; the access log's kind fingerprints). Not a security measure.
///
/// ```swift
/// var hash = FNV1a()
/// hash.add(Array("a".utf8))
/// hash.hex   // "af63dc4c8601ec8c"
/// ```
public struct FNV1a: Sendable {
    public var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    @inlinable public mutating func add(_ byte: UInt8) {
        value = (value ^ UInt64(byte)) &* 0x100_0000_01b3
    }

    @inlinable public mutating func add(_ bytes: UnsafeBufferPointer<UInt8>) {
        for byte in bytes { add(byte) }
    }

    public mutating func add(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { add($0) }
    }

    /// `value` as 16 lowercase hex digits, most significant first.
    public var hex: String {
        Hex.lowercase((0..<8).map { UInt8(truncatingIfNeeded: value >> UInt64(56 - 8 * $0)) })
    }
}

/// Lowercase hex, written directly (`String(format:)` per byte was a pushing server's
/// second largest cost of hashing).
public enum Hex {
    @usableFromInline static let digits = Array("0123456789abcdef".utf8)

    @inlinable public static func lowercase<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
