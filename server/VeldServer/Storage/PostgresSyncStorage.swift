import Foundation
import Logging
import NIOSSL
import PostgresNIO
import VeldProtocol

/// The storage for an organisation that outgrows one machine: several stateless
/// `veld-server` processes on one PostgreSQL.
///
/// Cursor safety: a push takes its positions by updating the position counter's row
/// (`UPDATE counter … RETURNING`), and holds that row's lock until it commits. Pushes therefore commit in position order, and a pull (which reads only
/// committed rows) can never see position n+1 while n is still in flight: no change is
/// ever skipped.
///
/// Only the end of a push runs under that lock (one statement for its rows, history,
/// batch, token and access-log entry, then the commit): reading the stored states and the policy's
/// judgement (most of a push's time) run side by side in every process, with the batch's
/// record rows locked (`FOR UPDATE`, in id order) so two pushes of one record still
/// merge one after the other. Locks are always taken in the same order (the records'
/// rows; the binding locks of a first push, or `pushLock` of an erasure or snapshot;
/// `positionLock`; the counter's row; the token's row; the access log's head row), so no
/// two transactions wait on each other in a circle. Pulls, history and token
/// lookups take no lock.
public final class PostgresSyncStorage: SyncStorage {
    let client: PostgresClient
    let logger: Logger
    private let runner: Task<Void, Never>
    private let running: Task<Void, Never>
    /// How long a request waits for a pooled connection before it is answered with 503:
    /// while PostgreSQL is down the pool retries connecting in the background and would
    /// otherwise hold every request until it is back.
    let leaseTimeout: Duration
    private let url: PostgresURL
    public let location: String
    /// Each device's last pull, written in the background (see `PullMarks`).
    private let pullMarks: PullMarks
    /// The epoch and proof key, read once.
    let identityCache = ServerIdentityCache()

    /// Taken by an erasure and a snapshot: one of them at a time.
    static let pushLock: Int64 = 0x5645_4C44  // "VELD"
    /// Taken by a push just before it updates the counter's row: the queue for it.
    static let positionLock: Int64 = 0x5645_4C47
    /// The two-key advisory locks a first push takes to bind its token to its replica:
    /// (`bindingLock`, the token's key), then (`bindingLock + 1`, the replica's key).
    static let bindingLock: Int32 = 0x5645_4C00
    /// A 32-bit key for a token or replica id (FNV-1a): two ids that share one only wait
    /// on each other.
    static func lockKey(_ id: String) -> Int32 {
        var hash: UInt32 = 2_166_136_261
        for byte in id.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return Int32(bitPattern: hash)
    }
    static let migrationLock: Int64 = 0x5645_4C45

    /// Connects to `url` (`postgres://user:password@host:port/database`) with a bounded pool.
    public init(url: String, maximumConnections: Int = 20, leaseTimeout: Duration = .seconds(5),
                logger: Logger = Logger(label: "veld-server.postgres")) throws {
        let parsed = try PostgresURL(url)
        self.url = parsed
        var configuration = PostgresClient.Configuration(host: parsed.host, port: parsed.port, username: parsed.user,
                                                         password: parsed.password, database: parsed.database, tls: try parsed.clientTLS())
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(5)
        // The pool retries failed connections in the background; one line per retry at
        // info would bury the one error that matters, so it logs warnings and up only.
        var background = logger
        background.logLevel = max(logger.logLevel, .warning)
        client = PostgresClient(configuration: configuration, backgroundLogger: background)
        self.logger = logger
        location = parsed.redacted
        self.leaseTimeout = leaseTimeout
        let client = client
        let (started, signal) = AsyncStream<Void>.makeStream()
        runner = Task {
            signal.finish()
            await client.run()
        }
        running = Task { for await _ in started {} }
        pullMarks = PullMarks(logger: logger) { _ in }
        pullMarks.writer = { [weak self] marks in try await self?.writePullMarks(marks) }
    }

    deinit { runner.cancel() }

    /// Stops the connection pool.
    public func shutdown() { runner.cancel() }

    // MARK: Schema

    /// Forward-only, named migrations; never edit one that has shipped.
    static let migrations: [(name: String, statements: [PostgresQuery])] = [
        ("v1-records-tokens-batches", [
            "CREATE TABLE record (id text PRIMARY KEY, type text NOT NULL, scope text NOT NULL, state text NOT NULL, position bigint NOT NULL UNIQUE)",
            "CREATE INDEX record_by_scope_position ON record (scope, position)",
            "CREATE TABLE counter (name text PRIMARY KEY, value bigint NOT NULL)",
            "INSERT INTO counter (name, value) VALUES ('position', 0)",
            "CREATE TABLE batch (id text PRIMARY KEY, replica text NOT NULL, fingerprint text NOT NULL, response text NOT NULL, received_at timestamptz NOT NULL)",
            """
            CREATE TABLE token (id text PRIMARY KEY, hash text NOT NULL UNIQUE, "user" text NOT NULL, role text NOT NULL,
              scopes text NOT NULL, replica text, created_at timestamptz NOT NULL, revoked_at timestamptz,
              last_push_at timestamptz, last_pull_at timestamptz)
            """,
        ]),
        ("v2-history-device-cursors", [
            """
            CREATE TABLE history (seq bigserial PRIMARY KEY, record_id text NOT NULL, position bigint NOT NULL,
              received_at timestamptz NOT NULL, replica text NOT NULL, device text NOT NULL, "user" text NOT NULL,
              fields text NOT NULL, state text NOT NULL)
            """,
            "CREATE INDEX history_by_record ON history (record_id, seq)",
            "ALTER TABLE token ADD COLUMN last_cursor bigint",
        ]),
        ("v3-batch-token", [
            // A batch id is remembered per token: a replay under another token is refused.
            "ALTER TABLE batch ADD COLUMN token text",
            "CREATE INDEX token_by_replica ON token (replica)",
        ]),
        ("v4-history-deltas", [
            // History rows keep the changed fields (delta) and a whole state (state) every
            // few changes; the record row counts the changes since its last snapshot.
            "ALTER TABLE history ADD COLUMN delta text",
            "ALTER TABLE record ADD COLUMN history_run integer NOT NULL DEFAULT 0",
        ]),
        ("v5-token-expiry", [
            "ALTER TABLE token ADD COLUMN expires_at timestamptz",
            "ALTER TABLE token ADD COLUMN secret_issued_at timestamptz",
        ]),
        ("v6-access-log", [
            // NEN 7513: one row per logged request, hash-chained (see AccessEntry), and an
            // index from each record it names to the row.
            """
            CREATE TABLE access_log (seq bigint PRIMARY KEY, at timestamptz NOT NULL, action text NOT NULL, status integer NOT NULL,
              problem text, token text, "user" text, role text, replica text, detail text NOT NULL, records text NOT NULL,
              previous_hash text NOT NULL, hash text NOT NULL)
            """,
            "CREATE INDEX access_log_by_at ON access_log (at)",
            "CREATE TABLE access_record (record_id text NOT NULL, seq bigint NOT NULL, PRIMARY KEY (record_id, seq))",
            // The chain's head, kept apart from the entries (see SQLiteSyncStorage).
            "CREATE TABLE access_head (id integer PRIMARY KEY, seq bigint NOT NULL, hash text NOT NULL)",
            "INSERT INTO access_head (id, seq, hash) VALUES (1, 0, '\(unescaped: AccessChain.genesis)')",
            // How far the record index has been built (see SQLiteSyncStorage.catchUpAccessIndex).
            "CREATE TABLE access_indexed (id integer PRIMARY KEY, seq bigint NOT NULL)",
            "INSERT INTO access_indexed (id, seq) VALUES (1, 0)",
        ]),
        ("v7-wipe-receipts", [
            "ALTER TABLE token ADD COLUMN wipe_requested_at timestamptz",
            "ALTER TABLE token ADD COLUMN wiped_at timestamptz",
            """
            CREATE TABLE receipt (id text PRIMARY KEY, token text NOT NULL, kind text NOT NULL, scopes text NOT NULL,
              records bigint NOT NULL, unsent bigint NOT NULL, received_at timestamptz NOT NULL)
            """,
        ]),
        ("v8-receipt-confirmation", [
            "ALTER TABLE receipt ADD COLUMN confirmed_at timestamptz",
            "ALTER TABLE receipt ADD COLUMN confirmed_by text",
            "CREATE INDEX receipt_by_token ON receipt (token, confirmed_at)",
        ]),
        ("v9-modules", [
            """
            CREATE TABLE module (name text NOT NULL, version bigint NOT NULL, document text NOT NULL,
              added_at timestamptz NOT NULL, added_by text NOT NULL, PRIMARY KEY (name, version))
            """,
        ]),
        ("v10-receipt-types", [
            // The types a `types` receipt names (JSON, like its scopes); NULL for other kinds.
            "ALTER TABLE receipt ADD COLUMN types text",
        ]),
        ("v11-snapshots", [
            // Peildatum snapshots: written once, never updated (an erasure deletes its rows).
            """
            CREATE TABLE snapshot (id text PRIMARY KEY, name text NOT NULL UNIQUE, as_of timestamptz NOT NULL,
              frozen_at timestamptz NOT NULL, scopes text NOT NULL, created_by text NOT NULL, records bigint NOT NULL,
              late_arrivals bigint NOT NULL)
            """,
            "CREATE TABLE snapshot_record (snapshot text NOT NULL, record_id text NOT NULL, state text NOT NULL, PRIMARY KEY (snapshot, record_id))",
            "CREATE INDEX snapshot_record_by_record ON snapshot_record (record_id)",
            "CREATE TABLE snapshot_late (seq bigserial PRIMARY KEY, snapshot text NOT NULL, record_id text NOT NULL, arrival text NOT NULL)",
            "CREATE INDEX snapshot_late_by_snapshot ON snapshot_late (snapshot)",
            "CREATE INDEX snapshot_late_by_record ON snapshot_late (record_id)",
        ]),
        ("v12-device-health", [
            // What each device last said of itself (Veld-Device), as JSON, and when.
            "ALTER TABLE token ADD COLUMN health text",
            "ALTER TABLE token ADD COLUMN health_at timestamptz",
        ]),
        ("v13-epochs-proofs", [
            // The server's epoch and the key of its proofs (SPEC.md, "Server epochs"): made
            // here, by the process that applies the migration.
            "CREATE TABLE setting (name text PRIMARY KEY, value text NOT NULL)",
            """
            INSERT INTO setting (name, value) VALUES (\(ServerIdentity.epochSetting), \(ServerIdentity.newEpoch())),
              (\(ServerIdentity.proofKeySetting), \(ServerIdentity.newProofKey()))
            """,
            // Each state's proof, made when it is written (NULL for rows written before).
            "ALTER TABLE record ADD COLUMN proof text",
            // Whether a change sent back what a restore lost.
            "ALTER TABLE history ADD COLUMN recovered boolean NOT NULL DEFAULT false",
        ]),
        ("v14-history-by-position", [
            // A pull delta's question: which of a record's changes came after a cursor.
            "CREATE INDEX history_by_position ON history (record_id, position)",
        ]),
    ]

