import Foundation
import Logging

/// Opens the storage a command asked for, with start-up checks that fail in one clear
/// sentence: the embedded SQLite file (a new one gets its schema at once), or PostgreSQL
/// (reachable, credentials right); an older schema is brought up to date only by
/// `veld-server migrate`, an explicit step.
public enum StorageOpening {
    public enum Purpose: Sendable { case serve, migrate, administer }

    public static func open(databaseURL: String?, sqlitePath: String, purpose: Purpose,
                            logger: Logger = Logger(label: "veld-server")) async throws -> any SyncStorage {
        guard let databaseURL, !databaseURL.isEmpty else {
            if purpose == .serve { try refuseReadableByOthers(sqlitePath) }
            // Only serve and migrate make a database: a token made in an empty one by
            // mistake (a forgotten --config) would be a secret no server accepts.
            if purpose == .administer, !FileManager.default.fileExists(atPath: sqlitePath) {
                throw StorageError.configuration(
                    "there is no Veld database at \(sqlitePath); give the server's (--db PATH or --config FILE), or make one with `veld-server migrate --db \(sqlitePath)`")
            }
            let storage = try SQLiteSyncStorage(path: sqlitePath)
            // Held until the process ends: `veld-server restore` does not replace the file
            // under a server or an administrator's command (their writes would be lost).
            try SQLiteSyncStorage.holdServingLock(path: sqlitePath)
            let schema = try await storage.schemaState()
            if schema.unknown {
                throw StorageError.configuration(
                    "the database \(sqlitePath) was written by a newer release of veld-server; run that release (or restore a backup this release wrote)")
            }
            // A new database gets its schema at once; an older one only on `migrate`, an
            // explicit step the administrator takes (after a backup).
            if purpose == .migrate || schema.empty {
                try await storage.migrate()
            } else if !schema.pending.isEmpty {
                throw StorageError.configuration(
                    "the database \(sqlitePath) was written by an older release and lacks \(schema.pending.count) schema step(s) (\(schema.pending.joined(separator: ", "))); copy it aside while the server is stopped, then run `veld-server migrate` with this command's --db or --config (here: `veld-server migrate --db \(sqlitePath)`)")
            }
            return storage
        }
        let storage = try PostgresSyncStorage(url: databaseURL, logger: logger)
        let pending: [String]
        do {
            pending = try await withTimeout(seconds: 15, what: "PostgreSQL at \(storage.location) did not answer within 15 s; is it running, and are host and port right?") {
                try await storage.checkConnection()
                return try await storage.pendingMigrations()
            }
        } catch {
            storage.shutdown()
            throw error
        }
        switch purpose {
        case .migrate:
            try await storage.migrate()
        case .serve, .administer:
            guard pending.isEmpty else {
                storage.shutdown()
                throw StorageError.configuration(
                    "the database \(storage.location) lacks \(pending.count) schema step(s) (\(pending.joined(separator: ", "))); run `veld-server migrate --database URL` first")
            }
        }
        return storage
    }

    /// Health data in a file that other users of the machine can read is a leak waiting
    /// to happen: `serve` does not start on it (nor on its WAL or shared-memory file).
    static func refuseReadableByOthers(_ path: String) throws {
        for file in [path, path + "-wal", path + "-shm"] {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: file),
                  let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue else { continue }
            if mode & 0o007 != 0 {
                throw StorageError.configuration(
                    "\(file) can be read by every user of this machine (mode \(String(mode, radix: 8))); it holds client data: run `chmod 600 \(file)` (and keep its folder 700)")
            }
        }
    }

    /// Runs `operation`, failing with `StorageError.unavailable(what)` after `seconds`.
    public static func withTimeout<T: Sendable>(seconds: Double, what: String,
                                                _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withDeadline(.nanoseconds(Int64(seconds * 1e9)), orThrow: StorageError.unavailable(what), operation)
    }
}

/// Runs `operation`, cancelling it and throwing `error` when it has not finished within
/// `deadline`.
func withDeadline<T: Sendable>(_ deadline: Duration, orThrow error: @autoclosure @escaping @Sendable () -> any Error,
                               _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: deadline)
            throw error()
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
