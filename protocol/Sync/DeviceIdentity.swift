/// The answer to `GET /v1/me`: what the server knows of the token a device holds. A
/// client takes its user, role and scopes from here, never from what a person typed.
///
/// ```json
/// {"replica": "r-52a62fbf5cfa516f08e415f1", "role": "visitor", "scopes": ["loc-zonnehof"],
///  "token": "tok_1ba082d2", "user": "anna"}
/// ```
///
/// `confirmedReceipts`, present when there are any, names this token's scope-removal
/// receipts the office has confirmed: the device may drop the unsent changes it kept for them.
public struct DeviceIdentity: Codable, Hashable, Sendable {
    /// The token's public id.
    public var token: String
    public var user: String
    public var role: Role
    /// The scopes the token may read and write; `*` means every scope.
    public var scopes: [String]
    /// The replica the token is bound to (by its first accepted push); absent before.
    public var replica: String?
    /// Ids of this token's purge receipts the office confirmed (at most the latest 100).
    public var confirmedReceipts: [String]?
    /// The server's epoch (also its `Veld-Epoch` header): a new one means the server was
    /// restored from a backup (SPEC.md, "Server epochs"). Absent from older servers.
    public var epoch: String?
    /// What the server takes beyond protocol v1 as first published: `deltas` (a push may
    /// carry ``PushRequest/deltas``), `pull-deltas` (a pull may ask `deltas=1`,
    /// ``PullDeltas``). Absent from older servers: a client uses only what a server names.
    public var features: [String]?

    public init(token: String, user: String, role: Role, scopes: [String], replica: String?, confirmedReceipts: [String]? = nil,
                epoch: String? = nil, features: [String]? = nil) {
        self.token = token
        self.user = user
        self.role = role
        self.scopes = scopes
        self.replica = replica
        self.confirmedReceipts = confirmedReceipts
        self.epoch = epoch
        self.features = features
    }

    /// The features this server release names in `GET /v1/me`.
    public static let serverFeatures = ["deltas", PullDeltas.feature]

    public var scopeFilter: ScopeFilter { ScopeFilter(scopes) }
}
