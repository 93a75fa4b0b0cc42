import Foundation
import VeldProtocol

/// Who this device is: its replica id (made once, at `veld init`), its user and role.
public struct Profile: Hashable, Codable, Sendable {
    public var replicaID: String
    public var user: String
    public var role: Role
    public var createdAt: Date

    public init(replicaID: String, user: String, role: Role, createdAt: Date) {
        self.replicaID = replicaID
        self.user = user
        self.role = role
        self.createdAt = createdAt
    }

    /// A new random replica id: `r-` and 24 hex digits (96 bits).
    public static func makeReplicaID() -> String {
        var generator = SystemRandomNumberGenerator()
        let hex = (0..<3).map { _ in String(format: "%08x", UInt32.random(in: .min ... .max, using: &generator)) }
        return "r-" + hex.joined()
    }
}
