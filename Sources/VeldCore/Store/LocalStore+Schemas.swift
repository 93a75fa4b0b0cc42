import Foundation
import GRDB
import VeldProtocol

/// The module set a device works on: the one the server last sent (kept, so a device
/// offline for weeks keeps working on it), or the built-in set before its first sync.
public struct KeptSchemaSet: Sendable {
    public var set: SchemaSet
    /// The server's ETag for it; nil for the built-in set.
    public var etag: String?
    /// When it came; nil for the built-in set.
    public var receivedAt: Date?

    public init(set: SchemaSet, etag: String?, receivedAt: Date?) {
        self.set = set
        self.etag = etag
        self.receivedAt = receivedAt
    }
}

extension LocalStore {
    /// The module set every local edit is checked against.
    public func schemaSet() throws -> SchemaSet {
        try writer.read { db in try self.schemaSet(db) }
    }

    /// Every edit asks (once: its own check and the push policy share the set): what it reads is the
    /// kept set's generation, a few bytes; the set itself only when another is kept.
    func schemaSet(_ db: Database) throws -> SchemaSet {
        let generation: String?
        do {
            generation = try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM syncState WHERE key = ?"),
                                             arguments: [SyncKey.schemasGeneration])
        } catch let error as DatabaseError where error.resultCode == .SQLITE_ERROR {
            return .builtIn  // a profile from before sync existed
        }
        guard let generation else { return .builtIn }
        if let cached = schemaCache.withLock({ $0 }), cached.generation == generation { return cached.set }
        // Kept only after it decoded and checked; a set that no longer decodes (a newer
        // release's format) falls back to the built-in one until the next sync replaces it.
        let text = try String.fetchOne(db, sql: "SELECT value FROM syncState WHERE key = ?", arguments: [SyncKey.schemas])
        let set = text.flatMap { try? StableJSON.decode(SchemaSet.self, from: Data($0.utf8)) } ?? .builtIn
        schemaCache.withLock { $0 = (generation, set) }
        return set
    }

    /// The ETag of the kept set, for `If-None-Match`.
    public func schemaSetETag() throws -> String? {
        try writer.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM syncState WHERE key = ?", arguments: [SyncKey.schemasETag])
        }
    }

    /// Keeps the set the server sent. Records of types or fields it lacks stay as they
    /// are: a set never removes data, it only says what a local edit may write.
    public func keepSchemaSet(_ set: SchemaSet, etag: String?, at date: Date) throws {
        let text = String(decoding: try StableJSON.encode(set), as: UTF8.self)
        try writer.write { db in
            // A type the role may read now and could not before: its records come only with
            // a pull from the start (the server skipped them), as for a scope added.
            let role = try self.profile(db).role
            if !(try self.schemaSet(db).hiddenTypes(for: role)).subtracting(set.hiddenTypes(for: role)).isEmpty {
                try Self.pullFromTheStart(db)
            }
            try Self.set(SyncKey.schemas, text, db)
            // Each kept set gets the next generation: what every edit compares (another
            // process, a console beside a `veld sync`, sees the change on its next edit).
            let generation = try Int.fetchOne(db, sql: "SELECT CAST(value AS INTEGER) FROM syncState WHERE key = ?",
                                              arguments: [SyncKey.schemasGeneration]) ?? 0
            try Self.set(SyncKey.schemasGeneration, String(generation + 1), db)
            if let etag { try Self.set(SyncKey.schemasETag, etag, db) } else {
                try db.execute(sql: "DELETE FROM syncState WHERE key = ?", arguments: [SyncKey.schemasETag])
            }
            try Self.set(SyncKey.schemasReceivedAt, String(date.timeIntervalSince1970), db)
        }
    }
}

extension LocalStore {
    /// The module set kept in the profile at `home`, read without its key (the set is not
    /// client data and is stored in the clear): what `--help` lists before a command opens
    /// the profile. Nil when there is no profile or it holds no set yet.
    public static func peekSchemaSet(home: URL) -> SchemaSet? {
        peekKeptSchemaSet(home: home).flatMap { $0.receivedAt == nil ? nil : $0.set }
    }
}

extension LocalStore {
    /// The kept set with when it came, read without the profile's key (see
    /// ``peekSchemaSet(home:)``); nil when there is no profile at `home`.
    public static func peekKeptSchemaSet(home: URL) -> KeptSchemaSet? {
        let url = home.appendingPathComponent(databaseName)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        var configuration = Configuration()
        configuration.readonly = true
        guard let queue = try? DatabaseQueue(path: url.path, configuration: configuration) else { return nil }
        let values = (try? queue.read { db in
            try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT key, value FROM syncState WHERE key IN (?, ?, ?)",
                                                              arguments: [SyncKey.schemas, SyncKey.schemasETag, SyncKey.schemasReceivedAt])
                .map { (row: Row) -> (String, String) in (row["key"], row["value"]) })
        }) ?? [:]
        let set = values[SyncKey.schemas].flatMap { try? StableJSON.decode(SchemaSet.self, from: Data($0.utf8)) }
        return KeptSchemaSet(set: set ?? .builtIn, etag: set == nil ? nil : values[SyncKey.schemasETag],
                             receivedAt: set == nil ? nil : values[SyncKey.schemasReceivedAt].flatMap(Double.init).map { Date(timeIntervalSince1970: $0) })
    }
}
