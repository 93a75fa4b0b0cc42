import Crypto
import Foundation
import _CryptoExtras
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a profile's wrapping key lives: the key that seals the profile's data key. The
/// data key (AES-256, which seals every record) is kept in the database, sealed by this
/// key, so the database alone opens nothing.
///
/// Veld has two: ``KeyFileStore`` (a 0600 file, by default beside the database) and
/// ``PassphraseKeyStore`` (scrypt over a passphrase). A phone app plugs in its Keychain:
///
/// ```swift
/// struct KeychainStore: KeyStore {
///     func makeKey(replacing previous: KeyReference?) throws -> (SymmetricKey, KeyReference) { … }  // a new item
///     func key(for reference: KeyReference) throws -> SymmetricKey { … }
///     func committed(_ reference: KeyReference, replacing previous: KeyReference?) throws { … }  // delete the old one
/// }
/// let store = try LocalStore.open(home: home, keys: KeychainStore())
/// ```
public protocol KeyStore: Sendable {
    /// A new wrapping key and how to find it again; `previous` is the profile's reference
    /// now (nil for a new profile). The reference is kept in the profile in plain text, so
    /// it must hold no secret. A store refuses here, before anything is written, what it
    /// cannot commit to (a key file that holds another profile's key).
    func makeKey(replacing previous: KeyReference?) throws -> (SymmetricKey, KeyReference)
    /// The key `reference` names. Throws a ``LocalStoreError`` (`keyUnavailable`) that says
    /// what to do when it is not there.
    func key(for reference: KeyReference) throws -> SymmetricKey
    /// Whether the key `reference` names is still there to commit to; asked inside the
    /// transaction that commits the profile to it.
    func isReady(_ reference: KeyReference) -> Bool
    /// The profile now uses `reference` (committed to the database): it takes `previous`'s
    /// place, and keys made before it may go.
    func committed(_ reference: KeyReference, replacing previous: KeyReference?) throws
    /// The profile did not commit to `reference` (it failed, or another process sealed it
    /// first): the key may go.
    func discard(_ reference: KeyReference)
    /// Whether keys other than `reference` wait for a commit that never came.
    func hasAbandonedKeys(keeping reference: KeyReference) -> Bool
    /// Removes them; called inside a write transaction that has read `reference` as the
    /// profile's, so no commit to another key can be under way.
    func removeAbandonedKeys(keeping reference: KeyReference)
}

extension KeyStore {
    public func isReady(_ reference: KeyReference) -> Bool { true }
    public func discard(_ reference: KeyReference) {}
    public func hasAbandonedKeys(keeping reference: KeyReference) -> Bool { false }
    public func removeAbandonedKeys(keeping reference: KeyReference) {}
}

/// How a profile finds its wrapping key again: which kind of store, an id, and for a
/// passphrase the salt and cost of its derivation. No secret.
public struct KeyReference: Codable, Hashable, Sendable {
    public static let keyFile = "key-file"
    public static let passphrase = "passphrase"

    /// `key-file`, `passphrase`, or a store's own kind.
    public var kind: String
    /// Random; tells one key of a kind from another.
    public var id: String
    /// scrypt: base64 salt, log2 of N, r and p.
    public var salt: String?
    public var logN: Int?
    public var r: Int?
    public var p: Int?

    public init(kind: String, id: String, salt: String? = nil, logN: Int? = nil, r: Int? = nil, p: Int? = nil) {
        self.kind = kind
        self.id = id
        self.salt = salt
        self.logN = logN
        self.r = r
        self.p = p
    }

    /// What a person reads in `veld key status`.
    public var summary: String {
        switch kind {
        case Self.keyFile: return "key file (key \(id))"
        case Self.passphrase: return "passphrase (scrypt, N=2^\(logN ?? 0), r=\(r ?? 0), p=\(p ?? 0))"
        default: return "\(kind) (key \(id))"
        }
    }

    static func makeID() -> String {
        (0..<8).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max)) }.joined()
    }
}

/// The wrapping key in a file the owner alone may read (0600): `veld.key` beside the
/// database unless `file` says otherwise. It protects the database when it travels alone
/// (a copy, a backup); on a lost laptop it protects only as well as the disk, so keep the
/// file elsewhere (`VELD_KEY_FILE`) or use a passphrase.
///
/// A new key is written to `FILE.next-ID` first and takes `FILE`'s place once the profile
/// has committed to it, so a crash at any instant leaves a key that opens the profile. It
/// never takes the place of a file that holds a key other than the one it replaces: two
/// profiles pointed at one file are refused, not silently broken.
public struct KeyFileStore: KeyStore {
    public static let defaultName = "veld.key"
    public let file: URL

