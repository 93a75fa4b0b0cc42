import Foundation
import Testing
import VeldCore
import VeldProtocol

/// The server's own log (`--log-format json`, at trace, its most talkative): one JSON object per line, one line
/// per request with its id, the id in every answer and in a refusal the user sees; and in a
/// whole sync run (pushes, pulls, conflicts, a history, refusals, an unknown token), no
/// token secret and no field value anywhere in it.
@Suite struct ServerLogTests {
    @Test func theLogHoldsNoSecretAndNoValue() async throws {
        let folder = try TemporaryFolder("veld-log")
        let logFile = folder.url.appendingPathComponent("server.log")
        let server = try ServerProcess(serveArguments: ["--log-level", "trace", "--log-format", "json"], logFile: logFile)
        let anna = try AuditCLITests.Device("anna", .carer, ["loc-zonnehof"], server)
        let bram = try AuditCLITests.Device("bram", .carer, ["loc-zonnehof"], server)
        let phrases = ["Zonnebloem-\(UUID().uuidString.prefix(8))", "Kiwi-\(UUID().uuidString.prefix(8))",
                       "Fietsbel-\(UUID().uuidString.prefix(8))", "ZH-\(Int.random(in: 1_000...9_999))"]
        func id(_ result: Binaries.Result) throws -> String {
            #expect(result.status == 0, "\(result.stderr)")
            return try #require(result.stdout.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
        }
        let plan = try id(anna("add", "carePlan", "--scope", "loc-zonnehof", "clientCode=\(phrases[3])", "law=Wlz",
                               "careStart=2026-10-01", "status=concept", "agreements=\(phrases[0])"))
        #expect(try anna("sync").status == 0)
        #expect(try bram("sync").status == 0)
        #expect(try anna("edit", plan, "agreements=\(phrases[1])").status == 0)
        #expect(try bram("edit", plan, "agreements=\(phrases[2])").status == 0)
        for device in [anna, bram, anna] { #expect(try device("sync").status == 0) }
        #expect(try anna("history", plan).status == 0)

        // A device whose token the office revoked: the refusal it shows names the request.
        let tokens = try Binaries.run(Binaries.server, ["token", "list", "--json", "--db", server.database])
        let list = try #require(try JSONSerialization.jsonObject(with: Data(tokens.stdout.utf8)) as? [[String: Any]])
        let bramsToken = try #require(list.first { $0["user"] as? String == "bram" }?["id"] as? String)
        #expect(try Binaries.run(Binaries.server, ["token", "revoke", bramsToken, "--db", server.database]).status == 0)
        let refused = try bram("sync")
        let requestID = try #require(refused.stderr.range(of: #"\[request [0-9a-f]+\]"#, options: .regularExpression)
            .map { String(refused.stderr[$0].dropFirst(9).dropLast()) }, "\(refused.stderr)")
        // An unknown token, with a value in it.
        let stranger = try Binaries.run(Binaries.cli, ["connect", "--server", server.url!.absoluteString, "--token-file", "-",
                                                       "--home", folder.url.appendingPathComponent("stranger").path],
                                        stdin: "veld_\(phrases[0])")
        #expect(stranger.status != 0 || stranger.stderr.contains("not known"))
        try await Task.sleep(for: .milliseconds(300))

        let log = String(decoding: try Data(contentsOf: logFile), as: UTF8.self)
        let lines = log.split(separator: "\n")
        #expect(lines.count > 10, "\(log)")
        var requests: [[String: Any]] = []
        for line in lines {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                Issue.record("not a JSON line: \(line.prefix(200))")
                continue
            }
            #expect(object["time"] is String && object["level"] is String && object["message"] is String)
            if object["message"] as? String == "request" { requests.append(object) }
        }
        #expect(requests.count >= 8)
        #expect(requests.allSatisfy { ($0["hb.request.id"] as? String)?.isEmpty == false && $0["status"] is String && $0["path"] is String })
        #expect(requests.contains { $0["hb.request.id"] as? String == requestID && $0["status"] as? String == "401" }, "\(requestID)")
        // No secret, no value: every token, every phrase, the client code.
        var secrets = [anna.secret, bram.secret] + phrases
        secrets += ["veld_\(phrases[0])"]
        for secret in secrets { #expect(!log.contains(secret), "the log holds \(secret)") }
    }
}
