import Crypto
import Foundation
import GRDB
import VeldProtocol

/// How the profile is protected, for `veld key status`.
public struct KeyStatus: Hashable, Sendable {
    /// Where the wrapping key is: a key file, a passphrase, or a phone's Keychain.
    public var reference: KeyReference
    /// Counts the data keys this profile has had: 1, then one more per rotation.
    public var generation: UInt32
    /// When the current data key was made.
    public var since: Date
    /// Values sealed under it: record states, discarded changes, refusals, sync settings.
    public var sealedValues: Int
}

/// Encryption at rest. Every value that holds client data (a record's state, a discarded
/// change, a refusal kept with a change) and the sync settings (server, token, CA) are
/// sealed with AES-256-GCM under the profile's data key before SQLite sees them, so no
/// plaintext reaches the database, its WAL or a journal. The data key is kept in the
/// `keyring` table, sealed by a wrapping key from a ``KeyStore``.
///
/// In plain text stay what queries need, none of it free text: record ids, type, scope,
/// the status (a value from the schema's list), the deleted and conflict flags, the local
/// times a record was stored and changed, the outbox's counters, the cursor, the profile
/// (user, role, replica id), the token's identity as the server described it (user, role,
/// scopes) and purge receipts (counts).
extension LocalStore {
    static func registerKeyring(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v4-keyring") { db in
            try db.create(table: "keyring") { t in
                t.primaryKey("singleton", .integer).check { $0 == 1 }
                t.column("generation", .integer).notNull()
                t.column("reference", .text).notNull()
                t.column("wrappedKey", .blob).notNull()
                t.column("since", .datetime).notNull()
            }
        }
    }

    /// The sync settings that are sealed: where the device sends its token, the token,
    /// and the CA that decides whom it trusts (sealed for integrity too).
    static let sealedSettings = [SyncKey.server, SyncKey.token, SyncKey.serverCA]

    /// Opens the data key with `keys`. A profile from before encryption is sealed now, in
    /// one transaction, and compacted so its plaintext leaves the files.
    func unlock(_ keys: any KeyStore) throws {
        if let ring = try writer.read({ db in try KeyringRow.fetchOne(db) }) {
            try install(ring, keys)
            return
        }
        let (wrapping, reference) = try keys.makeKey()
        let created: (SymmetricKey, Int)?
        do {
            created = try writer.write { db in try self.createKeyring(db, wrapping: wrapping, reference: reference) }
        } catch {
            keys.discard(reference)
            throw error
        }
        guard let (dataKey, sealed) = created else {
            keys.discard(reference)
            try unlock(keys)
            return
        }
        try keys.committed(reference)
        dataKeys.install(dataKey, generation: 1)
        if sealed > 0 {
            // The plaintext that was there: out of free pages and the WAL.
            try? writer.writeWithoutTransaction { db in try db.execute(sql: "VACUUM") }
            compact()
        }
    }

    /// Makes the profile's first data key, wrapped by `wrapping`, and seals what the
    /// profile holds in plain text (nothing, for a new one), in the caller's transaction.
    /// Returns the key and how many values were sealed; nil when a keyring exists already
    /// (another process made it first).
    func createKeyring(_ db: Database, wrapping: SymmetricKey, reference: KeyReference) throws -> (SymmetricKey, Int)? {
        guard try KeyringRow.fetchOne(db) == nil else { return nil }
        let dataKey = SymmetricKey(size: .bits256)
        try KeyringRow(generation: 1, reference: reference, dataKey: dataKey, wrapping: wrapping, since: clock()).insert(db)
        let sealed = try resealAll(db, opening: { value, _ in value },
                                   sealing: { try DataKeys.seal($0, $1, key: dataKey, generation: 1) }, progress: nil)
        return (dataKey, sealed)
    }

    private func install(_ ring: KeyringRow, _ keys: any KeyStore) throws {
        let reference = try ring.decodedReference(home: home)
        let wrapping = try keys.key(for: reference)
        guard let generation = UInt32(exactly: ring.generation),
              let dataKey = try? DataKeys.open(ring.wrappedKey, .dataKey(generation), key: wrapping) else {
            let what = reference.kind == KeyReference.passphrase ? "the passphrase" : "the key"
            throw LocalStoreError(.wrongKey("\(what) does not open the profile in \(home.path); try again (a passphrase is case-sensitive), or restore the key that belongs to it"), home: home)
        }
        dataKeys.install(SymmetricKey(data: dataKey), generation: generation)
    }

    /// A profile whose values are stored unsealed, for the benchmark that shows what
    /// encryption costs, side by side. Never for data: opened again with `open`, the
    /// profile is sealed like one from before encryption.
    @_spi(Benchmarks)
    public static func initialiseWithoutEncryption(home: URL, user: String, role: Role) throws -> LocalStore {
        let store = try initialise(home: home, user: user, role: role, keys: Passthrough())
        store.dataKeys.installPassthrough()
        try store.writer.write { db in try db.execute(sql: "DELETE FROM keyring") }
        return store
    }

    private struct Passthrough: KeyStore {
        func makeKey() throws -> (SymmetricKey, KeyReference) { (SymmetricKey(size: .bits256), KeyReference(kind: "none", id: "none")) }
        func key(for reference: KeyReference) throws -> SymmetricKey { throw CryptoKitError.incorrectKeySize }
        func committed(_ reference: KeyReference) throws {}
    }

    /// How the profile is protected now.
    public func keyStatus() throws -> KeyStatus {
        try writer.read { db in
            guard let ring = try KeyringRow.fetchOne(db) else { throw LocalStoreError(.notInitialised, home: home) }
            let counts = try Int.fetchOne(db, sql: """
                SELECT (SELECT COUNT(*) FROM record) + (SELECT COUNT(*) FROM discarded) + (SELECT COUNT(problem) FROM discarded)
                     + (SELECT COUNT(parkedProblem) FROM outbox) + (SELECT COUNT(*) FROM syncState WHERE key IN (?, ?, ?))
                """, arguments: StatementArguments(Self.sealedSettings)) ?? 0
            return KeyStatus(reference: try ring.decodedReference(home: home), generation: UInt32(ring.generation),
                             since: ring.since, sealedValues: counts)
        }
    }

    /// Makes a new data key and reseals everything under it, in one transaction: a crash
    /// or kill at any instant leaves the profile under the old key or the new one, whole.
    /// The new data key is wrapped by a new key from `keys` (which may be another kind:
    /// a key file becomes a passphrase). `progress` gets (done, total) as records go.
    @discardableResult
    public func rotateKey(using keys: any KeyStore, progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> KeyStatus {
        let (wrapping, reference) = try keys.makeKey()
        let dataKey = SymmetricKey(size: .bits256)
        let generation: UInt32
        do {
            generation = try writer.write { db -> UInt32 in
            guard let ring = try KeyringRow.fetchOne(db) else { throw LocalStoreError(.notInitialised, home: home) }
            let generation = UInt32(ring.generation) + 1
            try KeyringRow(generation: generation, reference: reference, dataKey: dataKey, wrapping: wrapping, since: clock()).update(db)
            let home = self.home
            _ = try self.resealAll(db, opening: { try self.dataKeys.open($0, $1, home: home) },
                                   sealing: { try DataKeys.seal($0, $1, key: dataKey, generation: generation) }, progress: progress)
            return generation
            }
        } catch {
            keys.discard(reference)
            throw error
        }
        dataKeys.install(dataKey, generation: generation)
        try keys.committed(reference)
        compact()
        return try keyStatus()
    }

    /// Reseals every sealed value, in the caller's transaction; returns how many there were.
    private func resealAll(_ db: Database, opening: (Data, SealPurpose) throws -> Data,
                           sealing: (Data, SealPurpose) throws -> Data,
                           progress: (@Sendable (Int, Int) -> Void)?) throws -> Int {
        var count = 0
        let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM record") ?? 0
        var last: Int64 = 0
        let update = try db.makeStatement(sql: "UPDATE record SET state = ? WHERE rowid = ?")
        while true {
            let rows = try Row.fetchAll(db, sql: "SELECT rowid, id, state FROM record WHERE rowid > ? ORDER BY rowid LIMIT 500",
                                        arguments: [last])
            guard let final = rows.last else { break }
            for row in rows {
                let id: String = row[1]
                let purpose = SealPurpose.state(id)
                try update.execute(arguments: [try sealing(try opening(row[2], purpose), purpose), row[0] as Int64])
            }
            count += rows.count
            last = final[0]
            progress?(count, total)
        }
        for row in try Row.fetchAll(db, sql: "SELECT seq, recordID, state, problem FROM discarded") {
            let id: String = row[1]
            let problem = try (row[3] as Data?).map { try sealing(try opening($0, .problem(id)), .problem(id)) }
            try db.execute(sql: "UPDATE discarded SET state = ?, problem = ? WHERE seq = ?",
                           arguments: [try sealing(try opening(row[2], .state(id)), .state(id)), problem, row[0] as Int64])
            count += problem == nil ? 1 : 2
        }
        for row in try Row.fetchAll(db, sql: "SELECT recordID, parkedProblem FROM outbox WHERE parkedProblem IS NOT NULL") {
            let id: String = row[0]
            try db.execute(sql: "UPDATE outbox SET parkedProblem = ? WHERE recordID = ?",
                           arguments: [try sealing(try opening(row[1], .problem(id)), .problem(id)), id])
            count += 1
        }
        for key in Self.sealedSettings {
            guard let value = try Data.fetchOne(db, sql: "SELECT value FROM syncState WHERE key = ?", arguments: [key]) else { continue }
            try db.execute(sql: "UPDATE syncState SET value = ? WHERE key = ?",
                           arguments: [try sealing(try opening(value, .setting(key)), .setting(key)), key])
            count += 1
        }
        return count
    }

    // MARK: Sealing values

    func seal(_ text: String, _ purpose: SealPurpose) throws -> Data {
        try dataKeys.seal(Data(text.utf8), purpose, home: home)
    }

    func seal(_ data: Data, _ purpose: SealPurpose) throws -> Data {
        try dataKeys.seal(data, purpose, home: home)
    }

    func openText(_ sealed: Data, _ purpose: SealPurpose) throws -> String {
        String(decoding: try dataKeys.open(sealed, purpose, home: home), as: UTF8.self)
    }

    /// A record's state from its sealed column.
    func openState(_ sealed: Data, id: String) throws -> RecordState {
        let json = try dataKeys.open(sealed, .state(id), home: home)
        do { return try StableJSON.decode(RecordState.self, from: json) } catch {
            throw LocalStoreError(.unreadable("record \(id) holds a state that does not decode (\(error))"), home: home)
        }
    }

    func sealState(_ state: RecordState) throws -> Data {
        try dataKeys.seal(try StableJSON.encode(state), .state(state.id), home: home)
    }

    func sealProblem(_ problem: Problem, id: String) throws -> Data {
        try dataKeys.seal(try StableJSON.encode(problem), .problem(id), home: home)
    }

    func openProblem(_ sealed: Data, id: String) throws -> Problem {
        try StableJSON.decode(Problem.self, from: try dataKeys.open(sealed, .problem(id), home: home))
    }
}

struct KeyringRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "keyring"
    var singleton = 1
    var generation: Int64
    var reference: String
    var wrappedKey: Data
    var since: Date

    init(generation: UInt32, reference: KeyReference, dataKey: SymmetricKey, wrapping: SymmetricKey, since: Date) throws {
        self.generation = Int64(generation)
        self.reference = String(decoding: try StableJSON.encode(reference), as: UTF8.self)
        self.wrappedKey = try DataKeys.seal(dataKey.withUnsafeBytes { Data($0) }, .dataKey(generation), key: wrapping,
                                            generation: generation)
        self.since = since
    }

    func decodedReference(home: URL) throws -> KeyReference {
        do { return try StableJSON.decode(KeyReference.self, from: Data(reference.utf8)) } catch {
            throw LocalStoreError(.unreadable("the profile's key reference is damaged (\(error))"), home: home)
        }
    }
}
