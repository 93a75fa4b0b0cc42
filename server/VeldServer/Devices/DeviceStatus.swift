import Foundation
import VeldProtocol

/// How `veld-server devices` judges a device: stale when it has not been in touch for a
/// while, and holding unsent work when the oldest change it reported waiting is old. The
/// office sees those first ("no clue whether the app is stuck" is the complaint).
public struct DeviceStatus: Hashable, Sendable {
    public var token: DeviceToken
    /// Its last push, pull or report, whichever is latest.
    public var lastContact: Date?
    /// No contact since `staleAfter` ago (or never).
    public var stale: Bool
    /// It reported changes waiting since before `unsentAfter` ago.
    public var unsentTooLong: Bool

    /// Every device judged, in the order the office reads them: unsent work too long first
    /// (oldest first), then stale, then the rest; each group by its last contact, oldest first.
    public static func judge(_ tokens: [DeviceToken], now: Date, staleAfter: TimeInterval, unsentAfter: TimeInterval) -> [DeviceStatus] {
        tokens.map { token in
            let contact = [token.lastPushAt, token.lastPullAt, token.healthAt].compactMap { $0 }.max()
            let stale = contact.map { now.timeIntervalSince($0) > staleAfter } ?? true
            let unsent = token.health.map { health in
                health.outbox > 0 && (health.oldest.map { now.timeIntervalSince($0) > unsentAfter } ?? false)
            } ?? false
            return DeviceStatus(token: token, lastContact: contact, stale: stale, unsentTooLong: unsent)
        }.sorted { a, b in
            let rank = { (s: DeviceStatus) in s.unsentTooLong ? 0 : s.stale ? 1 : 2 }
            if rank(a) != rank(b) { return rank(a) < rank(b) }
            if a.unsentTooLong, let x = a.token.health?.oldest, let y = b.token.health?.oldest, x != y { return x < y }
            return (a.lastContact ?? .distantPast, a.token.id) < (b.lastContact ?? .distantPast, b.token.id)
        }
    }
}
