import Foundation
import Testing

/// A command that must fail: its arguments (`{visit}`, `{careplan}`, … stand for the
/// fixture's ids) and what its error message must mention.
struct BadInput: Sendable, CustomTestStringConvertible {
    let arguments: [String]
    let mentions: [String]
    let label: String

    init(_ label: String, _ arguments: [String], mentions: [String]) {
        self.label = label
        self.arguments = arguments
        self.mentions = mentions
    }

    var testDescription: String { label }

    static let visit = ["visit", "add", "--location", "loc-zonnehof", "--kind", "werkbezoek", "--date", "2026-11-20",
                        "--summary", "Rondgang"]
    static let carePlan = ["careplan", "add", "--location", "loc-zonnehof", "--client-code", "ZH-0099",
                           "--law", "Wlz", "--care-start", "2026-10-01"]

    /// `base` with the value of `option` replaced (or the option removed for nil).
    static func replacing(_ base: [String], _ option: String, with value: String?) -> [String] {
        guard let index = base.firstIndex(of: option) else { return base + (value.map { [option, $0] } ?? []) }
        var result = base
        if let value { result[index + 1] = value } else { result.removeSubrange(index...index + 1) }
        return result
    }

    static let all: [BadInput] = [
        // Unknown type.
        BadInput("list --type bogus", ["list", "--type", "bogus"], mentions: ["unknown type", "bogus", "visitNote"]),
        BadInput("schema bogus", ["schema", "bogus"], mentions: ["unknown type", "bogus"]),
        // Bad enum values.
        BadInput("visit --kind foo", replacing(visit, "--kind", with: "foo"), mentions: ["kind", "'foo'", "werkbezoek"]),
        BadInput("visit --status klaar", replacing(visit, "--status", with: "klaar"), mentions: ["status", "'klaar'", "definitief"]),
        BadInput("visit --themes bogus", replacing(visit, "--themes", with: "veiligheid, eten"), mentions: ["themes", "'eten'"]),
        BadInput("visit --themes twice", replacing(visit, "--themes", with: "veiligheid, Veiligheid"),
                 mentions: ["themes", "'veiligheid' is listed twice"]),
        BadInput("careplan --law", replacing(carePlan, "--law", with: "WLZ-plus"),
                 mentions: ["law", "'WLZ-plus'", "Wlz", "veld-core"]),
        BadInput("careplan --delivery-form", carePlan + ["--delivery-form", "persoonsgebonden"],
                 mentions: ["deliveryForm", "'persoonsgebonden'", "pgb"]),
        BadInput("careplan --participants", replacing(carePlan, "--participants", with: "buren"),
                 mentions: ["participants", "'buren'"]),
        BadInput("edit kind=foo", ["edit", "{visit}", "kind=foo"], mentions: ["kind", "'foo'"]),
        BadInput("edit councilInvolved=misschien", ["edit", "{visit}", "councilInvolved=misschien"],
                 mentions: ["councilInvolved", "true or false"]),
        BadInput("council edit status", ["council", "edit", "{council}", "status=klaar"], mentions: ["status", "'klaar'"]),
        // Bad dates.
        BadInput("--date 2026-02-30", replacing(visit, "--date", with: "2026-02-30"),
                 mentions: ["visitedAt", "'2026-02-30' is not a date", "YYYY-MM-DD"]),
        BadInput("--date 20-11-2026", replacing(visit, "--date", with: "20-11-2026"),
                 mentions: ["visitedAt", "'20-11-2026' is not a date"]),
        BadInput("--date 2025-02-29", replacing(visit, "--date", with: "2025-02-29"), mentions: ["'2025-02-29' is not a date"]),
        BadInput("--care-start 2026-13-01", replacing(carePlan, "--care-start", with: "2026-13-01"),
                 mentions: ["careStart", "'2026-13-01' is not a date"]),
        BadInput("council --response-due", ["council", "add", "--scope", "org-bezinn", "--council", "C", "--kind", "advies",
                                            "--topic", "T", "--response-due", "morgen"], mentions: ["responseDue", "'morgen'"]),
        BadInput("edit followUpDue", ["edit", "{visit}", "followUpDue=2026-11-31"], mentions: ["followUpDue", "'2026-11-31'"]),
        // Missing required fields.
        BadInput("edit summary=", ["edit", "{visit}", "summary="], mentions: ["summary is required"]),
        BadInput("visit edit visitor=", ["visit", "edit", "{visit}", "visitor=  "], mentions: ["visitor is required"]),
        BadInput("careplan edit clientCode=", ["careplan", "edit", "{careplan}", "clientCode="], mentions: ["clientCode is required"]),
        BadInput("visit add without --summary", replacing(visit, "--summary", with: nil), mentions: ["--summary"]),
        BadInput("visit add with a blank --summary", replacing(visit, "--summary", with: "   "), mentions: ["summary is required"]),
        BadInput("careplan add without --care-start", replacing(carePlan, "--care-start", with: nil), mentions: ["--care-start"]),
        BadInput("goal add without --goal", ["goal", "add", "--care-plan", "{careplan}", "--domain", "welzijn"],
                 mentions: ["--goal"]),
        BadInput("council add without --topic", ["council", "add", "--scope", "org-bezinn", "--council", "C", "--kind", "advies"],
                 mentions: ["--topic"]),
        // Unknown record ids.
        BadInput("show 00000000", ["show", "00000000"], mentions: ["no record 00000000"]),
        BadInput("edit deadbeef", ["edit", "deadbeef", "summary=x"], mentions: ["no record deadbeef"]),
        BadInput("delete deadbeef", ["delete", "deadbeef"], mentions: ["no record deadbeef"]),
        BadInput("visit show 00000000", ["visit", "show", "00000000"], mentions: ["no record 00000000"]),
        BadInput("show not-an-id", ["show", "zonnehof"], mentions: ["no record zonnehof"]),
        // Unknown fields and malformed assignments.
        BadInput("edit nonsense=1", ["edit", "{visit}", "nonsense=1"], mentions: ["nonsense", "no such field", "summary"]),
        BadInput("goal edit nonsense=1", ["goal", "edit", "{goal}", "nonsense=1"], mentions: ["nonsense", "no such field"]),
        BadInput("edit without =", ["edit", "{visit}", "summary"], mentions: ["'summary' is not field=value"]),
        BadInput("edit without changes", ["edit", "{visit}"], mentions: ["nothing to change"]),
        BadInput("edit a field twice", ["edit", "{visit}", "summary=a", "summary=b"], mentions: ["summary", "twice"]),
        BadInput("edit two fields from stdin", ["edit", "{visit}", "summary=@-", "observations=@-"],
                 mentions: ["standard input"]),
        BadInput("edit a goal's care plan", ["goal", "edit", "{goal}", "carePlan={careplan}"], mentions: ["carePlan"]),
        // Office-only fields and values.
        BadInput("careplan edit approvedBy=x", ["careplan", "edit", "{careplan}", "approvedBy=x"],
                 mentions: ["approvedBy", "carer role may not write"]),
        BadInput("careplan edit status=vastgesteld", ["careplan", "edit", "{careplan}", "status=vastgesteld"],
                 mentions: ["status", "may not set 'vastgesteld'"]),
        BadInput("edit status=Vastgesteld", ["edit", "{careplan}", "status=Vastgesteld"], mentions: ["may not set 'vastgesteld'"]),
        BadInput("careplan add --reviewed-by", replacing(carePlan, "--reviewed-by", with: "Directie"),
                 mentions: ["reviewedBy", "carer role may not write"]),
        BadInput("careplan add --status vastgesteld", replacing(carePlan, "--status", with: "vastgesteld"),
                 mentions: ["may not set 'vastgesteld'"]),
        BadInput("council edit response=", ["council", "edit", "{council}", "response=Akkoord"],
                 mentions: ["response", "carer role may not write"]),
        // A BSN is never a client code.
        BadInput("--client-code 111222333", replacing(carePlan, "--client-code", with: "111222333"),
                 mentions: ["clientCode", "BSN"]),
        BadInput("--client-code 1112.22.333", replacing(carePlan, "--client-code", with: "1112.22.333"), mentions: ["BSN"]),
        BadInput("edit clientCode=BSN", ["edit", "{careplan}", "clientCode=111222333"], mentions: ["clientCode", "BSN"]),
        // Scopes.
        BadInput("visit --location zonnehof", replacing(visit, "--location", with: "zonnehof"),
                 mentions: ["scope 'zonnehof'", "loc-"]),
        BadInput("visit --location org-bezinn", replacing(visit, "--location", with: "org-bezinn"),
                 mentions: ["scope 'org-bezinn'", "location scope"]),
        BadInput("visit --location Loc-Zonnehof", replacing(visit, "--location", with: "Loc-Zonnehof"),
                 mentions: ["scope 'Loc-Zonnehof'"]),
        BadInput("council --scope zonnehof", ["council", "add", "--scope", "zonnehof", "--council", "C", "--kind", "advies",
                                              "--topic", "T"], mentions: ["scope 'zonnehof'", "org-"]),
        // A goal needs an existing care plan.
        BadInput("goal for a missing care plan", ["goal", "add", "--care-plan", "99999999", "--domain", "welzijn",
                                                  "--goal", "x"], mentions: ["no record 99999999"]),
        BadInput("goal for a missing full id", ["goal", "add", "--care-plan", "12345678-1234-1234-1234-123456789abc",
                                                "--domain", "welzijn", "--goal", "x"], mentions: ["12345678-1234-1234-1234-123456789abc"]),
        BadInput("goal for a visit note", ["goal", "add", "--care-plan", "{visit}", "--domain", "welzijn", "--goal", "x"],
                 mentions: ["is a visitNote, not a carePlan"]),
        // The profile.
        BadInput("init twice", ["init", "--user", "anna"], mentions: ["already exists"]),
        BadInput("init twice as office", ["init", "--user", "office", "--role", "office"], mentions: ["already exists"]),
        BadInput("init --user ''", ["init", "--user", " ", "--home", "{root}/blank"], mentions: ["--user"]),
        BadInput("init --role king", ["init", "--user", "k", "--role", "king", "--home", "{root}/king"], mentions: ["'king'"]),
        // A deleted record.
        BadInput("delete a deleted record", ["delete", "{deleted}"], mentions: ["is deleted"]),
    ]
}

