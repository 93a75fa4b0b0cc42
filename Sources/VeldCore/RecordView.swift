import Foundation
import VeldProtocol

/// A record as reads present it (`veld show --json`): the shown value of every field,
/// and for each field in conflict every value with its author, replica and time.
///
/// ```json
/// {"id": "…", "type": "visitNote", "scope": "loc-zonnehof", "deleted": false,
///  "fields": {"summary": "Rondgang"},
///  "conflicts": {"summary": [{"value": "Rondgang", "author": "anna", "replica": "r-…", "time": "…"}, …]}}
/// ```
public struct RecordView: Codable, Hashable, Sendable {
    public struct Value: Codable, Hashable, Sendable {
        public var value: FieldValue
        public var author: String
        public var replica: String
        public var counter: UInt64
        public var time: Date
    }

    public var id: String
    public var type: String
    public var scope: String
    public var deleted: Bool
    public var fields: [String: FieldValue]
    /// Field → its values, the shown one first.
    public var conflicts: [String: [Value]]

    public init(_ state: RecordState) {
        id = state.id
        type = state.type
        scope = state.scope
        deleted = state.isDeleted
        fields = state.currentValues.filter { $0.key != RecordState.deletedField }
        conflicts = state.conflicts.mapValues { entries in
            entries.map { Value(value: $0.value, author: $0.author, replica: $0.dot.replica, counter: $0.dot.counter, time: $0.time) }
        }
    }
}
