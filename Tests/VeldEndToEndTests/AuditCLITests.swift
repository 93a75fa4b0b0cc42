import Foundation
import GRDB
import Testing
import VeldCore
import VeldProtocol

/// `veld-server audit` against a live server and real devices: who read and changed a
/// client's records, found by record, client code, user and device, as a table, JSON and
/// CSV; `--verify` passes on the log as written and fails (non-zero, saying what) after a
/// change made with plain SQL; `--prune` keeps what is within the retention.
@Suite struct AuditCLITests {
    /// A device with its own profile, connected to `server`.
    final class Device: @unchecked Sendable {
        let home: TemporaryFolder
        /// The device's token secret.
        let secret: String
        init(_ name: String, _ role: Role, _ scopes: [String], _ server: ServerProcess) throws {
            home = try TemporaryFolder("veld-audit-\(name)")
            let token = try server.token(user: name, role: role, scopes: scopes)
            secret = token
            let created = try Binaries.run(Binaries.cli, ["init", "--user", name, "--server", server.url!.absoluteString, "--token-file", "-",
                                                          "--home", home.url.path], stdin: token)
            #expect(created.status == 0, "\(created.stderr)")
        }

        func callAsFunction(_ arguments: String...) throws -> Binaries.Result {
            try Binaries.run(Binaries.cli, arguments + ["--home", home.url.path])
        }
    }

    @Test func theOfficeSeesWhoReadAClientsRecordAndTamperingIsFound() throws {
        let server = try ServerProcess()
        func admin(_ arguments: String...) throws -> Binaries.Result {
            try Binaries.run(Binaries.server, ["audit"] + arguments + ["--db", server.database])
        }
        let anna = try Device("anna", .carer, ["loc-zonnehof"], server)
        let bram = try Device("bram", .carer, ["loc-de-linde"], server)
        let olga = try Device("olga", .office, ["*"], server)

        let plan = try anna("careplan", "add", "--location", "loc-zonnehof", "--client-code", "ZH-0042", "--law", "Wlz",
                            "--care-start", "2026-10-01", "--agreements", "Dochter belt wekelijks", "--json")
        let planID = try #require((try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])?["id"] as? String)
        let goal = try anna("goal", "add", "--care-plan", planID, "--domain", "wonen", "--goal", "Zelf koken", "--json")
        #expect(goal.status == 0, "\(goal.stderr)")
        let goalID = try #require((try JSONSerialization.jsonObject(with: Data(goal.stdout.utf8)) as? [String: Any])?["id"] as? String)
        #expect(try anna("sync").status == 0)
        #expect(try bram("sync").status == 0)   // reads nothing: De Linde is empty
        #expect(try olga("sync").status == 0)   // reads the plan and the goal
        #expect(try olga("history", planID).status == 0)

        // By record (a prefix, as the CLI shows ids): Anna's push, Olga's pull and history.
        let byRecord = try admin("--record", String(planID.prefix(8)))
        #expect(byRecord.status == 0, "\(byRecord.stderr)")
        let lines = byRecord.stdout.split(separator: "\n").map(String.init)
        #expect(lines.filter { $0.contains("anna") && $0.contains("push") && $0.contains("\(planID.prefix(8)) changed") }.count == 1)
        #expect(lines.filter { $0.contains("olga") && $0.contains("pull") && $0.contains("\(planID.prefix(8)) read") }.count == 1)
        #expect(lines.filter { $0.contains("olga") && $0.contains("history") }.count == 1)
        #expect(!byRecord.stdout.contains("bram"))
        #expect(!byRecord.stdout.contains("Dochter"), "a field value in the audit output")

        // By client code: the plan and its goal.
        let client = try admin("--client-code", "ZH-0042", "--json")
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(client.stdout.utf8)) as? [[String: Any]])
        let named = Set(entries.flatMap { ($0["records"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String } })
        #expect(named.isSuperset(of: [planID, goalID]))
        #expect(Set(entries.compactMap { $0["user"] as? String }) == ["anna", "olga"])
        #expect(try admin("--client-code", "ZH-9999").stderr.contains("no care plan"))

        // By user and time, as CSV: one row per record named.
        let csv = try admin("--user", "olga", "--since", "2020-01-01", "--csv")
        let rows = csv.stdout.split(separator: "\n")
        #expect(rows.first == "seq,at,user,role,token,replica,action,status,problem,record,type,scope,effect")
        #expect(rows.dropFirst().allSatisfy { $0.contains(",olga,office,") })
        #expect(rows.contains { $0.contains(planID) && $0.hasSuffix(",carePlan,loc-zonnehof,read") })
        #expect(try admin("--user", "olga", "--until", "2020-01-01").stdout.contains("0 entries"))

        // Bad input: a clear message and a non-zero exit.
        for bad in [["--record", "xyz"], ["--since", "gisteren"], ["--json", "--csv"], ["--anchor", "1:ab"], ["--prune", "--retain", "5m"]] {
            let refused = try Binaries.run(Binaries.server, ["audit"] + bad + ["--db", server.database])
            #expect(refused.status != 0 && !refused.stderr.isEmpty, "\(bad)")
        }

        // Verify: intact, with its head; the head is an anchor that later checks accept.
        let verified = try admin("--verify")
        #expect(verified.status == 0 && verified.stdout.contains("intact"), "\(verified.stdout)\(verified.stderr)")
        let head = try #require(verified.stdout.split(separator: "\n").first { $0.hasPrefix("Head: ") }).dropFirst(6)
        #expect(try admin("--verify", "--anchor", String(head)).status == 0)
        #expect(try admin("--prune").stdout.contains("Nothing to prune"))

        // A change with plain SQL, as with sqlite3 on the server's file.
        server.kill()
        let database = try DatabaseQueue(path: server.database)
        try database.write { try $0.execute(sql: "UPDATE accessLog SET user = 'bram' WHERE user = 'olga' AND action = 'history'") }
        let tampered = try admin("--verify")
        #expect(tampered.status != 0 && tampered.stderr.contains("tampered") && tampered.stderr.contains("was changed"), "\(tampered.stderr)")
        // Rewritten wholesale (every hash recomputed) is beyond a chain alone: the anchor finds it.
        try database.write { db in
            try db.execute(sql: "UPDATE accessLog SET user = 'olga' WHERE user = 'bram' AND action = 'history'")
            try db.execute(sql: "DELETE FROM accessLog WHERE seq > 1")
            try db.execute(sql: "DELETE FROM accessRecord WHERE seq > 1")
            try db.execute(sql: "UPDATE accessHead SET seq = 1, hash = (SELECT hash FROM accessLog WHERE seq = 1)")
        }
        #expect(try admin("--verify").status == 0, "a truncation with the head moved too passes the chain")
        let anchored = try admin("--verify", "--anchor", String(head))
        #expect(anchored.status != 0 && anchored.stderr.contains("is gone"), "\(anchored.stderr)")
    }
}
