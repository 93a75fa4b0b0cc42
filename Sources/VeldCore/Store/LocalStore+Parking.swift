import Foundation
import GRDB
import VeldProtocol

/// A change the server refused, set aside so the rest of the outbox syncs: the record,
/// the server's problem (its kind, detail and what it said of this record), and when.
public struct ParkedRecord: Hashable, Sendable {
    public var recordID: String
    public var type: String
    /// The server's refusal, with `records` narrowed to this record.
    public var problem: Problem
    public var parkedAt: Date

    /// What the server said of this record, one reason per line.
    public var reasons: [String] { (problem.records ?? []).map(\.reason) }

    /// What the person can do about it.
    public var advice: String {
        switch problem.type {
        case "urn:veld:problem:scope-forbidden":
            return "the token does not cover this record's scope: ask the office for access, then `veld retry \(recordID)` and `veld sync`; or `veld discard \(recordID)`"
        case "urn:veld:problem:dot-reused":
            return "this profile looks restored from a backup: make a new profile with `veld init` and enter the change there"
        default:
            return "fix it with `veld edit \(recordID) field=value` and `veld sync`, or `veld discard \(recordID)`"
        }
    }
}

/// A local change a person discarded (`veld discard`), kept in the profile.
public struct DiscardedChange: Hashable, Sendable {
    public var recordID: String
    public var type: String
    /// The local state that was set aside, whole.
    public var state: RecordState
    public var problem: Problem?
    public var discardedAt: Date
    /// For a change kept after a scope removal: the receipt that reported it. It is kept
    /// until the office confirms that receipt.
    public var receipt: String? = nil
}

extension LocalStore {
    /// Sets aside the pushed states the server refused, with the refusal; a record edited
    /// since it was pushed (perhaps the fix) stays in the next push instead.
    func park(_ pushed: [RecordState], problem: Problem, replica: String) throws {
        let now = clock()
        try writer.write { db in
            for state in pushed {
                var narrowed = problem
                narrowed.records = problem.records?.filter { $0.id == state.id }
                let json = try self.sealProblem(narrowed, id: state.id, db: db)
                // A recovery entry (counter 0) is set aside with any refused state of its record.
                try db.execute(sql: "UPDATE outbox SET parkedProblem = ?, parkedAt = ? WHERE recordID = ? AND (counter = ? OR counter = ?)",
                               arguments: [json, now, state.id, state.context[replica], Self.recoveryCounter])
            }
        }
    }

    /// Every change waiting for a fix, oldest first.
    public func parked() throws -> [ParkedRecord] {
        try writer.read { db in
            try Row.fetchAll(db, sql: """
                SELECT outbox.recordID, record.type, outbox.parkedProblem, outbox.parkedAt FROM outbox
                JOIN record ON record.id = outbox.recordID WHERE outbox.parkedProblem IS NOT NULL
                ORDER BY outbox.parkedAt, outbox.recordID
                """).map { row in
                let id: String = row[0]
                return ParkedRecord(recordID: id, type: row[1], problem: try self.openProblem(row[2], id: id), parkedAt: row[3])
            }
        }
    }

    /// Puts a set-aside change back in the next push unchanged (the office fixed the
    /// token, say). False if the record had no refused change.
    @discardableResult
    public func retryParked(id: String) throws -> Bool {
        let full = try writer.read { db in try self.existing(id, db: db).id }
        return try writer.write { db in
            try db.execute(sql: "UPDATE outbox SET parkedProblem = NULL, parkedAt = NULL WHERE recordID = ? AND parkedProblem IS NOT NULL",
                           arguments: [full])
            return db.changesCount > 0
        }
    }

    /// Gives up this device's change to a record: the record becomes `serverState` (what
    /// the server holds now; nil when the server never had it, and the record goes), with
    /// this device's own counter kept, its outbox entry goes, and the local state is kept
    /// in the discarded log. Run it under the sync lock (`withSyncLock`), so no sync
    /// changes the record between the server's answer and this.
    public func discard(id: String, serverState: RecordState?) throws -> DiscardedChange {
        let now = clock()
        return try writer.write { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT record.type, record.sealedState, outbox.parkedProblem FROM record LEFT JOIN outbox ON outbox.recordID = record.id
                WHERE record.id = ?
                """, arguments: [id]) else {
                throw LocalStoreError(.recordNotFound(id), home: self.home)
            }
            // The sealed values move to the discard log as they are: they are sealed for this record.
            let type: String = row[0], json: Data = row[1]
            let problemJSON: Data? = row[2]
            let local = try self.openState(json, id: id)
            let replica = try self.profile(db).replicaID
            try db.execute(sql: "INSERT INTO discarded (recordID, type, sealedState, sealedProblem, discardedAt) VALUES (?, ?, ?, ?, ?)",
                           arguments: [id, type, json, problemJSON, now])
            try db.execute(sql: "DELETE FROM outbox WHERE recordID = ?", arguments: [id])
            if let serverState {
                guard serverState.id == id, serverState.type == local.type, serverState.scope == local.scope else {
                    throw LocalStoreError(.refusedState("the server sent another record"), home: self.home)
                }
                // This device's counter stays where it was: its discarded edits spent those
                // dots, and the next edit must not name one again.
                var context = serverState.context
                context.include(Dot(replica: replica, counter: local.context[replica]))
                try self.replaceWithServerState(RecordState(id: id, type: local.type, scope: local.scope, context: context,
                                                            fields: serverState.fields), db: db)
            } else {
                try db.execute(sql: "DELETE FROM record WHERE id = ?", arguments: [id])
            }
            return DiscardedChange(recordID: id, type: type, state: local,
                                   problem: try problemJSON.map { try self.openProblem($0, id: id) },
                                   discardedAt: now)
        }
    }

    /// Every discarded change, oldest first.
    public func discardedChanges() throws -> [DiscardedChange] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT recordID, type, sealedState, sealedProblem, discardedAt, receipt FROM discarded ORDER BY seq").map { row in
                let id: String = row[0]
                let problem: Data? = row[3]
                return DiscardedChange(recordID: id, type: row[1], state: try self.openState(row[2], id: id),
                                       problem: try problem.map { try self.openProblem($0, id: id) },
                                       discardedAt: row[4], receipt: row[5])
            }
        }
    }

    /// The record row becomes exactly `state` (no merge): what a discard goes back to.
    private func replaceWithServerState(_ state: RecordState, db: Database) throws {
        let json = try sealState(state, db: db)
        try db.execute(sql: """
            UPDATE record SET type = ?, scope = ?, sealedState = ?, status = ?, deleted = ?, hasConflicts = ?, updatedAt = ?,
              \(Self.keepProvenState) WHERE id = ?
            """, arguments: [state.type, state.scope, json, state.statusColumn, state.isDeleted, state.hasConflicts,
                             DatabaseTime.value(clock()), state.id])
    }
}
