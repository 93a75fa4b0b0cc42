import Foundation
import GRDB
import VeldProtocol

/// Which records to list.
public struct RecordQuery: Sendable {
    public var type: String?
    public var scope: String?
    public var status: String?
    public var onlyConflicts = false
    public var includeDeleted = false

    public init(type: String? = nil, scope: String? = nil, status: String? = nil,
                onlyConflicts: Bool = false, includeDeleted: Bool = false) {
        self.type = type
        self.scope = scope
        self.status = status
        self.onlyConflicts = onlyConflicts
        self.includeDeleted = includeDeleted
    }
}

/// A record waiting in the outbox to be pushed.
public struct OutboxEntry: Hashable, Sendable {
    public var recordID: String
    /// The record's counter for this replica after its latest local edit.
    public var counter: UInt64
    public var queuedAt: Date
    /// Whether the server refused this change and it waits for a fix (`veld rejected`).
    public var isParked: Bool = false
}

/// The numbers `veld status` shows.
public struct StoreStatus: Sendable {
    public var profile: Profile
    public var recordsByType: [String: Int]
    public var deleted: Int
    public var pending: Int
    public var conflicts: Int
    /// Changes the server refused, set aside (`veld rejected`); counted in `pending` too.
    public var parked: Int = 0
    /// The token as the server last described it; nil before the first contact.
    public var identity: DeviceIdentity?
}

extension LocalStore {
    // MARK: Local edits

    /// Creates a record of `type` in `scope` with `fields`, validated against its schema
    /// and this profile's role. For a type whose scope comes from its parent (a goal),
    /// pass `scope: nil`; the parent must be on this device.
    @discardableResult
    public func create(type: String, scope: String?, fields: [String: FieldValue],
                       id: String = RecordIDs.make()) throws -> RecordState {
        let profile = try profile()
        guard let schema = try schemaSet().named(type), schema.type == type else {
            throw invalid(ValidationError(recordID: "(new)", type: type, problem: .unknownType(known: self.knownTypes)))
        }
        guard RecordIDs.isValid(id), try writer.read({ db in try RecordRow.exists(db, key: id) }) == false else {
            throw invalid(ValidationError(recordID: id, type: type, problem: .invalidID))
        }
        let changes = fields.filter { !$0.value.isNull }
        do {
            return try createValidated(schema: schema, id: id, scope: scope, changes: changes, profile: profile)
        } catch let error as LocalStoreError {
            guard case .invalid(let problems) = error.kind else { throw error }
            // The id was never written: say "(new)" rather than name a record nobody will find.
            throw invalid(problems.map {
                ValidationError(recordID: $0.recordID == id ? "(new)" : $0.recordID, type: $0.type, field: $0.field, problem: $0.problem)
            })
        }
    }

    private func createValidated(schema: RecordSchema, id: String, scope: String?, changes: [String: FieldValue],
                                 profile: Profile) throws -> RecordState {
        let type = schema.type
        return try writer.write { db in
            let scope = try self.scope(for: schema, given: scope, fields: changes, db: db, newID: id)
            var state = RecordState(id: id, type: type, scope: scope)
            let problems = schema.validateChanges(changes, role: profile.role, recordID: id)
            guard problems.isEmpty else { throw self.invalid(problems) }
            state.edit(changes, replica: profile.replicaID, author: profile.user, time: clock())
            try self.saveLocalEdit(state, before: nil, schemas: self.schemaSet(db), schema: schema, profile: profile, db: db)
            return state
        }
    }

    /// Edits fields of an existing record. An empty value (`.null`) clears a field.
    /// The edit supersedes every value of those fields this device holds, so editing a
    /// field in conflict resolves it.
    @discardableResult
    public func edit(id: String, changes: [String: FieldValue]) throws -> RecordState {
        try writer.write { db in
            try self.edit(id: id, changes: changes, profile: self.profile(db), db: db)
        }
    }

    /// Several edits in one transaction: all are kept, or (if one is refused) none. For
    /// capture that arrives in bursts (an import, a form saved field by field), this
    /// saves one disk flush per edit.
    @discardableResult
    public func edit(_ batch: [(id: String, changes: [String: FieldValue])]) throws -> [RecordState] {
        try writer.write { db in
            let profile = try self.profile(db)
            return try batch.map { try self.edit(id: $0.id, changes: $0.changes, profile: profile, db: db) }
        }
    }

