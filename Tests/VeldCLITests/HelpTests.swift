import Foundation
import Testing

/// `--help` of the tool and every subcommand: exit 0, and the options are mentioned.
@Suite("Help")
struct HelpTests {
    static let commands: [(command: [String], mentions: [String])] = [
        ([], ["init", "visit", "careplan", "goal", "council", "show", "list", "edit", "delete", "status", "schema", "key"]),
        (["init"], ["--user", "--role", "--home", "--passphrase"]),
        (["key"], ["status", "rotate", "VELD_KEY_FILE", "VELD_PASSPHRASE"]),
        (["add"], ["<type>", "--scope", "--location", "--json", "visitNote (visit)", "carePlanGoal (goal)", "clientCode*"]),
        (["key", "rotate"], ["--passphrase", "--key-file", "--home", "one transaction"]),
        (["visit"], ["add", "list", "show", "edit", "delete"]),
        (["careplan"], ["add", "list", "show", "edit", "delete"]),
        (["goal"], ["add", "list", "show", "edit", "delete"]),
        (["council"], ["add", "list", "show", "edit", "delete"]),
        (["visit", "add"], ["--location", "--kind", "--date", "--summary", "--observations", "--observations-file",
                            "--visitor", "--themes", "--gz-themes", "--participation", "cliëntenraad", "verwantenraad",
                            "gesprek cliëntenraad", "--follow-up",
                            "--follow-up-file", "--follow-up-due", "--status", "--json", "--home"]),
        (["careplan", "add"], ["--location", "--client-code", "--law", "--delivery-form", "--financier", "--care-start",
                               "--last-discussed", "--participants", "--risk-assessment", "--risk-assessment-file",
                               "--agreements", "--agreements-file", "--agreed-with", "--agreed-on",
                               "--responsible-professional", "--next-evaluation", "--status", "afgesproken",
                               "--reviewed-by", "--reviewed-on", "--json", "--home"]),
        (["goal", "add"], ["--care-plan", "--domain", "--goal", "--actions", "--actions-file", "--status", "--json",
                           "--home"]),
        (["council", "add"], ["--scope", "--council", "--kind", "--topic", "--body", "--body-file", "--received-at",
                              "--response-due", "--status", "--json", "--home"]),
        (["visit", "list"], ["--scope", "--status", "--conflicts", "--deleted", "--json", "--home"]),
        (["careplan", "show"], ["<id>", "--json", "--home"]),
        (["goal", "edit"], ["<id>", "<assignments>", "carePlan", "domain", "evaluation", "--home"]),
        (["council", "delete"], ["<id>", "--home"]),
        (["show"], ["<id>", "--json", "--home"]),
        (["list"], ["--type", "--scope", "--status", "--conflicts", "--deleted", "--json", "--home"]),
        (["edit"], ["<id>", "<assignments>", "field=@FILE", "--home"]),
        (["delete"], ["<id>", "--home"]),
        (["status"], ["--json", "--home"]),
        (["schema"], ["<type>"]),
    ]

    @Test("veld … --help", arguments: commands)
    func help(command: [String], mentions: [String]) async throws {
        let cli = try CLI()
        let result = try await cli.ok(command + ["--help"])
        #expect(result.stdout.contains("USAGE: veld"), "\(result)")
        for mention in mentions {
            #expect(result.stdout.contains(mention), "\(mention) missing\n\(result)")
        }
        #expect(!FileManager.default.fileExists(atPath: cli.home.path), "help creates no profile")
    }

    @Test("a typed command's --help offers what its module offers, and not what it retired")
    func helpFollowsTheModule() async throws {
        let cli = try CLI()
        let visit = try await cli.ok("visit", "add", "--help").stdout
        #expect(visit.contains("organisatiescan") && visit.contains("klankbordgroep") && visit.contains("samenhang in zorg"), "\(visit)")
        #expect(!visit.contains("zorgplanbespreking") && !visit.contains("council-involved"), "\(visit)")
        let carePlan = try await cli.ok("careplan", "add", "--help").stdout
        #expect(carePlan.contains("particulier") && carePlan.contains("vpt") && carePlan.contains("wettelijk"), "\(carePlan)")
        #expect(!carePlan.contains("--financing") && !carePlan.contains("vastgesteld") && !carePlan.contains("--approved-by"),
                "\(carePlan)")
        let add = try await cli.ok("add", "--help").stdout
        #expect(add.contains("melding (melding)") && add.contains("bulletin (bulletin)") && !add.contains("councilInvolved"),
                "\(add)")
    }

    @Test("veld help visit add is the same as veld visit add --help")
    func helpSubcommand() async throws {
        let cli = try CLI()
        let help = try await cli.ok("help", "visit", "add")
        let flag = try await cli.ok("visit", "add", "--help")
        #expect(help.stdout == flag.stdout)
    }

    @Test("veld schema lists the types, veld schema TYPE the fields")
    func schema() async throws {
        let cli = try CLI()
        let types = try await cli.ok("schema")
        for type in ["visitNote", "melding", "councilInput", "participation", "carePlan", "carePlanGoal", "ontwikkelplan",
                     "bulletin", "acknowledgement"] {
            #expect(types.stdout.contains(type), "\(types)")
        }
        let carePlan = try await cli.ok("schema", "careplan")
        #expect(carePlan.stdoutLines.contains { $0.hasPrefix("reviewedBy") && $0.contains("written by office, admin") }, "\(carePlan)")
        #expect(carePlan.stdoutLines.contains { $0.hasPrefix("financing") && $0.contains("deprecated") }, "\(carePlan)")
        #expect(carePlan.stdoutLines.contains { $0.hasPrefix("clientCode") && $0.contains("required") }, "\(carePlan)")
        #expect(try await cli.ok("schema", "carePlan").stdout == carePlan.stdout)
    }
}
