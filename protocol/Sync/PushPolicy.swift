import Foundation

/// Who is pushing, as the server knows it from the token: never what a device claims.
public struct Pusher: Hashable, Sendable {
    /// The token's public id (`tok_3fa9c2d1`): batch ids are remembered per token.
    public var tokenID: String
    /// The token's user: every new entry must name it as its author.
    public var user: String
    public var role: Role
    public var scopes: ScopeFilter

    public init(tokenID: String, user: String, role: Role, scopes: ScopeFilter) {
        self.tokenID = tokenID
        self.user = user
        self.role = role
        self.scopes = scopes
    }
}

/// Everything the server decides about a push (`POST /v1/push`), as one pure function
/// that client and server share: no I/O, the stored states come in, a write plan or a
/// problem goes out.
///
/// It runs in two steps. ``check(_:by:)`` needs nothing stored (the shape of the batch,
/// every schema, the pusher's scopes), so the server runs it before it takes the write
/// lock. ``decide(_:fingerprint:inputs:)`` needs what the storage holds (the token's
/// binding, an earlier batch with this id, the stored states of the batch's records and of
/// the care plans its goals point at) and returns either a replay or a ``PushPlan`` for the
/// storage to persist. A storage only reads those inputs and writes the plan.
///
/// ```swift
/// let checked = try PushPolicy.check(request, by: pusher, in: schemas)   // 400, 413, 422, 403
/// // … in the write transaction: read checked.storedIDs, the binding, the batch …
/// switch try PushPolicy.decide(checked, fingerprint: fingerprint, inputs: inputs) {
/// case .replay(let json): return json                               // seen before
/// case .write(let plan): persist(plan)                              // positions, rows, answer
/// }
/// ```
///
/// The rules (protocol/SPEC.md, POST /v1/push, has them with examples): a batch is refused
/// as a whole when any record breaks one; the answer names every record of the first kind
/// of problem. What closes erasure by omission: a push may remove a stored entry of a field
/// only by superseding it with a new entry of its own in that field, and that entry passes
/// the field's role checks; new entries carry the token's user as their author.
public enum PushPolicy {
    /// How far after the server's clock a new entry's time may be: a device clock that
    /// runs a day ahead is wrong, and a time in the far future would make reads show that
    /// entry over every concurrent one.
    public static let maxClockSkew: TimeInterval = 24 * 3600

    /// Replicas one record's context may name: far more than ever edit one record.
    public static let maxContextReplicas = 1_000

    /// What a storage reads for ``decide(_:fingerprint:inputs:)``, in the write transaction.
    public struct Inputs: Sendable {
        /// An earlier accepted batch with the same id, if any.
        public var priorBatch: PriorBatch?
        /// The replica the token is bound to now (read in the transaction, not from a cache).
        public var boundReplica: String?
        /// Whether another unrevoked token is bound to the push's replica.
        public var replicaHeldByAnotherToken: Bool
        /// Whether a token of another user (revoked or not) was ever bound to the push's
        /// replica: a replica passes to a new token only of the same user.
        public var replicaUsedByAnotherUser: Bool
        /// The server's clock: a new entry may not claim a time more than
        /// ``PushPolicy/maxClockSkew`` after it (nil: not checked, as on a device).
        public var now: Date?
        /// The stored states of ``CheckedPush/storedIDs`` that exist.
        public var stored: [String: RecordState]
        /// The change log's last position: new positions follow it.
        public var position: Int64
        /// For each stored record, its changes since its last history snapshot.
        public var historyRuns: [String: Int]

        public init(priorBatch: PriorBatch? = nil, boundReplica: String? = nil, replicaHeldByAnotherToken: Bool = false,
                    replicaUsedByAnotherUser: Bool = false, now: Date? = nil,
                    stored: [String: RecordState] = [:], position: Int64 = 0, historyRuns: [String: Int] = [:]) {
            self.priorBatch = priorBatch
            self.boundReplica = boundReplica
            self.replicaHeldByAnotherToken = replicaHeldByAnotherToken
            self.replicaUsedByAnotherUser = replicaUsedByAnotherUser
            self.now = now
            self.stored = stored
            self.position = position
            self.historyRuns = historyRuns
        }
    }

    /// A batch the server accepted before, as it remembers it.
    public struct PriorBatch: Sendable {
        /// The token that pushed it (nil for batches remembered before tokens were noted).
        public var tokenID: String?
        public var replica: String
        public var fingerprint: String
        /// The answer given then, in stable JSON.
        public var response: String

        public init(tokenID: String?, replica: String, fingerprint: String, response: String) {
            self.tokenID = tokenID
            self.replica = replica
            self.fingerprint = fingerprint
            self.response = response
        }
    }

    public enum Outcome: Sendable {
        /// The same batch again: answer what was answered then, write nothing.
        case replay(responseJSON: String)
        /// Accepted: persist the plan in the same transaction, then answer.
        case write(PushPlan)
    }
}