    private func edit(id: String, changes: [String: FieldValue], profile: Profile, db: Database) throws -> RecordState {
        var state = try existing(id, db: db)
        try ensureCounterRoom(state, replica: profile.replicaID)
        let schemas = try schemaSet(db)
        guard let schema = schemas.named(state.type), schema.type == state.type else {
            throw invalid(ValidationError(recordID: state.id, type: state.type, problem: .unknownType(known: self.knownTypes)))
        }
        var problems = schema.validateChanges(changes, role: profile.role, recordID: state.id)
        for (name, value) in changes.sorted(by: { $0.key < $1.key }) {
            guard let field = schema.field(name) else { continue }
            for held in state.entries(of: name) where held.value != value && !field.permits(profile.role, toReplace: held.value) {
                problems.append(ValidationError(recordID: state.id, type: state.type, field: name,
                                                problem: .notPermitted(role: profile.role, value: held.value.description)))
            }
        }
        guard problems.isEmpty else { throw invalid(problems) }
        if let parent = schema.parentField, changes[parent] != nil {
            throw invalid(ValidationError(recordID: state.id, type: state.type, field: parent,
                                          problem: .wrongShape(expected: "the parent it was created under (a record's scope is fixed)", got: "a new parent")))
        }
        let before = state
        state.edit(changes, replica: profile.replicaID, author: profile.user, time: clock())
        try saveLocalEdit(state, before: before, schemas: schemas, schema: schema, profile: profile, db: db)
        return state
    }

    /// Deletes a record: an edit that sets `deleted` and re-asserts every other field,
    /// so an edit made elsewhere concurrently stays visible as a conflict.
    @discardableResult
    public func delete(id: String) throws -> RecordState {
        try writer.write { db in
            let profile = try self.profile(db)
            var state = try self.existing(id, db: db)
            try self.ensureCounterRoom(state, replica: profile.replicaID)
            let schemas = try self.schemaSet(db)
            guard let schema = schemas.named(state.type), schema.type == state.type else {
                throw self.invalid(ValidationError(recordID: state.id, type: state.type, problem: .unknownType(known: self.knownTypes)))
            }
            if state.isDeleted && !state.hasConflicts { throw LocalStoreError(.recordDeleted(state.id), home: self.home) }
            // Re-assert only what this role may write and replace (the push policy's rule):
            // an office decision stays the office's, through a delete too.
            let before = state
            state.delete(allFields: schema.reassertedByDelete(of: state, role: profile.role), replica: profile.replicaID,
                         author: profile.user, time: clock())
            try self.saveLocalEdit(state, before: before, schemas: schemas, schema: schema, profile: profile, db: db)
            return state
        }
    }

    /// Creates a record from what a person typed, field by field (see ``FieldInput``).
    /// References may be given as a unique id prefix.
    @discardableResult
    public func create(type: String, scope: String?, input: [String: String]) throws -> RecordState {
        guard let schema = try schemaSet().named(type), schema.type == type else {
            throw invalid(ValidationError(recordID: "(new)", type: type, problem: .unknownType(known: self.knownTypes)))
        }
        return try create(type: type, scope: scope, fields: parse(input, schema: schema, recordID: "(new)"))
    }

    /// Edits fields of a record from what a person typed; an empty value clears a field.
    @discardableResult
    public func edit(id: String, input: [String: String]) throws -> RecordState {
        let state = try record(id)
        guard let schema = try schemaSet().named(state.type), schema.type == state.type else {
            throw invalid(ValidationError(recordID: state.id, type: state.type, problem: .unknownType(known: self.knownTypes)))
        }
        return try edit(id: state.id, changes: parse(input, schema: schema, recordID: state.id))
    }

    private func parse(_ input: [String: String], schema: RecordSchema, recordID: String) throws -> [String: FieldValue] {
        var values: [String: FieldValue] = [:]
        var problems: [ValidationError] = []
        for (name, text) in input.sorted(by: { $0.key < $1.key }) {
            guard let field = schema.field(name) else {
                problems.append(ValidationError(recordID: recordID, type: schema.type, field: name,
                                                problem: .unknownField(allowed: schema.fieldNames)))
                continue
            }
            do {
                values[name] = try FieldInput.parse(text, for: field, recordID: recordID, type: schema.type) { prefix in
                    try self.record(prefix).id
                }
            } catch let error as ValidationError {
                problems.append(error)
            }
        }
        guard problems.isEmpty else { throw invalid(problems) }
        return values
    }

