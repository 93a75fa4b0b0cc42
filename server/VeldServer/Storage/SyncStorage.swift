import Foundation
import VeldProtocol

/// Where the server keeps records, the change log, push batches and device tokens.
/// Implementations (embedded SQLite, PostgreSQL) pass one test suite.
///
/// ```swift
/// let storage = try SQLiteSyncStorage(path: "veld-data/veld-server.sqlite")
/// try await storage.migrate()
/// let page = try await storage.pull(scopes: .all, after: 0, limit: 500)
/// ```
public protocol SyncStorage: Sendable {
    /// Brings the schema up to date; safe to run again.
    func migrate() async throws

    /// The server's epoch and the key of its proofs (read once, then kept).
    func identity() async throws -> ServerIdentity
    /// Gives the database a new epoch (after it was restored from a backup) and returns it;
    /// a running server keeps answering under the epoch it started with until restarted.
    /// The database is then a restored one: it takes back proven states for
    /// ``ServerEpoch/recoveryDays`` after it next serves.
    func renewEpoch() async throws -> String
    /// Called when a server starts: a restored database not served since starts its days
    /// of taking back proven states at `date`. Returns the identity as it is now.
    func openRecoveryWindow(at date: Date) async throws -> ServerIdentity

    func insertToken(_ token: DeviceToken, hash: String) async throws
    /// The token with this hash, revoked or not.
    func token(hash: String) async throws -> DeviceToken?
    func tokens() async throws -> [DeviceToken]
    /// Marks the token revoked; false if there is no such token.
    func revokeToken(id: String, at date: Date) async throws -> Bool
    /// Replaces an unrevoked token's secret (its hash) and expiry, keeping its id, user,
    /// role, scopes and replica binding; false if there is no such unrevoked token.
    func rotateToken(id: String, hash: String, at date: Date, expiresAt: Date?) async throws -> Bool
    /// Revokes the token and asks its device to erase its data on its next contact; false
    /// if there is no such token.
    func requestWipe(id: String, at date: Date) async throws -> Bool

    /// Records a device's purge receipt, once per receipt id (false when it was there
    /// already), with a `purge` entry in the access log and, for a wipe, the token's
    /// `wipedAt`, in one transaction.
    func recordReceipt(_ receipt: PurgeReceipt, token: DeviceToken, at date: Date) async throws -> Bool

    /// Every receipt, oldest first.
    func receipts() async throws -> [StoredReceipt]

    /// The office confirms a receipt: the device may drop the unsent changes it kept for
    /// it. A second confirmation keeps the first. Returns the receipt as stored now, nil
    /// when there is no such receipt.
    func confirmReceipt(id: String, by user: String, at date: Date) async throws -> StoredReceipt?

    /// The ids of `token`'s confirmed receipts, latest confirmation first, at most `limit`.
    func confirmedReceipts(token: String, limit: Int) async throws -> [String]

    /// Replaces an unrevoked token's scopes; false if there is no such unrevoked token.
    func updateTokenScopes(id: String, scopes: [String]) async throws -> Bool

    /// Applies a push that passed ``PushPolicy/check(_:by:)`` in one transaction: reads
    /// what ``PushPolicy/decide(_:fingerprint:inputs:)`` needs (an earlier batch with this
    /// id, the token's binding, whether another active token holds the replica, the stored
    /// states of `push.storedIDs`, the last position), lets the policy decide, and persists
    /// its plan: the binding, every changed record at its new position with its history,
    /// and the answer under the batch id. `check` sees the stored states after the policy
    /// accepted and may still refuse (the storage tests use it to refuse on cue); a refusal
    /// leaves no trace. An accepted push (or a replay) appends its access-log entry
    /// (``AccessDraft/push(_:response:token:at:replay:)``) in the same transaction, so a
    /// push is acknowledged only when it is logged; a refused one is logged by the caller.
    func applyPush(_ push: CheckedPush, token: DeviceToken, fingerprint: String, at date: Date,
                   check: @escaping @Sendable (_ stored: [String: RecordState]) throws -> Void) async throws -> PushResponse

