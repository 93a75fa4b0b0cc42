import Foundation
import Testing
import VeldProtocol
import VeldTestSupport

/// The types veld-core 3 added, through the binaries and a real server: a visitor raises a
/// melding and the office answers it; the office publishes a bulletin and a location
/// acknowledges it; the bulletin stays the office's (a carer can neither change nor
/// delete it); a care plan records its law and delivery form apart.
@Suite struct BuiltInTypesCLITests {
    @Test func meldingBulletinAndAcknowledgementEndToEnd() async throws {
        let server = try ServerProcess()
        let vera = try TemporaryFolder("veld-cli-vera")
        let anna = try TemporaryFolder("veld-cli-anna")
        let office = try TemporaryFolder("veld-cli-office")
        func veld(_ home: TemporaryFolder, _ arguments: String...) throws -> Binaries.Result {
            try Binaries.run(Binaries.cli, arguments + ["--home", home.url.path])
        }
        func id(_ result: Binaries.Result) throws -> String {
            try #require(result.status == 0, "\(result.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            return try #require(object["id"] as? String)
        }
        for (home, user, role, scopes) in [(vera, "vera", Role.visitor, ["loc-zonnehof"]),
                                           (anna, "anna", .carer, ["loc-zonnehof", "org-bezinn"]),
                                           (office, "olga", .office, ["*"])] {
            let token = try server.token(user: user, role: role, scopes: scopes)
            let made = try Binaries.run(Binaries.cli, ["init", "--user", user, "--server", server.url!.absoluteString,
                                                       "--token-file", "-", "--home", home.url.path], stdin: token)
            #expect(made.status == 0, "\(made.stderr)")
        }

        // A visitor raises a melding at a work visit; the answer is the office's.
        let melding = try id(try veld(vera, "add", "melding", "--location", "loc-zonnehof", "title=Tillift defect", "kind=fout",
                                      "raisedOn=2026-11-20", "status=gemeld", "owner=teamleider Zonnehof", "--json"))
        let answer = try veld(vera, "edit", melding, "response=Nieuwe tillift besteld")
        #expect(answer.status != 0 && answer.stderr.contains("response") && answer.stderr.contains("visitor role may not write")
                && answer.stderr.contains("module veld-core"), "\(answer.stderr)")
        let badKind = try veld(vera, "add", "melding", "--location", "loc-zonnehof", "title=x", "kind=klacht",
                               "raisedOn=2026-11-20", "status=gemeld")
        #expect(badKind.status != 0 && badKind.stderr.contains("kind") && badKind.stderr.contains("onmogelijkheid"), "\(badKind.stderr)")
        #expect(try veld(vera, "list", "melding").stdout.contains("Tillift defect"))
        #expect(try veld(vera, "sync").stdout.contains("pushed 1"))

        // The office answers it and publishes a bulletin for the organisation.
        #expect(try veld(office, "sync").status == 0)
        let answered = try veld(office, "edit", String(melding.prefix(8)), "response=Nieuwe tillift besteld", "status=opgepakt",
                                "acknowledgedOn=2026-11-23")
        #expect(answered.status == 0, "\(answered.stderr)")
        let bulletin = try id(try veld(office, "add", "bulletin", "--scope", "org-bezinn", "title=Nieuwe valprotocollen",
                                       "topic=beleid", "publishedOn=2026-11-23", "status=verzonden",
                                       "acknowledgeBy=2026-12-07", "--json"))
        #expect(try veld(office, "sync").stdout.contains("pushed 2"))

        // The carer's location receives both, acknowledges the bulletin, and cannot undo it.
        #expect(try veld(anna, "sync").status == 0)
        let shown = try veld(anna, "show", String(melding.prefix(8)))
        #expect(shown.stdout.contains("Nieuwe tillift besteld") && !shown.stdout.contains("newer module"), "\(shown.stdout)")
        let withdraw = try veld(anna, "edit", String(bulletin.prefix(8)), "status=ingetrokken")
        #expect(withdraw.status != 0 && withdraw.stderr.contains("carer role may not write"), "\(withdraw.stderr)")
        let delete = try veld(anna, "delete", String(bulletin.prefix(8)))
        #expect(delete.status != 0 && delete.stderr.contains("deleted"), "\(delete.stderr)")
        #expect(try veld(anna, "show", String(bulletin.prefix(8))).stdout.contains("Nieuwe valprotocollen"))
        let acknowledgement = try id(try veld(anna, "add", "acknowledgement", "--location", "loc-zonnehof", "bulletin=\(bulletin)",
                                              "acknowledgedOn=2026-11-24", "acknowledgedBy=team Zonnehof", "attendedMeeting=ja",
                                              "--json"))
        let plan = try id(try veld(anna, "careplan", "add", "--location", "loc-zonnehof", "--client-code", "ZH-0042",
                                   "--law", "Wlz", "--delivery-form", "pgb", "--agreed-with", "cliënt, naasten",
                                   "--agreed-on", "2026-11-24", "--care-start", "2026-10-01", "--status", "afgesproken", "--json"))
        #expect(try veld(anna, "status").stdout.contains("Pending    2 record(s)"))
        #expect(try veld(anna, "sync").stdout.contains("pushed 2"))

        // The office holds the acknowledgement, the care plan and an untouched bulletin.
        #expect(try veld(office, "sync").status == 0)
        let acknowledged = try veld(office, "list", "acknowledgement")
        #expect(acknowledged.stdout.contains(String(acknowledgement.prefix(8))), "\(acknowledged.stdout)")
        let planShown = try veld(office, "show", String(plan.prefix(8)), "--json")
        let fields = try #require(try JSONSerialization.jsonObject(with: Data(planShown.stdout.utf8)) as? [String: Any])["fields"] as? [String: Any]
        #expect(fields?["law"] as? String == "Wlz" && fields?["deliveryForm"] as? String == "pgb" && fields?["financing"] == nil)
        #expect(fields?["agreedWith"] as? [String] == ["cliënt", "naasten"])
        let bulletinShown = try veld(office, "show", String(bulletin.prefix(8)), "--json")
        let bulletinState = try #require(try JSONSerialization.jsonObject(with: Data(bulletinShown.stdout.utf8)) as? [String: Any])
        #expect(bulletinState["deleted"] as? Bool == false)
        #expect((bulletinState["fields"] as? [String: Any])?["status"] as? String == "verzonden")
        // A visitor never receives the care plan (carers and the office read them).
        #expect(try veld(vera, "sync").status == 0)
        #expect(try veld(vera, "show", String(plan.prefix(8))).status != 0)
        #expect(try veld(vera, "list", "melding").stdout.contains("Tillift defect"))
    }
}
