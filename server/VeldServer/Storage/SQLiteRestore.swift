import Foundation
import GRDB
import VeldProtocol
#if canImport(Glibc)
import Glibc
#endif

/// Putting a backup back in place of an SQLite database (`veld-server restore`), and the
/// lock that keeps it from doing so under a running server.
extension SQLiteSyncStorage {
    /// What a restore did.
    public struct RestoreResult: Sendable, Equatable {
        public var records: Int
        public var tokens: Int
        /// The new epoch the restored database answers under.
        public var epoch: String
        /// Where the database that was replaced went (nil when there was none).
        public var previous: String?
        /// Schema steps the backup lacked and the restore applied (a backup of an older release).
        public var migrated: [String]
    }

    /// The file beside a database that a serving process holds a shared lock on, and a
    /// restore an exclusive one.
    static func lockPath(for path: String) -> String { path + ".lock" }

    /// Held by every process that opens this database through `StorageOpening` (`serve`,
    /// `migrate`, the administrator's commands) for as long as it runs: a restore cannot
    /// replace the file under it.
    public static func holdServingLock(path: String) throws {
        let fd = open(lockPath(for: path), O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0, flock(fd, LOCK_SH | LOCK_NB) == 0 else {
            if fd >= 0 { close(fd) }
            throw StorageError.configuration(
                "\(path) is being restored (another process holds \(lockPath(for: path))); try again when the restore is done")
        }
        // Kept open (and so held) until the process ends.
        _ = servingLocks.withLock { servingDescriptors.append(fd) }
    }

    private static let servingLocks = NSLock()
    nonisolated(unsafe) private static var servingDescriptors: [Int32] = []

    /// Puts the backup at `source` in place of the database at `path` (which need not
    /// exist): the backup is checked, copied beside `path` owner-only, brought to this
    /// release's schema, given a new epoch, checked again, and moved into place whole. The
    /// database it replaces is kept beside it (`….before-restore-TIME`), with its WAL.
    /// Refuses while a server serves the database (the lock file), and refuses a file that
    /// is not a Veld database or fails its integrity check, leaving everything as it was.
    public static func restore(from source: String, to path: String, at date: Date = Date()) async throws -> RestoreResult {
        guard FileManager.default.isReadableFile(atPath: source) else {
            throw StorageError.configuration("cannot read \(source); give the backup file `veld-server backup --to` wrote")
        }
        guard (try? FileManager.default.attributesOfItem(atPath: source)[.type] as? FileAttributeType) == .typeRegular else {
            throw StorageError.configuration("\(source) is not a file; give the backup file `veld-server backup --to` wrote")
        }
        let target = URL(fileURLWithPath: path)
        let folder = target.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let lock = open(lockPath(for: path), O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw StorageError.configuration("cannot write in \(folder.path); check the folder and its permissions") }
        defer { close(lock) }
        guard flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            throw StorageError.configuration("a server (or another veld-server command) is using \(path); stop it first (systemctl stop veld-server), then restore")
        }

        // The backup as it is: read-only, so a wrong file is never changed.
        var readOnly = Configuration()
        readOnly.readonly = true
        let backup: DatabaseQueue
        do { backup = try DatabaseQueue(path: source, configuration: readOnly) } catch {
            throw StorageError.configuration("\(source) is not an SQLite database; give the backup file `veld-server backup --to` wrote")
        }
        let known = Set(migrationNames)
        let applied: [String]
        do {
            applied = try await backup.read { db -> [String] in
                let check = try String.fetchAll(db, sql: "PRAGMA quick_check")
                guard check == ["ok"] else {
                    throw StorageError.configuration("\(source) fails its integrity check (\(check.prefix(2).joined(separator: "; "))); restore an earlier backup")
                }
                guard try db.tableExists("grdb_migrations") else { throw StorageError.configuration("") }
                return try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
            }
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError.configuration("\(source) is not a Veld database backup; give the file `veld-server backup --to` wrote")
        }
        guard applied.contains(migrationNames[0]) else {
            throw StorageError.configuration("\(source) is not a Veld database backup; give the file `veld-server backup --to` wrote")
        }
        if let unknown = applied.first(where: { !known.contains($0) }) {
            throw StorageError.configuration("\(source) was written by a newer release of veld-server (schema step \(unknown)); restore it with that release")
        }

        // A backup from before proofs has no key: the database it replaces lends its own, so
        // the proofs devices hold still count.
        var lentKey: String?
        if !applied.contains("v13-epochs-proofs"), FileManager.default.fileExists(atPath: path),
           let current = try? DatabaseQueue(path: path, configuration: readOnly) {
            lentKey = try? await current.read { db in
                try db.tableExists("setting")
                    ? String.fetchOne(db, sql: "SELECT value FROM setting WHERE name = ?", arguments: [ServerIdentity.proofKeySetting]) : nil
            }
            try? current.close()
        }
        let replacedKey = lentKey
        let partial = folder.appendingPathComponent(".\(target.lastPathComponent).restoring-\(UUID().uuidString.prefix(8))")
        guard FileManager.default.createFile(atPath: partial.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw StorageError.configuration("cannot write in \(folder.path); check the folder and its permissions")
        }
        func removePartial() { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: partial.path + suffix) } }
        let result: RestoreResult
        do {
            let copy = try DatabaseQueue(path: partial.path)
            try backup.backup(to: copy)
            try backup.close()
            var migrator = Self.migrator
            migrator.eraseDatabaseOnSchemaChange = false
            try migrator.migrate(copy)
            let epoch = ServerIdentity.newEpoch()
            result = try await copy.write { db in
                try markRestored(epoch: epoch, db)
                if let replacedKey {
                    try db.execute(sql: "UPDATE setting SET value = ? WHERE name = ?", arguments: [replacedKey, ServerIdentity.proofKeySetting])
                }
                return RestoreResult(records: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM record WHERE state <> ''") ?? 0,
                                     tokens: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM token") ?? 0,
                                     epoch: epoch, previous: nil, migrated: migrationNames.filter { !applied.contains($0) })
            }
            let check = try await copy.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
            guard check == ["ok"] else { throw StorageError.configuration("the restored copy fails its integrity check; restore an earlier backup") }
            try copy.close()
        } catch {
            removePartial()
            throw error
        }

        // The database it replaces goes aside whole (with its WAL), then the copy into place.
        var previous: String?
        if FileManager.default.fileExists(atPath: path) {
            let stamp = ISO8601DateFormatter().string(from: date).replacingOccurrences(of: ":", with: "")
            let aside = path + ".before-restore-" + stamp
            for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
                guard rename(path + suffix, aside + suffix) == 0 else {
                    removePartial()
                    throw StorageError.configuration("cannot move \(path + suffix) aside (errno \(errno)); check the folder's permissions")
                }
            }
            previous = aside
        }
        try? FileManager.default.removeItem(atPath: partial.path + "-shm")
        try? FileManager.default.removeItem(atPath: partial.path + "-wal")
        guard rename(partial.path, path) == 0 else {
            removePartial()
            throw StorageError.configuration("cannot move the restored copy to \(path) (errno \(errno)); the replaced database is at \(previous ?? "its place")")
        }
        var done = result
        done.previous = previous
        return done
    }
}