    // MARK: Epochs

    public func identity() async throws -> ServerIdentity {
        try await identityCache.value {
            try await guarded { [self] connection in
                var values: [String: String] = [:]
                for try await (name, value) in try await connection.query("SELECT name, value FROM setting", logger: logger)
                    .decode((String, String).self) { values[name] = value }
                return try ServerIdentity(epoch: values[ServerIdentity.epochSetting] ?? "", proofKey: values[ServerIdentity.proofKeySetting] ?? "",
                                          restoredAt: values[ServerIdentity.restoredSetting])
            }
        }
    }

    /// A new epoch, after `pg_restore` or a point-in-time recovery (every process restarted after).
    public func renewEpoch() async throws -> String {
        let epoch = ServerIdentity.newEpoch()
        try await guarded { [self] connection in
            let rows = try await connection.query("UPDATE setting SET value = \(epoch) WHERE name = \(ServerIdentity.epochSetting) RETURNING name",
                                                  logger: logger).decode(String.self).all()
            guard rows.count == 1 else { throw StorageError.configuration("the database has no epoch; run `veld-server migrate` first") }
            try await connection.query("""
                INSERT INTO setting (name, value) VALUES (\(ServerIdentity.restoredSetting), \(ServerIdentity.pending))
                ON CONFLICT (name) DO UPDATE SET value = excluded.value
                """, logger: logger)
        }
        identityCache.clear()
        return epoch
    }

    public func openRecoveryWindow(at date: Date) async throws -> ServerIdentity {
        try await guarded { [self] connection in
            try await connection.query("""
                UPDATE setting SET value = \(InternetTime.format(date)) WHERE name = \(ServerIdentity.restoredSetting) AND value = \(ServerIdentity.pending)
                """, logger: logger)
        }
        identityCache.clear()
        return try await identity()
    }

    public func migrate() async throws {
        try await migrate(through: nil)
    }

    /// The schema's migrations in order: each released schema is the one after one of them.
    public static var migrationNames: [String] { migrations.map(\.name) }