    /// `file`, with symbolic links resolved (the mode checked and the file replaced are
    /// those of the file itself).
    public init(file: URL) { self.file = file.resolvingSymlinksInPath() }

    /// `veld.key` in the profile folder.
    public init(home: URL) { self.init(file: home.appendingPathComponent(Self.defaultName)) }

    /// Where a key waits until the profile has committed to it; one file per key, so two
    /// processes making keys at once never overwrite each other's.
    func next(_ id: String) -> URL { URL(fileURLWithPath: file.path + ".next-" + id) }

    private var home: URL { file.deletingLastPathComponent() }

    public func makeKey(replacing previous: KeyReference?) throws -> (SymmetricKey, KeyReference) {
        if let held = try read(file), held.id != (previous?.kind == KeyReference.keyFile ? previous?.id : nil) {
            throw LocalStoreError(.keyUnavailable("the key file \(file.path) holds another profile's key (key \(held.id)); give this profile a file of its own (VELD_KEY_FILE), or move that file away if nothing uses it"), home: home)
        }
        let key = SymmetricKey(size: .bits256)
        let reference = KeyReference(kind: KeyReference.keyFile, id: KeyReference.makeID())
        let replaces = previous?.kind == KeyReference.keyFile ? previous?.id ?? "-" : "-"
        let text = "veld-key 1 \(reference.id) \(key.withUnsafeBytes { Data($0).base64EncodedString() }) \(replaces)\n"
        try Self.writePrivately(Data(text.utf8), to: next(reference.id), home: home)
        return (key, reference)
    }

    public func key(for reference: KeyReference) throws -> SymmetricKey {
        guard reference.kind == KeyReference.keyFile else { throw Self.wrongKind(reference, home: home) }
        let main = try read(file)
        if let main, main.id == reference.id { return main.key }
        if let waiting = try read(next(reference.id)), waiting.id == reference.id {
            // The profile committed to it and the rename was cut short: finish it, if the
            // file still holds the key it replaces (or none); else use it where it is.
            if main == nil || main?.id == waiting.replaces { try? move(reference) }
            return waiting.key
        }
        if main != nil {
            throw LocalStoreError(.keyUnavailable("the key file \(file.path) holds another key than this profile's (key \(reference.id)); put this profile's key file back, or point VELD_KEY_FILE at it"), home: home)
        }
        throw LocalStoreError(.keyUnavailable("the key file \(file.path) is missing; restore it from where you keep it (or point VELD_KEY_FILE at it): without it this profile cannot be read"), home: home)
    }

    public func isReady(_ reference: KeyReference) -> Bool {
        (try? read(next(reference.id)))??.id == reference.id
    }

    public func committed(_ reference: KeyReference, replacing previous: KeyReference?) throws {
        let main = try read(file)
        if main?.id == reference.id { return }
        guard let waiting = try read(next(reference.id)), waiting.id == reference.id else {
            throw LocalStoreError(.keyUnavailable("the new key \(next(reference.id).path) is gone; restore it to \(file.path) from a backup: without it this profile cannot be read"), home: home)
        }
        guard main == nil || main?.id == waiting.replaces else {
            // Another profile's key took the file meanwhile: the new key stays where it is.
            return
        }
        try move(reference)
    }

    private func move(_ reference: KeyReference) throws {
        let waiting = next(reference.id)
        guard rename(waiting.path, file.path) == 0 else {
            throw LocalStoreError(.keyUnavailable("cannot move \(waiting.path) to \(file.path) (errno \(errno)); check the folder's permissions"), home: home)
        }
        Self.syncFolder(home)
    }

    public func discard(_ reference: KeyReference) {
        try? FileManager.default.removeItem(at: next(reference.id))
    }

    /// Removes the key file if it holds `reference`'s key (a profile that moved to a
    /// passphrase no longer needs it); true if it did.
    @discardableResult
    public func retire(_ reference: KeyReference) -> Bool {
        guard reference.kind == KeyReference.keyFile, (try? read(file))??.id == reference.id else { return false }
        return (try? FileManager.default.removeItem(at: file)) != nil
    }

