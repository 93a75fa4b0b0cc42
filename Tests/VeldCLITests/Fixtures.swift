import Foundation
import Testing

/// A profile with one record of each type, one of them deleted, for tests that need
/// something in the database.
struct Fixture: Sendable {
    let visit: String
    let carePlan: String
    let goal: String
    let council: String
    /// A visit note that has been deleted.
    let deletedVisit: String

    static func make(_ cli: CLI, role: String? = "carer", sourceLocation: SourceLocation = #_sourceLocation) async throws -> Fixture {
        try await cli.initialise(user: "anna", role: role, sourceLocation: sourceLocation)
        let visit = try await cli.add(
            "visit", "add", "--location", "loc-zonnehof", "--kind", "werkbezoek", "--date", "2026-11-20",
            "--summary", "Rondgang huiskamer", "--observations", "Bewoners zitten in de huiskamer.",
            "--themes", "veiligheid, informatie", "--participation", "cliëntenraad", sourceLocation: sourceLocation)
        let carePlan = try await cli.add(
            "careplan", "add", "--location", "loc-zonnehof", "--client-code", "ZH-0042", "--law", "Wlz",
            "--care-start", "2026-10-01", sourceLocation: sourceLocation)
        let goal = try await cli.add(
            "goal", "add", "--care-plan", String(carePlan.prefix(8)), "--domain", "welzijn",
            "--goal", "Dagelijks naar buiten", sourceLocation: sourceLocation)
        let council = try await cli.add(
            "council", "add", "--scope", "org-bezinn", "--council", "Cliëntenraad Zonnehof", "--kind", "adviesaanvraag",
            "--topic", "Nieuwe dagbesteding", "--response-due", "2026-12-15", sourceLocation: sourceLocation)
        let deletedVisit = try await cli.add(
            "visit", "add", "--location", "loc-de-linde", "--kind", "dialoog", "--date", "2026-11-02",
            "--summary", "Gesprek met bewoners", sourceLocation: sourceLocation)
        try await cli.ok("delete", deletedVisit, sourceLocation: sourceLocation)
        return Fixture(visit: visit, carePlan: carePlan, goal: goal, council: council, deletedVisit: deletedVisit)
    }

    /// `{visit}`, `{careplan}`, `{goal}`, `{council}`, `{deleted}` in `argument` replaced by ids.
    func substitute(_ argument: String) -> String {
        argument
            .replacingOccurrences(of: "{visit}", with: visit)
            .replacingOccurrences(of: "{careplan}", with: carePlan)
            .replacingOccurrences(of: "{goal}", with: goal)
            .replacingOccurrences(of: "{council}", with: council)
            .replacingOccurrences(of: "{deleted}", with: deletedVisit)
    }
}

/// One record type as the tests drive it: how to add one, and an edit to make.
struct Noun: Sendable, CustomTestStringConvertible {
    let name: String
    let type: String
    let columns: [String]
    /// The `add` arguments after `NAME add`; `{careplan}` is replaced by a care plan's id.
    let addArguments: [String]
    /// A cell the table row shows for the record made by `addArguments`.
    let cell: String
    let editField: String
    let editValue: String

    var testDescription: String { name }

    static let all: [Noun] = [
        Noun(name: "visit", type: "visitNote", columns: ["ID", "DATE", "SCOPE", "KIND", "STATUS", "SUMMARY"],
             addArguments: ["--location", "loc-zonnehof", "--kind", "kwaliteitsbezoek", "--date", "2026-11-21",
                            "--summary", "Kwaliteitsbezoek afdeling 2"],
             cell: "Kwaliteitsbezoek afdeling 2", editField: "kind", editValue: "dialoog"),
        Noun(name: "careplan", type: "carePlan",
             columns: ["ID", "SCOPE", "CLIENT", "LAW", "FORM", "START", "STATUS", "REVIEWED BY"],
             addArguments: ["--location", "loc-zonnehof", "--client-code", "ZH-0077", "--law", "Wmo",
                            "--care-start", "2026-09-01"],
             cell: "ZH-0077", editField: "status", editValue: "besproken"),
        Noun(name: "goal", type: "carePlanGoal", columns: ["ID", "CARE PLAN", "DOMAIN", "STATUS", "EVALUATED", "GOAL"],
             addArguments: ["--care-plan", "{careplan}", "--domain", "wonen", "--goal", "Zelf koken"],
             cell: "Zelf koken", editField: "status", editValue: "bereikt"),
        Noun(name: "council", type: "councilInput", columns: ["ID", "SCOPE", "KIND", "STATUS", "DUE", "TOPIC"],
             addArguments: ["--scope", "loc-zonnehof", "--council", "Cliëntenraad Zonnehof", "--kind", "signaal",
                            "--topic", "Lange wachttijden"],
             cell: "Lange wachttijden", editField: "status", editValue: "in behandeling"),
    ]
}