    /// Migrates up to and including `name` only (nil: all): how a test makes an older
    /// release's schema.
    public func migrate(through name: String?) async throws {
        var wanted = Self.migrations[...]
        if let name {
            guard let index = Self.migrations.firstIndex(where: { $0.name == name }) else {
                throw StorageError.configuration("no schema step named \(name)")
            }
            wanted = Self.migrations.prefix(index + 1)
        }
        let steps = wanted
        try await guarded { [self] connection in
            try await connection.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger)
                try await connection.query("CREATE TABLE IF NOT EXISTS veld_migration (name text PRIMARY KEY, applied_at timestamptz NOT NULL)",
                                           logger: logger)
                var applied: Set<String> = []
                let appliedRows: PostgresRowSequence = try await connection.query("SELECT name FROM veld_migration", logger: logger)
                for try await name in appliedRows.decode(String.self) { applied.insert(name) }
                for migration in steps where !applied.contains(migration.name) {
                    for statement in migration.statements { try await connection.query(statement, logger: logger) }
                    try await connection.query("INSERT INTO veld_migration (name, applied_at) VALUES (\(migration.name), now())", logger: logger)
                }
            }
        }
    }

    /// Opens one connection outside the pool and closes it again: the pool would keep
    /// retrying quietly, while this fails at once with the server's own reason (no such
    /// database, wrong password, connection refused).
    /// Returns whether the connection is encrypted (what `pg_stat_ssl` says of it).
    @discardableResult
    public func checkConnection() async throws -> Bool {
        let configuration = PostgresConnection.Configuration(host: url.host, port: url.port, username: url.user,
                                                             password: url.password, database: url.database, tls: try url.connectionTLS())
        var quiet = logger
        quiet.logLevel = .critical
        do {
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: quiet)
            do {
                let encrypted = try await connection.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: quiet)
                    .decode(Bool.self).all().first ?? false
                try await connection.close()
                return encrypted
            } catch {
                try? await connection.close()
                throw error
            }
        } catch let error as PSQLError {
            throw PostgresProblem.describe(error, location: location)
        }
    }

    /// The migrations this database still lacks (empty when current).
    public func pendingMigrations() async throws -> [String] {
        try await guarded { [self] connection in
            let exists = try await connection.query("SELECT to_regclass('veld_migration') IS NOT NULL", logger: logger)
                .decode(Bool.self).all().first ?? false
            guard exists else { return Self.migrations.map(\.name) }
            var applied: Set<String> = []
            for try await name in try await connection.query("SELECT name FROM veld_migration", logger: logger).decode(String.self) {
                applied.insert(name)
            }
            return Self.migrations.map(\.name).filter { !applied.contains($0) }
        }
    }

    // MARK: Tokens

    public func insertToken(_ token: DeviceToken, hash: String) async throws {
        let scopes = String(decoding: try StableJSON.encode(token.scopes), as: UTF8.self)
        try await guarded { [self] connection in
            try await connection.query("""
                INSERT INTO token (id, hash, "user", role, scopes, replica, created_at, revoked_at, last_push_at, last_pull_at, last_cursor,
                                   expires_at, secret_issued_at, wipe_requested_at, wiped_at)
                VALUES (\(token.id), \(hash), \(token.user), \(token.role.rawValue), \(scopes), \(token.replica), \(token.createdAt),
                        \(token.revokedAt), \(token.lastPushAt), \(token.lastPullAt), \(token.lastCursor),
                        \(token.expiresAt), \(token.secretIssuedAt), \(token.wipeRequestedAt), \(token.wipedAt))
                """, logger: logger)
        }
    }

    static let tokenColumns = #""id", "user", role, scopes, replica, created_at, revoked_at, last_push_at, last_pull_at, last_cursor, expires_at, secret_issued_at, wipe_requested_at, wiped_at, health, health_at"#

    public func token(hash: String) async throws -> DeviceToken? {
        try await guarded { [self] connection in
            try await decodeTokens(connection.query("SELECT \(unescaped: Self.tokenColumns) FROM token WHERE hash = \(hash)", logger: logger)).first
        }.map(pullMarks.overlay)
    }

    public func tokens() async throws -> [DeviceToken] {
        try await guarded { [self] connection in
            try await decodeTokens(connection.query("SELECT \(unescaped: Self.tokenColumns) FROM token ORDER BY created_at, id", logger: logger))
        }.map(pullMarks.overlay)
    }

    public func flushPendingWrites() async {
        await pullMarks.flush()
    }

    /// One statement for every mark; a mark older than what another process wrote is skipped.
    private func writePullMarks(_ marks: [String: PullMarks.Mark]) async throws {
        let pulls = marks.filter { $0.value.at != nil }
        let ids = Array(pulls.keys)
        let dates = ids.map { pulls[$0]!.at! }
        let cursors = ids.map { pulls[$0]!.cursor ?? 0 }
        let said = marks.filter { $0.value.health != nil && $0.value.healthAt != nil }
        let healthIDs = Array(said.keys)
        let healths = try healthIDs.map { String(decoding: try StableJSON.encode(said[$0]!.health!), as: UTF8.self) }
        let healthDates = healthIDs.map { said[$0]!.healthAt! }
        _ = try await guarded { [self] connection in
            if !ids.isEmpty {
                try await connection.query("""
                    UPDATE token SET last_pull_at = u.at, last_cursor = u.cursor
                    FROM UNNEST(\(ids)::text[], \(dates)::timestamptz[], \(cursors)::bigint[]) AS u(id, at, cursor)
                    WHERE token.id = u.id AND (token.last_pull_at IS NULL OR token.last_pull_at <= u.at)
                    """, logger: logger)
            }
            if !healthIDs.isEmpty {
                try await connection.query("""
                    UPDATE token SET health = u.health, health_at = u.at
                    FROM UNNEST(\(healthIDs)::text[], \(healths)::text[], \(healthDates)::timestamptz[]) AS u(id, health, at)
                    WHERE token.id = u.id AND (token.health_at IS NULL OR token.health_at <= u.at)
                    """, logger: logger)
            }
        }
    }

    public func databaseSize() async throws -> Int64 {
        try await guarded { [self] connection in
            try await connection.query("SELECT pg_database_size(current_database())", logger: logger).decode(Int64.self).all().first ?? 0
        }
    }

    public func noteDeviceHealth(token: String, health: DeviceHealth, at date: Date) {
        pullMarks.note(token: token, health: health, at: date)
    }

    private func decodeTokens(_ rows: PostgresRowSequence) async throws -> [DeviceToken] {
        var tokens: [DeviceToken] = []
        for try await row in rows {
            let (id, user, role, scopes, replica, createdAt, revokedAt, lastPushAt, lastPullAt, lastCursor, expiresAt, secretIssuedAt,
                 wipeRequestedAt, wipedAt, health, healthAt) = try row.decode(
                (String, String, String, String, String?, Date, Date?, Date?, Date?, Int64?, Date?, Date?, Date?, Date?, String?, Date?).self)
            var token = DeviceToken(id: id, user: user, role: Role(rawValue: role) ?? .visitor,
                                    scopes: try StableJSON.decode([String].self, from: Data(scopes.utf8)), replica: replica,
                                    createdAt: createdAt, revokedAt: revokedAt, lastPushAt: lastPushAt, lastPullAt: lastPullAt,
                                    lastCursor: lastCursor, expiresAt: expiresAt, secretIssuedAt: secretIssuedAt,
                                    wipeRequestedAt: wipeRequestedAt, wipedAt: wipedAt)
            token.health = health.flatMap { try? StableJSON.decode(DeviceHealth.self, from: Data($0.utf8)) }
            token.healthAt = healthAt
            tokens.append(token)
        }
        return tokens
    }

    public func revokeToken(id: String, at date: Date) async throws -> Bool {
        try await guarded { [self] connection in
            let rows = try await connection.query("UPDATE token SET revoked_at = COALESCE(revoked_at, \(date)) WHERE id = \(id) RETURNING id",
                                              logger: logger)
            return try await rows.decode(String.self).all().count > 0
        }
    }

    public func rotateToken(id: String, hash: String, at date: Date, expiresAt: Date?) async throws -> Bool {
        try await guarded { [self] connection in
            let rows = try await connection.query("""
                UPDATE token SET hash = \(hash), secret_issued_at = \(date), expires_at = \(expiresAt)
                WHERE id = \(id) AND revoked_at IS NULL RETURNING id
                """, logger: logger)
            return try await rows.decode(String.self).all().count > 0
        }
    }

    public func requestWipe(id: String, at date: Date) async throws -> Bool {
        try await guarded { [self] connection in
            let rows = try await connection.query("""
                UPDATE token SET revoked_at = COALESCE(revoked_at, \(date)), wipe_requested_at = COALESCE(wipe_requested_at, \(date))
                WHERE id = \(id) RETURNING id
                """, logger: logger)
            return try await rows.decode(String.self).all().count > 0
        }
    }

    public func recordReceipt(_ receipt: PurgeReceipt, token: DeviceToken, at date: Date) async throws -> Bool {
        let scopes = String(decoding: try StableJSON.encode(receipt.scopes), as: UTF8.self)
        let types = try receipt.types.map { String(decoding: try StableJSON.encode($0), as: UTF8.self) }
        let logger = logger
        return try await guarded { connection in
            try await connection.withTransaction(logger: logger) { connection in
                let inserted = try await connection.query("""
                    INSERT INTO receipt (id, token, kind, scopes, types, records, unsent, received_at)
                    VALUES (\(receipt.id), \(token.id), \(receipt.kind.rawValue), \(scopes), \(types), \(Int64(receipt.records)), \(Int64(receipt.unsent)), \(date))
                    ON CONFLICT (id) DO NOTHING RETURNING id
                    """, logger: logger).decode(String.self).all()
                guard !inserted.isEmpty else { return false }
                if receipt.kind == .wipe {
                    try await connection.query("UPDATE token SET wiped_at = COALESCE(wiped_at, \(date)) WHERE id = \(token.id)", logger: logger)
                }
                try await Self.appendAccess([AccessDraft(at: date, action: .purge, token: token, detail: StoredReceipt.detail(receipt))],
                                            connection: connection, logger: logger)
                return true
            }
        }
    }

    public func receipts() async throws -> [StoredReceipt] {
        try await guarded { [self] connection in
            try await Self.receipts(connection.query("SELECT \(unescaped: Self.receiptColumns) FROM receipt ORDER BY received_at, id",
                                                     logger: logger))
        }
    }

    private static let receiptColumns = "id, token, kind, scopes, types, records, unsent, received_at, confirmed_at, confirmed_by"

    private static func receipts(_ rows: PostgresRowSequence) async throws -> [StoredReceipt] {
        var receipts: [StoredReceipt] = []
        for try await (id, token, kind, scopes, types, records, unsent, at, confirmedAt, confirmedBy) in rows.decode(
            (String, String, String, String, String?, Int64, Int64, Date, Date?, String?).self) {
            receipts.append(StoredReceipt(
                receipt: PurgeReceipt(id: id, kind: PurgeReceipt.Kind(rawValue: kind) ?? .scopes,
                                      scopes: try StableJSON.decode([String].self, from: Data(scopes.utf8)),
                                      types: try types.map { try StableJSON.decode([String].self, from: Data($0.utf8)) },
                                      records: Int(records), unsent: Int(unsent)),
                tokenID: token, receivedAt: at, confirmedAt: confirmedAt, confirmedBy: confirmedBy))
        }
        return receipts
    }

    public func confirmReceipt(id: String, by user: String, at date: Date) async throws -> StoredReceipt? {
        try await guarded { [self] connection in
            try await connection.query("""
                UPDATE receipt SET confirmed_at = \(date), confirmed_by = \(user) WHERE id = \(id) AND confirmed_at IS NULL
                """, logger: logger)
            return try await Self.receipts(connection.query("SELECT \(unescaped: Self.receiptColumns) FROM receipt WHERE id = \(id)",
                                                            logger: logger)).first
        }
    }

    public func confirmedReceipts(token: String, limit: Int) async throws -> [String] {
        try await guarded { [self] connection in
            try await connection.query("""
                SELECT id FROM receipt WHERE token = \(token) AND confirmed_at IS NOT NULL ORDER BY confirmed_at DESC, id LIMIT \(Int64(limit))
                """, logger: logger).decode(String.self).all()
        }
    }

    // MARK: Modules

    public func storedModules() async throws -> [StoredModule] {
        try await guarded { [self] connection in try await Self.storedModules(connection, logger: logger) }
    }

    private static func storedModules(_ connection: PostgresConnection, logger: Logger) async throws -> [StoredModule] {
        var modules: [StoredModule] = []
        let rows = try await connection.query(
            "SELECT name, version, document, added_at, added_by FROM module ORDER BY added_at, name, version", logger: logger)
        for try await (name, version, document, addedAt, addedBy) in rows.decode((String, Int64, String, Date, String).self) {
            modules.append(StoredModule(name: name, version: Int(version), document: document, addedAt: addedAt, addedBy: addedBy))
        }
        return modules
    }

    public func addModule(_ module: StoredModule, check: @escaping @Sendable ([StoredModule]) throws -> Void) async throws {
        let logger = logger
        try await guarded { connection in
            try await connection.withTransaction(logger: logger) { connection in
                // One module change at a time, across every server process; reads and pushes go on.
                try await connection.query("LOCK TABLE module IN SHARE ROW EXCLUSIVE MODE", logger: logger)
                try check(try await Self.storedModules(connection, logger: logger))
                try await connection.query("""
                    INSERT INTO module (name, version, document, added_at, added_by)
                    VALUES (\(module.name), \(Int64(module.version)), \(module.document), \(module.addedAt), \(module.addedBy))
                    """, logger: logger)
            }
        }
    }

    public func updateTokenScopes(id: String, scopes: [String]) async throws -> Bool {
        let encoded = String(decoding: try StableJSON.encode(scopes), as: UTF8.self)
        return try await guarded { [self] connection in
            let rows = try await connection.query(
                "UPDATE token SET scopes = \(encoded) WHERE id = \(id) AND revoked_at IS NULL RETURNING id", logger: logger)
            return try await rows.decode(String.self).all().count > 0
        }
    }

    // MARK: Sync

    /// Reads the policy's inputs, lets it decide, persists the plan: nothing else.
    ///
    /// Pushes through any number of processes run side by side and meet only where they
    /// must (see the type's documentation): a record's pushes one after another (its row,
    /// locked in id order), first pushes of one token or one replica (the binding locks),
    /// and every push for the short while it takes positions, writes and commits (the
    /// counter's row).
    /// A push that finds, at that point, that another created one of its new records
    /// meanwhile starts over; so does a batch id used meanwhile, and a first push whose
    /// token or replica was bound meanwhile.
    public func applyPush(_ push: CheckedPush, token: DeviceToken, fingerprint: String, at date: Date,
                          check: @escaping @Sendable ([String: RecordState]) throws -> Void) async throws -> PushResponse {
        let sealing = try await identity().proofs
        for attempt in 1...Self.pushAttempts {
            do {
                return try await guarded { [logger] connection in
                    try await connection.withTransaction(logger: logger) { connection in
                        try await Self.applyPush(push, token: token, fingerprint: fingerprint, at: date, check: check, sealing: sealing,
                                                 connection: connection, logger: logger)
                    }
                }
            } catch let error as PushStartsOver where attempt < Self.pushAttempts {
                logger.debug("push starts over: \(error.reason)")
            }
        }
        throw StorageError.unavailable("pushes of the same records kept meeting; send the batch again")
    }

    /// Attempts of a push that met another (each meeting means the other committed).
    static let pushAttempts = 5

    /// What makes a push start over: another push committed what this one read as absent.
    struct PushStartsOver: Error {
        let reason: String
    }

    private static func applyPush(_ push: CheckedPush, token: DeviceToken, fingerprint: String, at date: Date,
                                  check: @escaping @Sendable ([String: RecordState]) throws -> Void, sealing: ServerProofs,
                                  connection: PostgresConnection, logger: Logger) async throws -> PushResponse {
        let request = push.request
        // The token's row is not locked here: `veld-server`'s own background writes (each
        // device's last pull) update token rows, and would queue behind every push. What
        // the row decides is checked again where it is written (the binding, under the
        // binding locks; a batch id, by its insert).
        func boundReplica() async throws -> String? {
            let rows: PostgresRowSequence = try await connection.query("SELECT replica FROM token WHERE id = \(token.id)", logger: logger)
            return try await rows.decode(String?.self).all().first ?? nil
        }
        let bound = try await boundReplica()
        let priorRows: PostgresRowSequence = try await connection.query(
            "SELECT token, replica, fingerprint, response FROM batch WHERE id = \(request.batch)", logger: logger)
        let prior = try await priorRows.decode((String?, String, String, String).self).all().first.map {
            PushPolicy.PriorBatch(tokenID: $0.0, replica: $0.1, fingerprint: $0.2, response: $0.3)
        }
        var stored: [String: RecordState] = [:]
        var runs: [String: Int] = [:]
        // Every id of the batch that has a row, tombstones included: a write to one of
        // them updates its row, a write to any other inserts one.
        var rowIDs: Set<String> = []
        if prior == nil {
            // The batch's records one push at a time, locked in id order (so two pushes
            // never wait on each other in a circle), before the counter's row.
            let storedRows: PostgresRowSequence = try await connection.query(
                "SELECT id, state, history_run, type, scope FROM record WHERE id = ANY(\(push.storedIDs)) ORDER BY id FOR UPDATE",
                logger: logger)
            var erased: [(id: String, type: String, scope: String)] = []
            for try await (id, state, run, type, scope) in storedRows.decode((String, String, Int32, String, String).self) {
                rowIDs.insert(id)
                // An erased record is a tombstone: an empty state.
                if state.isEmpty {
                    erased.append((id, type, scope))
                    continue
                }
                stored[id] = try StableJSON.decode(RecordState.self, from: Data(state.utf8))
                runs[id] = Int(run)
            }
            let visible = Erasure.visibleTombstones(erased, for: push, stored: &stored)
            if !visible.isEmpty { throw Erasure.refusal(visible, in: request, schemas: push.schemas) }
        }
        // Who else holds the replica matters only before this token is bound to it (a
        // token's first push binds a replica no other token may hold). Read here to
        // decide, and read again under the binding locks before the binding below.
        func holders() async throws -> (held: Bool, otherUser: Bool) {
            let holderRows: PostgresRowSequence = try await connection.query("""
                SELECT COALESCE(bool_or(revoked_at IS NULL), false), COALESCE(bool_or("user" <> \(token.user)), false)
                FROM token WHERE replica = \(request.replica) AND id <> \(token.id)
                """, logger: logger)
            return try await holderRows.decode((Bool, Bool).self).all().first ?? (false, false)
        }
        let (held, otherUser) = bound == nil ? try await holders() : (false, false)
        // Decided before positions are taken (after 0), placed after the log's end below.
        let inputs = PushPolicy.Inputs(priorBatch: prior, boundReplica: bound, replicaHeldByAnotherToken: held,
                                       replicaUsedByAnotherUser: otherUser, now: date,
                                       stored: stored, position: 0, historyRuns: runs)
        let decided: PushPlan
        switch try PushPipeline.decide(push, fingerprint: fingerprint, inputs: inputs, check: check) {
        case .answer(let response):
            try await Self.appendAccess([.push(request, response: response, token: token, at: date, replay: true)],
                                        connection: connection, logger: logger)
            return response
        case .persist(let accepted): decided = accepted
        }
        // A first push binds holding the binding locks of its token and of its replica
        // (after the records' rows, before the counter's, in the order of the type's
        // documentation): pushes binding the same token or the same replica one at a time,
        // each having checked again that nothing was bound since it looked.
        if bound == nil {
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.bindingLock), \(Self.lockKey(token.id)))", logger: logger)
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.bindingLock + 1), \(Self.lockKey(request.replica)))", logger: logger)
            let now = try await holders()
            if now.held != held || now.otherUser != otherUser {
                throw PushStartsOver(reason: "another token was bound to this replica meanwhile")
            }
            if try await boundReplica() != nil { throw PushStartsOver(reason: "this token was bound meanwhile") }
        }
        // The proofs of the new states, before the one-at-a-time end below.
        let proofs = decided.writes.map { sealing.proof(ofJSON: $0.json) }
        // Positions are taken and committed in one order across every process (see the
        // type's documentation): the counter's row is held from this update to the commit,
        // one push at a time. Everything after it is one statement, the access-log entry
        // and the commit.
        var plan = decided
        if !decided.writes.isEmpty {
            // Pushes queue for the counter's row in the order they come (PostgreSQL wakes a
            // row's waiters all at once, an advisory lock's in turn).
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.positionLock))", logger: logger)
            let count = Int64(decided.writes.count)
            let base = try await connection.query(
                "UPDATE counter SET value = value + \(count) WHERE name = 'position' RETURNING value - \(count)", logger: logger
            ).decode(Int64.self).all().first ?? 0
            plan = decided.placed(after: base)
        }
        // Rows that exist are updated (they are locked), new ones inserted, the history,
        // the batch and the token's binding and last push written: one statement.
        let proven = Array(zip(plan.writes, proofs))
        let updates = proven.filter { rowIDs.contains($0.0.state.id) }
        let inserts = proven.filter { !rowIDs.contains($0.0.state.id) }
        func columns(_ writes: [(PushPlan.Write, String)]) -> ([String], [String], [String], [String], [Int64], [Int32], [String]) {
            (writes.map(\.0.state.id), writes.map(\.0.state.type), writes.map(\.0.state.scope), writes.map(\.0.json),
             writes.map(\.0.position), writes.map { Int32($0.0.historyRun) }, writes.map(\.1))
        }
        let (uIDs, uTypes, uScopes, uStates, uPositions, uRuns, uProofs) = columns(updates)
        let (iIDs, iTypes, iScopes, iStates, iPositions, iRuns, iProofs) = columns(inserts)
        let writes = plan.writes
        let recordIDs = writes.map(\.state.id), positions = writes.map(\.position), fields = writes.map(\.fields)
        let snapshots = writes.map { $0.historySnapshot ?? "" }, deltas = writes.map { $0.historyDelta ?? "" }
        let recovered = writes.map(\.recovered)
        // The access-log entry is appended in the same statement: the chain's head row is
        // locked there and the entry's hash made from it (SHA-256 of the canonical form,
        // in the pieces around the head's hash and seq).
        let draft = AccessDraft.push(request, response: plan.response, token: token, at: date, replay: false)
        let pieces = draft.chainPieces()
        let counts = try await connection.query("""
            WITH updated AS (
              UPDATE record SET type = u.type, scope = u.scope, state = u.state, position = u.position, history_run = u.run, proof = u.proof
              FROM UNNEST(\(uIDs)::text[], \(uTypes)::text[], \(uScopes)::text[], \(uStates)::text[], \(uPositions)::bigint[],
                          \(uRuns)::integer[], \(uProofs)::text[]) AS u(id, type, scope, state, position, run, proof)
              WHERE record.id = u.id
              RETURNING 1
            ), inserted AS (
              INSERT INTO record (id, type, scope, state, position, history_run, proof)
              SELECT * FROM UNNEST(\(iIDs)::text[], \(iTypes)::text[], \(iScopes)::text[], \(iStates)::text[], \(iPositions)::bigint[],
                                   \(iRuns)::integer[], \(iProofs)::text[])
              ON CONFLICT (id) DO NOTHING RETURNING 1
            ), changes AS (
              INSERT INTO history (record_id, position, received_at, replica, device, "user", fields, state, delta, recovered)
              SELECT h.id, h.position, \(date), \(request.replica), \(token.id), \(token.user), h.fields, h.state, NULLIF(h.delta, ''),
                     h.recovered
              FROM UNNEST(\(recordIDs)::text[], \(positions)::bigint[], \(fields)::text[], \(snapshots)::text[], \(deltas)::text[],
                          \(recovered)::boolean[])
                WITH ORDINALITY AS h(id, position, fields, state, delta, recovered, n)
              ORDER BY h.n
            ), remembered AS (
              INSERT INTO batch (id, replica, fingerprint, response, received_at, token)
              VALUES (\(request.batch), \(request.replica), \(fingerprint), \(plan.responseJSON), \(date), \(token.id))
              ON CONFLICT (id) DO NOTHING RETURNING 1
            ), bound AS (
              UPDATE token SET replica = \(request.replica), last_push_at = \(date) WHERE id = \(token.id) RETURNING 1
            ), head AS (
              -- The token's row before the log's head (the order in the type's documentation):
              -- reading `bound` here runs its update first.
              SELECT seq, hash FROM access_head WHERE id = 1 AND (SELECT count(*) FROM bound) >= 0 FOR UPDATE
            ), entry AS (
              SELECT head.seq + 1 AS seq, head.hash AS previous, p.records,
                     encode(sha256(convert_to(\(pieces.beforePrevious) || head.hash || \(pieces.beforeRecords) || p.records
                                              || \(pieces.beforeSeq) || (head.seq + 1)::text || \(pieces.afterSeq), 'UTF8')), 'hex') AS hash
              FROM head, (SELECT \(pieces.records)::text AS records) p
              WHERE \(!AccessLogSwitch.isOff)
            ), appended AS (
              INSERT INTO access_log (seq, at, action, status, problem, token, "user", role, replica, detail, records, previous_hash, hash)
              SELECT entry.seq, \(draft.at), \(draft.action.rawValue), \(Int32(draft.status)), \(draft.problem), \(draft.tokenID),
                     \(draft.user), \(draft.role), \(draft.replica), \(draft.detail), entry.records, entry.previous, entry.hash
              FROM entry
              RETURNING 1
            ), advanced AS (
              UPDATE access_head SET seq = entry.seq, hash = entry.hash FROM entry WHERE access_head.id = 1
            )
            -- Every part runs, read or not: PostgreSQL runs the changes of a WITH to completion.
            SELECT (SELECT count(*) FROM updated), (SELECT count(*) FROM inserted), (SELECT count(*) FROM remembered),
                   (SELECT count(*) FROM appended)
            """, logger: logger).decode((Int64, Int64, Int64, Int64).self).all().first ?? (Int64(0), Int64(0), Int64(0), Int64(0))
        // Acknowledged means logged: without the chain's head row (changed outside Veld, or
        // a bad restore) nothing is appended, and the push is not accepted.
        if counts.3 != (AccessLogSwitch.isOff ? 0 : 1) {
            throw StorageError.unavailable("the access log's head row is missing, so this push could not be logged; restore the database from a backup (veld-server audit --verify shows where the log stands)")
        }
        // Another push created one of these records after this one looked: this push
        // merges with it on its next attempt.
        if counts.1 != Int64(inserts.count) { throw PushStartsOver(reason: "a record of the batch was created meanwhile") }
        // Another token's push with the same batch id committed after this one looked: the
        // next attempt answers as for a reused batch id.
        if counts.2 != 1 { throw PushStartsOver(reason: "the batch id was used meanwhile") }
        guard counts.0 == Int64(updates.count) else {
            throw StorageError.unavailable("a record row of the batch was not found where it was locked; send the batch again")
        }
        return plan.response
    }

    public func pullEncoded(scopes: ScopeFilter, hiding hidden: Set<String>, after position: Int64, limit: Int, token: DeviceToken?,
                            at date: Date) async throws -> EncodedPullPage {
        let sealing = try await identity().proofs
        let page = try await guarded { [self] connection in
            let rows: PostgresRowSequence
            let hiddenList = hidden.sorted()
            switch scopes {
            case .all:
                rows = try await connection.query("""
                    SELECT state, position, id, type, scope, proof FROM record WHERE position > \(position) AND NOT (type = ANY(\(hiddenList)))
                    ORDER BY position LIMIT \(limit + 1)
                    """, logger: logger)
            case .only(let set):
                rows = try await connection.query("""
                    SELECT state, position, id, type, scope, proof FROM record WHERE position > \(position) AND scope = ANY(\(set.sorted()))
                      AND NOT (type = ANY(\(hiddenList)))
                    ORDER BY position LIMIT \(limit + 1)
                    """, logger: logger)
            }
            var states: [[UInt8]] = []
            var proofs: [String] = []
            var records = CompactAccessRecords()
            var erased: [String] = []
            var last = position
            var more = false
            var bytes = 0
            for try await (state, at, id, type, scope, proof) in rows.decode((String, Int64, String, String, String, String?).self) {
                // Bounded by count and by bytes; a record larger than the budget goes alone.
                let size = state.utf8.count
                if states.count + erased.count == limit || (!states.isEmpty && bytes + size > SyncLimits.maxPullPageBytes) {
                    more = true
                    break
                }
                last = at
                if state.isEmpty {
                    erased.append(id)
                    continue
                }
                bytes += size
                states.append(Array(state.utf8))
                proofs.append(proof ?? sealing.proof(ofStored: state))
                records.append(id: id, type: type, scope: scope, effect: "read")
            }
            var page = EncodedPullPage(states: states, accessRecords: records, lastPosition: last, more: more)
            page.erased = erased
            page.proofs = proofs
            return page
        }
        if let token { pullMarks.note(token: token.id, at: date, cursor: page.lastPosition) }
        return page
    }

    public func record(id: String) async throws -> RecordState? {
        try await guarded { [self] connection in
            let json = try await connection.query("SELECT state FROM record WHERE id = \(id) AND state <> ''", logger: logger)
                .decode(String.self).all().first
            return try json.map { try StableJSON.decode(RecordState.self, from: Data($0.utf8)) }
        }
    }

    public func history(recordID: String) async throws -> [RecordChange] {
        try await guarded { [self] connection in
            var changes: [RecordChange] = []
            for try await (position, receivedAt, replica, device, user, fields, recovered) in try await connection.query("""
                SELECT position, received_at, replica, device, "user", fields, recovered FROM history WHERE record_id = \(recordID) ORDER BY seq
                """, logger: logger).decode((Int64, Date, String, String, String, String, Bool).self) {
                changes.append(RecordChange(position: position, receivedAt: receivedAt, replica: replica, device: device, user: user,
                                            fields: try StableJSON.decode([FieldChange].self, from: Data(fields.utf8)),
                                            recovered: recovered))
            }
            return changes
        }
    }

    /// The last snapshot at or before the last change accepted by `date`, and the deltas
    /// after it up to that change (see `HistoryDelta`).
    public func state(recordID: String, asOf date: Date) async throws -> RecordState? {
        let rows: [(String, String?)] = try await guarded { [self] connection in
            let targetRows = try await connection.query("""
                SELECT seq FROM history WHERE record_id = \(recordID) AND received_at <= \(date) ORDER BY seq DESC LIMIT 1
                """, logger: logger)
            guard let target = try await targetRows.decode(Int64.self).all().first else { return [] }
            let startRows = try await connection.query("""
                SELECT seq FROM history WHERE record_id = \(recordID) AND seq <= \(target) AND state <> '' ORDER BY seq DESC LIMIT 1
                """, logger: logger)
            let start = try await startRows.decode(Int64.self).all().first ?? target
            var rows: [(String, String?)] = []
            for try await row in try await connection.query("""
                SELECT state, delta FROM history WHERE record_id = \(recordID) AND seq >= \(start) AND seq <= \(target) ORDER BY seq
                """, logger: logger).decode((String, String?).self) { rows.append(row) }
            return rows
        }
        return try HistoryDelta.rebuild(rows.map { snapshot, delta in
            (snapshot: snapshot.isEmpty ? nil : try StableJSON.decode(RecordState.self, from: Data(snapshot.utf8)),
             delta: try delta.map { try StableJSON.decode(RecordState.self, from: Data($0.utf8)) })
        })
    }

    // MARK: Access log

    public func appendAccess(_ drafts: [AccessDraft]) async throws {
        guard !drafts.isEmpty, !AccessLogSwitch.isOff else { return }
        let logger = logger
        try await guarded { connection in
            try await connection.withTransaction(logger: logger) { connection in
                _ = try await Self.appendAccess(drafts, connection: connection, logger: logger, keepingRecords: false)
            }
        }
    }

    /// Appends in the caller's transaction, holding the chain's head row (the access lock)
    /// until it commits.
    @discardableResult
    static func appendAccess(_ drafts: [AccessDraft], connection: PostgresConnection, logger: Logger,
                             keepingRecords: Bool = true) async throws -> [AccessEntry] {
        guard !AccessLogSwitch.isOff else { return [] }
        let head = try await connection.query("SELECT seq, hash FROM access_head WHERE id = 1 FOR UPDATE", logger: logger)
            .decode((Int64, String).self).all().first
        var seq = head?.0 ?? 0
        var previous = head?.1 ?? AccessChain.genesis
        var entries: [AccessEntry] = []
        var records: [String] = []
        for draft in drafts {
            seq += 1
            let sealed = draft.sealedWithRecords(seq: seq, previousHash: previous, keepingRecords: keepingRecords)
            entries.append(sealed.entry)
            records.append(sealed.records)
            previous = sealed.entry.hash
        }
        let seqs = entries.map(\.seq), ats = entries.map(\.at), actions = entries.map(\.action.rawValue), statuses = entries.map { Int32($0.status) }
        // Arrays of optionals do not bind; nil goes as '' (never a value of these columns).
        let problems = entries.map { $0.problem ?? "" }, tokens = entries.map { $0.tokenID ?? "" }, users = entries.map { $0.user ?? "" }
        let roles = entries.map { $0.role ?? "" }, replicas = entries.map { $0.replica ?? "" }, details = entries.map(\.detail)
        let previousHashes = entries.map(\.previousHash)
        let hashes = entries.map(\.hash)
        try await connection.query("""
            WITH appended AS (
            INSERT INTO access_log (seq, at, action, status, problem, token, "user", role, replica, detail, records, previous_hash, hash)
            SELECT u.seq, u.at, u.action, u.status, NULLIF(u.problem, ''), NULLIF(u.token, ''), NULLIF(u.usr, ''), NULLIF(u.role, ''),
                   NULLIF(u.replica, ''), u.detail, u.records, u.previous_hash, u.hash
            FROM UNNEST(\(seqs)::bigint[], \(ats)::timestamptz[], \(actions)::text[], \(statuses)::integer[], \(problems)::text[],
                        \(tokens)::text[], \(users)::text[], \(roles)::text[], \(replicas)::text[], \(details)::text[],
                        \(records)::text[], \(previousHashes)::text[], \(hashes)::text[])
              AS u(seq, at, action, status, problem, token, usr, role, replica, detail, records, previous_hash, hash)
            RETURNING 1)
            UPDATE access_head SET seq = \(seq), hash = \(previous) WHERE id = 1
            """, logger: logger)
        return entries
    }

    /// Fills the record index from the entries it does not cover yet, 5,000 entries per
    /// transaction (kept off the request path, as on SQLite). Entries up to the head never
    /// change, so this takes no lock that pushes or reads wait on.
    func catchUpAccessIndex() async throws {
        let logger = logger
        for _ in 0..<1_000_000 {
            let done: Bool = try await guarded { connection in
                try await connection.withTransaction(logger: logger) { connection in
                    let indexed = try await connection.query("SELECT seq FROM access_indexed WHERE id = 1", logger: logger)
                        .decode(Int64.self).all().first ?? 0
                    let head = try await connection.query("SELECT seq FROM access_head WHERE id = 1", logger: logger)
                        .decode(Int64.self).all().first ?? 0
                    guard head > indexed else { return true }
                    let through = min(head, indexed + 5_000)
                    try await connection.query("""
                        INSERT INTO access_record (record_id, seq)
                        SELECT j->>'id', l.seq FROM access_log l,
                               jsonb_array_elements(CASE WHEN jsonb_typeof(l.records::jsonb) = 'array' THEN l.records::jsonb ELSE '[]'::jsonb END) j
                        WHERE l.seq > \(indexed) AND l.seq <= \(through)
                        UNION ALL
                        SELECT j, l.seq FROM access_log l,
                               jsonb_array_elements_text(CASE WHEN jsonb_typeof(l.records::jsonb) = 'object' THEN l.records::jsonb -> 'ids' ELSE '[]'::jsonb END) j
                        WHERE l.seq > \(indexed) AND l.seq <= \(through)
                        ON CONFLICT DO NOTHING
                        """, logger: logger)
                    try await connection.query("UPDATE access_indexed SET seq = GREATEST(seq, \(through)) WHERE id = 1", logger: logger)
                    return through == head
                }
            }
            if done { return }
        }
    }

    public func accessLogHead() async throws -> (seq: Int64, hash: String) {
        try await guarded { [self] connection in
            try await connection.query("SELECT seq, hash FROM access_head WHERE id = 1", logger: logger)
                .decode((Int64, String).self).all().first ?? (0, AccessChain.genesis)
        }
    }

    static let accessColumns = #"seq, at, action, status, problem, token, "user", role, replica, detail, records, previous_hash, hash"#

    private static func decodeAccess(_ rows: PostgresRowSequence) async throws -> [AccessEntry] {
        var entries: [AccessEntry] = []
        for try await row in rows {
            let (seq, at, action, status, problem, token, user, role, replica, detail, records, previous, hash) = try row.decode(
                (Int64, Date, String, Int32, String?, String?, String?, String?, String?, String, String, String, String).self)
            guard let known = AccessAction(rawValue: action) else {
                throw StorageError.configuration("access-log entry \(seq) has an action this server does not know")
            }
            let named = try AccessEntry.decode(records: records)
            entries.append(AccessEntry(seq: seq, at: at, action: known, status: Int(status), problem: problem, tokenID: token, user: user,
                                       role: role, replica: replica, detail: detail, records: named.records,
                                       previousHash: previous, hash: hash, recordsForm: named.form))
        }
        return entries
    }

    public func accessEntries(_ query: AccessQuery) async throws -> [AccessEntry] {
        if let ids = query.recordIDs, ids.isEmpty { return [] }
        if query.recordIDs != nil { try await catchUpAccessIndex() }
        // Whole ids through the index; the start of an id by a scan of it.
        let named = query.recordIDs, whole = named?.filter { $0.count == 36 } ?? [], starts = named?.filter { $0.count < 36 } ?? []
        let entries = try await guarded { [self] connection in
            // Each filter is either unset (NULL) or holds; one statement for every combination.
            try await Self.decodeAccess(connection.query("""
                SELECT \(unescaped: Self.accessColumns) FROM access_log
                WHERE (\(named)::text[] IS NULL OR seq IN (
                    SELECT seq FROM access_record WHERE record_id = ANY(\(whole)::text[])
                    UNION SELECT a.seq FROM access_record a, UNNEST(\(starts)::text[]) AS p(start) WHERE starts_with(a.record_id, p.start)))
                  AND (\(query.user)::text IS NULL OR "user" = \(query.user))
                  AND (\(query.device)::text IS NULL OR (\(query.device?.hasPrefix("tok_") ?? false) AND token = \(query.device))
                       OR (NOT \(query.device?.hasPrefix("tok_") ?? false) AND replica = \(query.device)))
                  AND (\(query.action?.rawValue)::text IS NULL OR action = \(query.action?.rawValue))
                  AND (\(query.since)::timestamptz IS NULL OR at >= \(query.since))
                  AND (\(query.until)::timestamptz IS NULL OR at < \(query.until))
                  AND (NOT \(query.refusedOnly) OR status >= 400)
                ORDER BY seq DESC LIMIT \(query.limit)
                """, logger: logger))
        }
        return entries.reversed().filter(query.matches)
    }

    public func accessLogPage(after seq: Int64, limit: Int) async throws -> [(entry: AccessEntry, indexed: [String])] {
        // A damaged entry may stop the index here; the chain check names it.
        if seq == 0 { try? await catchUpAccessIndex() }
        return try await guarded { [self] connection in
            let entries = try await Self.decodeAccess(connection.query(
                "SELECT \(unescaped: Self.accessColumns) FROM access_log WHERE seq > \(seq) ORDER BY seq LIMIT \(limit)", logger: logger))
            guard let first = entries.first, let last = entries.last else { return [] }
            var indexed: [Int64: [String]] = [:]
            for try await (seq, id) in try await connection.query(
                "SELECT seq, record_id FROM access_record WHERE seq >= \(first.seq) AND seq <= \(last.seq)", logger: logger
            ).decode((Int64, String).self) {
                indexed[seq, default: []].append(id)
            }
            return entries.map { ($0, (indexed[$0.seq] ?? []).sorted()) }
        }
    }

    public func pruneAccessLog(before: Date, at date: Date, by user: String) async throws -> AccessPruneResult {
        let logger = logger
        return try await guarded { connection in
            try await connection.withTransaction(logger: logger) { connection in
                // The chain's head row is the access lock, as for every append.
                try await connection.query("SELECT seq FROM access_head WHERE id = 1 FOR UPDATE", logger: logger)
                guard let (through, lastHash) = try await connection.query(
                    "SELECT seq, hash FROM access_log WHERE at < \(before) ORDER BY seq DESC LIMIT 1", logger: logger
                ).decode((Int64, String).self).all().first else { return AccessPruneResult(removed: 0, entry: nil) }
                let count = try await connection.query("SELECT count(*) FROM access_log WHERE seq <= \(through)", logger: logger)
                    .decode(Int64.self).all().first ?? 0
                try await connection.query("DELETE FROM access_record WHERE seq <= \(through)", logger: logger)
                try await connection.query("DELETE FROM access_log WHERE seq <= \(through)", logger: logger)
                var draft = AccessDraft(at: date, action: .prune, token: nil,
                                        detail: AccessChain.pruneDetail(removed: count, through: through, lastHash: lastHash, before: before))
                draft.user = user
                let entry = try await Self.appendAccess([draft], connection: connection, logger: logger).first
                return AccessPruneResult(removed: count, entry: entry)
            }
        }
    }

    public func recordIDs(clientCode code: String, children: [String: String]) async throws -> [String] {
        let types = Array(children.keys).sorted()
        let (plans, goals): ([(id: String, json: String)], [(id: String, type: String, json: String)]) = try await guarded { [self] connection in
            // A text search narrows the care plans; ClientRecords decides.
            var plans: [(id: String, json: String)] = []
            for try await (id, json) in try await connection.query("""
                SELECT id, state FROM record WHERE type = 'carePlan' AND strpos(state, \(code)) > 0
                UNION ALL
                SELECT h.record_id, h.fields FROM history h JOIN record r ON r.id = h.record_id
                WHERE r.type = 'carePlan' AND strpos(h.fields, \(code)) > 0
                """, logger: logger).decode((String, String).self) { plans.append((id, json)) }
            guard !plans.isEmpty else { return ([], []) }
            var goals: [(id: String, type: String, json: String)] = []
            for try await (id, type, json) in try await connection.query(
                "SELECT id, type, state FROM record WHERE type = ANY(\(types)) AND state <> ''", logger: logger
            ).decode((String, String, String).self) { goals.append((id, type, json)) }
            return (plans, goals)
        }
        return try ClientRecords.resolve(code: code, plans: plans, goals: goals, children: children)
    }

    // MARK: Snapshots

    public func createSnapshot(_ snapshot: Snapshot, records: [RecordState], late: [LateArrival], entry: AccessDraft) async throws -> Bool {
        let logger = logger
        let scopes = String(decoding: try StableJSON.encode(snapshot.scopes), as: UTF8.self)
        let ids = records.map(\.id)
        let states = try records.map { String(decoding: try StableJSON.encode($0), as: UTF8.self) }
        let lateIDs = late.map(\.record)
        let arrivals = try late.map { String(decoding: try StableJSON.encode($0), as: UTF8.self) }
        return try await guarded { connection in
            try await connection.withTransaction(logger: logger) { connection in
                // Under the lock an erasure takes: a record erased while the snapshot was
                // being read is not stored in it.
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.pushLock))", logger: logger)
                let inserted = try await connection.query("""
                    INSERT INTO snapshot (id, name, as_of, frozen_at, scopes, created_by, records, late_arrivals)
                    VALUES (\(snapshot.id), \(snapshot.name), \(snapshot.asOf), \(snapshot.frozenAt), \(scopes), \(snapshot.createdBy),
                            \(Int64(snapshot.records)), \(Int64(snapshot.lateArrivals)))
                    ON CONFLICT DO NOTHING RETURNING id
                    """, logger: logger).decode(String.self).all()
                guard !inserted.isEmpty else { return false }
                for start in stride(from: 0, to: ids.count, by: 1_000) {
                    let end = min(start + 1_000, ids.count)
                    try await connection.query("""
                        INSERT INTO snapshot_record (snapshot, record_id, state)
                        SELECT \(snapshot.id), u.id, u.state FROM UNNEST(\(Array(ids[start..<end]))::text[], \(Array(states[start..<end]))::text[]) AS u(id, state)
                        WHERE EXISTS (SELECT 1 FROM record r WHERE r.id = u.id AND r.state <> '')
                        """, logger: logger)
                }
                for start in stride(from: 0, to: lateIDs.count, by: 1_000) {
                    let end = min(start + 1_000, lateIDs.count)
                    try await connection.query("""
                        INSERT INTO snapshot_late (snapshot, record_id, arrival)
                        SELECT \(snapshot.id), u.id, u.arrival
                        FROM UNNEST(\(Array(lateIDs[start..<end]))::text[], \(Array(arrivals[start..<end]))::text[]) WITH ORDINALITY AS u(id, arrival, n)
                        WHERE EXISTS (SELECT 1 FROM record r WHERE r.id = u.id AND r.state <> '')
                        ORDER BY u.n
                        """, logger: logger)
                }
                _ = try await Self.appendAccess([entry], connection: connection, logger: logger)
                return true
            }
        }
    }

    public func snapshots() async throws -> [Snapshot] {
        try await guarded { [self] connection in
            var found: [Snapshot] = []
            for try await (id, name, asOf, frozenAt, scopes, by, records, late) in try await connection.query("""
                SELECT id, name, as_of, frozen_at, scopes, created_by, records, late_arrivals FROM snapshot ORDER BY frozen_at, id
                """, logger: logger).decode((String, String, Date, Date, String, String, Int64, Int64).self) {
                found.append(Snapshot(id: id, name: name, asOf: asOf, frozenAt: frozenAt,
                                      scopes: try StableJSON.decode([String].self, from: Data(scopes.utf8)), createdBy: by,
                                      records: Int(records), lateArrivals: Int(late)))
            }
            return found
        }
    }

    public func snapshotRecords(id: String) async throws -> [RecordState] {
        let rows: [String] = try await guarded { [self] connection in
            try await connection.query("SELECT state FROM snapshot_record WHERE snapshot = \(id) ORDER BY record_id", logger: logger)
                .decode(String.self).all()
        }
        return try rows.map { try StableJSON.decode(RecordState.self, from: Data($0.utf8)) }
    }

    public func snapshotLate(id: String) async throws -> [LateArrival] {
        let rows: [String] = try await guarded { [self] connection in
            try await connection.query("SELECT arrival FROM snapshot_late WHERE snapshot = \(id) ORDER BY seq", logger: logger)
                .decode(String.self).all()
        }
        return try rows.map { try StableJSON.decode(LateArrival.self, from: Data($0.utf8)) }
    }

    // MARK: Erasure

    public func erase(recordIDs: [String], at date: Date, entry: AccessDraft) async throws -> ErasureResult {
        let logger = logger
        let ids = Set(recordIDs).sorted()
        let result: ErasureResult = try await guarded { connection in
            try await connection.withTransaction(logger: logger) { connection in
                // The records' rows first, in id order, as a push locks them; then
                // `pushLock`, so a snapshot being frozen does not keep a record erased
                // meanwhile. Tombstones take positions like any change, below.
                var found: [(String, String, String)] = []
                for try await row in try await connection.query(
                    "SELECT id, type, scope FROM record WHERE id = ANY(\(ids)) AND state <> '' ORDER BY id FOR UPDATE", logger: logger
                ).decode((String, String, String).self) { found.append(row) }
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.pushLock))", logger: logger)
                guard !found.isEmpty else { return ErasureResult(records: [], historyRows: 0, entry: nil) }
                let erasedIDs = found.map(\.0)
                let deleted = try await connection.query(
                    "WITH gone AS (DELETE FROM history WHERE record_id = ANY(\(erasedIDs)) RETURNING 1) SELECT count(*) FROM gone", logger: logger
                ).decode(Int64.self).all().first ?? 0
                try await connection.query("DELETE FROM snapshot_record WHERE record_id = ANY(\(erasedIDs))", logger: logger)
                try await connection.query("DELETE FROM snapshot_late WHERE record_id = ANY(\(erasedIDs))", logger: logger)
                // The counter's row is held until the commit, as by a push.
                let count = Int64(erasedIDs.count)
                let position = try await connection.query(
                    "UPDATE counter SET value = value + \(count) WHERE name = 'position' RETURNING value - \(count)", logger: logger
                ).decode(Int64.self).all().first ?? 0
                let positions = (1...count).map { position + $0 }
                try await connection.query("""
                    UPDATE record SET state = '', position = u.position, history_run = 0
                    FROM UNNEST(\(erasedIDs)::text[], \(positions)::bigint[]) AS u(id, position) WHERE record.id = u.id
                    """, logger: logger)
                let erased = found.map { AccessedRecord(id: $0.0, type: $0.1, scope: $0.2, effect: "erased") }
                var draft = entry
                draft.records = erased
                draft.detail += " records=\(erased.count) history=\(deleted)"
                let logged = try await Self.appendAccess([draft], connection: connection, logger: logger).first
                return ErasureResult(records: erased, historyRows: Int(deleted), entry: logged)
            }
        }
        // Dead rows are removed from the tables' files by VACUUM (PostgreSQL's own WAL
        // segments are recycled on its schedule).
        _ = try? await guarded { [self] connection in
            try await connection.query("VACUUM record, history, snapshot_record, snapshot_late", logger: logger)
        }
        return result
    }

    public func carePlans(children: [String: String]) async throws -> [CarePlanGroup] {
        typealias Row = (id: String, type: String, state: String, last: Date)
        let types = ["carePlan"] + children.keys.sorted()
        let rows: [Row] = try await guarded { [self] connection in
            var rows: [Row] = []
            for try await (id, type, state, last) in try await connection.query("""
                SELECT r.id, r.type, r.state, COALESCE((SELECT max(received_at) FROM history h WHERE h.record_id = r.id), now())
                FROM record r WHERE r.type = ANY(\(types)) AND r.state <> ''
                """, logger: logger).decode((String, String, String, Date).self) { rows.append((id, type, state, last)) }
            return rows
        }
        return try Erasure.groups(plans: rows.filter { $0.type == "carePlan" }.map { ($0.id, $0.state, $0.last) },
                                  goals: rows.filter { $0.type != "carePlan" }, children: children)
    }

    public func changedFields(ids: [String], after position: Int64) async throws -> [String: Set<String>] {
        guard !ids.isEmpty else { return [:] }
        return try await guarded { [self] connection in
            // The records that existed at `position` (one that came after it goes whole), and
            // how many changes they had since: past the bound, the page goes whole.
            var existed: [String] = []
            var rows: Int64 = 0
            for try await (id, count) in try await connection.query("""
                SELECT record_id, count(*) FILTER (WHERE position > \(position)) FROM history WHERE record_id = ANY(\(ids))
                GROUP BY record_id HAVING min(position) <= \(position)
                """, logger: logger).decode((String, Int64).self) {
                existed.append(id)
                rows += count
            }
            guard rows <= PullDeltas.maxHistoryRows(records: ids.count), !existed.isEmpty else { return [:] }
            // `fields` is the change's [FieldChange]: one object per field it touched.
            let names = try await connection.query("""
                SELECT DISTINCT history.record_id, change->>'field'
                FROM history CROSS JOIN LATERAL jsonb_array_elements(history.fields::jsonb) AS change
                WHERE history.record_id = ANY(\(existed)) AND history.position > \(position)
                """, logger: logger)
            var changed: [String: Set<String>] = [:]
            for try await (id, field) in names.decode((String, String?).self) {
                guard let field else { continue }
                changed[id, default: []].insert(field)
            }
            return changed
        }
    }

    public func headPosition() async throws -> Int64 {
        try await guarded { [self] connection in
            try await connection.query("SELECT value FROM counter WHERE name = 'position'", logger: logger).decode(Int64.self).all().first ?? 0
        }
    }

    /// Runs `body` on a pooled connection, turning a lost or refused connection into
    /// `StorageError.unavailable` (503 with Retry-After) and the server's own refusals
    /// into a clear sentence.
    ///
    /// Only the wait for a connection is watched, not the work: a push queued behind
    /// others on the advisory lock already holds its connection and may take as long as
    /// the queue takes. A wait longer than `leaseTimeout` is answered with 503 only if
    /// PostgreSQL itself cannot be reached.
    private func guarded<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        await running.value
        let client = client, leaseTimeout = leaseTimeout, location = location
        let leased = LeaseFlag()
        do {
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask {
                    try await client.withConnection { connection in
                        leased.set()
                        return try await body(connection)
                    }
                }
                group.addTask { [self] in
                    // Waiting long is not the same as PostgreSQL being gone: a busy
                    // machine may delay the pool too. So when the wait runs long, one
                    // connection outside the pool asks the server itself, and only a
                    // server that cannot be reached turns the request into a 503.
                    while true {
                        try? await Task.sleep(for: leaseTimeout)
                        if leased.isSet || Task.isCancelled { return nil }
                        do {
                            try await checkConnection()
                        } catch {
                            if leased.isSet || Task.isCancelled { return nil }
                            if case StorageError.unavailable = error { throw error }
                            if case StorageError.configuration(let reason) = error { throw StorageError.unavailable(reason) }
                            throw StorageError.unavailable("cannot reach PostgreSQL at \(location) (\(error)); is it running?")
                        }
                    }
                }
                while let result = try await group.next() {
                    if let value = result {
                        group.cancelAll()
                        return value
                    }
                }
                throw CancellationError()
            }
        } catch let error as PSQLError {
            throw PostgresProblem.describe(error, location: location)
        } catch let error as PostgresTransactionError {
            // A refusal thrown inside the transaction (a validation problem, a reused
            // batch id) is the error that matters; the rollback is a detail.
            if let closureError = error.closureError {
                if let psql = closureError as? PSQLError { throw PostgresProblem.describe(psql, location: location) }
                throw closureError
            }
            for case let psql as PSQLError in [error.beginError, error.commitError, error.rollbackError].compactMap({ $0 }) {
                throw PostgresProblem.describe(psql, location: location)
            }
            throw error
        }
    }
}

