import Foundation
import VeldProtocol

/// A device's credentials as the server keeps them: who holds the token, in which role,
/// for which scopes, and (after its first push) which replica it belongs to. The token
/// itself is never stored, only its SHA-256.
public struct DeviceToken: Codable, Hashable, Sendable {
    /// A short public id for listing and revoking (`tok_3fa9c2d1`).
    public var id: String
    public var user: String
    public var role: Role
    /// Scopes the holder may read and write; `*` means all.
    public var scopes: [String]
    /// The replica bound to this token by its first push.
    public var replica: String?
    public var createdAt: Date
    public var revokedAt: Date?
    public var lastPushAt: Date?
    public var lastPullAt: Date?
    /// The cursor the device's last pull ended at: how far behind it is.
    public var lastCursor: Int64?
    /// After this the token gets 401 (`token create --expires`); nil: it does not expire.
    public var expiresAt: Date?
    /// When the current secret was issued: at creation, or at the last `token rotate`.
    public var secretIssuedAt: Date?
    /// When the office revoked the token with `--wipe`: the device erases its data on its
    /// next contact and reports it (`POST /v1/receipts`).
    public var wipeRequestedAt: Date?
    /// When the device's wipe receipt arrived.
    public var wipedAt: Date?
    /// What the device last said of itself (`Veld-Device`), and when.
    public var health: DeviceHealth?
    public var healthAt: Date?

    public init(id: String, user: String, role: Role, scopes: [String], replica: String? = nil,
                createdAt: Date, revokedAt: Date? = nil, lastPushAt: Date? = nil, lastPullAt: Date? = nil,
                lastCursor: Int64? = nil, expiresAt: Date? = nil, secretIssuedAt: Date? = nil,
                wipeRequestedAt: Date? = nil, wipedAt: Date? = nil) {
        self.id = id
        self.user = user
        self.role = role
        self.scopes = scopes
        self.replica = replica
        self.createdAt = createdAt
        self.revokedAt = revokedAt
        self.lastPushAt = lastPushAt
        self.lastPullAt = lastPullAt
        self.lastCursor = lastCursor
        self.expiresAt = expiresAt
        self.secretIssuedAt = secretIssuedAt
        self.wipeRequestedAt = wipeRequestedAt
        self.wipedAt = wipedAt
    }

    public func isExpired(at date: Date) -> Bool {
        expiresAt.map { $0 <= date } ?? false
    }

    /// active, expired or revoked, as `token list` shows it.
    public func state(at date: Date) -> String {
        if wipedAt != nil { return "wiped" }
        if wipeRequestedAt != nil { return "wipe pending" }
        return revokedAt != nil ? "revoked" : isExpired(at: date) ? "expired" : "active"
    }

    /// How long a new secret lives when the token is rotated without a new --expires: as
    /// long as the current secret was given (so a `rotate --expires` sets the length of
    /// later renewals too).
    public var lifetime: TimeInterval? {
        expiresAt.map { $0.timeIntervalSince(secretIssuedAt ?? createdAt) }
    }

    public var scopeFilter: ScopeFilter { ScopeFilter(scopes) }

    /// Who pushes with this token, as the push policy sees it.
    public var pusher: Pusher { Pusher(tokenID: id, user: user, role: role, scopes: scopeFilter) }

    public func mayAccess(scope: String) -> Bool {
        scopeFilter.contains(scope)
    }
}
