import Foundation
import VeldProtocol
import VeldServer

/// Makes a fresh, migrated, empty store. The storage contract runs on any backend that
/// can provide one of these.
typealias StorageFactory = @Sendable () async throws -> any SyncStorage

/// One fixed moment (whole seconds), so every clock in these tests agrees.
enum Fixture {
    static let time = Date(timeIntervalSince1970: 1_795_168_800)

    static func time(plus seconds: Int) -> Date {
        time.addingTimeInterval(TimeInterval(seconds))
    }
}

// MARK: Records

/// Record builders: valid records of each type, one edit by `replica`.
enum Records {
    static let visitFields: [String: FieldValue] = [
        "visitedAt": .string("2026-11-20"), "visitor": .string("anna"), "kind": .string("werkbezoek"),
        "summary": .string("Rondgang huiskamer"), "status": .string("concept"),
    ]

    static let carePlanFields: [String: FieldValue] = [
        "clientCode": .string("C-1024"), "financing": .string("Wlz"), "careStart": .string("2026-10-01"),
        "status": .string("concept"),
    ]

    /// A valid visit note; `changes` override (or, with `.null`, clear) the standard fields.
    static func visitNote(id: String = RecordIDs.make(), scope: String = "loc-a", replica: String,
                          author: String = "anna", changes: [String: FieldValue] = [:]) -> RecordState {
        var state = RecordState(id: id, type: "visitNote", scope: scope)
        state.edit(visitFields.merging(changes) { $1 }, replica: replica, author: author, time: Fixture.time)
        return state
    }

    static func carePlan(id: String = RecordIDs.make(), scope: String = "loc-a", replica: String,
                         author: String = "anna", changes: [String: FieldValue] = [:]) -> RecordState {
        var state = RecordState(id: id, type: "carePlan", scope: scope)
        state.edit(carePlanFields.merging(changes) { $1 }, replica: replica, author: author, time: Fixture.time)
        return state
    }

    /// `state` with its context replaced (to forge or inflate counters).
    static func withContext(_ state: RecordState, _ counters: [String: UInt64]) -> RecordState {
        RecordState(id: state.id, type: state.type, scope: state.scope,
                    context: VersionVector(counters), fields: state.fields)
    }

    /// `state` with one more edit.
    static func edited(_ state: RecordState, _ changes: [String: FieldValue], replica: String,
                       author: String = "anna", at seconds: Int = 60) -> RecordState {
        var copy = state
        copy.edit(changes, replica: replica, author: author, time: Fixture.time(plus: seconds))
        return copy
    }

    static func batch(_ replica: String, _ records: [RecordState], id: String = UUID().uuidString.lowercased()) -> PushRequest {
        PushRequest(replica: replica, batch: id, records: records)
    }

    /// The fingerprint the HTTP layer gives a batch.
    static func fingerprint(_ request: PushRequest) throws -> String {
        TokenSecret.fingerprint(try StableJSON.encode(request))
    }
}

// MARK: Tokens

/// A device token as the office hands it out: the secret, and what the server keeps.
struct IssuedToken: Sendable {
    let secret: String
    let token: DeviceToken

    var bearer: String { "Bearer \(secret)" }
    var id: String { token.id }
}

extension SyncStorage {
    /// Creates a token the way `veld-server token create` does: a fresh secret, stored hashed.
    func issueToken(user: String, role: Role, scopes: [String]) async throws -> IssuedToken {
        let secret = TokenSecret.make()
        let token = DeviceToken(id: TokenSecret.makeID(), user: user, role: role, scopes: scopes, createdAt: Fixture.time)
        try await insertToken(token, hash: TokenSecret.hash(secret))
        return IssuedToken(secret: secret, token: token)
    }

    /// Pushes with the fingerprint the HTTP layer would compute and a validator that
    /// accepts everything.
    @discardableResult
    func accept(_ request: PushRequest, token: IssuedToken, at date: Date = Fixture.time) async throws -> PushResponse {
        try await push(request, token: token.token, fingerprint: try Records.fingerprint(request), at: date) { _ in }
    }

    /// The whole change log, through small pages.
    func everything(pageSize: Int = 1_000, scopes: ScopeFilter = .all,
                    hiding hidden: Set<String> = []) async throws -> (records: [RecordState], positions: [Int64]) {
        var records: [RecordState] = []
        var positions: [Int64] = []
        var cursor: Int64 = 0
        while true {
            let page = try await pull(scopes: scopes, hiding: hidden, after: cursor, limit: pageSize, token: nil, at: Fixture.time)
            records += page.records
            if !page.records.isEmpty { positions.append(page.lastPosition) }
            cursor = page.lastPosition
            if !page.more { return (records, positions) }
        }
    }

    /// Everything a refusal must leave untouched: the records, their positions, the
    /// tokens (bound replica, last push).
    func snapshot() async throws -> StoreSnapshot {
        var rows: [StoreSnapshot.Row] = []
        var cursor: Int64 = 0
        while true {
            let page = try await pull(scopes: .all, after: cursor, limit: 1, token: nil, at: Fixture.time)
            if let record = page.records.first { rows.append(StoreSnapshot.Row(position: page.lastPosition, state: record)) }
            cursor = page.lastPosition
            if !page.more { break }
        }
        return StoreSnapshot(rows: rows, tokens: try await tokens())
    }
}

struct StoreSnapshot: Equatable, Sendable {
    struct Row: Equatable, Sendable {
        let position: Int64
        let state: RecordState
    }

    let rows: [Row]
    let tokens: [DeviceToken]

    var lastPosition: Int64 { rows.last?.position ?? 0 }
}

// MARK: Temporary files

/// A folder that exists for one test and is removed after it.
final class TemporaryFolder: Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("veld-server-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// A factory of fresh, migrated SQLite stores inside this folder.
    var sqliteFactory: StorageFactory {
        let url = url
        return {
            let storage = try SQLiteSyncStorage(path: url.appendingPathComponent("\(UUID().uuidString).sqlite").path)
            try await storage.migrate()
            return storage
        }
    }
}

/// The error a test's `validate` closure throws to refuse a batch.
struct Refusal: Error, Equatable {}