    // MARK: Reading

    /// The record with `idOrPrefix` (a full id, or a unique prefix of at least 4 characters).
    public func record(_ idOrPrefix: String) throws -> RecordState {
        try writer.read { db in try self.existing(idOrPrefix, db: db) }
    }

    public func records(_ query: RecordQuery = RecordQuery()) throws -> [RecordState] {
        try writer.read { db in
            var request = RecordRow.all()
            if let type = query.type { request = request.filter(RecordRow.Columns.type == type) }
            if let scope = query.scope { request = request.filter(RecordRow.Columns.scope == scope) }
            if let status = query.status { request = request.filter(RecordRow.Columns.status == status) }
            if query.onlyConflicts { request = request.filter(RecordRow.Columns.hasConflicts == true) }
            if !query.includeDeleted && !query.onlyConflicts { request = request.filter(RecordRow.Columns.deleted == false) }
            return try request.order(RecordRow.Columns.createdAt, Column.rowID).fetchAll(db).map { try self.openState($0.sealedState, id: $0.id) }
        }
    }

    /// Records edited here since the server last acknowledged them, oldest first.
    public func outbox() throws -> [OutboxEntry] {
        try writer.read { db in
            try OutboxRow.order(Column("queuedAt"), Column("recordID")).fetchAll(db).map {
                OutboxEntry(recordID: $0.recordID, counter: $0.counter, queuedAt: $0.queuedAt, isParked: $0.parkedProblem != nil)
            }
        }
    }

