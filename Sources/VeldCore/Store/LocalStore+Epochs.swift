import Foundation
import GRDB
import VeldProtocol

/// What a device keeps so that every edit it holds survives a server restored from a
/// backup (SPEC.md, "Server epochs"): the server's epoch, and for each record the server's
/// proof of the last state it served, with that state once the record has moved on.
///
/// Invariant: when `record.proof` is set and `record.provenState` is NULL, the record's own
/// state is exactly the state the proof vouches for. Every write of a record's state keeps
/// it: a local change first moves the proven state into `provenState` (``keepProvenState``),
/// a pulled state sets both columns.
extension LocalStore {
    /// The SET clause a local write of `sealedState` adds: the proven state stays apart
    /// before the record's state moves on (in an UPDATE, columns read their old values).
    static let keepProvenState = "provenState = CASE WHEN proof IS NOT NULL AND provenState IS NULL THEN sealedState ELSE provenState END"

    /// The outbox counter of an entry made for a restored server, not for a local edit (whose
    /// counter is at least 1): any acknowledged state clears it, and a local edit meanwhile
    /// replaces it with its own.
    static let recoveryCounter: Int64 = 0

    /// The epoch of the server this profile last synced with (nil before the first sync
    /// with a server that names one).
    public func knownEpoch() throws -> String? {
        try writer.read { db in try String.fetchOne(db, sql: "SELECT value FROM syncState WHERE key = ?", arguments: [SyncKey.epoch]) }
    }

    /// Takes the server's epoch. Returns true when it replaces another: the server was
    /// restored from a backup. Then, in one transaction, the cursor starts over and every
    /// record goes into the outbox as a recovery entry (a pull clears those the server turns
    /// out to hold; the rest are pushed with their proven states). A profile that synced
    /// before it knew of epochs (an older release) cannot tell, and recovers too: one pull
    /// from the start, and nothing it holds is left behind.
    func adoptEpoch(_ epoch: String) throws -> Bool {
        try writer.write { db in
            let known = try String.fetchOne(db, sql: "SELECT value FROM syncState WHERE key = ?", arguments: [SyncKey.epoch])
            guard known != epoch else { return false }
            try Self.set(SyncKey.epoch, epoch, db)
            let cursor = try String.fetchOne(db, sql: "SELECT value FROM syncState WHERE key = ?", arguments: [SyncKey.cursor])
            guard known != nil || (cursor ?? "0") != "0" else { return false }
            try Self.pullFromTheStart(db)
            try db.execute(sql: "UPDATE outbox SET recovery = 1")
            try db.execute(sql: """
                INSERT INTO outbox (recordID, counter, queuedAt, recovery)
                SELECT id, ?, ?, 1 FROM record WHERE id NOT IN (SELECT recordID FROM outbox)
                """, arguments: [Self.recoveryCounter, DatabaseTime.value(self.clock())])
            return true
        }
    }

    /// Outbox entries waiting to go back to a restored server.
    public func pendingRecovery() throws -> Int {
        try writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox WHERE recovery = 1 AND parkedProblem IS NULL") ?? 0 }
    }

    /// For the records among `ids` with a recovery entry: the ids, and the proven states of
    /// those that have one (the server's proof with the state it vouches for).
    func recovery(_ ids: [String]) throws -> (recovering: Set<String>, proven: [ProvenState]) {
        try writer.read { db in
            var recovering: Set<String> = []
            var proven: [ProvenState] = []
            for start in stride(from: 0, to: ids.count, by: 500) {
                let chunk = Array(ids[start..<min(start + 500, ids.count)])
                let rows = try Row.fetchCursor(db, sql: """
                    SELECT record.id, record.proof, COALESCE(record.provenState, record.sealedState) FROM record
                    JOIN outbox ON outbox.recordID = record.id
                    WHERE outbox.recovery = 1 AND record.id IN (\(databaseQuestionMarks(count: chunk.count)))
                    """, arguments: StatementArguments(chunk))
                while let row = try rows.next() {
                    let id: String = row[0]
                    recovering.insert(id)
                    if let proof: String = row[1] { proven.append(ProvenState(proof: proof, state: try self.openState(row[2], id: id))) }
                }
            }
            return (recovering, proven)
        }
    }

    /// What a pulled state with its proof does to the proof a record keeps: the new proof
    /// when its state covers the proven one held (always, unless the server was restored to
    /// before it), else the old one stays until the server holds it again.
    func provenAfterPull(local: RecordState, merged: RecordState, incoming: RecordState, proof: String,
                         held: (proof: String?, provenState: Data?), db: Database) throws -> (proof: String?, provenState: Data?) {
        let old: RecordState? = try held.provenState.map { try openState($0, id: local.id) } ?? (held.proof == nil ? nil : local)
        if old == nil || (try? incoming.merged(with: old!)) == incoming {
            return (proof, merged == incoming ? nil : try sealState(incoming, db: db))
        }
        // The proven state held is the local one (no provenState) and the local one moves on.
        if held.provenState == nil, merged != local {
            return (held.proof, try sealState(local, db: db))
        }
        return held
    }
}
