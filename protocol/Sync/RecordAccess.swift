import Foundation

/// The answer to `GET /v1/records/{id}/access` (office and admin tokens, records in their
/// scopes): who read or changed a record on the server, newest first, from the access log
/// (NEN 7513). No field value: each entry says who, through which token and device, what
/// action, when, and with what outcome.
///
/// ```json
/// {"entries": [{"action": "pull", "at": "2026-11-30T16:00:00Z", "effect": "read", "replica": "r-3ab387b2ca64dbb862fe4d0b",
///               "role": "carer", "status": 200, "token": "tok_1ba082d2", "user": "anna"}],
///  "id": "46beb50a-…", "more": false}
/// ```
public struct RecordAccess: Codable, Hashable, Sendable {
    public var id: String
    /// Newest first, at most the `limit` asked for.
    public var entries: [Entry]
    /// Older entries exist beyond `limit` (`veld-server audit --record ID` lists them all).
    public var more: Bool

    public init(id: String, entries: [Entry], more: Bool) {
        self.id = id
        self.entries = entries
        self.more = more
    }

    public struct Entry: Codable, Hashable, Sendable {
        /// The entry's place in the server's access log.
        public var seq: Int64
        public var at: Date
        /// `pull`, `push`, `history`, `record`, `access`, `report`, `erase`, …
        public var action: String
        /// 200 for what was done, 4xx for a refusal.
        public var status: Int
        /// The problem type of a refusal.
        public var problem: String?
        /// What the request did to this record: `read`, `changed`, `unchanged`, `refused`, …
        public var effect: String
        public var user: String?
        public var role: String?
        public var token: String?
        public var replica: String?

        public init(seq: Int64, at: Date, action: String, status: Int, problem: String?, effect: String, user: String?, role: String?,
                    token: String?, replica: String?) {
            self.seq = seq
            self.at = at
            self.action = action
            self.status = status
            self.problem = problem
            self.effect = effect
            self.user = user
            self.role = role
            self.token = token
            self.replica = replica
        }
    }
}

/// How many entries one `GET /v1/records/{id}/access` may ask for (`?limit=`, default 100).
public enum RecordAccessLimits {
    public static let max = 1_000
}
