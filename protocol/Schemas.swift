/// The record types of Veld's first version (see DOMAIN.md), as data.
///
/// Decisions that belong to roles: a care plan's `approvedBy` and its status
/// `vastgesteld`, and an advice request's `response`, are written by the office (or an
/// admin) only. A visit note's status `definitief` may be set by its visitor: the note is
/// the visitor's own account of what they saw, and "definitief" means "I am done
/// writing", not an office judgement; the office can still edit it afterwards.
public enum Schemas {
    public static let kwaliteitskaderThemes = [
        "persoonsgerichte zorg", "wonen en welzijn", "veiligheid", "leren en verbeteren",
        "leiderschap/governance", "personeelssamenstelling", "hulpbronnen", "informatie",
    ]

    public static let visitNote = RecordSchema(
        type: "visitNote", noun: "visit",
        summary: "notes of a visit to a location",
        scopeRule: .location,
        fields: [
            FieldSchema("visitedAt", .date, required: true, summary: "day of the visit"),
            FieldSchema("visitor", .text(long: false), required: true, summary: "who visited"),
            FieldSchema("kind", .choice(["werkbezoek", "kwaliteitsbezoek", "dialoog", "zorgplanbespreking", "overig"]),
                        required: true, summary: "kind of visit"),
            FieldSchema("summary", .text(long: false), required: true, summary: "one-line summary"),
            FieldSchema("observations", .text(long: true), summary: "what was seen and heard"),
            FieldSchema("themes", .choices(kwaliteitskaderThemes), summary: "Kwaliteitskader themes touched"),
            FieldSchema("councilInvolved", .bool, summary: "whether the cliëntenraad took part"),
            FieldSchema("followUp", .text(long: true), summary: "follow-up questions or agreements"),
            FieldSchema("followUpDue", .date, summary: "when the follow-up is due"),
            FieldSchema("status", .choice(["concept", "definitief"]), required: true,
                        summary: "concept while writing, definitief when the visitor is done"),
        ]
    )

    public static let councilInput = RecordSchema(
        type: "councilInput", noun: "council",
        summary: "input from or to a cliëntenraad: advice, signals, minutes, proposals",
        scopeRule: .organisationOrLocation,
        fields: [
            FieldSchema("council", .text(long: false), required: true, summary: "name of the council"),
            FieldSchema("kind", .choice(["adviesaanvraag", "advies", "ongevraagd advies", "signaal", "notulen", "voorstel"]),
                        required: true, summary: "kind of input"),
            FieldSchema("topic", .text(long: false), required: true, summary: "what it is about"),
            FieldSchema("body", .text(long: true), summary: "the text itself"),
            FieldSchema("receivedAt", .date, summary: "day it was received"),
            FieldSchema("responseDue", .date, summary: "day an answer is due"),
            FieldSchema("status", .choice(["open", "in behandeling", "beantwoord", "gesloten"]), required: true,
                        summary: "where it stands"),
            FieldSchema("response", .text(long: true), writers: Role.officeOnly,
                        summary: "the formal answer (office only)"),
        ]
    )

    public static let carePlan = RecordSchema(
        type: "carePlan", noun: "careplan",
        summary: "a client's care plan (zorgplan) at a location",
        scopeRule: .location,
        fields: [
            FieldSchema("clientCode", .text(long: false), required: true,
                        summary: "pseudonymous client code (never a BSN or a name)"),
            FieldSchema("financing", .choice(["Wlz", "Wmo", "Jeugdwet", "Zvw", "pgb"]), required: true,
                        summary: "the law or budget that pays for the care"),
            FieldSchema("careStart", .date, required: true, summary: "first day of care"),
            FieldSchema("lastDiscussedAt", .date, summary: "last time the plan was discussed with the client"),
            FieldSchema("participants", .choices(["cliënt", "naasten", "mantelzorger", "wettelijk vertegenwoordiger", "professionals"]),
                        summary: "who took part in drawing it up"),
            FieldSchema("riskAssessment", .text(long: true), summary: "risks and how they are handled"),
            FieldSchema("agreements", .text(long: true), summary: "agreements with client and relatives"),
            FieldSchema("status", .choice(["concept", "besproken", "vastgesteld"]), required: true,
                        restrictedValues: ["vastgesteld": Role.officeOnly],
                        summary: "concept, besproken, or vastgesteld (office only)"),
            FieldSchema("approvedBy", .text(long: false), writers: Role.officeOnly,
                        summary: "who approved the plan (office only)"),
        ]
    )

    public static let carePlanGoal = RecordSchema(
        type: "carePlanGoal", noun: "goal",
        summary: "one goal of a care plan; goals are records of their own so adding two never conflicts",
        scopeRule: .inheritedFrom(field: "carePlan"),
        fields: [
            FieldSchema("carePlan", .reference("carePlan"), required: true, summary: "the care plan this goal belongs to"),
            FieldSchema("domain", .text(long: false), required: true, summary: "life domain (welzijn, wonen, gezondheid, …)"),
            FieldSchema("goal", .text(long: false), required: true, summary: "the goal in the client's words"),
            FieldSchema("actions", .text(long: true), summary: "what is done to reach it"),
            FieldSchema("status", .choice(["open", "bereikt", "bijgesteld", "gestopt"]), required: true,
                        summary: "where the goal stands"),
            FieldSchema("evaluation", .text(long: true), summary: "outcome of the last evaluation"),
            FieldSchema("evaluatedAt", .date, summary: "day of the last evaluation"),
        ]
    )

    public static let all: [RecordSchema] = [visitNote, councilInput, carePlan, carePlanGoal]

    /// The schema of `type` (`visitNote`), also found by its noun (`visit`).
    public static func named(_ name: String) -> RecordSchema? {
        all.first { $0.type == name } ?? all.first { $0.noun == name }
    }
}