    private var stagedNames: [String] {
        let prefix = file.lastPathComponent + ".next-"
        return ((try? FileManager.default.contentsOfDirectory(atPath: home.path)) ?? []).filter { $0.hasPrefix(prefix) }
    }

    public func hasAbandonedKeys(keeping reference: KeyReference) -> Bool {
        stagedNames.contains { $0 != next(reference.id).lastPathComponent }
    }

    public func removeAbandonedKeys(keeping reference: KeyReference) {
        for name in stagedNames where name != next(reference.id).lastPathComponent {
            try? FileManager.default.removeItem(at: home.appendingPathComponent(name))
        }
    }

    /// The id, key and replaced id in `url`, or nil if there is no such file.
    private func read(_ url: URL) throws -> (id: String, key: SymmetricKey, replaces: String?)? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path) else { return nil }
        if let mode = attributes[.posixPermissions] as? NSNumber, mode.intValue & 0o077 != 0 {
            throw LocalStoreError(.keyUnavailable("the key file \(url.path) may be read by others (mode \(String(mode.intValue & 0o777, radix: 8))); run `chmod 600 \(url.path)` and try again"), home: home)
        }
        let text = String(decoding: try Data(contentsOf: url), as: UTF8.self)
        let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ")
        guard (4...5).contains(parts.count), parts[0] == "veld-key", parts[1] == "1",
              let bytes = Data(base64Encoded: String(parts[3])), bytes.count == 32 else {
            throw LocalStoreError(.keyUnavailable("the key file \(url.path) is damaged; restore it from where you keep it"), home: home)
        }
        let replaces = parts.count == 5 && parts[4] != "-" ? String(parts[4]) : nil
        return (String(parts[2]), SymmetricKey(data: bytes), replaces)
    }

    static func wrongKind(_ reference: KeyReference, home: URL) -> LocalStoreError {
        switch reference.kind {
        case KeyReference.passphrase:
            return LocalStoreError(.keyUnavailable("this profile is protected by a passphrase: set VELD_PASSPHRASE or run veld on a terminal"), home: home)
        case KeyReference.keyFile:
            return LocalStoreError(.keyUnavailable("this profile is protected by a key file, not a passphrase: unset VELD_PASSPHRASE"), home: home)
        default:
            return LocalStoreError(.keyUnavailable("this profile's key is kept by \(reference.kind), which this program cannot reach"), home: home)
        }
    }

    /// Writes `data` to `url` at mode 0600 and flushes it to disk.
    static func writePrivately(_ data: Data, to url: URL, home: URL) throws {
        let path = url.path
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw LocalStoreError(.keyUnavailable("cannot create \(path) (errno \(errno)); check that the folder is writable"), home: home)
        }
        defer { close(fd) }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == data.count, fsync(fd) == 0 else {
            throw LocalStoreError(.keyUnavailable("cannot write \(path) (errno \(errno)); check the free space"), home: home)
        }
        syncFolder(url.deletingLastPathComponent())
    }

    static func syncFolder(_ folder: URL) {
        let fd = open(folder.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}

/// The wrapping key derived from a passphrase with scrypt, a memory-hard function: by
/// default N=2^17, r=8, p=1 (128 MiB and a few tenths of a second per derivation), so a
/// stolen database costs as much per guess. The passphrase is asked for when needed and
/// never stored.
public struct PassphraseKeyStore: KeyStore {
    /// scrypt's cost: log2 of N, r and p.
    public struct Cost: Hashable, Sendable {
        public var logN: Int
        public var r: Int
        public var p: Int
        public init(logN: Int, r: Int, p: Int) {
            self.logN = logN
            self.r = r
            self.p = p
        }
        public static let standard = Cost(logN: 17, r: 8, p: 1)
        /// What a stored reference may ask for: enough to be memory-hard, little enough
        /// that a changed reference cannot make opening exhaust the device.
        static let logNRange = 10...20
        static let rRange = 1...16
        static let pRange = 1...4
        /// At most 256 MiB of memory (128·r·N) and 2^22 block mixes (N·r·p) per derivation.
        var isBounded: Bool {
            Self.logNRange.contains(logN) && Self.rRange.contains(r) && Self.pRange.contains(p)
                && 128 * r << logN <= 256 << 20 && (r * p) << logN <= 1 << 22
        }
    }

    public static let minimumLength = 8
    let passphrase: @Sendable () throws -> String
    let cost: Cost
    let home: URL

    /// `passphrase` is called each time a key is derived (once to open a profile).
    public init(home: URL, cost: Cost = .standard, passphrase: @escaping @Sendable () throws -> String) {
        self.home = home
        self.cost = cost
        self.passphrase = passphrase
    }

    public func makeKey(replacing previous: KeyReference?) throws -> (SymmetricKey, KeyReference) {
        let salt = Data((0..<16).map { _ in UInt8.random(in: .min ... .max) })
        let reference = KeyReference(kind: KeyReference.passphrase, id: KeyReference.makeID(),
                                     salt: salt.base64EncodedString(), logN: cost.logN, r: cost.r, p: cost.p)
        let phrase = try passphrase()
        guard phrase.count >= Self.minimumLength else {
            throw LocalStoreError(.keyUnavailable("a passphrase needs at least \(Self.minimumLength) characters; a few unrelated words are best"), home: home)
        }
        return (try derive(phrase, reference), reference)
    }

    public func key(for reference: KeyReference) throws -> SymmetricKey {
        guard reference.kind == KeyReference.passphrase else { throw KeyFileStore.wrongKind(reference, home: home) }
        let phrase = try passphrase()
        guard !phrase.isEmpty else {
            throw LocalStoreError(.keyUnavailable("no passphrase given; this profile is protected by one"), home: home)
        }
        return try derive(phrase, reference)
    }

    public func committed(_ reference: KeyReference, replacing previous: KeyReference?) throws {}

    private func derive(_ phrase: String, _ reference: KeyReference) throws -> SymmetricKey {
        guard let saltText = reference.salt, let salt = Data(base64Encoded: saltText), salt.count >= 16,
              let logN = reference.logN, let r = reference.r, let p = reference.p, Cost(logN: logN, r: r, p: p).isBounded else {
            throw LocalStoreError(.unreadable("the profile's passphrase settings are damaged or out of range"), home: home)
        }
        do {
            // Normalised (NFC): the same words typed on another system give the same key.
            return try KDF.Scrypt.deriveKey(from: Array(phrase.precomposedStringWithCanonicalMapping.utf8), salt: salt, outputByteCount: 32,
                                            rounds: 1 << logN, blockSize: r, parallelism: p)
        } catch {
            throw LocalStoreError(.keyUnavailable("the key could not be derived from the passphrase (\(error)); is there enough free memory?"), home: home)
        }
    }
}

/// The stores the Linux CLI uses: a profile's reference says which. New keys go to a
/// passphrase when `protectWithPassphrase`, else to the key file.
public struct StandardKeyStore: KeyStore {
    public let keyFile: KeyFileStore
    public let passphrase: PassphraseKeyStore?
    public let protectWithPassphrase: Bool

    public init(keyFile: KeyFileStore, passphrase: PassphraseKeyStore?, protectWithPassphrase: Bool = false) {
        self.keyFile = keyFile
        self.passphrase = passphrase
        self.protectWithPassphrase = protectWithPassphrase && passphrase != nil
    }

    public func makeKey(replacing previous: KeyReference?) throws -> (SymmetricKey, KeyReference) {
        if protectWithPassphrase, let passphrase { return try passphrase.makeKey(replacing: previous) }
        return try keyFile.makeKey(replacing: previous)
    }

    public func key(for reference: KeyReference) throws -> SymmetricKey {
        if reference.kind == KeyReference.passphrase {
            guard let passphrase else { throw KeyFileStore.wrongKind(reference, home: keyFile.file.deletingLastPathComponent()) }
            return try passphrase.key(for: reference)
        }
        return try keyFile.key(for: reference)
    }

    public func isReady(_ reference: KeyReference) -> Bool {
        reference.kind == KeyReference.keyFile ? keyFile.isReady(reference) : true
    }

    public func committed(_ reference: KeyReference, replacing previous: KeyReference?) throws {
        if reference.kind == KeyReference.keyFile { try keyFile.committed(reference, replacing: previous) }
    }

    public func discard(_ reference: KeyReference) {
        if reference.kind == KeyReference.keyFile { keyFile.discard(reference) }
    }

    public func hasAbandonedKeys(keeping reference: KeyReference) -> Bool { keyFile.hasAbandonedKeys(keeping: reference) }

    public func removeAbandonedKeys(keeping reference: KeyReference) { keyFile.removeAbandonedKeys(keeping: reference) }
}
