import Foundation
import GRDB
import VeldProtocol

/// Where this device syncs and how far it got.
public struct SyncSettings: Hashable, Sendable {
    public var server: URL?
    public var token: String?
    /// The organisation's own CA (PEM) that the server's certificate must chain to, when
    /// the profile was connected with one; nil: the system's CAs.
    public var serverCA: String?
    /// The server's cursor after the last page committed here; "0" before the first pull.
    public var cursor: String
    public var lastSyncAt: Date?
}

extension LocalStore {
    enum SyncKey {
        static let server = "server"
        static let token = "token"
        static let serverCA = "serverCA"
        static let cursor = "cursor"
        /// Where this device's last complete pull ended (SPEC.md, "Pull deltas"): every state
        /// it last pulled is the server's state there. Absent until a pull from 0 completes.
        static let pullBase = "pullBase"
        static let lastSyncAt = "lastSyncAt"
        /// The epoch of the server (`Veld-Epoch`) this profile last synced with.
        static let epoch = "epoch"
        static let identity = "identity"
        /// The module set the server last sent (`GET /v1/schemas`), its ETag and when.
        static let schemas = "schemas"
        static let schemasETag = "schemasETag"
        static let schemasReceivedAt = "schemasReceivedAt"
        /// Counts the sets kept: what a local edit compares to know its cached set is current.
        static let schemasGeneration = "schemasGeneration"
    }

