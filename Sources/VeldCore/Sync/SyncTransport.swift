import Foundation
import VeldProtocol

/// How the sync engine reaches a server. `HTTPTransport` is the real one; tests can pass
/// anything that answers push and pull, such as a transport that fails on cue.
public protocol SyncTransport: Sendable {
    func push(_ request: PushRequest) async throws -> PushResponse
    func pull(since cursor: String, limit: Int) async throws -> PullResponse
    /// A page together with each record's JSON exactly as received (same order), when the
    /// transport has it: a record new to the store is then kept as those bytes instead of
    /// being encoded again.
    func pullEncoded(since cursor: String, limit: Int) async throws -> (page: PullResponse, encoded: [String]?)
    /// The same, naming the module set the device holds (its ETag), so the server answers on
    /// that set or a newer one.
    func pullEncoded(since cursor: String, limit: Int, holding schemas: String?) async throws -> (page: PullResponse, encoded: [String]?)
    /// The same, asking (with `deltas`, the device's pull base) for records the device held
    /// there as only what changed after it (SPEC.md, "Pull deltas"), from a server that
    /// names `pull-deltas`; nil: every record whole.
    func pullEncoded(since cursor: String, limit: Int, holding schemas: String?, deltas base: String?) async throws
        -> (page: PullResponse, encoded: [String]?)
    /// What the server knows of this device's token (`GET /v1/me`); nil from a transport
    /// that cannot say.
    func me() async throws -> DeviceIdentity?
    /// The server's current state of one record (`GET /v1/records/{id}`); nil when the
    /// server holds none this device may read.
    func record(id: String) async throws -> RecordState?
    /// Reports what this device removed on the office's word (`POST /v1/receipts`).
    func sendReceipt(_ receipt: PurgeReceipt) async throws
    /// The module set in force (`GET /v1/schemas`), unless it is still the one the server
    /// tagged `etag`.
    func schemas(ifNoneMatch etag: String?) async throws -> SchemaFetch
}

/// What `GET /v1/schemas` gave.
public enum SchemaFetch: Sendable {
    /// The set with the ETag the server gave it.
    case set(SchemaSet, etag: String?)
    /// Still the set with the ETag asked about (304).
    case unchanged
    /// The transport cannot ask (a test double).
    case unsupported
}

extension SyncTransport {
    public func me() async throws -> DeviceIdentity? { nil }

    public func schemas(ifNoneMatch etag: String?) async throws -> SchemaFetch { .unsupported }

    /// A transport without receipts (a test double) takes them and says nothing.
    public func sendReceipt(_ receipt: PurgeReceipt) async throws {}

    public func record(id: String) async throws -> RecordState? {
        throw SyncTransportError.badResponse("this transport cannot fetch a single record")
    }

    public func pullEncoded(since cursor: String, limit: Int) async throws -> (page: PullResponse, encoded: [String]?) {
        (try await pull(since: cursor, limit: limit), nil)
    }

    public func pullEncoded(since cursor: String, limit: Int, holding schemas: String?) async throws -> (page: PullResponse, encoded: [String]?) {
        try await pullEncoded(since: cursor, limit: limit)
    }

    /// A transport that cannot ask for deltas (a test double) brings whole pages.
    public func pullEncoded(since cursor: String, limit: Int, holding schemas: String?, deltas base: String?) async throws
        -> (page: PullResponse, encoded: [String]?) {
        try await pullEncoded(since: cursor, limit: limit, holding: schemas)
    }
}

/// Why a sync request failed, sorted by what the engine does about it.
public enum SyncTransportError: Error, CustomStringConvertible, Sendable {
    /// The server refused the request (4xx). Retrying would get the same answer.
    case rejected(Problem)
    /// The server failed (5xx). Worth retrying.
    case serverFailed(status: Int, detail: String)
    /// The server asks to come back later (408, 429, 503), after `retryAfter` seconds when
    /// it said (`Retry-After`). Retried as it asks.
    case busy(status: Int, retryAfter: TimeInterval?, detail: String)
    /// No answer: connection refused, dropped, timed out. Worth retrying.
    case unreachable(String)
    /// An answer that is not what the protocol says. Not retried.
    case badResponse(String)
    /// The server's certificate was not accepted (unknown CA, expired, wrong name). Not
    /// retried: nothing was sent.
    case untrusted(String)
    /// The address would carry the token unencrypted (`http://` to another machine).
    /// Refused before anything is sent.
    case insecure(String)

    public var isRetryable: Bool {
        switch self {
        case .serverFailed, .unreachable, .busy: return true
        case .rejected, .badResponse, .untrusted, .insecure: return false
        }
    }

    /// How long the server asked to wait before the next attempt, when it said.
    public var retryAfter: TimeInterval? {
        if case .busy(_, let seconds, _) = self { return seconds }
        return nil
    }

    public var description: String {
        switch self {
        case .rejected(let problem):
            return "the server refused the sync (\(problem.status)): \(problem.detail)" + (problem.requestId.map { " [request \($0)]" } ?? "")
        case .serverFailed(let status, let detail): return "the server failed (\(status)): \(detail); try again later"
        case .busy(let status, _, let detail): return "the server is busy (\(status)): \(detail); try again later"
        case .unreachable(let detail): return "cannot reach the server: \(detail); check the network and try `veld sync` again"
        case .badResponse(let detail): return "the server's answer does not follow the Veld protocol: \(detail)"
        case .untrusted(let detail):
            return "the server's certificate is not trusted (\(detail)); if your organisation has its own CA, run `veld connect --server URL --ca-file ORG-CA.pem`"
        case .insecure(let detail): return detail
        }
    }
}
