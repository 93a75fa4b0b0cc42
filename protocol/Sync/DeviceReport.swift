import Foundation

/// One device as the office sees it (`GET /v1/devices`, office and admin tokens): who,
/// when it was last in touch, how far behind the change log it is, what it last said of
/// itself (``DeviceHealth``), and the two flags `veld-server devices` shows. No client data.
///
/// ```json
/// {"behind": 12, "health": {"app": "0.9.0", "oldest": "2026-11-20T10:00:00Z", "outbox": 40, "records": 3912},
///  "lastContact": "2026-11-30T16:00:00Z", "replica": "r-3ab387b2ca64dbb862fe4d0b", "role": "carer",
///  "stale": true, "token": "tok_1ba082d2", "unsentTooLong": true, "user": "anna"}
/// ```
public struct DeviceReport: Codable, Hashable, Sendable {
    public var token: String
    public var user: String
    public var role: Role
    public var replica: String?
    /// Its last push, pull or report.
    public var lastContact: Date?
    /// Changes in the change log after its last pull (nil: it never pulled).
    public var behind: Int64?
    public var health: DeviceHealth?
    /// Not in touch for 7 days or more (or never).
    public var stale: Bool
    /// It reported changes waiting for 3 days or more.
    public var unsentTooLong: Bool

    public init(token: String, user: String, role: Role, replica: String?, lastContact: Date?, behind: Int64?, health: DeviceHealth?,
                stale: Bool, unsentTooLong: Bool) {
        self.token = token
        self.user = user
        self.role = role
        self.replica = replica
        self.lastContact = lastContact
        self.behind = behind
        self.health = health
        self.stale = stale
        self.unsentTooLong = unsentTooLong
    }
}