    public func syncSettings() throws -> SyncSettings {
        try writer.read { db in
            var values: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT key, value FROM syncState") {
                let key: String = row["key"]
                values[key] = Self.sealedSettings.contains(key) ? try self.openText(row["value"], .setting(key)) : row["value"]
            }
            return SyncSettings(server: values[SyncKey.server].flatMap(URL.init(string:)), token: values[SyncKey.token],
                                serverCA: values[SyncKey.serverCA],
                                cursor: values[SyncKey.cursor] ?? "0",
                                lastSyncAt: values[SyncKey.lastSyncAt].flatMap { Double($0) }.map(Date.init(timeIntervalSince1970:)))
        }
    }

    /// Points this profile at a server, with the CA its certificate must chain to (nil:
    /// the system's). A different server starts pulling from the beginning (its cursor
    /// means nothing here); records and the outbox stay. The server, the token and the CA
    /// are sealed under the profile's key, in a database only its owner can read (0600, in
    /// a 0700 folder).
    public func connect(server: URL, token: String, serverCA: String? = nil) throws {
        try ServerAddress.checkPlainHTTP(server)
        try restrictPermissions()
        try writer.write { db in
            let previous = try Data.fetchOne(db, sql: "SELECT value FROM syncState WHERE key = ?", arguments: [SyncKey.server])
                .map { try self.openText($0, .setting(SyncKey.server)) }
            try self.setSealed(SyncKey.server, server.absoluteString, db)
            try self.setSealed(SyncKey.token, token, db)
            if let serverCA {
                try self.setSealed(SyncKey.serverCA, serverCA, db)
            } else {
                try db.execute(sql: "DELETE FROM syncState WHERE key = ?", arguments: [SyncKey.serverCA])
            }
            if previous != server.absoluteString {
                try Self.pullFromTheStart(db)
                try db.execute(sql: "DELETE FROM syncState WHERE key = ?", arguments: [SyncKey.epoch])
            }
        }
    }

    /// The profile folder 0700 and its database files 0600, whatever the umask was when
    /// an older profile was made.
    func restrictPermissions() throws {
        let files = FileManager.default
        try files.setAttributes([.posixPermissions: 0o700], ofItemAtPath: home.path)
        for suffix in ["", "-wal", "-shm"] where files.fileExists(atPath: databaseURL.path + suffix) {
            try files.setAttributes([.posixPermissions: 0o600], ofItemAtPath: databaseURL.path + suffix)
        }
    }

    /// The current states of the records in `ids` that are still in the outbox, with the
    /// counter each state carries for this replica (what an acknowledgement will clear).
    func pendingStates(_ ids: [String]) throws -> [RecordState] {
        try writer.read { db in
            let states = try self.storedStates(ids: ids, onlyQueued: true, db: db)
            return ids.compactMap { states[$0] }
        }
    }

    /// For the records among `ids` that a delta may go for (SPEC.md, "Deltas"): the last
    /// state the server served of each, when the record has moved on from it (its proven
    /// state). Not for a recovery entry: a restored server may not hold that state.
    func pushBases(_ ids: [String]) throws -> [String: RecordState] {
        try writer.read { db in
            var bases: [String: RecordState] = [:]
            for start in stride(from: 0, to: ids.count, by: 500) {
                let chunk = Array(ids[start..<min(start + 500, ids.count)])
                let rows = try Row.fetchCursor(db, sql: """
                    SELECT record.id, record.provenState FROM record JOIN outbox ON outbox.recordID = record.id
                    WHERE record.proof IS NOT NULL AND record.provenState IS NOT NULL AND outbox.recovery = 0
                      AND record.id IN (\(databaseQuestionMarks(count: chunk.count)))
                    """, arguments: StatementArguments(chunk))
                while let row = try rows.next() {
                    let id: String = row[0]
                    bases[id] = try self.openState(row[1], id: id)
                }
            }
            return bases
        }
    }

    /// For the records among `ids` this device holds a served state of: that state (its
    /// proven state, SPEC.md "Server epochs"), what a pulled delta is filled in from. Where
    /// the record has not moved on from it, that is the state `held` gives.
    func lastPulledStates(_ ids: [String], holding held: [String: RecordState], db: Database) throws -> [String: RecordState] {
        var bases: [String: RecordState] = [:]
        for start in stride(from: 0, to: ids.count, by: 500) {
            let chunk = Array(ids[start..<min(start + 500, ids.count)])
            let rows = try Row.fetchCursor(db, sql: """
                SELECT id, provenState FROM record WHERE proof IS NOT NULL AND id IN (\(databaseQuestionMarks(count: chunk.count)))
                """, arguments: StatementArguments(chunk))
            while let row = try rows.next() {
                let id: String = row[0]
                let moved: Data? = row[1]
                bases[id] = try moved.map { try self.openState($0, id: id) } ?? held[id]
            }
        }
        return bases
    }

    /// Clears the outbox entries of pushed states the server acknowledged, but only where
    /// the record was not edited again while the push was in flight.
    func acknowledge(_ pushed: [RecordState], replica: String) throws {
        try writer.write { db in
            // A recovery entry (counter 0) goes with any acknowledged state of its record.
            for state in pushed {
                try db.execute(sql: "DELETE FROM outbox WHERE recordID = ? AND (counter = ? OR counter = ?)",
                               arguments: [state.id, state.context[replica], Self.recoveryCounter])
            }
        }
    }

    /// Starts pulling again from the beginning: cursor 0, and no pull base until that pull
    /// completes.
    static func pullFromTheStart(_ db: Database) throws {
        try set(SyncKey.cursor, "0", db)
        try db.execute(sql: "DELETE FROM syncState WHERE key = ?", arguments: [SyncKey.pullBase])
    }

    /// Where this device's last complete pull ended, the `base` of a pull with deltas; nil
    /// before one completed since the cursor last went back to 0.
    public func pullBase() throws -> String? {
        try writer.read { db in try String.fetchOne(db, sql: "SELECT value FROM syncState WHERE key = ?", arguments: [SyncKey.pullBase]) }
    }

    /// A pulled delta (SPEC.md, "Pull deltas") that this device cannot fill in: it holds no
    /// state the server served of the record, or the one it holds is not the server's state
    /// at the pull base (the digest differs). The page is asked for again whole; nothing of it
    /// was stored.
    struct UnusableDelta: Error, CustomStringConvertible {
        let recordID: String
        var description: String { "a pulled delta of record \(recordID) does not fit the state this device last pulled of it" }
    }

    /// Merges one pulled page and advances the cursor in the same transaction, so a crash
    /// leaves either both or neither. The page's deltas are filled in from the state the
    /// server last served of each record (``PullDeltas``); one that does not fit throws
    /// ``UnusableDelta`` with nothing stored.
    /// The last page of a pull (`more` false) also makes its cursor the pull base.
    func applyPulledPage(_ page: PullResponse, encoded: [String]? = nil) throws -> MergeSummary {
        try applyPulledPage(page.records, deltas: page.deltas, digests: page.digests, encoded: encoded, erased: page.erased,
                            cursor: page.cursor, proofs: page.proofs, completes: !page.more)
    }

    func applyPulledPage(_ records: [RecordState], deltas: [RecordState] = [], digests: [String] = [], encoded: [String]? = nil,
                         erased: [String] = [], cursor: String, proofs: [String] = [], completes: Bool = false) throws -> MergeSummary {
        try writer.write { db in
            var states = records
            var held: [String: RecordState] = [:]
            if !deltas.isEmpty {
                held = try self.storedStates(ids: deltas.map(\.id), db: db)
                let bases = try self.lastPulledStates(deltas.map(\.id), holding: held, db: db)
                for (index, delta) in deltas.enumerated() {
                    guard index < digests.count, let whole = PullDeltas.expand(delta, digest: digests[index], over: bases[delta.id]) else {
                        throw UnusableDelta(recordID: delta.id)
                    }
                    states.append(whole)
                }
            }
            var summary = try self.mergeRemote(states, encoded: encoded, proofs: proofs.count == states.count ? proofs : nil, stored: held,
                                               db: db)
            summary.erased = try Self.erase(erased, db: db)
            try Self.set(SyncKey.cursor, cursor, db)
            if completes { try Self.set(SyncKey.pullBase, cursor, db) }
            return summary
        }
    }

    /// Removes records the office erased (AVG art. 17), with everything this device holds
    /// of them: the record, its outbox entry (changes not yet sent go too: the office's
    /// erasure is final) and what was discarded of it. Returns how many records went.
    func eraseLocally(_ ids: [String]) throws -> Int {
        let count = try writer.write { db in try Self.erase(ids, db: db) }
        if count > 0 { compact() }
        return count
    }

    static func erase(_ ids: [String], db: Database) throws -> Int {
        guard !ids.isEmpty else { return 0 }
        var removed = 0
        for chunk in stride(from: 0, to: ids.count, by: 500) {
            let slice = Array(ids[chunk..<min(chunk + 500, ids.count)])
            let marks = databaseQuestionMarks(count: slice.count)
            try db.execute(sql: "DELETE FROM outbox WHERE recordID IN (\(marks))", arguments: StatementArguments(slice))
            try db.execute(sql: "DELETE FROM discarded WHERE recordID IN (\(marks))", arguments: StatementArguments(slice))
            try db.execute(sql: "DELETE FROM record WHERE id IN (\(marks))", arguments: StatementArguments(slice))
            removed += db.changesCount
        }
        return removed
    }

    /// Moves what the WAL holds into the database file and empties it, so erased content
    /// leaves the WAL too (secure_delete already zeroes it in the file). Best effort: a
    /// reader holding an old snapshot makes it wait for the next time.
    func compact() {
        openedStates.removeAll()
        _ = try? writer.writeWithoutTransaction { try $0.checkpoint(.truncate) }
    }

    func recordSync(at date: Date) throws {
        try writer.write { db in try Self.set(SyncKey.lastSyncAt, String(date.timeIntervalSince1970), db) }
    }

    /// Stores a sync setting sealed (the server, the token, the CA).
    func setSealed(_ key: String, _ value: String, _ db: Database) throws {
        try db.execute(sql: "INSERT INTO syncState (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       arguments: [key, try seal(value, .setting(key), db: db)])
    }

    static func set(_ key: String, _ value: String, _ db: Database) throws {
        try db.execute(sql: "INSERT INTO syncState (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       arguments: [key, value])
    }
}
