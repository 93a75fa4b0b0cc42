/// A record's causal context: for each replica, the highest counter of its edits to this
/// record that the holder has seen. A replica missing from the vector counts as 0.
///
/// ```swift
/// var vv = VersionVector()
/// let dot = vv.advance("r1")          // r1:1
/// vv.contains(dot)                    // true
/// vv.compare(VersionVector(["r2": 1])) // .concurrent
/// ```
public struct VersionVector: Hashable, Codable, Sendable, CustomStringConvertible {
    /// How two vectors relate causally.
    public enum Ordering: String, Sendable {
        case equal, before, after, concurrent
    }

    /// Replica → counter, without zero entries (so equality is semantic).
    public private(set) var counters: [String: UInt64]

    public init(_ counters: [String: UInt64] = [:]) {
        self.counters = counters.filter { $0.value > 0 }
    }

    public subscript(replica: String) -> UInt64 {
        counters[replica] ?? 0
    }

    /// Whether the edit named by `dot` is covered by (has been seen through) this vector.
    public func contains(_ dot: Dot) -> Bool {
        dot.counter <= self[dot.replica]
    }

    /// Takes the next counter for `replica` and returns the dot of that new edit.
    public mutating func advance(_ replica: String) -> Dot {
        let next = self[replica] + 1
        counters[replica] = next
        return Dot(replica: replica, counter: next)
    }

    /// Records that `dot` has been seen (pointwise max with that one entry).
    public mutating func include(_ dot: Dot) {
        if dot.counter > self[dot.replica] { counters[dot.replica] = dot.counter }
    }

    /// The least vector that covers both (pointwise maximum).
    public func joined(with other: VersionVector) -> VersionVector {
        var result = self
        result.join(other)
        return result
    }

    public mutating func join(_ other: VersionVector) {
        for (replica, counter) in other.counters where counter > self[replica] {
            counters[replica] = counter
        }
    }

    /// `.before` means every edit `self` has seen, `other` has seen too, and more.
    public func compare(_ other: VersionVector) -> Ordering {
        var someLess = false
        var someGreater = false
        for replica in Set(counters.keys).union(other.counters.keys) {
            let mine = self[replica]
            let theirs = other[replica]
            if mine < theirs { someLess = true }
            if mine > theirs { someGreater = true }
        }
        switch (someLess, someGreater) {
        case (false, false): return .equal
        case (true, false): return .before
        case (false, true): return .after
        case (true, true): return .concurrent
        }
    }

    public var description: String {
        "{" + counters.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ", ") + "}"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        self.init(try container.decode([String: UInt64].self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(counters)
    }
}
