/// An error body, `application/problem+json` (RFC 9457): what went wrong, in words a
/// person can act on, plus the records and fields concerned when there are any.
///
/// ```json
/// {"type": "urn:veld:problem:scope-forbidden", "title": "Scope not allowed", "status": 403,
///  "detail": "scope loc-b is not in this device's token; ask the office for access",
///  "records": [{"id": "…", "field": null, "reason": "scope loc-b"}]}
/// ```
public struct Problem: Codable, Hashable, Sendable, Error, CustomStringConvertible {
    /// One record (and field) a problem is about.
    public struct Item: Codable, Hashable, Sendable {
        public var id: String
        public var field: String?
        public var reason: String

        public init(id: String, field: String? = nil, reason: String) {
            self.id = id
            self.field = field
            self.reason = reason
        }
    }

    public var type: String
    public var title: String
    public var status: Int
    public var detail: String
    public var records: [Item]?
    /// The server's id of the request that got this answer (also its `Veld-Request-Id`
    /// header): what a user quotes to the office, who finds it in the server's log.
    public var requestId: String?

    public init(type: Kind, status: Int, detail: String, records: [Item]? = nil) {
        self.type = "urn:veld:problem:" + type.rawValue
        self.title = type.title
        self.status = status
        self.detail = detail
        self.records = records
    }

    public var description: String { detail }

    /// Whether this problem is of `kind` (its `type` is `urn:veld:problem:` and the kind).
    public func `is`(_ kind: Kind) -> Bool {
        type == "urn:veld:problem:" + kind.rawValue
    }

    /// `422 invalid-record` for `items` (of `total` problems found), led by the first.
    public static func invalidRecords(_ items: [Item], total: Int) -> Problem {
        Problem(type: .invalidRecord, status: 422,
                detail: "\(total) problem(s) in the batch, nothing was stored: \(items.first?.reason ?? "")", records: items)
    }

    /// The problem kinds Veld sends, by their `type`.
    public enum Kind: String, Sendable, CaseIterable {
        case malformed = "malformed-request"
        case invalidRecord = "invalid-record"
        case unauthenticated = "unauthenticated"
        case wipeRequested = "wipe-requested"
        case scopeForbidden = "scope-forbidden"
        case typeForbidden = "type-forbidden"
        case fieldForbidden = "field-forbidden"
        case forgedDot = "forged-dot"
        case forgedAuthor = "forged-author"
        case entryOmitted = "entry-omitted"
        case replicaMismatch = "replica-mismatch"
        case dotReused = "dot-reused"
        case batchReused = "batch-reused"
        case invalidProof = "invalid-proof"
        case deltaWithoutBase = "delta-without-base"
        case epochChanged = "epoch-changed"
        case erased = "record-erased"
        case tooLarge = "body-too-large"
        case timeout = "request-timeout"
        case notFound = "not-found"
        case unavailable = "unavailable"
        case `internal` = "internal"

        /// The push refusals that name the records they are about, in the order a push is
        /// answered (protocol/SPEC.md, POST /v1/push): a client sets exactly those records
        /// aside and pushes the rest.
        public static let aboutRecords: [Kind] = [.erased, .invalidRecord, .scopeForbidden, .typeForbidden, .invalidProof, .deltaWithoutBase,
                                                  .fieldForbidden,
                                                  .forgedDot, .forgedAuthor, .entryOmitted, .dotReused]

        public var title: String {
            switch self {
            case .malformed: return "Malformed request"
            case .invalidRecord: return "Invalid record"
            case .unauthenticated: return "Not authenticated"
            case .wipeRequested: return "Device to be wiped"
            case .scopeForbidden: return "Scope not allowed"
            case .typeForbidden: return "Record type not allowed for this role"
            case .fieldForbidden: return "Field not allowed for this role"
            case .forgedDot: return "Edit attributed to another replica"
            case .forgedAuthor: return "Edit attributed to another user"
            case .entryOmitted: return "Stored value dropped without an edit"
            case .replicaMismatch: return "Token bound to another replica"
            case .dotReused: return "Replica id reused"
            case .batchReused: return "Batch id reused with other content"
            case .invalidProof: return "Server proof does not match"
            case .deltaWithoutBase: return "Delta for a record the server does not hold"
            case .epochChanged: return "Server restored from a backup"
            case .erased: return "Record erased"
            case .tooLarge: return "Body too large"
            case .timeout: return "Request body too slow"
            case .notFound: return "Not found"
            case .unavailable: return "Service unavailable"
            case .internal: return "Internal error"
            }
        }
    }
}