/// Set once a request holds a connection, so the lease timer stands down.
private final class LeaseFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

/// What a PostgreSQL error means for the person running Veld.
enum PostgresProblem {
    static func describe(_ error: PSQLError, location: String) -> any Error {
        let state = error.serverInfo?[.sqlState]
        let message = error.serverInfo?[.message] ?? "\(error.code)"
        if error.code == .sslUnsupported {
            return StorageError.configuration("PostgreSQL at \(location) does not offer TLS, and the URL asks for it (sslmode); switch on ssl in its configuration")
        }
        if let underlying = error.underlying, underlying is NIOSSLError || underlying is BoringSSLError || underlying is NIOSSLExtraError {
            return StorageError.configuration("the TLS handshake with PostgreSQL at \(location) failed (\(underlying)); check sslrootcert and that the certificate names the host")
        }
        switch (error.code, state) {
        case (.server, "28P01"), (.server, "28000"):
            return StorageError.configuration("PostgreSQL at \(location) refused the user name or password (\(message)); check the password in the database URL")
        case (.server, "3D000"):
            return StorageError.configuration("\(message) at \(location); create it (createdb) or fix the database name in the URL")
        case (.server, let code?) where code.hasPrefix("08") || code.hasPrefix("57P"):
            return StorageError.unavailable("PostgreSQL at \(location) is not available (\(message))")
        case (.connectionError, _), (.serverClosedConnection, _), (.clientClosedConnection, _), (.uncleanShutdown, _), (.poolClosed, _):
            let detail = error.underlying.map { "\($0)" } ?? "\(error.code)"
            return StorageError.unavailable("cannot reach PostgreSQL at \(location) (\(detail)); is it running?")
        default:
            return error
        }
    }
}

