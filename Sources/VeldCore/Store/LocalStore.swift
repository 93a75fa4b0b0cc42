import Crypto
import Foundation
import GRDB
import VeldProtocol

/// The device's local cache: every record it holds, and an outbox of records edited since
/// the server last acknowledged them. One SQLite file (WAL, synchronous=FULL) readable by
/// its owner only.
///
/// A local edit and its outbox entry are written in one transaction, so a crash at any
/// instant leaves either both or neither.
///
/// ```swift
/// let store = try LocalStore.initialise(home: home, user: "anna", role: .visitor)
/// let note = try store.create(type: "visitNote", scope: "loc-zonnehof", fields: [...])
/// try store.edit(id: note.id, changes: ["summary": .string("Rondgang huiskamer en tuin")])
/// try store.outbox().count   // 1
/// ```
public final class LocalStore: Sendable {
    public static let databaseName = "veld.sqlite"

    public let home: URL
    public let databaseURL: URL
    let writer: DatabasePool
    let clock: @Sendable () -> Date
    let faults: FaultInjection
    /// The last identity read from the profile, with the text it was decoded from.
    let identityCache = Locked<(text: String, identity: DeviceIdentity?)?>(nil)
    /// The module set last read from the profile, with its generation.
    let schemaCache = Locked<(generation: String, set: SchemaSet)?>(nil)
    /// The profile's data keys, once `unlock` has opened them.
    let dataKeys = DataKeys()
    /// The profile last read, with the row it was decoded from.
    let profileCache = Locked<(row: Row, profile: Profile)?>(nil)
    /// Record states lately opened or sealed, by the sealed bytes they came from or went to.
    let openedStates = OpenedStates()