    /// Records in `scopes` whose position is after `position`, in position order, each as
    /// the stable JSON it was stored as (no decoding): what `GET /v1/pull` splices into its
    /// answer. Records (and tombstones) of the `hidden` types are skipped: the token's role
    /// may not read them. A pull with a token also notes how far that device got (see
    /// ``flushPendingWrites()``).
    func pullEncoded(scopes: ScopeFilter, hiding hidden: Set<String>, after position: Int64, limit: Int, token: DeviceToken?,
                     at date: Date) async throws -> EncodedPullPage

    /// For each record among `ids` that changed after `position` and had a change at or
    /// before it, the fields whose entries the changes after it touched, from its history
    /// rows: what a pull delta carries (``PullDeltas``). Any other record is left out (one
    /// made after `position` goes whole). It may name more fields than changed (a change
    /// committed since the page was read), never fewer.
    func changedFields(ids: [String], after position: Int64) async throws -> [String: Set<String>]

    func record(id: String) async throws -> RecordState?

    /// Every accepted change of the record, oldest first (append-only; each push writes
    /// its changes in the same transaction as the records).
    func history(recordID: String) async throws -> [RecordChange]

    /// The record's state as it was after the last change accepted at or before `date`:
    /// what the data said on a reference date (peildatum).
    func state(recordID: String, asOf date: Date) async throws -> RecordState?

    // MARK: Access log (NEN 7513)

    /// Appends entries to the access log, in order, each chained to the one before; they
    /// are on disk when this returns.
    func appendAccess(_ drafts: [AccessDraft]) async throws

    /// The newest `query.limit` entries that match, oldest first.
    func accessEntries(_ query: AccessQuery) async throws -> [AccessEntry]

    /// Entries after `seq` in order, each with the record ids the record index holds for
    /// it: what `audit --verify` reads, page by page.
    func accessLogPage(after seq: Int64, limit: Int) async throws -> [(entry: AccessEntry, indexed: [String])]

    /// The last entry's seq and hash as the storage keeps them apart from the entries
    /// (0 and ``AccessChain/genesis`` before the first).
    func accessLogHead() async throws -> (seq: Int64, hash: String)

    /// Removes the entries older than `before` and appends a `prune` entry that says how
    /// many, up to which entry, and that entry's hash (so the chain may start after it).
    func pruneAccessLog(before: Date, at date: Date, by user: String) async throws -> AccessPruneResult

    /// The records that belong to a client: care plans whose `clientCode` is (or was) `code`,
    /// and the records of the `children` types (type → its reference to the plan,
    /// ``ClientRecords/planChildren(in:)``) that belong to those plans.
    func recordIDs(clientCode code: String, children: [String: String]) async throws -> [String]

    // MARK: Erasure (AVG art. 17)

    /// Erases records and their history in one transaction: each becomes a tombstone at
    /// a new change-log position (every device holding it drops it on its next pull; a
    /// push of it is refused with `410 record-erased`), its history rows are deleted, and
    /// `entry` (naming the erased records) is appended to the access log. Records already
    /// erased or never stored are skipped. Their states and late arrivals leave every
    /// snapshot too (the snapshot's record count keeps what it froze). SQLite overwrites the freed space
    /// (secure_delete) and empties its WAL; PostgreSQL's VACUUM makes the dead rows' space
    /// reusable, but does not overwrite it, nor its own WAL or backups.
    func erase(recordIDs: [String], at date: Date, entry: AccessDraft) async throws -> ErasureResult

    /// Every care plan with the records of the `children` types that belong to it, its
    /// client codes and when any of them last changed: what `veld-server erase --expired`
    /// weighs against the retention.
    func carePlans(children: [String: String]) async throws -> [CarePlanGroup]

    /// The highest change-log position so far.
    func headPosition() async throws -> Int64

    // MARK: Snapshots (peildatum)

    /// Stores a snapshot with its frozen states and late arrivals, and appends `entry` to
    /// the access log, in one transaction; false (nothing stored) when its name is taken.
    /// Nothing changes a stored snapshot afterwards but an erasure of its records.
    func createSnapshot(_ snapshot: Snapshot, records: [RecordState], late: [LateArrival], entry: AccessDraft) async throws -> Bool

