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

    func insertToken(_ token: DeviceToken, hash: String) async throws
    /// The token with this hash, revoked or not.
    func token(hash: String) async throws -> DeviceToken?
    func tokens() async throws -> [DeviceToken]
    /// Marks the token revoked; false if there is no such token.
    func revokeToken(id: String, at date: Date) async throws -> Bool

    /// Applies a push batch in one transaction: replays a known batch, otherwise binds the
    /// replica to the token, loads the stored states of the batch's records, lets
    /// `validate` refuse the batch, merges, gives every changed record a new change-log
    /// position and remembers the answer under the batch id.
    func push(_ request: PushRequest, token: DeviceToken, fingerprint: String, at date: Date,
              validate: @escaping @Sendable (_ stored: [String: RecordState]) throws -> Void) async throws -> PushResponse

    /// Records in `scopes` whose position is after `position`, in position order.
    func pull(scopes: ScopeFilter, after position: Int64, limit: Int, token: DeviceToken?, at date: Date) async throws -> PullPage

    func record(id: String) async throws -> RecordState?

    /// Every accepted change of the record, oldest first (append-only; each push writes
    /// its changes in the same transaction as the records).
    func history(recordID: String) async throws -> [RecordChange]

    /// The record's state as it was after the last change accepted at or before `date`:
    /// what the data said on a reference date (peildatum).
    func state(recordID: String, asOf date: Date) async throws -> RecordState?

    /// The highest change-log position so far.
    func headPosition() async throws -> Int64
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

/// Storage errors a client can act on.
public enum StorageError: Error, Equatable, Sendable {
    /// The batch id was used before with a different body.
    case batchReused(String)
    /// The token is bound to another replica.
    case replicaMismatch(bound: String)
    /// The database cannot be reached right now; worth retrying (503).
    case unavailable(String)
    /// The database refuses this configuration (password, database name, URL).
    case configuration(String)
}

extension StorageError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .batchReused(let batch): return "batch \(batch) was already received with other content"
        case .replicaMismatch(let bound): return "the token is bound to replica \(bound)"
        case .unavailable(let detail): return detail
        case .configuration(let detail): return detail
        }
    }
}

/// The merge step every backend shares: fold the batch (a record may appear twice) into
/// the stored states and say which changed.
enum BatchMerge {
    static func apply(_ incoming: [RecordState], to stored: [String: RecordState]) throws -> [(state: RecordState, changed: Bool)] {
        var merged: [String: RecordState] = [:]
        var order: [String] = []
        for state in incoming {
            if let existing = merged[state.id] {
                merged[state.id] = try existing.merged(with: state)
            } else {
                merged[state.id] = try stored[state.id].map { try $0.merged(with: state) } ?? state
                order.append(state.id)
            }
        }
        return order.map { id in
            let state = merged[id]!
            return (state, state != stored[id])
        }
    }
}
