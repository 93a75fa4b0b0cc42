import Foundation
import GRDB
import VeldProtocol

/// The embedded default: one SQLite file (WAL, synchronous=FULL) beside the server.
/// Writes are serialised by SQLite, so positions come from a counter in the same
/// transaction and a pull never skips a change.
public final class SQLiteSyncStorage: SyncStorage {
    let pool: DatabasePool
    public let path: String
    /// Each device's last pull, written in the background (see `PullMarks`).
    let pullMarks: PullMarks
    /// Pushes and access-log entries waiting to commit together (see `applyPush`).
    let writes: WriteGroups
    /// The epoch and proof key, read once (see ``identity()``).
    let identityCache = ServerIdentityCache()

    /// Opens (creating when missing) the database at `path`; its folder is made 0700 and
    /// the file 0600.
    public init(path: String) throws {
        self.path = path
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw StorageOpenError(path: path, reason: "cannot create the file; check that \(folder.path) is writable")
            }
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // Deleted content (an erasure, a pruned log) is overwritten, not left in free pages.
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch let error as DatabaseError {
            throw StorageOpenError(path: path, reason: error.message ?? error.description)
        }
        self.pool = pool
        writes = WriteGroups(pool: pool)
        pullMarks = PullMarks { marks in
            try await pool.write { db in
                let update = try db.cachedStatement(sql: """
                    UPDATE token SET lastPullAt = ?, lastCursor = ? WHERE id = ? AND (lastPullAt IS NULL OR lastPullAt <= ?)
                    """)
                let health = try db.cachedStatement(sql: """
                    UPDATE token SET health = ?, healthAt = ? WHERE id = ? AND (healthAt IS NULL OR healthAt <= ?)
                    """)
                for (token, mark) in marks {
                    if let at = mark.at { try update.execute(arguments: [at, mark.cursor, token, at]) }
                    if let said = mark.health, let at = mark.healthAt {
                        try health.execute(arguments: [String(decoding: try StableJSON.encode(said), as: UTF8.self), at, token, at])
                    }
                }
            }
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-records-tokens-batches") { db in
            try db.create(table: "record") { t in
                t.primaryKey("id", .text)
                t.column("type", .text).notNull()
                t.column("scope", .text).notNull()
                t.column("state", .text).notNull()
                t.column("position", .integer).notNull().unique()
            }
            try db.create(index: "record_by_scope_position", on: "record", columns: ["scope", "position"])
            try db.create(table: "counter") { t in
                t.primaryKey("name", .text)
                t.column("value", .integer).notNull()
            }
            try db.execute(sql: "INSERT INTO counter (name, value) VALUES ('position', 0)")
            try db.create(table: "batch") { t in
                t.primaryKey("id", .text)
                t.column("replica", .text).notNull()
                t.column("fingerprint", .text).notNull()
                t.column("response", .text).notNull()
                t.column("receivedAt", .datetime).notNull()
            }
            try db.create(table: "token") { t in
                t.primaryKey("id", .text)
                t.column("hash", .text).notNull().unique()
                t.column("user", .text).notNull()
                t.column("role", .text).notNull()
                t.column("scopes", .text).notNull()
                t.column("replica", .text)
                t.column("createdAt", .datetime).notNull()
                t.column("revokedAt", .datetime)
                t.column("lastPushAt", .datetime)
                t.column("lastPullAt", .datetime)
            }
        }
        migrator.registerMigration("v2-history-device-cursors") { db in
            try db.create(table: "history") { t in
                t.autoIncrementedPrimaryKey("seq")
                t.column("recordID", .text).notNull()
                t.column("position", .integer).notNull()
                t.column("receivedAt", .datetime).notNull()
                t.column("replica", .text).notNull()
                t.column("device", .text).notNull()
                t.column("user", .text).notNull()
                t.column("fields", .text).notNull()
                // The state after the change, so "what did the data say on date X" is one lookup.
                t.column("state", .text).notNull()
            }
            try db.create(index: "history_by_record", on: "history", columns: ["recordID", "seq"])
            try db.alter(table: "token") { t in t.add(column: "lastCursor", .integer) }
        }
        migrator.registerMigration("v3-batch-token") { db in
            // A batch id is remembered per token: a replay under another token is refused.
            try db.alter(table: "batch") { t in t.add(column: "token", .text) }
            try db.create(index: "token_by_replica", on: "token", columns: ["replica"])
        }
        migrator.registerMigration("v4-history-deltas") { db in
            // History rows keep the changed fields (delta) and a whole state (state) every
            // few changes; the record row counts the changes since its last snapshot.
            // Rows written before keep their whole state, so each is a snapshot.
            try db.alter(table: "history") { t in t.add(column: "delta", .text) }
            try db.alter(table: "record") { t in t.add(column: "historyRun", .integer).notNull().defaults(to: 0) }
        }
        migrator.registerMigration("v5-token-expiry") { db in
            try db.alter(table: "token") { t in
                t.add(column: "expiresAt", .datetime)
                t.add(column: "secretIssuedAt", .datetime)
            }
        }
        migrator.registerMigration("v6-access-log") { db in
            // NEN 7513: one row per logged request, hash-chained (see AccessEntry), and an
            // index from each record it names to the row.
            try db.create(table: "accessLog") { t in
                t.primaryKey("seq", .integer)
                t.column("at", .datetime).notNull().indexed()
                t.column("action", .text).notNull()
                t.column("status", .integer).notNull()
                t.column("problem", .text)
                t.column("token", .text)
                t.column("user", .text)
                t.column("role", .text)
                t.column("replica", .text)
                t.column("detail", .text).notNull()
                t.column("records", .text).notNull()
                t.column("previousHash", .text).notNull()
                t.column("hash", .text).notNull()
            }
            try db.create(table: "accessRecord", options: .withoutRowID) { t in
                t.column("recordID", .text).notNull()
                t.column("seq", .integer).notNull()
                t.primaryKey(["recordID", "seq"])
            }
            // The chain's head, kept apart from the entries: appends continue from it after
            // a prune removed every entry, and `--verify` compares it with the last entry
            // (so deleting the newest entries is found too).
            try db.create(table: "accessHead") { t in
                t.primaryKey("id", .integer)
                t.column("seq", .integer).notNull()
                t.column("hash", .text).notNull()
            }
            try db.execute(sql: "INSERT INTO accessHead (id, seq, hash) VALUES (1, 0, ?)", arguments: [AccessChain.genesis])
            // How far the record index has been built: it is filled from the entries when
            // it is asked (audit --record, --verify), not on the path of every pull.
            try db.create(table: "accessIndexed") { t in
                t.primaryKey("id", .integer)
                t.column("seq", .integer).notNull()
            }
            try db.execute(sql: "INSERT INTO accessIndexed (id, seq) VALUES (1, 0)")
        }
        migrator.registerMigration("v7-wipe-receipts") { db in
            try db.alter(table: "token") { t in
                t.add(column: "wipeRequestedAt", .datetime)
                t.add(column: "wipedAt", .datetime)
            }
            try db.create(table: "receipt") { t in
                t.primaryKey("id", .text)
                t.column("token", .text).notNull()
                t.column("kind", .text).notNull()
                t.column("scopes", .text).notNull()
                t.column("records", .integer).notNull()
                t.column("unsent", .integer).notNull()
                t.column("receivedAt", .datetime).notNull()
            }
        }
        migrator.registerMigration("v8-receipt-confirmation") { db in
            try db.alter(table: "receipt") { t in
                t.add(column: "confirmedAt", .datetime)
                t.add(column: "confirmedBy", .text)
            }
            try db.create(index: "receipt_by_token", on: "receipt", columns: ["token", "confirmedAt"])
        }
        migrator.registerMigration("v9-modules") { db in
            // Every version of every module added; the latest of each is in force.
            try db.create(table: "module") { t in
                t.column("name", .text).notNull()
                t.column("version", .integer).notNull()
                t.column("document", .text).notNull()
                t.column("addedAt", .datetime).notNull()
                t.column("addedBy", .text).notNull()
                t.primaryKey(["name", "version"])
            }
        }
        migrator.registerMigration("v10-receipt-types") { db in
            // The types a `types` receipt names (JSON, like its scopes); NULL for other kinds.
            try db.alter(table: "receipt") { t in t.add(column: "types", .text) }
        }
        migrator.registerMigration("v11-snapshots") { db in
            // Peildatum snapshots: written once, never updated (an erasure deletes its rows).
            try db.create(table: "snapshot") { t in
                t.primaryKey("id", .text)
                t.column("name", .text).notNull().unique()
                t.column("asOf", .datetime).notNull()
                t.column("frozenAt", .datetime).notNull()
                t.column("scopes", .text).notNull()
                t.column("createdBy", .text).notNull()
                t.column("records", .integer).notNull()
                t.column("lateArrivals", .integer).notNull()
            }
            try db.create(table: "snapshotRecord") { t in
                t.column("snapshot", .text).notNull()
                t.column("recordID", .text).notNull()
                t.column("state", .text).notNull()
                t.primaryKey(["snapshot", "recordID"])
            }
            try db.create(index: "snapshotRecord_by_record", on: "snapshotRecord", columns: ["recordID"])
            try db.create(table: "snapshotLate") { t in
                t.column("snapshot", .text).notNull()
                t.column("recordID", .text).notNull()
                t.column("arrival", .text).notNull()
            }
            try db.create(index: "snapshotLate_by_snapshot", on: "snapshotLate", columns: ["snapshot"])
            try db.create(index: "snapshotLate_by_record", on: "snapshotLate", columns: ["recordID"])
        }
        migrator.registerMigration("v12-device-health") { db in
            // What each device last said of itself (Veld-Device), as JSON, and when.
            try db.alter(table: "token") { t in
                t.add(column: "health", .text)
                t.add(column: "healthAt", .datetime)
            }
        }
        migrator.registerMigration("v13-epochs-proofs") { db in
            // The server's epoch and the key of its proofs (SPEC.md, "Server epochs").
            try db.create(table: "setting") { t in
                t.primaryKey("name", .text)
                t.column("value", .text).notNull()
            }
            try db.execute(sql: "INSERT INTO setting (name, value) VALUES (?, ?), (?, ?)",
                           arguments: [ServerIdentity.epochSetting, ServerIdentity.newEpoch(),
                                       ServerIdentity.proofKeySetting, ServerIdentity.newProofKey()])
            // Each state's proof, made when it is written (NULL for rows written before:
            // made when served).
            try db.alter(table: "record") { t in t.add(column: "proof", .text) }
            // Whether a change sent back what a restore lost.
            try db.alter(table: "history") { t in t.add(column: "recovered", .boolean).notNull().defaults(to: false) }
        }
        migrator.registerMigration("v14-history-by-position") { db in
            // A pull delta's question: which of a record's changes came after a cursor.
            try db.create(index: "history_by_position", on: "history", columns: ["recordID", "position"])
        }
        return migrator
    }

    // MARK: Epochs

    public func identity() async throws -> ServerIdentity {
        try await identityCache.value { try await self.pool.read { db in try Self.readIdentity(db) } }
    }

    static func readIdentity(_ db: Database) throws -> ServerIdentity {
        let values = try Dictionary(Row.fetchAll(db, sql: "SELECT name, value FROM setting").map { ($0[0] as String, $0[1] as String) },
                                    uniquingKeysWith: { a, _ in a })
        return try ServerIdentity(epoch: values[ServerIdentity.epochSetting] ?? "", proofKey: values[ServerIdentity.proofKeySetting] ?? "",
                                  restoredAt: values[ServerIdentity.restoredSetting])
    }

    public func renewEpoch() async throws -> String {
        let epoch = ServerIdentity.newEpoch()
        try await pool.write { db in try Self.markRestored(epoch: epoch, db) }
        identityCache.clear()
        return epoch
    }

    public func openRecoveryWindow(at date: Date) async throws -> ServerIdentity {
        try await pool.write { db in
            try db.execute(sql: "UPDATE setting SET value = ? WHERE name = ? AND value = ?",
                           arguments: [InternetTime.format(date), ServerIdentity.restoredSetting, ServerIdentity.pending])
        }
        identityCache.clear()
        return try await identity()
    }

    /// A new epoch for a database that is (or is to be) a restored one: it takes back proven
    /// states for some days after it first serves.
    static func markRestored(epoch: String, _ db: Database) throws {
        try db.execute(sql: "UPDATE setting SET value = ? WHERE name = ?", arguments: [epoch, ServerIdentity.epochSetting])
        guard db.changesCount == 1 else {
            throw StorageError.configuration("the database has no epoch; run `veld-server migrate` first")
        }
        try db.execute(sql: "INSERT INTO setting (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                       arguments: [ServerIdentity.restoredSetting, ServerIdentity.pending])
    }

    public func migrate() async throws {
        try Self.migrator.migrate(pool)
    }

    /// The schema's migrations in order: each released schema is the one after one of them.
    public static var migrationNames: [String] { migrator.migrations }

    /// What a backup holds, counted in the copy itself.
    public struct BackupResult: Sendable, Equatable {
        public var bytes: Int64
        public var records: Int
        public var tokens: Int
        public var accessEntries: Int
    }

    /// A consistent copy of the database while it serves: SQLite's online backup of one
    /// read snapshot (pushes go on meanwhile, and the copy holds each whole or not at all),
    /// written beside `path` owner-only, checked (`quick_check`), then moved into place.
    /// Refuses to replace an existing file unless `replacing`.
    public func backup(to path: String, replacing: Bool = false) async throws -> BackupResult {
        let target = URL(fileURLWithPath: path)
        if FileManager.default.fileExists(atPath: path), !replacing {
            throw StorageError.configuration("\(path) exists; give another file, or --force to replace it")
        }
        let partial = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).partial-\(UUID().uuidString.prefix(8))")
        guard FileManager.default.createFile(atPath: partial.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw StorageError.configuration("cannot write in \(target.deletingLastPathComponent().path); check the folder and its permissions")
        }
        do {
            let copy = try DatabaseQueue(path: partial.path)
            try pool.backup(to: copy)
            // The copy is another server's past: put into place (by `restore`, or by hand),
            // it answers under an epoch of its own, and devices send back what it lacks.
            try await copy.write { db in
                if try db.tableExists("setting") { try Self.markRestored(epoch: ServerIdentity.newEpoch(), db) }
            }
            let result: BackupResult = try await copy.read { db in
                let check = try String.fetchAll(db, sql: "PRAGMA quick_check")
                guard check == ["ok"] else {
                    throw StorageError.configuration(
                        "the copy failed its integrity check (\(check.prefix(3).joined(separator: "; "))), so the database itself is damaged: keep the last good backup, stop the server and run `sqlite3 \(self.path) 'PRAGMA integrity_check'`")
                }
                return BackupResult(bytes: 0, records: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM record") ?? 0,
                                    tokens: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM token") ?? 0,
                                    accessEntries: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM accessLog") ?? 0)
            }
            try copy.close()
            for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: partial.path + suffix) }
            // rename(2): the copy appears whole or not at all, replacing an older one in one step.
            guard rename(partial.path, path) == 0 else {
                throw StorageError.configuration("cannot move the copy to \(path) (errno \(errno)); check that its folder is writable by this user and on the same file system")
            }
            var done = result
            done.bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
            return done
        } catch {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: partial.path + suffix) }
            throw error
        }
    }

    /// The migrations this database lacks, and whether it holds one this release does not
    /// know (a newer release wrote it).
    public func schemaState() async throws -> (pending: [String], unknown: Bool, empty: Bool) {
        try await pool.read { db in
            let applied = try Self.migrator.appliedIdentifiers(db)
            let known = Set(Self.migrationNames)
            return (Self.migrationNames.filter { !applied.contains($0) }, applied.contains { !known.contains($0) }, applied.isEmpty)
        }
    }

    /// Migrates up to and including `name` only: how a test makes an older release's schema.
    public func migrate(through name: String) async throws {
        try Self.migrator.migrate(pool, upTo: name)
    }

    /// Whether the schema is current (for a clear message at start-up).
    public func needsMigration() async throws -> Bool {
        try await pool.read { db in try !Self.migrator.hasCompletedMigrations(db) }
    }

    // MARK: Tokens

    public func insertToken(_ token: DeviceToken, hash: String) async throws {
        try await pool.write { db in try TokenRow(token, hash: hash).insert(db) }
    }

    public func token(hash: String) async throws -> DeviceToken? {
        try await pool.read { db in try TokenRow.filter(Column("hash") == hash).fetchOne(db)?.token() }
            .map(pullMarks.overlay)
    }

    public func tokens() async throws -> [DeviceToken] {
        try await pool.read { db in try TokenRow.order(Column("createdAt"), Column("id")).fetchAll(db).map { try $0.token() } }
            .map(pullMarks.overlay)
    }

    public func flushPendingWrites() async {
        await pullMarks.flush()
    }

    public func databaseSize() async throws -> Int64 {
        [path, path + "-wal"].reduce(0) { total, file in
            total + ((try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value ?? 0)
        }
    }

    public func noteDeviceHealth(token: String, health: DeviceHealth, at date: Date) {
        pullMarks.note(token: token, health: health, at: date)
    }

    public func revokeToken(id: String, at date: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "UPDATE token SET revokedAt = COALESCE(revokedAt, ?) WHERE id = ?", arguments: [date, id])
            return db.changesCount > 0
        }
    }

    public func rotateToken(id: String, hash: String, at date: Date, expiresAt: Date?) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "UPDATE token SET hash = ?, secretIssuedAt = ?, expiresAt = ? WHERE id = ? AND revokedAt IS NULL",
                           arguments: [hash, date, expiresAt, id])
            return db.changesCount > 0
        }
    }

    public func requestWipe(id: String, at date: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: """
                UPDATE token SET revokedAt = COALESCE(revokedAt, ?), wipeRequestedAt = COALESCE(wipeRequestedAt, ?) WHERE id = ?
                """, arguments: [date, date, id])
            return db.changesCount > 0
        }
    }

    public func recordReceipt(_ receipt: PurgeReceipt, token: DeviceToken, at date: Date) async throws -> Bool {
        let scopes = String(decoding: try StableJSON.encode(receipt.scopes), as: UTF8.self)
        let types = try receipt.types.map { String(decoding: try StableJSON.encode($0), as: UTF8.self) }
        return try await writes.submit { db in
            try db.execute(sql: """
                INSERT OR IGNORE INTO receipt (id, token, kind, scopes, types, records, unsent, receivedAt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [receipt.id, token.id, receipt.kind.rawValue, scopes, types, receipt.records, receipt.unsent, date])
            guard db.changesCount > 0 else { return false }
            if receipt.kind == .wipe {
                try db.execute(sql: "UPDATE token SET wipedAt = COALESCE(wipedAt, ?) WHERE id = ?", arguments: [date, token.id])
            }
            try Self.appendAccess([AccessDraft(at: date, action: .purge, token: token, detail: StoredReceipt.detail(receipt))], db: db)
            return true
        }
    }

    public func receipts() async throws -> [StoredReceipt] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM receipt ORDER BY receivedAt, id").map(Self.storedReceipt)
        }
    }

    private static func storedReceipt(_ row: Row) throws -> StoredReceipt {
        StoredReceipt(receipt: PurgeReceipt(id: row["id"], kind: PurgeReceipt.Kind(rawValue: row["kind"]) ?? .scopes,
                                            scopes: try StableJSON.decode([String].self, from: Data((row["scopes"] as String).utf8)),
                                            types: try (row["types"] as String?).map { try StableJSON.decode([String].self, from: Data($0.utf8)) },
                                            records: row["records"], unsent: row["unsent"]),
                      tokenID: row["token"], receivedAt: row["receivedAt"], confirmedAt: row["confirmedAt"], confirmedBy: row["confirmedBy"])
    }

    public func confirmReceipt(id: String, by user: String, at date: Date) async throws -> StoredReceipt? {
        try await pool.write { db in
            try db.execute(sql: "UPDATE receipt SET confirmedAt = ?, confirmedBy = ? WHERE id = ? AND confirmedAt IS NULL",
                           arguments: [date, user, id])
            return try Row.fetchOne(db, sql: "SELECT * FROM receipt WHERE id = ?", arguments: [id]).map(Self.storedReceipt)
        }
    }

    public func confirmedReceipts(token: String, limit: Int) async throws -> [String] {
        try await pool.read { db in
            try String.fetchAll(db, sql: """
                SELECT id FROM receipt WHERE token = ? AND confirmedAt IS NOT NULL ORDER BY confirmedAt DESC, id LIMIT ?
                """, arguments: [token, limit])
        }
    }

    // MARK: Modules

    public func storedModules() async throws -> [StoredModule] {
        try await pool.read { db in try Self.storedModules(db) }
    }

    static func storedModules(_ db: Database) throws -> [StoredModule] {
        try Row.fetchAll(db, sql: "SELECT * FROM module ORDER BY addedAt, name, version").map { row in
            StoredModule(name: row["name"], version: row["version"], document: row["document"], addedAt: row["addedAt"],
                         addedBy: row["addedBy"])
        }
    }

    public func addModule(_ module: StoredModule, check: @escaping @Sendable ([StoredModule]) throws -> Void) async throws {
        // GRDB's write transactions take SQLite's write lock first (BEGIN IMMEDIATE): no
        // other module change reads in between.
        try await pool.write { db in
            try check(Self.storedModules(db))
            try db.execute(sql: "INSERT INTO module (name, version, document, addedAt, addedBy) VALUES (?, ?, ?, ?, ?)",
                           arguments: [module.name, module.version, module.document, module.addedAt, module.addedBy])
        }
    }

    public func updateTokenScopes(id: String, scopes: [String]) async throws -> Bool {
        let encoded = String(decoding: try StableJSON.encode(scopes), as: UTF8.self)
        return try await pool.write { db in
            try db.execute(sql: "UPDATE token SET scopes = ? WHERE id = ? AND revokedAt IS NULL", arguments: [encoded, id])
            return db.changesCount > 0
        }
    }

    // MARK: Sync

    /// Pushes that arrive while another group is being written wait and then commit
    /// together: one transaction and one fsync for all of them, each inside its own
    /// savepoint so a refused push rolls back alone. Every push is answered only after the
    /// transaction holding it committed, so an acknowledged push is on disk. Under load
    /// this divides the fsyncs by the number of devices pushing at once.
    public func applyPush(_ push: CheckedPush, token: DeviceToken, fingerprint: String, at date: Date,
                          check: @escaping @Sendable ([String: RecordState]) throws -> Void) async throws -> PushResponse {
        let proofs = try await identity().proofs
        return try await writes.submit { db in
            try self.applyPush(push, token: token, fingerprint: fingerprint, at: date, check: check, proofs: proofs, db: db)
        }
    }

    /// Reads the policy's inputs, lets it decide, persists the plan: nothing else.
    private func applyPush(_ push: CheckedPush, token: DeviceToken, fingerprint: String, at date: Date,
                           check: ([String: RecordState]) throws -> Void, proofs: ServerProofs, db: Database) throws -> PushResponse {
        let request = push.request
        let prior = try Row.fetchOne(db.cachedStatement(sql: "SELECT token, replica, fingerprint, response FROM batch WHERE id = ?"),
                                     arguments: [request.batch]).map { row in
            PushPolicy.PriorBatch(tokenID: row["token"], replica: row["replica"], fingerprint: row["fingerprint"], response: row["response"])
        }
        let bound = try String.fetchOne(db.cachedStatement(sql: "SELECT replica FROM token WHERE id = ?"), arguments: [token.id]) ?? nil
        // Who else holds the replica matters only before this token is bound to it.
        var held = false, otherUser = false
        if bound == nil, let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT COALESCE(MAX(revokedAt IS NULL), 0), COALESCE(MAX(user <> ?), 0) FROM token WHERE replica = ? AND id <> ?
            """), arguments: [token.user, request.replica, token.id]) {
            held = row[0]
            otherUser = row[1]
        }
        var stored: [String: RecordState] = [:]
        var runs: [String: Int] = [:]
        var erased: [(id: String, type: String, scope: String)] = []
        if prior == nil {
            let ids = push.storedIDs
            for chunk in stride(from: 0, to: ids.count, by: 500) {
                let slice = Array(ids[chunk..<min(chunk + 500, ids.count)])
                let select = try db.cachedStatement(sql: """
                    SELECT id, state, historyRun, type, scope FROM record WHERE id IN (\(databaseQuestionMarks(count: slice.count)))
                    """)
                let rows = try Row.fetchCursor(select, arguments: StatementArguments(slice))
                while let row = try rows.next() {
                    // An erased record is a tombstone: an empty state.
                    if try row.withUnsafeData(atIndex: 1, { ($0?.count ?? 0) == 0 }) {
                        erased.append((row[0], row[3], row[4]))
                        continue
                    }
                    stored[row[0]] = try row.withUnsafeData(atIndex: 1) { try StableJSON.decode(RecordState.self, from: $0 ?? Data()) }
                    runs[row[0]] = row[2]
                }
            }
            let visible = Erasure.visibleTombstones(erased, for: push, stored: &stored)
            if !visible.isEmpty { throw Erasure.refusal(visible, in: request, schemas: push.schemas) }
        }
        let position = try Int64.fetchOne(db.cachedStatement(sql: "SELECT value FROM counter WHERE name = 'position'")) ?? 0
        let inputs = PushPolicy.Inputs(priorBatch: prior, boundReplica: bound, replicaHeldByAnotherToken: held,
                                       replicaUsedByAnotherUser: otherUser, now: date,
                                       stored: stored, position: position, historyRuns: runs)
        let plan: PushPlan
        switch try PushPipeline.decide(push, fingerprint: fingerprint, inputs: inputs, check: check) {
        case .answer(let response):
            try Self.appendAccess([.push(request, response: response, token: token, at: date, replay: true)], db: db)
            return response
        case .persist(let accepted): plan = accepted
        }

        try db.cachedStatement(sql: "UPDATE token SET replica = ?, lastPushAt = ? WHERE id = ?")
            .execute(arguments: [request.replica, date, token.id])
        let upsert = try db.cachedStatement(sql: """
            INSERT INTO record (id, type, scope, state, position, historyRun, proof) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET state = excluded.state, position = excluded.position, historyRun = excluded.historyRun,
              proof = excluded.proof
            """)
        let history = try db.cachedStatement(sql: """
            INSERT INTO history (recordID, position, receivedAt, replica, device, user, fields, state, delta, recovered)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for write in plan.writes {
            let state = write.state
            try upsert.execute(arguments: [state.id, state.type, state.scope, write.json, write.position, write.historyRun,
                                           proofs.proof(ofJSON: write.json)])
            try history.execute(arguments: [state.id, write.position, date, request.replica, token.id, token.user, write.fields,
                                            write.historySnapshot ?? "", write.historyDelta, write.recovered])
        }
        try db.cachedStatement(sql: "UPDATE counter SET value = ? WHERE name = 'position'").execute(arguments: [plan.lastPosition])
        try db.cachedStatement(sql: "INSERT INTO batch (id, replica, fingerprint, response, receivedAt, token) VALUES (?, ?, ?, ?, ?, ?)")
            .execute(arguments: [request.batch, request.replica, fingerprint, plan.responseJSON, date, token.id])
        try Self.appendAccess([.push(request, response: plan.response, token: token, at: date, replay: false)], db: db)
        return plan.response
    }

    public func pullEncoded(scopes: ScopeFilter, hiding hidden: Set<String>, after position: Int64, limit: Int, token: DeviceToken?,
                            at date: Date) async throws -> EncodedPullPage {
        let proofs = try await identity().proofs
        let (states, stateProofs, records, erased, last, more): ([[UInt8]], [String], CompactAccessRecords, [String], Int64, Bool) = try await pool.read { db in
            let hiddenList = hidden.sorted()
            let hiding = hiddenList.isEmpty ? "" : " AND type NOT IN (\(databaseQuestionMarks(count: hiddenList.count)))"
            let statement: Statement
            let arguments: StatementArguments
            switch scopes {
            case .all:
                statement = try db.cachedStatement(sql: "SELECT state, position, id, type, scope, proof FROM record WHERE position > ?\(hiding) ORDER BY position LIMIT ?")
                arguments = StatementArguments([position]) + StatementArguments(hiddenList) + StatementArguments([limit + 1])
            case .only(let set):
                let list = set.sorted()
                guard !list.isEmpty else { return ([], [], CompactAccessRecords(), [], position, false) }
                statement = try db.cachedStatement(sql: """
                    SELECT state, position, id, type, scope, proof FROM record WHERE position > ? AND scope IN (\(databaseQuestionMarks(count: list.count)))\(hiding)
                    ORDER BY position LIMIT ?
                    """)
                arguments = StatementArguments([position]) + StatementArguments(list) + StatementArguments(hiddenList)
                    + StatementArguments([limit + 1])
            }
            var states: [[UInt8]] = []
            var stateProofs: [String] = []
            var records = CompactAccessRecords()
            var erased: [String] = []
            states.reserveCapacity(min(limit, 1_000))
            stateProofs.reserveCapacity(min(limit, 1_000))
            records.reserveCapacity(min(limit, 1_000))
            var last = position
            var bytes = 0
            let rows = try Row.fetchCursor(statement, arguments: arguments)
            while let row = try rows.next() {
                let state = try row.withUnsafeData(atIndex: 0) { $0.map { [UInt8]($0) } ?? [] }
                // Bounded by count and by bytes; a record larger than the budget goes alone.
                let size = state.count
                if states.count + erased.count == limit || (!states.isEmpty && bytes + size > SyncLimits.maxPullPageBytes) {
                    return (states, stateProofs, records, erased, last, true)
                }
                last = row[1]
                if state.isEmpty {
                    erased.append(row[2])
                    continue
                }
                bytes += size
                states.append(state)
                stateProofs.append(row[5] ?? proofs.proof(ofStored: String(decoding: state, as: UTF8.self)))
                records.append(id: row[2], type: row[3], scope: row[4], effect: "read")
            }
            return (states, stateProofs, records, erased, last, false)
        }
        if let token { pullMarks.note(token: token.id, at: date, cursor: last) }
        var page = EncodedPullPage(states: states, accessRecords: records, lastPosition: last, more: more)
        page.erased = erased
        page.proofs = stateProofs
        return page
    }

    public func history(recordID: String) async throws -> [RecordChange] {
        let rows: [(Int64, Date, String, String, String, String, Bool)] = try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT position, receivedAt, replica, device, user, fields, recovered FROM history WHERE recordID = ? ORDER BY seq
                """, arguments: [recordID]).map {
                ($0["position"], $0["receivedAt"], $0["replica"], $0["device"], $0["user"], $0["fields"], $0["recovered"])
            }
        }
        return try rows.map { position, receivedAt, replica, device, user, fields, recovered in
            RecordChange(position: position, receivedAt: receivedAt, replica: replica, device: device, user: user,
                         fields: try StableJSON.decode([FieldChange].self, from: Data(fields.utf8)), recovered: recovered)
        }
    }

    /// The last snapshot at or before the last change accepted by `date`, and the deltas
    /// after it up to that change (see `HistoryDelta`).
    public func state(recordID: String, asOf date: Date) async throws -> RecordState? {
        let rows: [(String, String?)] = try await pool.read { db in
            guard let target = try Int64.fetchOne(db, sql: """
                SELECT seq FROM history WHERE recordID = ? AND receivedAt <= ? ORDER BY seq DESC LIMIT 1
                """, arguments: [recordID, date]) else { return [] }
            let start = try Int64.fetchOne(db, sql: """
                SELECT seq FROM history WHERE recordID = ? AND seq <= ? AND state <> '' ORDER BY seq DESC LIMIT 1
                """, arguments: [recordID, target]) ?? target
            return try Row.fetchAll(db, sql: """
                SELECT state, delta FROM history WHERE recordID = ? AND seq >= ? AND seq <= ? ORDER BY seq
                """, arguments: [recordID, start, target]).map { ($0[0], $0[1]) }
        }
        return try HistoryDelta.rebuild(rows.map { snapshot, delta in
            (snapshot: snapshot.isEmpty ? nil : try StableJSON.decode(RecordState.self, from: Data(snapshot.utf8)),
             delta: try delta.map { try StableJSON.decode(RecordState.self, from: Data($0.utf8)) })
        })
    }

    // MARK: Access log

    public func appendAccess(_ drafts: [AccessDraft]) async throws {
        guard !drafts.isEmpty, !AccessLogSwitch.isOff else { return }
        try await writes.submit { db in _ = try Self.appendAccess(drafts, db: db, keepingRecords: false) }
    }

    /// Appends in the caller's transaction: the head is read there, so entries written in
    /// one transaction (or one group) chain in the order they were written.
    @discardableResult
    static func appendAccess(_ drafts: [AccessDraft], db: Database, keepingRecords: Bool = true) throws -> [AccessEntry] {
        guard !AccessLogSwitch.isOff else { return [] }
        let head = try Row.fetchOne(db.cachedStatement(sql: "SELECT seq, hash FROM accessHead WHERE id = 1"))
        var seq: Int64 = head?[0] ?? 0
        var previous: String = head?[1] ?? AccessChain.genesis
        let insert = try db.cachedStatement(sql: """
            INSERT INTO accessLog (seq, at, action, status, problem, token, user, role, replica, detail, records, previousHash, hash)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        var entries: [AccessEntry] = []
        for draft in drafts {
            seq += 1
            let (entry, records) = draft.sealedWithRecords(seq: seq, previousHash: previous, keepingRecords: keepingRecords)
            entries.append(entry)
            try insert.execute(arguments: [entry.seq, entry.at, entry.action.rawValue, entry.status, entry.problem, entry.tokenID,
                                           entry.user, entry.role, entry.replica, entry.detail, records, entry.previousHash, entry.hash])
            previous = entry.hash
        }
        try db.cachedStatement(sql: "UPDATE accessHead SET seq = ?, hash = ? WHERE id = 1").execute(arguments: [seq, previous])
        return entries
    }

    /// Fills the record index from the entries it does not cover yet (SQLite's JSON1 reads
    /// each entry's records in C), 5,000 entries per transaction so pushes and pulls wait
    /// at most one chunk. Kept off the request path: a pull page's entry names hundreds of
    /// records, and indexing them there tripled its cost.
    func catchUpAccessIndex() async throws {
        for _ in 0..<1_000_000 {
            let done: Bool = try await writes.submit { db in
                let indexed = try Int64.fetchOne(db, sql: "SELECT seq FROM accessIndexed WHERE id = 1") ?? 0
                let head = try Int64.fetchOne(db, sql: "SELECT seq FROM accessHead WHERE id = 1") ?? 0
                guard head > indexed else { return true }
                let through = min(head, indexed + 5_000)
                // Entries in the list form name records as `[{"id":…},…]`, in the compact
                // form as `{"ids":[…],…}`.
                try db.execute(sql: """
                    INSERT OR IGNORE INTO accessRecord (recordID, seq)
                    SELECT json_extract(j.value, '$.id'), l.seq FROM accessLog l, json_each(l.records) j
                    WHERE l.seq > ? AND l.seq <= ? AND json_type(l.records) = 'array'
                    UNION ALL
                    SELECT j.value, l.seq FROM accessLog l, json_each(l.records, '$.ids') j
                    WHERE l.seq > ? AND l.seq <= ? AND json_type(l.records) = 'object'
                    """, arguments: [indexed, through, indexed, through])
                try db.execute(sql: "UPDATE accessIndexed SET seq = ? WHERE id = 1", arguments: [through])
                return through == head
            }
            if done { return }
        }
    }

    public func accessLogHead() async throws -> (seq: Int64, hash: String) {
        try await pool.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT seq, hash FROM accessHead WHERE id = 1")
            return (row?[0] ?? 0, row?[1] ?? AccessChain.genesis)
        }
    }

    static let accessColumns = "seq, at, action, status, problem, token, user, role, replica, detail, records, previousHash, hash"

    static func accessEntry(_ row: Row) throws -> AccessEntry {
        guard let action = AccessAction(rawValue: row["action"]) else {
            throw StorageError.configuration("access-log entry \(row["seq"] as Int64) has an action this server does not know")
        }
        let records = try AccessEntry.decode(records: row["records"])
        return AccessEntry(seq: row["seq"], at: row["at"], action: action, status: row["status"], problem: row["problem"],
                           tokenID: row["token"], user: row["user"], role: row["role"], replica: row["replica"],
                           detail: row["detail"], records: records.records,
                           previousHash: row["previousHash"], hash: row["hash"], recordsForm: records.form)
    }

    public func accessEntries(_ query: AccessQuery) async throws -> [AccessEntry] {
        var conditions: [String] = []
        var arguments = StatementArguments()
        if let ids = query.recordIDs {
            guard !ids.isEmpty else { return [] }
            try await catchUpAccessIndex()
            // Each id or start of one is a range of the index: [prefix, prefix + "~").
            conditions.append("seq IN (SELECT seq FROM accessRecord WHERE "
                              + ids.map { _ in "(recordID >= ? AND recordID < ?)" }.joined(separator: " OR ") + ")")
            for id in ids { arguments += [id, id + "~"] }
        }
        if let user = query.user { conditions.append("user = ?"); arguments += [user] }
        if let device = query.device { conditions.append(device.hasPrefix("tok_") ? "token = ?" : "replica = ?"); arguments += [device] }
        if let action = query.action { conditions.append("action = ?"); arguments += [action.rawValue] }
        if let since = query.since { conditions.append("at >= ?"); arguments += [since] }
        if let until = query.until { conditions.append("at < ?"); arguments += [until] }
        if query.refusedOnly { conditions.append("status >= 400") }
        let sql = "SELECT \(Self.accessColumns) FROM accessLog" + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
            + " ORDER BY seq DESC LIMIT ?"
        arguments += [query.limit]
        let entries = try await pool.read { [arguments] db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.accessEntry)
        }
        return entries.reversed().filter(query.matches)
    }

    public func accessLogPage(after seq: Int64, limit: Int) async throws -> [(entry: AccessEntry, indexed: [String])] {
        // A damaged entry may stop the index here; the chain check below names it.
        if seq == 0 { try? await catchUpAccessIndex() }
        return try await pool.read { db in
            let entries = try Row.fetchAll(db, sql: "SELECT \(Self.accessColumns) FROM accessLog WHERE seq > ? ORDER BY seq LIMIT ?",
                                           arguments: [seq, limit]).map(Self.accessEntry)
            guard let first = entries.first, let last = entries.last else { return [] }
            var indexed: [Int64: [String]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT seq, recordID FROM accessRecord WHERE seq >= ? AND seq <= ?",
                                        arguments: [first.seq, last.seq]) {
                indexed[row[0], default: []].append(row[1])
            }
            // Index rows for entries that are not there (an entry deleted, its index kept)
            // show up as a gap in the chain; only each entry's own rows are compared.
            return entries.map { ($0, (indexed[$0.seq] ?? []).sorted()) }
        }
    }

    public func pruneAccessLog(before: Date, at date: Date, by user: String) async throws -> AccessPruneResult {
        try await writes.submit { db in
            guard let last = try Row.fetchOne(db, sql: "SELECT seq, hash FROM accessLog WHERE at < ? ORDER BY seq DESC LIMIT 1",
                                              arguments: [before]) else { return AccessPruneResult(removed: 0, entry: nil) }
            let through: Int64 = last[0]
            let lastHash: String = last[1]
            let count = try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM accessLog WHERE seq <= ?", arguments: [through]) ?? 0
            try db.execute(sql: "DELETE FROM accessRecord WHERE seq <= ?", arguments: [through])
            try db.execute(sql: "DELETE FROM accessLog WHERE seq <= ?", arguments: [through])
            var draft = AccessDraft(at: date, action: .prune, token: nil,
                                    detail: AccessChain.pruneDetail(removed: count, through: through, lastHash: lastHash, before: before))
            draft.user = user
            let entry = try Self.appendAccess([draft], db: db).first
            return AccessPruneResult(removed: count, entry: entry)
        }
    }

    public func recordIDs(clientCode code: String, children: [String: String]) async throws -> [String] {
        let types = Array(children.keys).sorted()
        let pattern = "%" + code.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_") + "%"
        let (plans, goals): ([(id: String, json: String)], [(id: String, type: String, json: String)]) = try await pool.read { db in
            // A text search narrows the care plans; ClientRecords decides.
            let plans = try Row.fetchAll(db, sql: """
                SELECT id, state FROM record WHERE type = 'carePlan' AND state LIKE ? ESCAPE '\\'
                UNION ALL
                SELECT h.recordID, h.fields FROM history h JOIN record r ON r.id = h.recordID
                WHERE r.type = 'carePlan' AND h.fields LIKE ? ESCAPE '\\'
                """, arguments: [pattern, pattern]).map { (id: $0[0] as String, json: $0[1] as String) }
            guard !plans.isEmpty else { return ([], []) }
            guard !types.isEmpty else { return (plans, []) }
            let goals = try Row.fetchAll(db, sql: "SELECT id, type, state FROM record WHERE type IN (\(databaseQuestionMarks(count: types.count))) AND state <> ''",
                                         arguments: StatementArguments(types))
                .map { (id: $0[0] as String, type: $0[1] as String, json: $0[2] as String) }
            return (plans, goals)
        }
        return try ClientRecords.resolve(code: code, plans: plans, goals: goals, children: children)
    }

    // MARK: Snapshots

    public func createSnapshot(_ snapshot: Snapshot, records: [RecordState], late: [LateArrival], entry: AccessDraft) async throws -> Bool {
        let scopes = String(decoding: try StableJSON.encode(snapshot.scopes), as: UTF8.self)
        let states = try records.map { ($0.id, String(decoding: try StableJSON.encode($0), as: UTF8.self)) }
        let arrivals = try late.map { ($0.record, String(decoding: try StableJSON.encode($0), as: UTF8.self)) }
        return try await writes.submit { db in
            try db.execute(sql: """
                INSERT OR IGNORE INTO snapshot (id, name, asOf, frozenAt, scopes, createdBy, records, lateArrivals)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [snapshot.id, snapshot.name, snapshot.asOf, snapshot.frozenAt, scopes, snapshot.createdBy,
                                 snapshot.records, snapshot.lateArrivals])
            guard db.changesCount > 0 else { return false }
            // A record erased while the snapshot was being read is not stored in it (writes
            // are one at a time: the erasure committed before this or runs after it).
            let live = "EXISTS (SELECT 1 FROM record WHERE id = ? AND state <> '')"
            let record = try db.cachedStatement(sql: "INSERT INTO snapshotRecord (snapshot, recordID, state) SELECT ?, ?, ? WHERE \(live)")
            for (id, json) in states { try record.execute(arguments: [snapshot.id, id, json, id]) }
            let arrival = try db.cachedStatement(sql: "INSERT INTO snapshotLate (snapshot, recordID, arrival) SELECT ?, ?, ? WHERE \(live)")
            for (id, json) in arrivals { try arrival.execute(arguments: [snapshot.id, id, json, id]) }
            try Self.appendAccess([entry], db: db)
            return true
        }
    }

    public func snapshots() async throws -> [Snapshot] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM snapshot ORDER BY frozenAt, id").map { row in
                Snapshot(id: row["id"], name: row["name"], asOf: row["asOf"], frozenAt: row["frozenAt"],
                         scopes: try StableJSON.decode([String].self, from: Data((row["scopes"] as String).utf8)),
                         createdBy: row["createdBy"], records: row["records"], lateArrivals: row["lateArrivals"])
            }
        }
    }

    public func snapshotRecords(id: String) async throws -> [RecordState] {
        let rows = try await pool.read { db in
            try String.fetchAll(db, sql: "SELECT state FROM snapshotRecord WHERE snapshot = ? ORDER BY recordID", arguments: [id])
        }
        return try rows.map { try StableJSON.decode(RecordState.self, from: Data($0.utf8)) }
    }

    public func snapshotLate(id: String) async throws -> [LateArrival] {
        let rows = try await pool.read { db in
            try String.fetchAll(db, sql: "SELECT arrival FROM snapshotLate WHERE snapshot = ? ORDER BY rowid", arguments: [id])
        }
        return try rows.map { try StableJSON.decode(LateArrival.self, from: Data($0.utf8)) }
    }

    // MARK: Erasure

    public func erase(recordIDs: [String], at date: Date, entry: AccessDraft) async throws -> ErasureResult {
        let result: ErasureResult = try await writes.submit { db in
            var position = try Int64.fetchOne(db, sql: "SELECT value FROM counter WHERE name = 'position'") ?? 0
            var erased: [AccessedRecord] = []
            var historyRows = 0
            for id in Set(recordIDs).sorted() {
                guard let row = try Row.fetchOne(db, sql: "SELECT type, scope FROM record WHERE id = ? AND state <> ''", arguments: [id]) else {
                    continue
                }
                try db.execute(sql: "DELETE FROM history WHERE recordID = ?", arguments: [id])
                historyRows += db.changesCount
                try db.execute(sql: "DELETE FROM snapshotRecord WHERE recordID = ?", arguments: [id])
                try db.execute(sql: "DELETE FROM snapshotLate WHERE recordID = ?", arguments: [id])
                position += 1
                try db.execute(sql: "UPDATE record SET state = '', position = ?, historyRun = 0 WHERE id = ?", arguments: [position, id])
                erased.append(AccessedRecord(id: id, type: row["type"], scope: row["scope"], effect: "erased"))
            }
            guard !erased.isEmpty else { return ErasureResult(records: [], historyRows: 0, entry: nil) }
            try db.execute(sql: "UPDATE counter SET value = ? WHERE name = 'position'", arguments: [position])
            var draft = entry
            draft.records = erased
            draft.detail += " records=\(erased.count) history=\(historyRows)"
            let logged = try Self.appendAccess([draft], db: db).first
            return ErasureResult(records: erased, historyRows: historyRows, entry: logged)
        }
        // Old page images leave the WAL (secure_delete zeroed the freed space in the file).
        _ = try? await pool.writeWithoutTransaction { try $0.checkpoint(.truncate) }
        return result
    }

    public func carePlans(children: [String: String]) async throws -> [CarePlanGroup] {
        typealias Row = (id: String, type: String, state: String, last: Date)
        let rows: [Row] = try await pool.read { db in
            let types = ["carePlan"] + children.keys.sorted()
            return try GRDB.Row.fetchAll(db, sql: """
                SELECT r.id, r.type, r.state, COALESCE((SELECT MAX(receivedAt) FROM history h WHERE h.recordID = r.id), strftime('%Y-%m-%d %H:%M:%f', 'now')) AS last
                FROM record r WHERE r.type IN (\(databaseQuestionMarks(count: types.count))) AND r.state <> ''
                """, arguments: StatementArguments(types)).map { (id: $0[0] as String, type: $0[1] as String, state: $0[2] as String, last: $0[3] as Date) }
        }
        return try Erasure.groups(plans: rows.filter { $0.type == "carePlan" }.map { ($0.id, $0.state, $0.last) },
                                  goals: rows.filter { $0.type != "carePlan" }, children: children)
    }

    public func headPosition() async throws -> Int64 {
        try await pool.read { db in try Int64.fetchOne(db, sql: "SELECT value FROM counter WHERE name = 'position'") ?? 0 }
    }

    public func changedFields(ids: [String], after position: Int64) async throws -> [String: Set<String>] {
        guard !ids.isEmpty else { return [:] }
        return try await pool.read { db in
            var changed: [String: Set<String>] = [:]
            var rows = 0
            for start in stride(from: 0, to: ids.count, by: 500) {
                let chunk = Array(ids[start..<min(start + 500, ids.count)])
                let marks = databaseQuestionMarks(count: chunk.count)
                // The records that existed at `position` (one that came after it goes whole),
                // and how many changes they had since: past the bound, the page goes whole.
                var existed: [String] = []
                let counts = try Row.fetchCursor(db.cachedStatement(sql: """
                    SELECT recordID, SUM(position > ?) FROM history WHERE recordID IN (\(marks))
                    GROUP BY recordID HAVING MIN(position) <= ?
                    """), arguments: [position] + StatementArguments(chunk) + [position])
                while let row = try counts.next() {
                    existed.append(row[0])
                    rows += row[1] as Int
                }
                guard rows <= PullDeltas.maxHistoryRows(records: ids.count) else { return [:] }
                guard !existed.isEmpty else { continue }
                // `fields` is the change's [FieldChange]: one object per field it touched.
                let names = try Row.fetchCursor(db.cachedStatement(sql: """
                    SELECT DISTINCT history.recordID, json_extract(change.value, '$.field')
                    FROM history, json_each(history.fields) AS change
                    WHERE history.recordID IN (\(databaseQuestionMarks(count: existed.count))) AND history.position > ?
                    """), arguments: StatementArguments(existed) + [position])
                while let row = try names.next() {
                    guard let field: String = row[1] else { continue }
                    changed[row[0], default: []].insert(field)
                }
            }
            return changed
        }
    }

    public func record(id: String) async throws -> RecordState? {
        try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT state FROM record WHERE id = ? AND state <> ''", arguments: [id])
                .map { try StableJSON.decode(RecordState.self, from: Data($0.utf8)) }
        }
    }
}