    /// Every snapshot, oldest first.
    func snapshots() async throws -> [Snapshot]

    /// The states a snapshot froze, by record id.
    func snapshotRecords(id: String) async throws -> [RecordState]

    /// The late arrivals a snapshot froze with it.
    func snapshotLate(id: String) async throws -> [LateArrival]

    // MARK: Modules

    /// Every module version added with `veld-server schema add`, in the order added.
    func storedModules() async throws -> [StoredModule]

    /// Stores a module version in one transaction that no other module change runs
    /// beside, after `check` accepted it against the modules stored then (it throws to
    /// refuse; nothing is stored).
    func addModule(_ module: StoredModule,
                   check: @escaping @Sendable (_ stored: [StoredModule]) throws -> Void) async throws

    /// Writes what the store keeps in memory for a moment (each device's last pull and
    /// cursor); the server calls it when it shuts down. Safe to call at any time.
    func flushPendingWrites() async

    /// The database's size in bytes (SQLite: its file and WAL; PostgreSQL: the database's).
    func databaseSize() async throws -> Int64

    /// Notes what a device said of itself (`Veld-Device`); written with the pull marks, in
    /// the background (``flushPendingWrites()``).
    func noteDeviceHealth(token: String, health: DeviceHealth, at date: Date)
}

extension SyncStorage {
    /// ``recordIDs(clientCode:children:)`` with the built-in module set's plan children.
    public func recordIDs(clientCode code: String) async throws -> [String] {
        try await recordIDs(clientCode: code, children: ClientRecords.planChildren(in: .builtIn))
    }

    /// ``carePlans(children:)`` with the built-in module set's plan children.
    public func carePlans() async throws -> [CarePlanGroup] {
        try await carePlans(children: ClientRecords.planChildren(in: .builtIn))
    }

    /// A push through the whole policy: ``PushPolicy/check(_:by:)`` first (it throws the
    /// `Problem`), then ``applyPush(_:token:fingerprint:at:check:)``.
    public func push(_ request: PushRequest, token: DeviceToken, fingerprint: String, at date: Date,
                     validate: @escaping @Sendable (_ stored: [String: RecordState]) throws -> Void = { _ in }) async throws -> PushResponse {
        let checked = try PushPolicy.check(request, by: token.pusher, in: try await ModuleSets.published(self).set,
                                           proofs: try await identity().proofsAccepted(at: date))
        return try await applyPush(checked, token: token, fingerprint: fingerprint, at: date, check: validate)
    }

    /// Records in `scopes` whose position is after `position`, in position order, as stored.
    public func pullEncoded(scopes: ScopeFilter, after position: Int64, limit: Int, token: DeviceToken?, at date: Date) async throws -> EncodedPullPage {
        try await pullEncoded(scopes: scopes, hiding: [], after: position, limit: limit, token: token, at: date)
    }

    /// Records in `scopes` whose position is after `position`, in position order, decoded.
    public func pull(scopes: ScopeFilter, hiding hidden: Set<String> = [], after position: Int64, limit: Int, token: DeviceToken?,
                     at date: Date) async throws -> PullPage {
        let page = try await pullEncoded(scopes: scopes, hiding: hidden, after: position, limit: limit, token: token, at: date)
        return PullPage(records: try page.states.map { try StableJSON.decode(RecordState.self, from: Data($0)) },
                        lastPosition: page.lastPosition, more: page.more)
    }

    public func flushPendingWrites() async {}
}

/// One page of the change log.
public struct PullPage: Hashable, Sendable {
    public var records: [RecordState]
    /// The position of the last record in `records`, or the position asked after.
    public var lastPosition: Int64
    public var more: Bool

    public init(records: [RecordState], lastPosition: Int64, more: Bool) {
        self.records = records
        self.lastPosition = lastPosition
        self.more = more
    }
}

