import Foundation
import VeldProtocol

/// Turns what a person typed into a field value, the way the schema expects it:
/// enum values match case- and accent-insensitively (`client` → `cliënt`), lists are
/// comma-separated, booleans accept yes/no, ja/nee, true/false, and an empty text clears
/// the field. The result is then checked by the schema, so errors read the same
/// whether a value came from the CLI or over the wire.
///
/// ```swift
/// try FieldInput.parse("veiligheid, informatie", for: Schemas.visitNote.field("themes")!, recordID: id, type: "visitNote")
/// // .strings(["veiligheid", "informatie"])
/// ```
public enum FieldInput {
    public static func parse(_ text: String, for field: FieldSchema, recordID: String, type: String,
                             resolveReference: (String) throws -> String = { $0 }) throws -> FieldValue {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return .null }
        let value: FieldValue
        switch field.kind {
        case .text:
            value = .string(text)
        case .date:
            value = .string(trimmed)
        case .choice(let allowed):
            value = .string(match(trimmed, in: allowed))
        case .bool:
            switch trimmed.lowercased() {
            case "true", "yes", "ja", "y", "j", "1": value = .bool(true)
            case "false", "no", "nee", "n", "0": value = .bool(false)
            default:
                throw ValidationError(recordID: recordID, type: type, field: field.name,
                                      problem: .wrongShape(expected: "true or false (yes/no, ja/nee)", got: "'\(trimmed)'"))
            }
        case .reference:
            value = .string(try resolveReference(trimmed))
        case .choices(let allowed):
            let items = trimmed.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            value = .strings(items.map { match($0, in: allowed) })
        }
        if let problem = field.check(value, recordID: recordID, type: type).first { throw problem }
        return value
    }

    /// The allowed value `input` names, or `input` itself (so the schema reports it).
    static func match(_ input: String, in allowed: [String]) -> String {
        if allowed.contains(input) { return input }
        let folded = fold(input)
        let matches = allowed.filter { fold($0) == folded }
        return matches.count == 1 ? matches[0] : input
    }

    static func fold(_ text: String) -> String {
        text.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: nil)
    }
}