@Suite("Bad input")
struct BadInputTests {
    @Test("fails with one error line and leaves the database unchanged", arguments: BadInput.all)
    func rejected(_ input: BadInput) async throws {
        let cli = try CLI()
        let fixture = try await Fixture.make(cli)
        let arguments = input.arguments.map {
            fixture.substitute($0).replacingOccurrences(of: "{root}", with: cli.root.path)
        }
        let before = try await cli.snapshot()
        let result = try await cli.fails(arguments, mentioning: input.mentions.map(fixture.substitute))
        #expect(!result.stderr.contains("Fatal error"), "\(result)")
        #expect(try await cli.snapshot() == before, "\(input.label) changed the database")
        // Nothing was created elsewhere either (init with --home into the scratch folder).
        for folder in ["blank", "king"] {
            #expect(!FileManager.default.fileExists(atPath: cli.root.appendingPathComponent(folder).path))
        }
    }

    @Test("status, list and edit in a home without a profile say to run veld init, and create nothing")
    func noProfile() async throws {
        let cli = try CLI()
        let empty = cli.root.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        for arguments in [["status"], ["status", "--json"], ["list"], ["visit", "list"], ["show", "deadbeef"],
                          ["edit", "deadbeef", "summary=x"], BadInput.visit] {
            try await cli.fails(arguments + ["--home", empty.path], mentioning: ["no Veld profile", "veld init"])
            try await cli.fails(arguments, mentioning: ["no Veld profile", "veld init"]) // $VELD_HOME, never made
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: empty.path).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: cli.home.path))
    }

    @Test("init twice keeps the first profile")
    func initTwice() async throws {
        let cli = try CLI()
        try await cli.initialise(user: "anna")
        let before = try await cli.json("status", "--json")
        try await cli.fails(["init", "--user", "bram", "--role", "office"], mentioning: ["already exists", cli.home.path])
        let after = try await cli.json("status", "--json")
        #expect(after == before)
        #expect(after["user"] == .string("anna"))
        #expect(after["role"] == .string("carer"))
    }

    @Test("an ambiguous id prefix is an error that says to type more")
    func ambiguousPrefix() async throws {
        let cli = try CLI()
        try await cli.initialise()
        // 1500 random ids share a 4-character prefix but for a chance of about e^-17.
        // The hidden `debug write-loop` makes them in one process.
        let loop = try await cli.ok("debug", "write-loop", "--count", "1500")
        let ids = loop.stdoutLines.compactMap { $0.split(separator: " ").first.map(String.init) }
        #expect(ids.count == 1500)
        let groups = Dictionary(grouping: ids) { String($0.prefix(4)) }
        let (prefix, shared) = try #require(groups.first { $0.value.count > 1 })
        let first = shared[0]
        let before = try await cli.snapshot()
        try await cli.fails(["show", prefix], mentioning: ["id prefix \(prefix) matches \(shared.count) records", "type more"])
        try await cli.fails(["edit", prefix, "summary=x"], mentioning: ["matches \(shared.count) records"])
        try await cli.fails(["delete", prefix], mentioning: ["matches \(shared.count) records"])
        #expect(try await cli.snapshot() == before)
        // A longer prefix that tells them apart works.
        let unique = try #require((4...36).map { String(first.prefix($0)) }.first { candidate in
            shared.dropFirst().allSatisfy { !$0.hasPrefix(candidate) }
        })
        #expect(try await cli.show(unique)["id"] == .string(first))
    }
}