/// One page of the change log as stored: each record's state in stable JSON.
public struct EncodedPullPage: Hashable, Sendable {
    /// Each record's state, its stable JSON as the storage keeps it: bytes, spliced into
    /// the page as they are (making a `String` of each validated every byte again).
    public var states: [[UInt8]]
    /// Each record of `states` by id, type and scope, for the access log, in the form the
    /// log keeps them.
    public var accessRecords: CompactAccessRecords
    /// The same, one by one.
    public var records: [AccessedRecord] { accessRecords.records ?? [] }
    /// Tombstones in the page: records the office erased.
    public var erased: [String] = []
    /// The server's proof of each state in `states`, same order (empty: none given).
    public var proofs: [String] = []
    /// The position of the last record in `states`, or the position asked after.
    public var lastPosition: Int64
    public var more: Bool

    public init(states: [[UInt8]], records: [AccessedRecord], lastPosition: Int64, more: Bool) {
        self.init(states: states, accessRecords: CompactAccessRecords(records), lastPosition: lastPosition, more: more)
    }

    public init(states: [[UInt8]], accessRecords: CompactAccessRecords, lastPosition: Int64, more: Bool) {
        self.states = states
        self.accessRecords = accessRecords
        self.lastPosition = lastPosition
        self.more = more
    }
}

/// One version of a module as the server keeps it: the document exactly as added.
public struct StoredModule: Hashable, Sendable {
    public var name: String
    public var version: Int
    /// The module document, in stable JSON.
    public var document: String
    public var addedAt: Date
    public var addedBy: String

    public init(name: String, version: Int, document: String, addedAt: Date, addedBy: String) {
        self.name = name
        self.version = version
        self.document = document
        self.addedAt = addedAt
        self.addedBy = addedBy
    }
}

/// A purge receipt as the server keeps it.
public struct StoredReceipt: Hashable, Sendable {
    public var receipt: PurgeReceipt
    public var tokenID: String
    public var receivedAt: Date
    /// When and by whom the office confirmed it (`veld-server receipt confirm`).
    public var confirmedAt: Date?
    public var confirmedBy: String?

    public init(receipt: PurgeReceipt, tokenID: String, receivedAt: Date, confirmedAt: Date? = nil, confirmedBy: String? = nil) {
        self.receipt = receipt
        self.tokenID = tokenID
        self.receivedAt = receivedAt
        self.confirmedAt = confirmedAt
        self.confirmedBy = confirmedBy
    }

    /// The receipt's facts for the access log: no record ids (the device removed them
    /// locally; the server does not know which it held).
    static func detail(_ receipt: PurgeReceipt) -> String {
        "\(receipt.kind.rawValue) receipt=\(receipt.id) records=\(receipt.records) unsent=\(receipt.unsent)"
            + (receipt.scopes.isEmpty ? "" : " scopes=" + receipt.scopes.joined(separator: ","))
    }
}

/// What an erasure removed.
public struct ErasureResult: Hashable, Sendable {
    /// The records now tombstones, by id, type and scope.
    public var records: [AccessedRecord]
    /// History rows deleted.
    public var historyRows: Int
    public var entry: AccessEntry?

    public init(records: [AccessedRecord], historyRows: Int, entry: AccessEntry?) {
        self.records = records
        self.historyRows = historyRows
        self.entry = entry
    }
}

/// A care plan, its goals, and when any of them last changed.
public struct CarePlanGroup: Hashable, Sendable {
    public var planID: String
    public var clientCodes: [String]
    public var goalIDs: [String]
    /// The latest change in its history (or a goal's); a record with no history (accepted
    /// before history was kept) counts as changed now, so retention never erases it unseen.
    public var lastChange: Date

    public init(planID: String, clientCodes: [String], goalIDs: [String], lastChange: Date) {
        self.planID = planID
        self.clientCodes = clientCodes
        self.goalIDs = goalIDs
        self.lastChange = lastChange
    }

    public var recordIDs: [String] { [planID] + goalIDs }
}

/// Storage errors a client can act on.
public enum StorageError: Error, Equatable, Sendable {
    /// The database cannot be reached right now; worth retrying (503).
    case unavailable(String)
    /// The database refuses this configuration (password, database name, URL).
    case configuration(String)
}

extension StorageError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .unavailable(let detail): return detail
        case .configuration(let detail): return detail
        }
    }
}
