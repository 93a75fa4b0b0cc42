import Foundation
import GRDB
import VeldProtocol

extension LocalStore {
    /// What the server said of this device's token at the last contact (`GET /v1/me`);
    /// nil for a profile that never reached a server.
    public func identity() throws -> DeviceIdentity? {
        try writer.read { db in try self.identity(db) }
    }

    func identity(_ db: Database) throws -> DeviceIdentity? {
        let text: String?
        do {
            text = try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM syncState WHERE key = ?"), arguments: [SyncKey.identity])
        } catch let error as DatabaseError where error.resultCode == .SQLITE_ERROR {
            return nil  // a profile from before sync existed has no sync state at all
        }
        guard let text else { return nil }
        // Every edit asks; decode the same text once.
        if let cached = identityCache.withLock({ $0 }), cached.text == text { return cached.identity }
        let identity = try? StableJSON.decode(DeviceIdentity.self, from: Data(text.utf8))
        identityCache.withLock { $0 = (text, identity) }
        return identity
    }

    /// Takes user, role and scopes from the server's view of the token: a profile's role
    /// is never what a person typed once a server has spoken.
    @discardableResult
    public func adopt(_ identity: DeviceIdentity) throws -> PurgeReceipt? {
        let now = clock()
        var released = 0
        let receipt: PurgeReceipt? = try writer.write { db in
            // Scopes that grew: the server sends a pull only what changed after the cursor,
            // so the records already in a new scope come only with a pull from the start
            // (merging them again is harmless).
            let before = try self.identity(db)
            // Another role may read other types: those come only with a pull from the start too.
            if Self.widens(from: before?.scopes, to: identity.scopes) || (before.map { $0.role != identity.role } ?? false) {
                try Self.pullFromTheStart(db)
            }
            try Self.set(SyncKey.identity, String(decoding: try StableJSON.encode(identity), as: UTF8.self), db)
            try db.execute(sql: "UPDATE profile SET user = ?, role = ?", arguments: [identity.user, identity.role.rawValue])
            // The office confirmed receipts: what was kept for them goes.
            released = try Self.release(confirmed: Array((identity.confirmedReceipts ?? []).prefix(100)), db: db)
            // Scopes that shrank: the records of the scopes the token lost leave this device.
            // (A record in a scope the token never held is this device's own mistake: its
            // push is refused and it is set aside, as before.)
            guard let before else { return nil }
            return try self.purge(lost: before.scopes, keeping: identity.scopes, clock: now, db: db)
        }
        if receipt != nil || released > 0 { compact() }
        return receipt
    }

    /// Whether `new` lets the device read something `old` did not (unknown before: yes).
    static func widens(from old: [String]?, to new: [String]) -> Bool {
        guard let old else { return true }
        if old.contains("*") { return false }
        return new.contains("*") || !Set(new).isSubset(of: Set(old))
    }

    /// Runs the server's push policy on a local edit, against the state the device held
    /// before it (and, for a goal, the care plan it points at), under the module set the
    /// edit was just checked against.
    func checkPolicy(_ state: RecordState, before: RecordState?, schemas: SchemaSet, profile: Profile, db: Database) throws {
        let scopes = try identity(db)?.scopeFilter ?? .all
        let pusher = Pusher(tokenID: "local", user: profile.user, role: profile.role, scopes: scopes)
        var stored: [String: RecordState] = [:]
        if let before { stored[state.id] = before }
        if let parentField = schemas.named(state.type)?.parentField {
            let parents = state.entries(of: parentField).compactMap { entry -> String? in
                if case .string(let id) = entry.value { return id }
                return nil
            }
            for (id, parent) in try storedStates(ids: parents, db: db) { stored[id] = parent }
        }
        let request = PushRequest(replica: profile.replicaID, batch: "00000000-0000-0000-0000-000000000000", records: [state])
        do {
            // The schema was checked just before (with errors that name the input).
            let checked = try PushPolicy.check(request, by: pusher, in: schemas, schemaValidated: true)
            try PushPolicy.judge(checked, inputs: PushPolicy.Inputs(stored: stored))
        } catch {
            let reasons = error.records?.map(\.reason) ?? []
            throw LocalStoreError(.refusedByPolicy(reasons.isEmpty ? error.detail : reasons.joined(separator: "; ")), home: home)
        }
    }
}
