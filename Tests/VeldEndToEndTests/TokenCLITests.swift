import Foundation
import Testing
import VeldCore
import VeldProtocol

/// `veld-server token create --expires`, `rotate`, `update` and `list`, with a real device.
@Suite struct TokenCLITests {
    @Test func aRotatedTokenKeepsItsDeviceAndTheOldSecretStops() throws {
        let server = try ServerProcess()
        let home = try TemporaryFolder("veld-token-anna")
        func veld(_ arguments: String..., stdin: String? = nil) throws -> Binaries.Result {
            try Binaries.run(Binaries.cli, arguments + ["--home", home.url.path], stdin: stdin)
        }
        func admin(_ arguments: String...) throws -> Binaries.Result {
            try Binaries.run(Binaries.server, arguments + ["--db", server.database])
        }
        func listed() throws -> [[String: Any]] {
            try JSONSerialization.jsonObject(with: Data(try admin("token", "list", "--json").stdout.utf8)) as? [[String: Any]] ?? []
        }
        let created = try admin("token", "create", "--user", "anna", "--role", "visitor", "--scope", "loc-zonnehof", "--expires", "90d")
        #expect(created.status == 0 && created.stderr.contains("valid until"), "\(created.stderr)")
        let first = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let id = try #require(listed().first?["id"] as? String)
        let expires = try #require(listed().first?["expiresAt"] as? String)
        func anna() throws -> [String: Any] { try listed().first { $0["id"] as? String == id } ?? [:] }
        let expiry = try #require(ISO8601DateFormatter().date(from: expires))
        #expect(abs(expiry.timeIntervalSinceNow - 90 * 86_400) < 600)
        #expect(try admin("token", "list").stdout.contains(String(expires.prefix(10))))

        #expect(try veld("init", "--user", "anna", "--server", server.url!.absoluteString, "--token-file", "-", stdin: first).status == 0)
        #expect(try veld("visit", "add", "--location", "loc-zonnehof", "--kind", "werkbezoek", "--date", "2026-11-20",
                         "--summary", "Rondgang").status == 0)
        // The office writes in De Linde before Anna's first sync: her cursor passes it.
        let office = try TemporaryFolder("veld-token-office")
        let officeToken = try server.token(user: "office", role: .office, scopes: ["*"])
        func officeVeld(_ arguments: String..., stdin: String? = nil) throws -> Binaries.Result {
            try Binaries.run(Binaries.cli, arguments + ["--home", office.url.path], stdin: stdin)
        }
        #expect(try officeVeld("init", "--user", "office", "--server", server.url!.absoluteString, "--token-file", "-",
                                stdin: officeToken).status == 0)
        let lindeNote = try officeVeld("visit", "add", "--location", "loc-de-linde", "--kind", "werkbezoek", "--date", "2026-11-19",
                                       "--summary", "Rondgang De Linde")
        let lindeID = String(lindeNote.stdout.split(separator: " ").last ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try officeVeld("sync").status == 0)
        #expect(try veld("sync").status == 0)
        #expect(try veld("show", lindeID).status != 0, "a record outside the token's scopes reached the device")
        let replica = try #require(anna()["replica"] as? String)

        let rotated = try admin("token", "rotate", id)
        #expect(rotated.status == 0 && rotated.stderr.contains("old one no longer works"))
        let second = rotated.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(second != first && second.hasPrefix("veld_"))
        // Rotated without --expires: as long again as it was first given.
        let renewedText = try #require(anna()["expiresAt"] as? String)
        let renewed = try #require(ISO8601DateFormatter().date(from: renewedText))
        #expect(abs(renewed.timeIntervalSinceNow - 90 * 86_400) < 600)

        let refused = try veld("sync")
        #expect(refused.status != 0 && refused.stderr.contains("not known to the server"), "\(refused.stderr)")
        #expect(try veld("connect", "--server", server.url!.absoluteString, "--token-file", "-", stdin: second).status == 0)
        #expect(try veld("visit", "add", "--location", "loc-zonnehof", "--kind", "werkbezoek", "--date", "2026-11-21",
                         "--summary", "Tweede rondgang").status == 0)
        let again = try veld("sync")
        #expect(again.status == 0 && again.stdout.contains("pushed 1"), "\(again.stderr)")
        #expect(try anna()["replica"] as? String == replica)

        let updated = try admin("token", "update", id, "--scopes", "loc-zonnehof,loc-de-linde")
        #expect(updated.status == 0 && updated.stdout.contains("loc-zonnehof,loc-de-linde"))
        let annaRow = try #require(listed().first { $0["user"] as? String == "anna" })
        #expect(annaRow["scopes"] as? [String] == ["loc-zonnehof", "loc-de-linde"])
        // The next sync learns the wider scopes and pulls from the start: the older De
        // Linde note arrives too.
        let widened = try veld("sync")
        #expect(widened.status == 0, "\(widened.stderr)")
        #expect(try veld("show", lindeID).status == 0, "a record written before the scope was added never arrived")

        for bad in ["5x", "6m", "0d", "+5d", "d", "3654d"] {
            #expect(try admin("token", "create", "--user", "x", "--role", "visitor", "--scope", "loc-a", "--expires", bad).status != 0, "\(bad)")
        }
        let noExpiry = try admin("token", "rotate", id, "--no-expiry")
        #expect(noExpiry.status == 0 && noExpiry.stderr.contains("no expiry"))
        #expect(try anna()["expiresAt"] == nil)
        #expect(try admin("token", "rotate", "tok_00000000").stderr.contains("no token"))
        #expect(try admin("token", "revoke", id).status == 0)
        #expect(try admin("token", "rotate", id).stderr.contains("revoked"))
        #expect(try admin("token", "update", id, "--scopes", "*").stderr.contains("revoked"))
    }
}
