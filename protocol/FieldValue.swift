/// The value of one field as it travels: JSON `null`, a boolean, a string, or a list of
/// strings. The record's schema says which of these a field holds and what the string
/// means (free text, an ISO 8601 calendar date, an enum value, a record id).
///
/// ```swift
/// let kind: FieldValue = .string("werkbezoek")
/// let themes: FieldValue = .strings(["veiligheid", "informatie"])
/// ```
public enum FieldValue: Hashable, Codable, Sendable, CustomStringConvertible {
    /// The field has been cleared (or, after a delete, never had a value).
    case null
    case bool(Bool)
    case string(String)
    case strings([String])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        // Most values are text: try that first, since each failed attempt costs an error.
        if container.decodeNil() {
            self = .null
        } else if let text = try? container.decode(String.self) {
            self = .string(text)
        } else if let flag = try? container.decode(Bool.self) {
            self = .bool(flag)
        } else if let list = try? container.decode([String].self) {
            self = .strings(list)
        } else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "a field value is null, true/false, a string or a list of strings"
            )
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let flag): try container.encode(flag)
        case .string(let text): try container.encode(text)
        case .strings(let list): try container.encode(list)
        }
    }

    /// How a person reads the value: lists comma-separated, null as empty.
    public var description: String {
        switch self {
        case .null: return ""
        case .bool(let flag): return flag ? "yes" : "no"
        case .string(let text): return text
        case .strings(let list): return list.joined(separator: ", ")
        }
    }

    /// The name of the JSON shape, for error messages.
    public var shapeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .string: return "a string"
        case .strings: return "a list of strings"
        }
    }

    public var isNull: Bool { self == .null }
}
