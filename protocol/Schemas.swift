/// The record types of Veld's first version (see DOMAIN.md), read from the built-in
/// module `protocol/modules/veld-core.json`, which ships compiled in as data.
///
/// Decisions that belong to roles: a care plan's `reviewedBy` and `reviewedOn`, an
/// advice request's `response`, a melding's `response`, an ontwikkelplan's `decision`
/// and every field of a bulletin are written by the office (or an admin) only. What
/// is agreed with the client (`agreedWith`, `agreedOn`, `responsibleProfessional`) is
/// the carer's to record. A visit note's status `definitief` may be set by its visitor: the note is
/// the visitor's own account of what they saw, and "definitief" means "I am done
/// writing", not an office judgement; the office can still edit it afterwards.
public enum Schemas {
    /// Every type of the built-in modules (`protocol/modules/*.json`), in their order.
    /// A device and a server work on a ``SchemaSet`` (the set in force); these are the
    /// built-in set's.
    public static var all: [RecordSchema] { SchemaSet.builtIn.schemas }

    public static let visitNote = builtIn("visitNote")
    public static let councilInput = builtIn("councilInput")
    public static let carePlan = builtIn("carePlan")
    public static let carePlanGoal = builtIn("carePlanGoal")
    public static let melding = builtIn("melding")
    public static let ontwikkelplan = builtIn("ontwikkelplan")
    public static let participation = builtIn("participation")
    public static let bulletin = builtIn("bulletin")
    public static let acknowledgement = builtIn("acknowledgement")

    /// The Kwaliteitskader themes a visit note may touch (the values of its `themes`).
    public static var kwaliteitskaderThemes: [String] {
        if case .choices(let values)? = visitNote.field("themes")?.kind { return values }
        return []
    }

    /// The schema of `type` (`visitNote`), also found by its noun (`visit`).
    public static func named(_ name: String) -> RecordSchema? { SchemaSet.builtIn.named(name) }

    private static func builtIn(_ type: String) -> RecordSchema {
        guard let schema = all.first(where: { $0.type == type }) else {
            fatalError("the built-in module lacks \(type)")  // a build defect; the module tests refuse it
        }
        return schema
    }
}