    public func status() throws -> StoreStatus {
        let profile = try profile()
        return try writer.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT type, COUNT(*) AS n FROM record WHERE NOT deleted GROUP BY type")
            var byType: [String: Int] = [:]
            for row in rows { byType[row["type"]] = row["n"] }
            return StoreStatus(
                profile: profile,
                recordsByType: byType,
                deleted: try RecordRow.filter(RecordRow.Columns.deleted == true).fetchCount(db),
                pending: try OutboxRow.fetchCount(db),
                conflicts: try RecordRow.filter(RecordRow.Columns.hasConflicts == true).fetchCount(db),
                parked: try OutboxRow.filter(Column("parkedProblem") != nil).fetchCount(db),
                identity: try self.identity(db)
            )
        }
    }

    /// What this device says of itself with every request (`Veld-Device`): its unsent
    /// changes, the oldest of them, and the records it holds. No client data.
    /// `records` given: that count instead of counting the store again (a caller that
    /// reports many times a second counts the records once a second).
    public func health(app: String = VeldCoreInfo.version, records known: Int? = nil) throws -> DeviceHealth {
        try writer.read { db in
            let oldest = try Date.fetchOne(db, sql: "SELECT MIN(queuedAt) FROM outbox")
            let records = try known ?? RecordRow.filter(RecordRow.Columns.deleted == false).fetchCount(db)
            return DeviceHealth(app: app, outbox: try OutboxRow.fetchCount(db), oldest: oldest, records: records)
        }
    }

    /// What a transport asks before each request (`HTTPTransport(health:)`): the outbox
    /// every time, the records counted at most once a second (a first sync's pages need not
    /// count the store each time).
    public func healthReports(app: String = VeldCoreInfo.version) -> @Sendable () -> DeviceHealth? {
        let cache = HealthCache()
        return { [self] in cache.value { known in try? self.health(app: app, records: known) } }
    }

    // MARK: Private

    /// The stored state of `id` (exactly that id), or nil: one cached statement, as every
    /// edit reads its record, and a goal's edit its care plan.
    func storedState(_ id: String, db: Database) throws -> RecordState? {
        try Data.fetchOne(db.cachedStatement(sql: "SELECT sealedState FROM record WHERE id = ?"), arguments: [id])
            .map { try openState($0, id: id) }
    }

    func existing(_ idOrPrefix: String, db: Database) throws -> RecordState {
        let key = idOrPrefix.lowercased()
        if let state = try storedState(key, db: db) { return state }
        guard key.count >= 4, key.allSatisfy({ $0.isHexDigit || $0 == "-" }) else {
            throw LocalStoreError(.recordNotFound(idOrPrefix), home: home)
        }
        let matches = try RecordRow.filter(RecordRow.Columns.id.like("\(key)%")).limit(4).fetchAll(db)
        switch matches.count {
        case 0: throw LocalStoreError(.recordNotFound(idOrPrefix), home: home)
        case 1: return try openState(matches[0].sealedState, id: matches[0].id)
        default: throw LocalStoreError(.ambiguousID(idOrPrefix, matches: matches.map(\.id)), home: home)
        }
    }

    private func scope(for schema: RecordSchema, given: String?, fields: [String: FieldValue],
                       db: Database, newID: String) throws -> String {
        if case .inheritedFrom(let field) = schema.scopeRule {
            guard case .string(let parentID)? = fields[field] else {
                throw invalid(ValidationError(recordID: newID, type: schema.type, field: field, problem: .missingRequired))
            }
            let parent = try existing(parentID, db: db)
            if parent.isDeleted { throw LocalStoreError(.recordDeleted(parent.id), home: home) }
            if case .reference(let parentType) = schema.field(field)?.kind, parent.type != parentType {
                throw LocalStoreError(.wrongType(id: parent.id, expected: parentType, actual: parent.type), home: home)
            }
            if let given, given != parent.scope {
                throw invalid(ValidationError(recordID: newID, type: schema.type,
                                              problem: .invalidScope(given, expected: "the scope of its \(field), \(parent.scope)")))
            }
            return parent.scope
        }
        guard let given else {
            throw invalid(ValidationError(recordID: newID, type: schema.type,
                                          problem: .invalidScope("", expected: schema.scopeProblem("") ?? "a scope")))
        }
        if let expected = schema.scopeProblem(given) {
            throw invalid(ValidationError(recordID: "(new)", type: schema.type, problem: .invalidScope(given, expected: expected)))
        }
        return given
    }

    /// Writes the state and its outbox entry; the caller's transaction makes them one.
    /// An entry already queued keeps its `queuedAt` and takes the new counter.
    /// Writes a local edit and its outbox entry, after the push policy (the one the server
    /// runs) has accepted it against the state the device held before: with the role,
    /// user and scopes of the token (`GET /v1/me`), so a device cannot build an outbox its
    /// own server must refuse, short of the office changing the token afterwards.
    private func saveLocalEdit(_ state: RecordState, before: RecordState?, schemas: SchemaSet, schema: RecordSchema,
                               profile: Profile, db: Database) throws {
        let problems: [ValidationError]
        if let before {
            // A field this edit wrote nothing new into holds what came from elsewhere: a
            // field, a value or an absence of a newer module set than this device's. It is
            // kept as it is and never refused here; the server judges it by its own set.
            // So only the fields with a value new to them are checked (a field the edit
            // left alone shares its entries with `before`, and compares at once).
            let fresh = state.fields.filter { field, entries in
                let held = before.entries(of: field)
                if entries == held { return false }
                let values = Set(held.map(\.value))
                return !entries.allSatisfy { values.contains($0.value) }
            }
            let written = RecordState(id: state.id, type: state.type, scope: state.scope, context: state.context, fields: fresh)
            problems = schema.validate(written, partial: true)
                + schema.missingRequired(in: state).filter { $0.field.map { fresh[$0] != nil } ?? true }
        } else {
            problems = schema.validate(state)
        }
        guard problems.isEmpty else { throw invalid(problems) }
        try checkPolicy(state, before: before, schemas: schemas, profile: profile, db: db)
        let isNew = before == nil
        let replica = profile.replicaID
        let now = DatabaseTime.value(clock())
        let json = try sealState(state, db: db)
        if isNew {
            try db.cachedStatement(sql: """
                INSERT INTO record (id, type, scope, sealedState, status, deleted, hasConflicts, createdAt, updatedAt)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [state.id, state.type, state.scope, json, state.statusColumn, state.isDeleted,
                                         state.hasConflicts, now, now])
        } else {
            // Type and scope never change; the indexed columns are written only when they
            // change (most edits change none), so their index pages stay as they are.
            try db.cachedStatement(sql: """
                UPDATE record SET sealedState = ?, updatedAt = ?, \(Self.keepProvenState) WHERE id = ?
                """).execute(arguments: [json, now, state.id])
            try db.cachedStatement(sql: """
                UPDATE record SET status = ?1, deleted = ?2, hasConflicts = ?3
                WHERE id = ?4 AND (status IS NOT ?1 OR deleted IS NOT ?2 OR hasConflicts IS NOT ?3)
                """).execute(arguments: [state.statusColumn, state.isDeleted, state.hasConflicts, state.id])
        }
        try faults.afterRecordWrite?()
        // An edit of a record the server refused is the fix: it goes with the next sync.
        try db.cachedStatement(sql: """
            INSERT INTO outbox (recordID, counter, queuedAt) VALUES (?, ?, ?)
            ON CONFLICT (recordID) DO UPDATE SET counter = excluded.counter, parkedProblem = NULL, parkedAt = NULL
            """).execute(arguments: [state.id, state.context[replica], now])
    }

    /// A record whose counter for this device is at the protocol's limit takes no more
    /// edits here (checked before the counter is taken, so it never overflows).
    func ensureCounterRoom(_ state: RecordState, replica: String) throws {
        if state.context[replica] >= SyncLimits.maxCounter {
            throw LocalStoreError(.refusedByPolicy("record \(state.id) has used up this device's edit counter (2^53 - 1); make a new record"), home: home)
        }
    }

    func invalid(_ errors: ValidationError...) -> LocalStoreError { invalid(errors) }
    /// The types of the set last read, for an "unknown type" refusal.
    var knownTypes: [String] { (schemaCache.withLock { $0?.set } ?? .builtIn).schemas.map(\.type) }

    /// The refusal of an edit, naming the module that defines the type (from the set the
    /// edit was just checked against).
    func invalid(_ errors: [ValidationError]) -> LocalStoreError {
        let set = schemaCache.withLock { $0?.set } ?? .builtIn
        let module = errors.first.flatMap { set.module(defining: $0.type) }.map { "module \($0.module) version \($0.version)" }
        return LocalStoreError(.invalid(errors), home: home, module: module)
    }
}

extension RecordSchema {
    /// The reference field a record of this type takes its scope from, if any.
    public var parentField: String? {
        if case .inheritedFrom(let field) = scopeRule { return field }
        return nil
    }
}

/// What merging states from elsewhere changed.
public struct MergeSummary: Hashable, Sendable {
    /// Records that were new here or whose state changed.
    public var changed = 0
    /// Records that have a conflict after the merge and had none before.
    public var newConflicts = 0
    /// Records removed because the office erased them.
    public var erased = 0
}

extension LocalStore {
    /// Merges states received from elsewhere (a pulled page) in one transaction: all or
    /// nothing. Outbox entries stay as they are: a record edited here is still pushed,
    /// now carrying what it merged.
    @discardableResult
    public func merge(remote states: [RecordState]) throws -> MergeSummary {
        try writer.write { db in try self.mergeRemote(states, db: db) }
    }

    /// `encoded`, when given, holds each incoming state's JSON as received (same order):
    /// a record new here is stored as those bytes, since there is nothing to merge.
    /// `proofs` (one per state, when the server gave them) keep the proven states right
    /// (see `LocalStore+Epochs`); a recovery entry of a record whose state the server turns
    /// out to hold whole goes.
    /// `stored`: states of some of the records already read in this transaction (not read again).
    func mergeRemote(_ states: [RecordState], encoded: [String]? = nil, proofs: [String]? = nil, stored known: [String: RecordState] = [:],
                     db: Database) throws -> MergeSummary {
        var summary = MergeSummary()
        let now = DatabaseTime.value(clock())
        var present = known.isEmpty ? try storedStates(ids: states.map(\.id), db: db)
            : try storedStates(ids: states.map(\.id).filter { known[$0] == nil }, db: db).merging(known) { read, _ in read }
        var held: [String: (proof: String?, provenState: Data?)] = [:]
        if proofs != nil, !present.isEmpty {
            let ids = Array(present.keys)
            for start in stride(from: 0, to: ids.count, by: 500) {
                let chunk = Array(ids[start..<min(start + 500, ids.count)])
                for row in try Row.fetchAll(db, sql: "SELECT id, proof, provenState FROM record WHERE id IN (\(databaseQuestionMarks(count: chunk.count)))",
                                            arguments: StatementArguments(chunk)) {
                    held[row[0]] = (row[1], row[2])
                }
            }
        }
        let insert = try db.cachedStatement(sql: """
            INSERT INTO record (id, type, scope, sealedState, status, deleted, hasConflicts, createdAt, updatedAt, proof)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let update = try db.cachedStatement(sql: """
            UPDATE record SET type = ?, scope = ?, sealedState = ?, status = ?, deleted = ?, hasConflicts = ?, updatedAt = ?,
              \(Self.keepProvenState) WHERE id = ?
            """)
        let updateProven = try db.cachedStatement(sql: """
            UPDATE record SET type = ?, scope = ?, sealedState = ?, status = ?, deleted = ?, hasConflicts = ?, updatedAt = ?,
              proof = ?, provenState = ? WHERE id = ?
            """)
        let setProven = try db.cachedStatement(sql: "UPDATE record SET proof = ?, provenState = ? WHERE id = ?")
        let recovered = try db.cachedStatement(sql: "DELETE FROM outbox WHERE recordID = ? AND recovery = 1")
        for (index, incoming) in states.enumerated() {
            let proof = proofs?[index]
            if let local = present[incoming.id] {
                let merged: RecordState
                do { merged = try local.merged(with: incoming) } catch {
                    throw LocalStoreError(.refusedState("\(error)"), home: home)
                }
                // The server holds all of this record: nothing to send back after a restore.
                if merged == incoming { try recovered.execute(arguments: [incoming.id]) }
                var proven: (proof: String?, provenState: Data?)?
                if let proof {
                    let before = held[incoming.id] ?? (nil, nil)
                    let after = try provenAfterPull(local: local, merged: merged, incoming: incoming, proof: proof, held: before, db: db)
                    if after.proof != before.proof || after.provenState != before.provenState { proven = after }
                }
                guard merged != local else {
                    if let proven { try setProven.execute(arguments: [proven.proof, proven.provenState, incoming.id]) }
                    continue
                }
                if merged.hasConflicts && !local.hasConflicts { summary.newConflicts += 1 }
                let json = try sealState(merged, db: db)
                if let proven {
                    try updateProven.execute(arguments: [merged.type, merged.scope, json, merged.statusColumn, merged.isDeleted,
                                                         merged.hasConflicts, now, proven.proof, proven.provenState, merged.id])
                } else {
                    try update.execute(arguments: [merged.type, merged.scope, json, merged.statusColumn, merged.isDeleted,
                                                   merged.hasConflicts, now, merged.id])
                }
                present[incoming.id] = merged
            } else {
                if incoming.hasConflicts { summary.newConflicts += 1 }
                let json = try encoded.flatMap { index < $0.count ? try seal($0[index], .state(incoming.id), db: db) : nil }
                    ?? sealState(incoming, db: db)
                try insert.execute(arguments: [incoming.id, incoming.type, incoming.scope, json, incoming.statusColumn,
                                               incoming.isDeleted, incoming.hasConflicts, now, now, proof])
                present[incoming.id] = incoming
            }
            summary.changed += 1
        }
        return summary
    }

    /// The stored states among `ids`, in as few queries as SQLite's variable limit allows;
    /// `onlyQueued` keeps those with an outbox entry.
    func storedStates(ids: [String], onlyQueued: Bool = false, db: Database) throws -> [String: RecordState] {
        var present: [String: RecordState] = [:]
        if ids.count == 1, !onlyQueued {
            present[ids[0]] = try storedState(ids[0], db: db)
            return present
        }
        let join = onlyQueued ? " JOIN outbox ON outbox.recordID = record.id" : ""
        for start in stride(from: 0, to: ids.count, by: 500) {
            let chunk = Array(ids[start..<min(start + 500, ids.count)])
            let rows = try Row.fetchCursor(db, sql: """
                SELECT record.id, record.sealedState FROM record\(join) WHERE record.id IN (\(databaseQuestionMarks(count: chunk.count)))
                """, arguments: StatementArguments(chunk))
            while let row = try rows.next() {
                let id: String = row[0]
                present[id] = try openState(row[1], id: id)
            }
        }
        return present
    }
}

/// The records a device holds, counted at most once a second for its health reports.
final class HealthCache: @unchecked Sendable {
    private let lock = NSLock()
    private var counted: (at: Date, records: Int)?

    func value(_ make: (_ knownRecords: Int?) -> DeviceHealth?) -> DeviceHealth? {
        lock.withLock {
            let known = counted.flatMap { Date().timeIntervalSince($0.at) < 1 ? $0.records : nil }
            guard let health = make(known) else { return nil }
            if known == nil { counted = (Date(), health.records) }
            return health
        }
    }
}
