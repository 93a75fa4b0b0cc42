import Foundation
import GRDB
import VeldProtocol

/// Removing data on the office's word: a wipe (the token revoked with `--wipe`: a lost
/// device) and a scope removal (the token no longer holds a scope). Either way the device
/// reports what it removed (a `PurgeReceipt`), and a receipt that could not be sent waits
/// in the profile until the next sync sends it.
extension LocalStore {
    enum PurgeKey {
        static let pendingReceipts = "pendingReceipts"
        static let wipedAt = "wipedAt"
    }

    /// Receipts not yet acknowledged by the server, oldest first.
    public func pendingReceipts() throws -> [PurgeReceipt] {
        try writer.read { db in try Self.pendingReceipts(db) }
    }

    static func pendingReceipts(_ db: Database) throws -> [PurgeReceipt] {
        guard let text = try String.fetchOne(db, sql: "SELECT value FROM syncState WHERE key = ?", arguments: [PurgeKey.pendingReceipts])
        else { return [] }
        return try StableJSON.decode([PurgeReceipt].self, from: Data(text.utf8))
    }

    static func setPendingReceipts(_ receipts: [PurgeReceipt], _ db: Database) throws {
        if receipts.isEmpty {
            try db.execute(sql: "DELETE FROM syncState WHERE key = ?", arguments: [PurgeKey.pendingReceipts])
        } else {
            try set(PurgeKey.pendingReceipts, String(decoding: try StableJSON.encode(receipts), as: UTF8.self), db)
        }
    }

    /// The server has the receipt: it no longer waits.
    func receiptSent(_ id: String) throws {
        try writer.write { db in try Self.setPendingReceipts(try Self.pendingReceipts(db).filter { $0.id != id }, db) }
    }

