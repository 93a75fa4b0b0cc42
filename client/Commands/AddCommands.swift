import ArgumentParser
import Foundation
import VeldCore
import VeldProtocol

enum VisitNoun: RecordNoun {
    static let schema = Schemas.visitNote
    static let columns: [TableColumn] = [
        .id, .field("DATE", "visitedAt", width: 10), .scope, .field("KIND", "kind", width: 17),
        .field("STATUS", "status", width: 10), .field("SUMMARY", "summary", width: 0),
    ]

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add notes of a visit to a location.")

        @OptionGroup var home: HomeOptions
        @Option(help: "Location scope, e.g. loc-zonnehof.") var location: String
        @Option(help: ArgumentHelp("Kind: \(Offered.values(VisitNoun.schema, "kind")).")) var kind: String
        @Option(help: "Day of the visit, YYYY-MM-DD.") var date: String
        @Option(help: "One-line summary.") var summary: String
        @Option(help: "What was seen and heard.") var observations: String?
        @Option(help: ArgumentHelp("Read the observations from a file (- for standard input).", valueName: "file"))
        var observationsFile: String?
        @Option(help: "Who visited (default: your user name).") var visitor: String?
        @Option(help: "Kwaliteitskader Verpleeghuiszorg themes, comma-separated (e.g. \"veiligheid, informatie\").")
        var themes: String?
        @Option(help: ArgumentHelp("Gehandicaptenzorg framework themes, comma-separated: \(Offered.values(VisitNoun.schema, "gzThemes")).", valueName: "themes"))
        var gzThemes: String?
        @Option(help: ArgumentHelp("Which council or group took part, comma-separated: \(Offered.values(VisitNoun.schema, "participation")).", valueName: "bodies"))
        var participation: String?
        @Option(help: "Follow-up questions or agreements.") var followUp: String?
        @Option(help: ArgumentHelp("Read the follow-up from a file (- for standard input).", valueName: "file"))
        var followUpFile: String?
        @Option(help: "When the follow-up is due, YYYY-MM-DD.") var followUpDue: String?
        @Option(help: "concept (default) or definitief.") var status: String = "concept"
        @Flag(help: "Print the new record as JSON.") var json = false

        func run() throws {
            let visitor = try visitor ?? home.openStore().profile().user
            try AddRecord.run(home: home, schema: VisitNoun.schema, scope: location, input: [
                "visitedAt": date, "kind": kind, "summary": summary, "visitor": visitor,
                "observations": try LongText.either(observations, file: observationsFile, option: "observations"),
                "themes": themes, "gzThemes": gzThemes, "participation": participation,
                "followUp": try LongText.either(followUp, file: followUpFile, option: "follow-up"),
                "followUpDue": followUpDue, "status": status,
            ], json: json)
        }
    }
}

enum CarePlanNoun: RecordNoun {
    static let schema = Schemas.carePlan
    static let columns: [TableColumn] = [
        .id, .scope, .field("CLIENT", "clientCode", width: 10), .field("LAW", "law", width: 8),
        .field("FORM", "deliveryForm", width: 4), .field("START", "careStart", width: 10),
        .field("STATUS", "status", width: 11), .field("REVIEWED BY", "reviewedBy", width: 0),
    ]

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a client's care plan at a location.")

        @OptionGroup var home: HomeOptions
        @Option(help: "Location scope, e.g. loc-zonnehof.") var location: String
        @Option(help: "Pseudonymous client code (never a BSN or a name).") var clientCode: String
        @Option(help: ArgumentHelp("The law financing the care: \(Offered.values(CarePlanNoun.schema, "law")).")) var law: String?
        @Option(help: ArgumentHelp("Delivery form: \(Offered.values(CarePlanNoun.schema, "deliveryForm")) (pgb is a form, not a law).", valueName: "form"))
        var deliveryForm: String?
        @Option(help: "Who finances it, e.g. \"Zorgkantoor Noord\" or a municipality.") var financier: String?
        @Option(help: "First day of care, YYYY-MM-DD.") var careStart: String
        @Option(help: "Last time discussed with the client, YYYY-MM-DD.") var lastDiscussed: String?
        @Option(help: "Who took part, comma-separated: cliënt, naasten, mantelzorger, wettelijk vertegenwoordiger, professionals.")
        var participants: String?
        @Option(help: "Risks and how they are handled.") var riskAssessment: String?
        @Option(help: ArgumentHelp("Read the risk assessment from a file (- for standard input).", valueName: "file"))
        var riskAssessmentFile: String?
        @Option(help: "Agreements with client and relatives.") var agreements: String?
        @Option(help: ArgumentHelp("Read the agreements from a file (- for standard input).", valueName: "file"))
        var agreementsFile: String?
        @Option(help: ArgumentHelp("With whom it was agreed, comma-separated: \(Offered.values(CarePlanNoun.schema, "agreedWith")).", valueName: "people"))
        var agreedWith: String?
        @Option(help: "Day it was agreed with them, YYYY-MM-DD.") var agreedOn: String?
        @Option(help: ArgumentHelp("The professional responsible for the plan.", valueName: "name")) var responsibleProfessional: String?
        @Option(help: ArgumentHelp("When the plan is next evaluated, YYYY-MM-DD.", valueName: "date")) var nextEvaluation: String?
        @Option(help: ArgumentHelp("\(Offered.values(CarePlanNoun.schema, "status")); concept is the default.")) var status: String = "concept"
        @Option(help: "Who at the office reviewed the plan (office only).") var reviewedBy: String?
        @Option(help: "Day of the office's review, YYYY-MM-DD (office only).") var reviewedOn: String?
        @Flag(help: "Print the new record as JSON.") var json = false

