import Crypto
import Foundation

/// What a sealed value is, bound into its seal (AES-GCM's associated data): a state moved
/// to another record, or a token moved into a record, does not open.
enum SealPurpose {
    /// A record's state, in `record` or the discard log.
    case state(String)
    /// A server's refusal kept with a record (a parked change, a discarded one).
    case problem(String)
    /// A sync setting (`server`, `token`, `serverCA`).
    case setting(String)
    /// The data key itself, sealed by the wrapping key.
    case dataKey(UInt32)

    var label: String {
        switch self {
        case .state(let id): return "state/" + id
        case .problem(let id): return "problem/" + id
        case .setting(let key): return "setting/" + key
        case .dataKey(let generation): return "data-key/\(generation)"
        }
    }
}

/// The profile's data keys by generation. The current one seals; any this process has
/// held opens (a reader may still see rows sealed before a rotation it raced with).
///
/// A sealed value is `V` (0x56), a format byte (1), the key's generation (4 bytes, big
/// endian), then AES-256-GCM's nonce (12 random bytes), ciphertext and tag (16 bytes).
/// The first six bytes are authenticated with the purpose.
final class DataKeys: Sendable {
    /// The keys by generation, the one that seals, and (for the benchmark's side-by-side
    /// figure only, `initialiseWithoutEncryption`) whether values pass through unsealed:
    /// one lock for all of it.
    private struct State {
        var current: UInt32?
        var byGeneration: [UInt32: SymmetricKey] = [:]
        var passthrough = false
    }
    private let state = Locked(State())
    static let magic: UInt8 = 0x56
    static let format: UInt8 = 1
    static let headerSize = 6

    func installPassthrough() { state.withLock { $0.passthrough = true } }
    var isPassthrough: Bool { state.withLock { $0.passthrough } }
    /// The generation that seals; nil before the profile is unlocked.
    var currentGeneration: UInt32? { state.withLock { $0.current } }

    func install(_ key: SymmetricKey, generation: UInt32) {
        state.withLock { state in
            state.byGeneration[generation] = key
            state.current = generation
        }
    }

    func seal(_ plaintext: Data, _ purpose: SealPurpose, home: URL) throws -> Data {
        let (passthrough, current) = state.withLock { state in
            (state.passthrough, state.current.flatMap { generation in state.byGeneration[generation].map { (generation, $0) } })
        }
        if passthrough { return plaintext }
        guard let (generation, key) = current else {
            throw LocalStoreError(.keyUnavailable("the profile is locked (no key was given to open it)"), home: home)
        }
        return try Self.seal(plaintext, purpose, key: key, generation: generation)
    }

    func open(_ sealed: Data, _ purpose: SealPurpose, home: URL) throws -> Data {
        if isPassthrough { return sealed }
        guard sealed.count >= Self.headerSize + 28, sealed[sealed.startIndex] == Self.magic,
              sealed[sealed.startIndex + 1] == Self.format else {
            throw LocalStoreError(.unreadable("\(purpose.label) is not sealed; the database was changed outside Veld"), home: home)
        }
        let generation = Self.generation(of: sealed)
        let (key, current) = state.withLock { ($0.byGeneration[generation], $0.current) }
        guard let key else {
            if generation > (current ?? 0) { throw LocalStoreError(.keyChanged, home: home) }
            throw LocalStoreError(.unreadable("\(purpose.label) is sealed by a data key this profile does not hold (generation \(generation)); the database was changed outside Veld"), home: home)
        }
        do {
            return try Self.open(sealed, purpose, key: key)
        } catch {
            throw LocalStoreError(.unreadable("\(purpose.label) does not open with the profile's key; the database was changed outside Veld"), home: home)
        }
    }

    static func generation(of sealed: Data) -> UInt32 {
        let start = sealed.startIndex + 2
        return sealed[start..<start + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    static func header(_ generation: UInt32) -> Data {
        Data([magic, format, UInt8(generation >> 24), UInt8(generation >> 16 & 0xff), UInt8(generation >> 8 & 0xff),
              UInt8(generation & 0xff)])
    }

    static func seal(_ plaintext: Data, _ purpose: SealPurpose, key: SymmetricKey, generation: UInt32) throws -> Data {
        let header = header(generation)
        let box = try AES.GCM.seal(plaintext, using: key, authenticating: header + Data(purpose.label.utf8))
        guard let combined = box.combined else { throw CryptoKitError.incorrectParameterSize }
        return header + combined
    }

    static func open(_ sealed: Data, _ purpose: SealPurpose, key: SymmetricKey) throws -> Data {
        let header = sealed.prefix(headerSize)
        let box = try AES.GCM.SealedBox(combined: sealed.dropFirst(headerSize))
        return try AES.GCM.open(box, using: key, authenticating: Data(header) + Data(purpose.label.utf8))
    }
}