    /// Opens the profile in `home` with the key `keys` holds (by default the key file
    /// `veld.key` beside the database); fails with `notInitialised` if there is none (it
    /// never creates a database behind a user's back), and with `wrongKey` or
    /// `keyUnavailable` when the key does not open it.
    public static func open(home: URL, keys: (any KeyStore)? = nil,
                            clock: @escaping @Sendable () -> Date = WallClock.now) throws -> LocalStore {
        let url = home.appendingPathComponent(databaseName)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw LocalStoreError(.notInitialised, home: home)
        }
        let store = try LocalStore(home: home, clock: clock, faults: FaultInjection())
        guard try store.profileIfPresent() != nil else { throw LocalStoreError(.notInitialised, home: home) }
        try store.unlock(keys ?? KeyFileStore(home: home))
        return store
    }

    /// Creates the profile in `home` with a new replica id and a new data key, wrapped by
    /// a key from `keys` (by default a new key file, `veld.key`, beside the database).
    /// Fails if a profile exists.
    public static func initialise(home: URL, user: String, role: Role, keys: (any KeyStore)? = nil,
                                  clock: @escaping @Sendable () -> Date = WallClock.now) throws -> LocalStore {
        let url = home.appendingPathComponent(databaseName)
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        if !FileManager.default.fileExists(atPath: url.path) {
            // SQLite gives the -wal and -shm files the mode of the database file.
            guard FileManager.default.createFile(atPath: url.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw LocalStoreError(.unreadable("cannot create \(url.path); check that the folder is writable"), home: home)
            }
        }
        let store = try LocalStore(home: home, clock: clock, faults: FaultInjection())
        if try store.profileIfPresent() != nil { throw LocalStoreError(.alreadyInitialised, home: home) }
        // The key first (a passphrase may be refused): then the profile and its keyring in
        // one transaction, so there is never a profile without its key.
        let keys = keys ?? KeyFileStore(home: home)
        let (wrapping, reference) = try keys.makeKey(replacing: nil)
        let profile = Profile(replicaID: Profile.makeReplicaID(), user: user, role: role, createdAt: clock())
        let dataKey = SymmetricKey(size: .bits256)
        do {
            try store.writer.write { db in
                if try ProfileRow.fetchOne(db) != nil { throw LocalStoreError(.alreadyInitialised, home: home) }
                try ProfileRow(profile).insert(db)
                guard try store.createKeyring(db, dataKey: dataKey, wrapping: wrapping, reference: reference, keys: keys) != nil else {
                    throw LocalStoreError(.alreadyInitialised, home: home)
                }
            }
        } catch {
            store.settle(reference, keys: keys)
            throw error
        }
        store.dataKeys.install(dataKey, generation: 1)
        try keys.committed(reference, replacing: nil)
        return store
    }

    init(home: URL, clock: @escaping @Sendable () -> Date, faults: FaultInjection,
         migrateUpTo lastMigration: String? = nil) throws {
        self.home = home
        self.databaseURL = home.appendingPathComponent(Self.databaseName)
        self.clock = clock
        self.faults = faults
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // FULL: a commit that returned has reached the disk, so an acknowledged edit
            // survives power loss as well as a crash of the process.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // Deleted content (an erased record, a discarded change) is overwritten, not
            // left in free pages.
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        do {
            writer = try DatabasePool(path: databaseURL.path, configuration: configuration)
            if let lastMigration {
                try Self.migrator.migrate(writer, upTo: lastMigration)
            } else {
                try Self.migrator.migrate(writer)
            }
        } catch let error as DatabaseError {
            throw LocalStoreError(.unreadable(error.message ?? error.description), home: home)
        }
    }

    /// Forward-only, named migrations. Never edit one that has shipped; add the next.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-records-outbox") { db in
            try db.create(table: "profile") { t in
                t.primaryKey("singleton", .integer).check { $0 == 1 }
                t.column("replicaID", .text).notNull()
                t.column("user", .text).notNull()
                t.column("role", .text).notNull()
                t.column("createdAt", .datetime).notNull()
            }
            try db.create(table: "record") { t in
                t.primaryKey("id", .text)
                t.column("type", .text).notNull()
                t.column("scope", .text).notNull()
                t.column("state", .text).notNull()
                t.column("status", .text)
                t.column("deleted", .boolean).notNull()
                t.column("hasConflicts", .boolean).notNull()
                t.column("createdAt", .datetime).notNull()
                t.column("updatedAt", .datetime).notNull()
            }
            try db.create(index: "record_by_type_scope", on: "record", columns: ["type", "scope", "status"])
            try db.create(index: "record_with_conflicts", on: "record", columns: ["hasConflicts"],
                          condition: Column("hasConflicts") == true)
            try db.create(table: "outbox") { t in
                t.primaryKey("recordID", .text).references("record", onDelete: .cascade)
                // The record's own counter (context[replica]) after its latest local edit:
                // sync clears the entry only if it still holds the value that was pushed.
                t.column("counter", .integer).notNull()
                t.column("queuedAt", .datetime).notNull()
            }
        }
        migrator.registerMigration("v2-sync-state") { db in
            try db.create(table: "syncState") { t in
                t.primaryKey("key", .text)
                t.column("value", .text).notNull()
            }
        }
        migrator.registerMigration("v3-parked-and-discarded") { db in
            // A change the server refused waits here with the refusal, out of the pushes.
            try db.alter(table: "outbox") { t in
                t.add(column: "parkedProblem", .text)
                t.add(column: "parkedAt", .datetime)
            }
            // Local changes a person discarded: kept, so nothing is lost silently.
            try db.create(table: "discarded") { t in
                t.autoIncrementedPrimaryKey("seq")
                t.column("recordID", .text).notNull()
                t.column("type", .text).notNull()
                t.column("state", .text).notNull()
                t.column("problem", .text)
                t.column("discardedAt", .datetime).notNull()
            }
        }
        registerKeyring(&migrator)
        migrator.registerMigration("v5-discard-receipt") { db in
            // A change kept after a scope removal names the receipt that reported it, and
            // goes once the office confirms that receipt.
            try db.alter(table: "discarded") { t in t.add(column: "receipt", .text) }
        }
        migrator.registerMigration("v6-server-proofs") { db in
            // The server's proof of the last state it served of the record, and that state
            // (sealed) once the record's own state has moved on from it (NULL while the
            // record's state is that state): what a device sends back to a restored server.
            try db.alter(table: "record") { t in
                t.add(column: "proof", .text)
                t.add(column: "provenState", .blob)
            }
            // Outbox entries made when the server was restored (a new epoch): the record goes
            // back with its proven state, unless a pull shows the server holds it.
            try db.alter(table: "outbox") { t in t.add(column: "recovery", .boolean).notNull().defaults(to: false) }
        }
        return migrator
    }

    public func profile() throws -> Profile {
        guard let profile = try profileIfPresent() else { throw LocalStoreError(.notInitialised, home: home) }
        return profile
    }

    func profileIfPresent() throws -> Profile? {
        try writer.read { db in try ProfileRow.fetchOne(db)?.profile }
    }

    /// The profile, inside a transaction that is already open.
    /// Every edit asks: the row is read through a cached statement and decoded once.
    func profile(_ db: Database) throws -> Profile {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM profile")) else {
            throw LocalStoreError(.notInitialised, home: home)
        }
        if let kept = profileCache.withLock({ $0 }), kept.row == row { return kept.profile }
        guard let profile = try ProfileRow(row: row).profile else { throw LocalStoreError(.notInitialised, home: home) }
        profileCache.withLock { $0 = (row, profile) }
        return profile
    }
}

/// Seams for tests: a failure injected between the two writes of a local edit shows
/// that the transaction, not luck, keeps the record and its outbox entry together.
struct FaultInjection: Sendable {
    var afterRecordWrite: (@Sendable () throws -> Void)?
}

struct ProfileRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "profile"
    var singleton = 1
    var replicaID: String
    var user: String
    var role: String
    var createdAt: Date

    init(_ profile: Profile) {
        replicaID = profile.replicaID
        user = profile.user
        role = profile.role.rawValue
        createdAt = profile.createdAt
    }

    var profile: Profile? {
        Role(rawValue: role).map { Profile(replicaID: replicaID, user: user, role: $0, createdAt: createdAt) }
    }
}

extension LocalStore {
    /// Problems SQLite finds in the database file, plus records whose outbox entry does
    /// not match their state. Empty when all is well.
    public func integrityProblems() throws -> [String] {
        try writer.read { db in
            var problems = try String.fetchAll(db, sql: "PRAGMA integrity_check").filter { $0 != "ok" }
            problems += try String.fetchAll(db, sql: "PRAGMA foreign_key_check").map { "foreign key: \($0)" }
            return problems
        }
    }
}

/// A value behind a lock (the store is shared between threads; `Mutex` needs newer OSes
/// than the core supports).
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) -> T) -> T {
        lock.withLock { body(&value) }
    }
}