/// A push that passed ``PushPolicy/check(_:by:)``: what needs nothing stored is fine.
public struct CheckedPush: Sendable {
    public let request: PushRequest
    public let pusher: Pusher
    /// The module set the batch was checked against; ``PushPolicy/decide(_:fingerprint:inputs:)`` judges by it too.
    public let schemas: SchemaSet
    /// The ids whose stored states ``PushPolicy/decide(_:fingerprint:inputs:)`` needs: every
    /// record of the batch and every care plan a goal of the batch points at.
    public let storedIDs: [String]
    /// States of the batch's records the server once served, its proofs checked: taken as
    /// the server's own before the batch is judged (SPEC.md, "Server epochs").
    public let proven: [String: RecordState]
    /// Whether the server takes back what it lost now (the days after a restore): only then
    /// does a batch's `recovery` mark its changes as recovered in the history.
    public let recovering: Bool

    init(request: PushRequest, pusher: Pusher, schemas: SchemaSet, storedIDs: [String], proven: [String: RecordState] = [:],
         recovering: Bool = false) {
        self.request = request
        self.pusher = pusher
        self.schemas = schemas
        self.storedIDs = storedIDs
        self.proven = proven
        self.recovering = recovering
    }
}

/// Problems of a batch sorted by kind; the first kind with any answers the push.
struct Refusals {
    /// Items listed per kind, at most: an answer names the first hundred problems and
    /// counts the rest, so no body can make the server write a huge one.
    static let listed = 100

    private(set) var items: [Problem.Kind: [Problem.Item]] = [:]
    private(set) var counts: [Problem.Kind: Int] = [:]
    private(set) var total = 0

    mutating func add(_ kind: Problem.Kind, _ id: String, field: String? = nil, _ reason: @autoclosure () -> String) {
        counts[kind, default: 0] += 1
        total += 1
        if items[kind, default: []].count < Self.listed {
            items[kind, default: []].append(Problem.Item(id: id, field: field, reason: reason()))
        }
    }

    /// The answer, in the order protocol/SPEC.md gives.
    func problem(role: Role, replica: String) -> Problem? {
        guard let kind = Problem.Kind.aboutRecords.first(where: { items[$0] != nil }), let list = items[kind] else { return nil }
        let names = Self.names(list, total: counts[kind] ?? list.count)
        switch kind {
        case .invalidRecord:
            return Problem.invalidRecords(list, total: counts[kind] ?? list.count)
        case .scopeForbidden:
            let scopes = Set(list.map(\.reason)).sorted().joined(separator: ", ")
            return Problem(type: kind, status: 403,
                           detail: "\(scopes) not in this device's token (records \(names)); ask the office for access. Nothing was stored.",
                           records: list)
        case .typeForbidden:
            let reasons = Set(list.map(\.reason)).sorted().joined(separator: "; ")
            return Problem(type: kind, status: 403,
                           detail: "\(reasons) (records \(names)); ask the office for a token of a role that may. Nothing was stored.",
                           records: list)
        case .fieldForbidden:
            return Problem(type: kind, status: 403,
                           detail: "the \(role.rawValue) role may not write \(names); those decisions belong to the office. Nothing was stored.",
                           records: list)
        case .invalidProof:
            return Problem(type: kind, status: 403,
                           detail: "the batch sends back states with proofs this server does not take (\(names)); send those records without them. Nothing was stored.",
                           records: list)
        case .deltaWithoutBase:
            return Problem(type: kind, status: 409,
                           detail: "the batch sends deltas of records this server does not hold (\(names)); send their whole states. Nothing was stored.",
                           records: list)
        case .forgedDot:
            return Problem(type: kind, status: 403,
                           detail: "the batch carries edits or counters of other replicas that the server has not seen (\(names)); a device may only send its own new edits. Nothing was stored.",
                           records: list)
        case .forgedAuthor:
            return Problem(type: kind, status: 403,
                           detail: "new edits in the batch name another author than this token's user (\(names)); a device writes its own user into its edits. Nothing was stored.",
                           records: list)
        case .entryOmitted:
            return Problem(type: kind, status: 403,
                           detail: "the batch drops values the server holds without a new edit of those fields (\(names)); send the whole state of each record, and replace a value only by editing it. Nothing was stored.",
                           records: list)
        default:
            return Problem(type: .dotReused, status: 409,
                           detail: "replica \(replica) sends edits that clash with what the server already has from it (\(names)); this profile was probably restored from a backup or copied. Make a new profile with `veld init` (a new replica id) and re-enter the unsynced changes. Nothing was stored.",
                           records: list)
        }
    }

    static func names(_ items: [Problem.Item], total: Int) -> String {
        let listed = items.prefix(3).map { item in item.field.map { "\(item.id) (\($0))" } ?? item.id }
        return listed.joined(separator: ", ") + (total > 3 ? " and \(total - 3) more" : "")
    }
}
