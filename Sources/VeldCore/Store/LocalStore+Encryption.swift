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
    /// Plaintext from before encryption may still be in the file's free pages or WAL (the
    /// compaction after the first sealing met a busy moment; every open tries again).
    public var compactPending = false
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
                // Set when plaintext from before encryption may still be in free pages or
                // the WAL: every open compacts until that succeeds.
                t.column("compactPending", .boolean).notNull().defaults(to: false)
            }
            // New names for what is now sealed, so a release from before encryption fails
            // on this file instead of writing plaintext into it.
            try db.execute(sql: "ALTER TABLE record RENAME COLUMN state TO sealedState")
            try db.execute(sql: "ALTER TABLE discarded RENAME COLUMN state TO sealedState")
            try db.execute(sql: "ALTER TABLE discarded RENAME COLUMN problem TO sealedProblem")
        }
    }

    /// The sync settings that are sealed: where the device sends its token, the token,
    /// and the CA that decides whom it trusts.
    static let sealedSettings = [SyncKey.server, SyncKey.token, SyncKey.serverCA]

    /// Opens the data key with `keys`. A profile from before encryption is sealed now, in
    /// one transaction, and compacted so its plaintext leaves the files.
    func unlock(_ keys: any KeyStore) throws {
        if let ring = try writer.read({ db in try KeyringRow.fetchOne(db) }) {
            let reference = try install(ring, keys)
            if keys.hasAbandonedKeys(keeping: reference) {
                // In a write transaction that reads the profile's reference: a rotation in
                // another process has committed by then (and its key is the reference) or
                // has not begun.
                try writer.write { db in
                    if let current = try KeyringRow.fetchOne(db) { keys.removeAbandonedKeys(keeping: try current.decodedReference(home: home)) }
                }
            }
            if ring.compactPending { compactPlaintext() }
            return
        }
        let (wrapping, reference) = try keys.makeKey(replacing: nil)
        let dataKey = SymmetricKey(size: .bits256)
        let sealed: Int?
        do {
            sealed = try writer.write { db in
                try self.createKeyring(db, dataKey: dataKey, wrapping: wrapping, reference: reference, keys: keys)
            }
        } catch {
            settle(reference, keys: keys)
            throw error
        }
        guard let sealed else {
            keys.discard(reference)  // another process sealed it first: use its key
            try unlock(keys)
            return
        }
        dataKeys.install(dataKey, generation: 1)
        try keys.committed(reference, replacing: nil)
        if sealed > 0 { compactPlaintext() }
    }

    /// Makes the profile's first data key, wrapped by `wrapping`, and seals what the
    /// profile holds in plain text (nothing, for a new one), in the caller's transaction.
    /// Returns how many values were sealed; nil when a keyring exists already (another
    /// process made it first).
    func createKeyring(_ db: Database, dataKey: SymmetricKey, wrapping: SymmetricKey, reference: KeyReference,
                       keys: any KeyStore) throws -> Int? {
        guard try KeyringRow.fetchOne(db) == nil else { return nil }
        var ring = try KeyringRow(generation: 1, reference: reference, dataKey: dataKey, wrapping: wrapping, since: clock())
        let sealed = try resealAll(db, opening: { value, _ in value },
                                   sealing: { try DataKeys.seal($0, $1, key: dataKey, generation: 1) }, recomputeStatus: true,
                                   progress: nil)
        ring.compactPending = sealed > 0
        try ring.insert(db)
        try checkReady(reference, keys)
        return sealed
    }

    /// Inside the committing transaction: the new key must still be there, or nothing commits.
    private func checkReady(_ reference: KeyReference, _ keys: any KeyStore) throws {
        guard keys.isReady(reference) else {
            throw LocalStoreError(.keyUnavailable("the new key was removed before the profile could use it; nothing was changed, try again"), home: home)
        }
    }

    /// After a failed commit to `reference`: discards the key only if the database did not
    /// commit to it after all (a failure reported after the commit reached the disk).
    func settle(_ reference: KeyReference, keys: any KeyStore) {
        let stored = try? writer.read { db in try KeyringRow.fetchOne(db)?.decodedReference(home: home) }
        if stored == reference { return }
        keys.discard(reference)
    }

    /// Moves plaintext from before encryption out of the free pages and the WAL; the flag
    /// stays until both succeed, so a busy moment is retried at the next open.
    private func compactPlaintext() {
        do {
            try writer.writeWithoutTransaction { db in
                try db.execute(sql: "VACUUM")
                try db.checkpoint(.truncate)
                try db.execute(sql: "UPDATE keyring SET compactPending = 0")
                try db.checkpoint(.truncate)
            }
        } catch {
            // Another process reads the file now; the next open tries again.
        }
    }

    /// Installs the data key `ring` wraps, opened with `keys`; returns the ring's reference.
    @discardableResult
    private func install(_ ring: KeyringRow, _ keys: any KeyStore) throws -> KeyReference {
        let reference = try ring.decodedReference(home: home)
        let wrapping = try keys.key(for: reference)
        guard let generation = UInt32(exactly: ring.generation),
              let dataKey = try? DataKeys.open(ring.wrappedKey, .dataKey(generation), key: wrapping) else {
            let what = reference.kind == KeyReference.passphrase ? "the passphrase" : "the key"
            throw LocalStoreError(.wrongKey("\(what) does not open the profile in \(home.path); try again (a passphrase is case-sensitive), or restore the key that belongs to it"), home: home)
        }
        dataKeys.install(SymmetricKey(data: dataKey), generation: generation)
        return reference
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

    /// Whether the store keeps the states it lately opened or sealed (``OpenedStates``);
    /// off, every read decrypts and decodes, as before it kept them. For the benchmark
    /// that shows what keeping them buys.
    @_spi(Benchmarks)
    public func keepOpenedStates(_ on: Bool) {
        openedStates.setEnabled(on)
    }

    private struct Passthrough: KeyStore {
        func makeKey(replacing previous: KeyReference?) throws -> (SymmetricKey, KeyReference) {
            (SymmetricKey(size: .bits256), KeyReference(kind: "none", id: "none"))
        }
        func key(for reference: KeyReference) throws -> SymmetricKey { throw CryptoKitError.incorrectKeySize }
        func committed(_ reference: KeyReference, replacing previous: KeyReference?) throws {}
    }

    /// How the profile is protected now.
    public func keyStatus() throws -> KeyStatus {
        try writer.read { db in
            guard let ring = try KeyringRow.fetchOne(db), let generation = UInt32(exactly: ring.generation) else {
                throw LocalStoreError(.notInitialised, home: home)
            }
            let counts = try Int.fetchOne(db, sql: """
                SELECT (SELECT COUNT(*) FROM record) + (SELECT COUNT(provenState) FROM record) + (SELECT COUNT(*) FROM discarded) + (SELECT COUNT(sealedProblem) FROM discarded)
                     + (SELECT COUNT(parkedProblem) FROM outbox) + (SELECT COUNT(*) FROM syncState WHERE key IN (?, ?, ?))
                """, arguments: StatementArguments(Self.sealedSettings)) ?? 0
            return KeyStatus(reference: try ring.decodedReference(home: home), generation: generation,
                             since: ring.since, sealedValues: counts, compactPending: ring.compactPending)
        }
    }

    /// Makes a new data key and reseals everything under it, in one transaction: a crash
    /// or kill at any instant leaves the profile under the old key or the new one, whole.
    /// The new data key is wrapped by a new key from `keys` (which may be another kind:
    /// a key file becomes a passphrase). `progress` gets (done, total) as records go. A
    /// write from another process that opened the profile before is refused afterwards
    /// (its key is the old one) and says to run again.
    @discardableResult
    public func rotateKey(using keys: any KeyStore, progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> KeyStatus {
        let previous = try keyStatus().reference
        let (wrapping, reference) = try keys.makeKey(replacing: previous)
        let dataKey = SymmetricKey(size: .bits256)
        let dataKeys = self.dataKeys
        do {
            try writer.write { db in
                guard let ring = try KeyringRow.fetchOne(db), let current = UInt32(exactly: ring.generation), current < .max else {
                    throw LocalStoreError(.notInitialised, home: home)
                }
                try self.checkCurrentKey(db)
                let generation = current + 1
                try KeyringRow(generation: generation, reference: reference, dataKey: dataKey, wrapping: wrapping, since: clock()).update(db)
                let home = self.home
                _ = try self.resealAll(db, opening: { try dataKeys.open($0, $1, home: home) },
                                       sealing: { try DataKeys.seal($0, $1, key: dataKey, generation: generation) },
                                       recomputeStatus: false, progress: progress)
                try self.checkReady(reference, keys)
                // The new key seals from the commit on, before any other write of this process.
                let bytes = dataKey.withUnsafeBytes { Data($0) }  // SymmetricKey is not Sendable here
                db.afterNextTransaction(onCommit: { _ in dataKeys.install(SymmetricKey(data: bytes), generation: generation) })
            }
        } catch {
            settle(reference, keys: keys)
            throw error
        }
        try keys.committed(reference, replacing: previous)
        compact()
        return try keyStatus()
    }

    /// The data key this process seals with must be the one the database holds: another
    /// process may have rotated it since this one opened the profile. Called in every
    /// transaction that seals.
    func checkCurrentKey(_ db: Database) throws {
        guard !dataKeys.isPassthrough else { return }
        let generation = try Int64.fetchOne(db.cachedStatement(sql: "SELECT generation FROM keyring"))
        guard let generation, generation == Int64(dataKeys.currentGeneration ?? 0) else {
            throw LocalStoreError(.keyChanged, home: home)
        }
    }

    /// Reseals every sealed value, in the caller's transaction; returns how many there were.
    /// `recomputeStatus`: the first sealing also rewrites the plain `status` column from
    /// the state (an older release kept any text there).
    private func resealAll(_ db: Database, opening: (Data, SealPurpose) throws -> Data,
                           sealing: (Data, SealPurpose) throws -> Data, recomputeStatus: Bool,
                           progress: (@Sendable (Int, Int) -> Void)?) throws -> Int {
        var count = 0
        let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM record") ?? 0
        var last: Int64 = 0
        let update = try db.makeStatement(sql: recomputeStatus ? "UPDATE record SET sealedState = ?, status = ? WHERE rowid = ?"
                                                               : "UPDATE record SET sealedState = ? WHERE rowid = ?")
        while true {
            let rows = try Row.fetchAll(db, sql: "SELECT rowid, id, sealedState FROM record WHERE rowid > ? ORDER BY rowid LIMIT 500",
                                        arguments: [last])
            guard let final = rows.last else { break }
            for row in rows {
                let id: String = row[1]
                let purpose = SealPurpose.state(id)
                let plain = try opening(row[2], purpose)
                let sealed = try sealing(plain, purpose)
                if recomputeStatus {
                    let status = (try? StableJSON.decode(RecordState.self, from: plain))?.statusColumn
                    try update.execute(arguments: [sealed, status, row[0] as Int64])
                } else {
                    try update.execute(arguments: [sealed, row[0] as Int64])
                }
            }
            count += rows.count
            last = final[0]
            progress?(count, total)
        }
        // The states the server last served with its proof (see `LocalStore+Epochs`).
        if try db.columns(in: "record").contains(where: { $0.name == "provenState" }) {
            for row in try Row.fetchAll(db, sql: "SELECT rowid, id, provenState FROM record WHERE provenState IS NOT NULL") {
                let id: String = row[1]
                try db.execute(sql: "UPDATE record SET provenState = ? WHERE rowid = ?",
                               arguments: [try sealing(try opening(row[2], .state(id)), .state(id)), row[0] as Int64])
                count += 1
            }
        }
        for row in try Row.fetchAll(db, sql: "SELECT seq, recordID, sealedState, sealedProblem FROM discarded") {
            let id: String = row[1]
            let problem = try (row[3] as Data?).map { try sealing(try opening($0, .problem(id)), .problem(id)) }
            try db.execute(sql: "UPDATE discarded SET sealedState = ?, sealedProblem = ? WHERE seq = ?",
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

    // Each seal checks, in the writing transaction, that the database still holds the
    // data key this process seals with (`checkCurrentKey`).

    func seal(_ text: String, _ purpose: SealPurpose, db: Database) throws -> Data {
        try seal(Data(text.utf8), purpose, db: db)
    }

    func seal(_ data: Data, _ purpose: SealPurpose, db: Database) throws -> Data {
        try checkCurrentKey(db)
        return try dataKeys.seal(data, purpose, home: home)
    }

    func openText(_ sealed: Data, _ purpose: SealPurpose) throws -> String {
        String(decoding: try dataKeys.open(sealed, purpose, home: home), as: UTF8.self)
    }

    /// A record's state from its sealed column. Read with the strict reader (several times
    /// faster than `Codable`, to the same value), and with `Codable` should it refuse one.
    /// A state seen lately with exactly these bytes is not opened again (``OpenedStates``).
    func openState(_ sealed: Data, id: String) throws -> RecordState {
        if let kept = openedStates.state(id, sealed: sealed) { return kept }
        let state = try openStateAfresh(sealed, id: id)
        openedStates.keep(state, sealed: sealed)
        return state
    }

    func openStateAfresh(_ sealed: Data, id: String) throws -> RecordState {
        let json = try dataKeys.open(sealed, .state(id), home: home)
        if let state = try? RecordStateJSON.decode(json) { return state }
        do { return try StableJSON.decode(RecordState.self, from: json) } catch {
            throw LocalStoreError(.unreadable("record \(id) holds a state that does not decode (\(error))"), home: home)
        }
    }

    /// The state in stable JSON (the writer the server uses; the same bytes as `Codable`'s).
    func sealState(_ state: RecordState, db: Database) throws -> Data {
        let sealed = try seal(Data(RecordStateJSON.encode(state)), .state(state.id), db: db)
        if OpenedStates.keepsExactly(state) { openedStates.keep(state, sealed: sealed) }
        return sealed
    }

    func sealProblem(_ problem: Problem, id: String, db: Database) throws -> Data {
        try seal(try StableJSON.encode(problem), .problem(id), db: db)
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
    var compactPending = false

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
