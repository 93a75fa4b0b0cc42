import Foundation

/// One value of a field's multi-value register: the value, the edit that wrote it, and
/// who wrote it when. A field holds one entry normally and several when people edited it
/// concurrently.
///
/// `author` and `time` are for people to read; they never decide causality, so clock skew
/// cannot lose an edit.
///
/// ```swift
/// FieldEntry(value: .string("Rondgang"), dot: Dot(replica: "r1", counter: 1),
///            author: "anna", time: Date())
/// ```
public struct FieldEntry: Hashable, Codable, Sendable {
    public var value: FieldValue
    public var dot: Dot
    public var author: String
    /// Wall-clock time of the edit, whole seconds (the wire format is ISO 8601 without
    /// fractions, so a state survives an encode/decode round trip unchanged).
    public var time: Date

    public init(value: FieldValue, dot: Dot, author: String, time: Date) {
        self.value = value
        self.dot = dot
        self.author = author
        self.time = WallClock.truncate(time)
    }

    /// A total order used only to make choices deterministic on every replica:
    /// latest time first, then greatest dot.
    static func displayPrecedes(_ lhs: FieldEntry, _ rhs: FieldEntry) -> Bool {
        if lhs.time != rhs.time { return lhs.time > rhs.time }
        return lhs.dot > rhs.dot
    }
}

/// Wall-clock helpers. Times are whole seconds everywhere in Veld.
public enum WallClock {
    public static func truncate(_ date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970).rounded(.down))
    }

    public static func now() -> Date { truncate(Date()) }
}