    /// When this profile was wiped, or nil.
    public func wipedAt() throws -> Date? {
        try writer.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM syncState WHERE key = ?", arguments: [PurgeKey.wipedAt])
                .flatMap(Double.init).map(Date.init(timeIntervalSince1970:))
        }
    }

    /// Erases every record, outbox entry (changes not yet sent go too: the token can no
    /// longer send them) and discarded change, in one transaction with the receipt that
    /// reports it; nil when this profile was wiped before. Only the profile, the server's
    /// address and the token stay, to send the receipt.
    func wipe() throws -> PurgeReceipt? {
        let receipt: PurgeReceipt? = try writer.write { db in
            guard try String.fetchOne(db, sql: "SELECT value FROM syncState WHERE key = ?", arguments: [PurgeKey.wipedAt]) == nil else {
                return nil
            }
            let records = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM record") ?? 0
            let unsent = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox") ?? 0
            try db.execute(sql: "DELETE FROM outbox")
            try db.execute(sql: "DELETE FROM discarded")
            try db.execute(sql: "DELETE FROM record")
            try Self.pullFromTheStart(db)
            try Self.set(PurgeKey.wipedAt, String(self.clock().timeIntervalSince1970), db)
            let receipt = PurgeReceipt(kind: .wipe, records: records, unsent: unsent)
            try Self.setPendingReceipts(try Self.pendingReceipts(db) + [receipt], db)
            return receipt
        }
        compact()
        return receipt
    }

    /// Drops the changes kept in the discard log for receipts the office confirmed, in the
    /// caller's transaction; returns how many went.
    static func release(confirmed receipts: [String], db: Database) throws -> Int {
        guard !receipts.isEmpty else { return 0 }
        try db.execute(sql: "DELETE FROM discarded WHERE receipt IN (\(databaseQuestionMarks(count: receipts.count)))",
                       arguments: StatementArguments(receipts))
        return db.changesCount
    }

    /// Removes the records of the scopes in `lost` (the token's scopes before; `*`: all)
    /// that `scopes` no longer covers, in the caller's transaction:
    /// a local change not yet sent moves to the discard log first (the office decides
    /// about it; `veld rejected --discarded` shows it), so nothing is lost silently. Returns the
    /// receipt, or nil when nothing was outside.
    func purge(lost before: [String], keeping scopes: [String], clock: Date, db: Database) throws -> PurgeReceipt? {
        guard !scopes.contains("*") else { return nil }
        let allowed = Set(scopes), held = Set(before)
        let outside = try Row.fetchAll(db, sql: "SELECT id, type, scope, sealedState FROM record").filter { row in
            let scope: String = row["scope"]
            return !allowed.contains(scope) && (held.contains("*") || held.contains(scope))
        }
        guard !outside.isEmpty else { return nil }
        let receiptID = RecordIDs.make()
        let unsent = try remove(outside, receipt: receiptID, clock: clock, db: db) { row in
            Problem(type: .scopeForbidden, status: 403,
                    detail: "the office removed scope \(row["scope"] as String) from this device's token before this change was sent")
        }
        let removed = Set(outside.map { $0["scope"] as String }).sorted()
        let receipt = PurgeReceipt(id: receiptID, kind: .scopes, scopes: removed, records: outside.count, unsent: unsent)
        try Self.setPendingReceipts(try Self.pendingReceipts(db) + [receipt], db)
        return receipt
    }

    /// Removes the records of the types this profile's role may not read in the module set
    /// it keeps (a token of another role, or a set that keeps a type from the role, as
    /// veld-core 2 does care plans from visitors), the way a scope removal does: a change
    /// not yet sent moves to the discard log first, and a receipt reports what went.
    /// Nil when the profile holds none.
    public func purgeUnreadableTypes() throws -> PurgeReceipt? {
        let receipt: PurgeReceipt? = try writer.write { db in
            let role = try self.profile(db).role
            let hidden = try self.schemaSet(db).hiddenTypes(for: role).sorted()
            guard !hidden.isEmpty else { return nil }
            let rows = try Row.fetchAll(db, sql: "SELECT id, type, scope, sealedState FROM record WHERE type IN (\(databaseQuestionMarks(count: hidden.count)))",
                                        arguments: StatementArguments(hidden))
            guard !rows.isEmpty else { return nil }
            let receiptID = RecordIDs.make()
            let unsent = try self.remove(rows, receipt: receiptID, clock: self.clock(), db: db) { row in
                Problem(type: .typeForbidden, status: 403,
                        detail: "the \(role.rawValue) role may not read or write \(row["type"] as String) records; this change was not sent")
            }
            let types = Set(rows.map { $0["type"] as String }).sorted()
            let receipt = PurgeReceipt(id: receiptID, kind: .types, types: types, records: rows.count, unsent: unsent)
            try Self.setPendingReceipts(try Self.pendingReceipts(db) + [receipt], db)
            return receipt
        }
        if receipt != nil { compact() }
        return receipt
    }

    /// Removes `rows` (id, type, scope, sealedState of records) in the caller's transaction;
    /// a record with a change not yet sent goes to the discard log first, under `receipt`
    /// with the problem `why` gives. Returns how many had such a change.
    private func remove(_ rows: [Row], receipt: String, clock: Date, db: Database, why: (Row) -> Problem) throws -> Int {
        var unsent = 0
        for row in rows {
            let id: String = row["id"]
            if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM outbox WHERE recordID = ?)", arguments: [id]) == true {
                unsent += 1
                // The state moves as it is: it is sealed for this record.
                try db.execute(sql: "INSERT INTO discarded (recordID, type, sealedState, sealedProblem, discardedAt, receipt) VALUES (?, ?, ?, ?, ?, ?)",
                               arguments: [id, row["type"], row["sealedState"] as Data, try sealProblem(why(row), id: id, db: db), clock, receipt])
            }
            try db.execute(sql: "DELETE FROM outbox WHERE recordID = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM record WHERE id = ?", arguments: [id])
        }
        return unsent
    }
}
