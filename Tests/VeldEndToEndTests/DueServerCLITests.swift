import Foundation
import Testing
import VeldCore
import VeldProtocol

/// `veld-server due` on what devices pushed: the office sees every location's deadlines
/// (a device only its own), the same items `veld due` works out offline, and the read
/// is in the access log, naming records and never a value.
@Suite struct DueServerCLITests {
    @Test func theOfficeSeesEveryLocationsDeadlinesAndTheReadIsLogged() throws {
        let server = try ServerProcess()
        let anna = try AuditCLITests.Device("anna", .carer, ["loc-zonnehof"], server)
        let bram = try AuditCLITests.Device("bram", .carer, ["loc-de-linde"], server)
        func id(_ result: Binaries.Result) throws -> String {
            #expect(result.status == 0, "\(result.stderr)")
            return try #require(result.stdout.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
        }
        let zonnehof = try id(anna("add", "carePlan", "--scope", "loc-zonnehof", "clientCode=ZH-0042", "law=Wlz", "careStart=2026-10-01",
                                   "status=concept", "agreements=Dochter belt wekelijks"))
        let linde = try id(bram("add", "melding", "--scope", "loc-de-linde", "title=Tillift defect", "kind=fout", "raisedOn=2026-11-20",
                                "status=gemeld"))
        #expect(try anna("sync").status == 0)
        #expect(try bram("sync").status == 0)

        func due(_ arguments: String...) throws -> Binaries.Result {
            try Binaries.run(Binaries.server, ["due"] + arguments + ["--db", server.database, "--as-of", "2026-11-26"])
        }
        let all = try due("--scope", "*", "--json")
        #expect(all.status == 0, "\(all.stderr)")
        let items = try #require(try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [[String: Any]])
        #expect(items.compactMap { $0["record"] as? String } == [zonnehof, linde])
        #expect(items.first?["daysLate"] as? Int == 14 && items.last?["due"] as? String == "2026-11-27")
        // The device's own view, offline, agrees for its scope.
        let own = try anna("due", "--as-of", "2026-11-26", "--json")
        let ownItems = try #require(try JSONSerialization.jsonObject(with: Data(own.stdout.utf8)) as? [[String: Any]])
        #expect(ownItems.compactMap { $0["record"] as? String } == [zonnehof])
        #expect(NSDictionary(dictionary: ownItems[0]) == NSDictionary(dictionary: items[0]))

        let one = try due("--scope", "loc-de-linde")
        #expect(one.status == 0 && one.stdout.contains(String(linde.prefix(8))) && !one.stdout.contains(String(zonnehof.prefix(8))), "\(one.stdout)")
        #expect(one.stdout.split(separator: "\n").allSatisfy { $0.count <= 100 })

        let log = try Binaries.run(Binaries.server, ["audit", "--action", "report", "--json", "--db", server.database])
        #expect(log.status == 0, "\(log.stderr)")
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(log.stdout.utf8)) as? [[String: Any]])
        #expect(entries.count == 2)
        let named = entries.map { (($0["records"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String } }
        #expect(Set(named) == [[zonnehof, linde], [linde]])
        #expect(entries.allSatisfy { ($0["user"] as? String)?.hasPrefix("admin:") == true })
        #expect(!log.stdout.contains("Dochter") && !log.stdout.contains("Tillift"), "a field value in the access log")

        let unscoped = try Binaries.run(Binaries.server, ["due", "--db", server.database])
        #expect(unscoped.status != 0 && unscoped.stderr.contains("--scope '*'"), "\(unscoped.stderr)")
        let refused = try due("--scope", "*", "--within", "soon")
        #expect(refused.status != 0 && refused.stderr.contains("--within") && refused.stderr.contains("14d"), "\(refused.stderr)")
        let badScope = try Binaries.run(Binaries.server, ["due", "--scope", "Zonnehof!", "--db", server.database])
        #expect(badScope.status != 0 && badScope.stderr.contains("not a scope"), "\(badScope.stderr)")
    }
}