/// `postgres://user:password@host:port/database[?sslmode=…&sslrootcert=…]`, with what a
/// log may show. `sslmode` as libpq reads it: `disable`; `prefer` (the default) and
/// `allow`: TLS when the server offers it, unverified; `require` (TLS, unverified unless
/// `sslrootcert` is given); `verify-ca` (the certificate chains to `sslrootcert`);
/// `verify-full` (and names the host; `sslrootcert=system` trusts the system's CAs).
struct PostgresURL {
    enum SSLMode: String, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    let host: String
    let port: Int
    let user: String
    let password: String?
    let database: String
    let sslMode: SSLMode
    let rootCertificate: String?

    init(_ text: String) throws {
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme ?? ""),
              let host = components.host, !host.isEmpty else {
            throw StorageError.configuration("'\(Self.redact(text))' is not a PostgreSQL URL; use postgres://USER:PASSWORD@HOST:PORT/DATABASE")
        }
        self.host = host
        port = components.port ?? 5432
        user = components.user ?? "veld"
        password = components.password
        let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        database = path.isEmpty ? user : path
        var mode = SSLMode.prefer
        var root: String?
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value.flatMap(SSLMode.init(rawValue:)) else {
                    throw StorageError.configuration(
                        "sslmode=\(item.value ?? "") is not known; use one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                mode = value
            case "sslrootcert":
                root = item.value
            default:
                throw StorageError.configuration("the database URL's parameter '\(item.name)' is not known; Veld reads sslmode and sslrootcert")
            }
        }
        if root != nil, ![.verifyCA, .verifyFull, .require].contains(mode) {
            throw StorageError.configuration("sslrootcert goes with sslmode=verify-full (or verify-ca)")
        }
        // As libpq: a verifying mode needs a root to verify against; `system` (the
        // system's CAs) only with verify-full, since any public certificate chains there.
        if [.verifyCA, .verifyFull].contains(mode), root == nil {
            throw StorageError.configuration("sslmode=\(mode.rawValue) needs sslrootcert=FILE (the database's CA), or sslrootcert=system with verify-full")
        }
        if root == "system", mode != .verifyFull {
            throw StorageError.configuration("sslrootcert=system goes with sslmode=verify-full only (any public certificate chains to the system's CAs)")
        }
        sslMode = mode
        rootCertificate = root
    }

    var redacted: String { "\(user)@\(host):\(port)/\(database)" }

    /// What the TLS handshake checks, or nil for no TLS.
    func tlsConfiguration() throws -> TLSConfiguration? {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        switch sslMode {
        case .disable: return nil
        case .allow, .prefer: tls.certificateVerification = .none
        // libpq: with a root certificate, require verifies the chain like verify-ca.
        case .require: tls.certificateVerification = rootCertificate == nil ? .none : .noHostnameVerification
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .verifyFull: tls.certificateVerification = .fullVerification
        }
        if let rootCertificate, rootCertificate != "system" {
            do { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(rootCertificate)) } catch {
                throw StorageError.configuration("cannot read the CA certificate sslrootcert=\(rootCertificate): \(error)")
            }
        }
        return tls
    }

    func clientTLS() throws -> PostgresClient.Configuration.TLS {
        guard let tls = try tlsConfiguration() else { return .disable }
        return [.allow, .prefer].contains(sslMode) ? .prefer(tls) : .require(tls)
    }

    func connectionTLS() throws -> PostgresConnection.Configuration.TLS {
        guard let tls = try tlsConfiguration() else { return .disable }
        let context: NIOSSLContext
        do { context = try NIOSSLContext(configuration: tls) } catch {
            throw StorageError.configuration("cannot set up TLS for the database: \(error)")
        }
        return [.allow, .prefer].contains(sslMode) ? .prefer(context) : .require(context)
    }

    static func redact(_ text: String) -> String {
        guard var components = URLComponents(string: text), components.password != nil else { return text }
        components.password = "***"
        return components.string ?? text
    }
}

extension AsyncSequence {
    /// Every element, in order.
    func all() async throws -> [Element] {
        var elements: [Element] = []
        for try await element in self { elements.append(element) }
        return elements
    }
}
