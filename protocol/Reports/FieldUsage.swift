import Foundation

/// Which rules and reports use a field: data minimisation made visible. A field no rule,
/// no report and no scope rule reads is a question for the office to ask with the
/// financiers' own test ("niet noodzakelijk, niet te toetsen, … of reeds beschikbaar").
public struct FieldUsage: Codable, Hashable, Sendable {
    public var type: String
    public var field: String
    /// The ids of the rules that read it.
    public var rules: [String]
    /// `REPORT/SECTION` of each report section that reads it.
    public var reports: [String]
    /// The type's records take their scope through this field.
    public var scope: Bool
    public var deprecated: Bool

    /// Read by nothing the set defines.
    public var unused: Bool { rules.isEmpty && reports.isEmpty && !scope }

    /// Every field of every type of `set`, in the set's order.
    public static func of(_ set: SchemaSet) -> [FieldUsage] {
        var rules: [String: [String]] = [:]
        for rule in set.rules {
            for field in rule.fieldsRead.sorted() { rules[field, default: []].append(rule.id) }
        }
        var reports: [String: [String]] = [:]
        for report in set.reports {
            for section in report.sections {
                for field in section.fieldsRead.sorted() { reports[field, default: []].append("\(report.id ?? "")/\(section.id)") }
            }
        }
        return set.schemas.flatMap { schema in
            schema.fields.map { field in
                let key = "\(schema.type).\(field.name)"
                var scope = false
                if case .inheritedFrom(let parent) = schema.scopeRule { scope = parent == field.name }
                return FieldUsage(type: schema.type, field: field.name, rules: Array(Set(rules[key] ?? [])).sorted(),
                                  reports: Array(Set(reports[key] ?? [])).sorted(), scope: scope, deprecated: field.deprecated)
            }
        }
    }
}
