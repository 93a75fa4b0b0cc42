/// The scopes a device token may read and write: every scope (`*`) or a set of them.
/// Every read and every write of a record is checked against it, for every role.
///
/// ```swift
/// let scopes = ScopeFilter(["loc-zonnehof"])
/// scopes.contains("loc-zonnehof")   // true
/// ScopeFilter(["*"]) == .all        // true
/// ```
public enum ScopeFilter: Hashable, Sendable {
    case all
    case only(Set<String>)

    /// `*` anywhere in the list means every scope.
    public init<Names: Sequence<String>>(_ names: Names) {
        let set = Set(names)
        self = set.contains("*") ? .all : .only(set)
    }

    public func contains(_ scope: String) -> Bool {
        switch self {
        case .all: return true
        case .only(let scopes): return scopes.contains(scope)
        }
    }

    /// The scope names as a token lists them (`*` for all), sorted.
    public var names: [String] {
        switch self {
        case .all: return ["*"]
        case .only(let scopes): return scopes.sorted()
        }
    }
}
