/// One edit, named forever: the replica that made it and that replica's counter for the
/// record at the time.
///
/// ```swift
/// let dot = Dot(replica: "r-anna-laptop", counter: 3)
/// ```
///
/// Dots order by replica then counter. That order means nothing causal; it only makes
/// every encoding and every tie-break deterministic.
public struct Dot: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public var replica: String
    public var counter: UInt64

    public init(replica: String, counter: UInt64) {
        self.replica = replica
        self.counter = counter
    }

    public static func < (lhs: Dot, rhs: Dot) -> Bool {
        (lhs.replica, lhs.counter) < (rhs.replica, rhs.counter)
    }

    public var description: String { "\(replica):\(counter)" }
}