/// The database could not be opened; says where and why.
public struct StorageOpenError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String
    public var description: String { "cannot open the database \(path): \(reason)" }
}

struct TokenRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "token"
    var id: String
    var hash: String
    var user: String
    var role: String
    var scopes: String
    var replica: String?
    var createdAt: Date
    var revokedAt: Date?
    var lastPushAt: Date?
    var lastPullAt: Date?
    var lastCursor: Int64?
    var expiresAt: Date?
    var secretIssuedAt: Date?
    var wipeRequestedAt: Date?
    var wipedAt: Date?
    var health: String?
    var healthAt: Date?

    init(_ token: DeviceToken, hash: String) throws {
        id = token.id
        self.hash = hash
        user = token.user
        role = token.role.rawValue
        scopes = String(decoding: try StableJSON.encode(token.scopes), as: UTF8.self)
        replica = token.replica
        createdAt = token.createdAt
        revokedAt = token.revokedAt
        lastPushAt = token.lastPushAt
        lastPullAt = token.lastPullAt
        lastCursor = token.lastCursor
        expiresAt = token.expiresAt
        secretIssuedAt = token.secretIssuedAt
        wipeRequestedAt = token.wipeRequestedAt
        wipedAt = token.wipedAt
        health = try token.health.map { String(decoding: try StableJSON.encode($0), as: UTF8.self) }
        healthAt = token.healthAt
    }

    func token() throws -> DeviceToken {
        var token = DeviceToken(id: id, user: user, role: Role(rawValue: role) ?? .visitor,
                                scopes: try StableJSON.decode([String].self, from: Data(scopes.utf8)), replica: replica,
                                createdAt: createdAt, revokedAt: revokedAt, lastPushAt: lastPushAt, lastPullAt: lastPullAt,
                                lastCursor: lastCursor, expiresAt: expiresAt, secretIssuedAt: secretIssuedAt,
                                wipeRequestedAt: wipeRequestedAt, wipedAt: wipedAt)
        token.health = health.flatMap { try? StableJSON.decode(DeviceHealth.self, from: Data($0.utf8)) }
        token.healthAt = healthAt
        return token
    }
}