        func run() throws {
            try AddRecord.run(home: home, schema: CarePlanNoun.schema, scope: location, input: [
                "clientCode": clientCode, "law": law, "deliveryForm": deliveryForm, "financier": financier,
                "careStart": careStart, "lastDiscussedAt": lastDiscussed, "participants": participants,
                "riskAssessment": try LongText.either(riskAssessment, file: riskAssessmentFile, option: "risk-assessment"),
                "agreements": try LongText.either(agreements, file: agreementsFile, option: "agreements"),
                "agreedWith": agreedWith, "agreedOn": agreedOn, "responsibleProfessional": responsibleProfessional,
                "nextEvaluationDue": nextEvaluation, "status": status, "reviewedBy": reviewedBy, "reviewedOn": reviewedOn,
            ], json: json)
        }
    }
}

enum GoalNoun: RecordNoun {
    static let schema = Schemas.carePlanGoal
    static let columns: [TableColumn] = [
        .id, .reference("CARE PLAN", "carePlan"), .field("DOMAIN", "domain", width: 12),
        .field("STATUS", "status", width: 10), .field("EVALUATED", "evaluatedAt", width: 10),
        .field("GOAL", "goal", width: 0),
    ]

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a goal to a care plan (the goal takes the care plan's scope).")

        @OptionGroup var home: HomeOptions
        @Option(help: "The care plan's id (or a unique prefix).") var carePlan: String
        @Option(help: "Life domain, e.g. welzijn, wonen, gezondheid.") var domain: String
        @Option(help: "The goal, in the client's words.") var goal: String
        @Option(help: "What is done to reach it.") var actions: String?
        @Option(help: ArgumentHelp("Read the actions from a file (- for standard input).", valueName: "file"))
        var actionsFile: String?
        @Option(help: "open (default), bereikt, bijgesteld, gestopt.") var status: String = "open"
        @Flag(help: "Print the new record as JSON.") var json = false

        func run() throws {
            try AddRecord.run(home: home, schema: GoalNoun.schema, scope: nil, input: [
                "carePlan": carePlan, "domain": domain, "goal": goal,
                "actions": try LongText.either(actions, file: actionsFile, option: "actions"), "status": status,
            ], json: json)
        }
    }
}

enum CouncilNoun: RecordNoun {
    static let schema = Schemas.councilInput
    static let columns: [TableColumn] = [
        .id, .scope, .field("KIND", "kind", width: 17), .field("STATUS", "status", width: 14),
        .field("DUE", "responseDue", width: 10), .field("TOPIC", "topic", width: 0),
    ]

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add council input: an advice request, advice, a signal, minutes or a proposal.")

        @OptionGroup var home: HomeOptions
        @Option(help: "Organisation or location scope, e.g. org-bezinn or loc-zonnehof.") var scope: String
        @Option(help: "Name of the council, e.g. \"Cliëntenraad Zonnehof\".") var council: String
        @Option(help: "Kind: adviesaanvraag, advies, \"ongevraagd advies\", signaal, notulen, voorstel.") var kind: String
        @Option(help: "What it is about.") var topic: String
        @Option(help: "The text itself.") var body: String?
        @Option(help: ArgumentHelp("Read the body from a file (- for standard input).", valueName: "file"))
        var bodyFile: String?
        @Option(help: "Day it was received, YYYY-MM-DD.") var receivedAt: String?
        @Option(help: "Day an answer is due, YYYY-MM-DD.") var responseDue: String?
        @Option(help: "open (default), \"in behandeling\", beantwoord, gesloten.") var status: String = "open"
        @Flag(help: "Print the new record as JSON.") var json = false

        func run() throws {
            try AddRecord.run(home: home, schema: CouncilNoun.schema, scope: scope, input: [
                "council": council, "kind": kind, "topic": topic,
                "body": try LongText.either(body, file: bodyFile, option: "body"),
                "receivedAt": receivedAt, "responseDue": responseDue, "status": status,
            ], json: json)
        }
    }
}

/// The values of a built-in field that `--help` offers (retired ones left out), quoted
/// where they hold a space, so the help of a typed command follows its module.
enum Offered {
    static func values(_ schema: RecordSchema, _ field: String) -> String {
        (schema.field(field)?.offeredValues ?? []).map { $0.contains(" ") ? "\"\($0)\"" : $0 }.joined(separator: ", ")
    }
}
