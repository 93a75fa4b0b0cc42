import Foundation
import GRDB
import Testing
import VeldCore
import VeldProtocol

/// `veld-server erase` end to end (AVG art. 17): after the office erases a client, no byte
/// of that client's notes is left in the server's database files or in any device's,
/// a device's unsent change to the erased plan goes too, other clients are untouched,
/// and the access log shows the erasure.
@Suite struct ErasureCLITests {
    /// Every file of a SQLite database (main, WAL, shared memory) that exists.
    static func databaseFiles(_ path: String) -> [String] {
        ["", "-wal", "-shm", "-journal"].map { path + $0 }.filter { FileManager.default.fileExists(atPath: $0) }
    }

    static func contains(_ phrase: String, in files: [String]) throws -> [String] {
        try files.filter { file in
            let data = try Data(contentsOf: URL(fileURLWithPath: file))
            return data.range(of: Data(phrase.utf8)) != nil
        }
    }

    @Test func anErasedClientLeavesNoByteOnTheServerOrAnyDevice() throws {
        let server = try ServerProcess()
        let anna = try AuditCLITests.Device("anna", .carer, ["loc-zonnehof"], server)
        let olga = try AuditCLITests.Device("olga", .office, ["*"], server)
        func admin(_ arguments: String...) throws -> Binaries.Result {
            try Binaries.run(Binaries.server, arguments + ["--db", server.database])
        }
        // Phrases that exist nowhere else, in a goal and in long fields: a text of some
        // kilobytes spills into overflow pages, which a delete without secure_delete
        // would leave on the free list, bytes intact.
        func long(_ phrase: String) -> String {
            (0..<60).map { "Afspraak \($0): \(phrase) met dochter en buurvrouw over de boodschappen." }.joined(separator: " ")
        }
        let secret = "Zwaluwstaart-\(UUID().uuidString.prefix(8))"
        let goalSecret = "Kievitsbloem-\(UUID().uuidString.prefix(8))"
        let editSecret = "Pimpernel-\(UUID().uuidString.prefix(8))"
        let unsentSecret = "Dotterbloem-\(UUID().uuidString.prefix(8))"
        let keptSecret = "Boterbloem-\(UUID().uuidString.prefix(8))"
        let plan = try anna("careplan", "add", "--location", "loc-zonnehof", "--client-code", "ZH-0042", "--law", "Wlz",
                            "--care-start", "2026-10-01", "--agreements", long(secret), "--json")
        let planID = try #require((try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])?["id"] as? String)
        #expect(try anna("goal", "add", "--care-plan", planID, "--domain", "wonen", "--goal", "Zelf koken \(goalSecret)").status == 0)
        let other = try anna("careplan", "add", "--location", "loc-zonnehof", "--client-code", "ZH-0043", "--law", "Wlz",
                             "--care-start", "2026-10-01", "--agreements", "Afspraak \(keptSecret)", "--json")
        let otherID = try #require((try JSONSerialization.jsonObject(with: Data(other.stdout.utf8)) as? [String: Any])?["id"] as? String)
        // A plan that had ZH-0042 by mistake and now has ZH-0044: another client's, kept.
        let corrected = try anna("careplan", "add", "--location", "loc-zonnehof", "--client-code", "ZH-0042", "--law", "Wlz",
                                 "--care-start", "2026-10-01", "--json")
        let correctedID = try #require((try JSONSerialization.jsonObject(with: Data(corrected.stdout.utf8)) as? [String: Any])?["id"] as? String)
        #expect(try anna("sync").status == 0)
        #expect(try anna("edit", correctedID, "clientCode=ZH-0044").status == 0)
        #expect(try anna("sync").status == 0)
        #expect(try anna("edit", planID, "riskAssessment=" + long(editSecret)).status == 0)
        #expect(try anna("sync").status == 0)
        #expect(try olga("sync").status == 0)
        #expect(try olga("history", planID).status == 0)
        // Anna changes the plan again, offline: this change has not reached the server.
        #expect(try anna("edit", planID, "agreements=" + long(unsentSecret)).status == 0)

        let dry = try admin("erase", "--client-code", "ZH-0042", "--dry-run")
        #expect(dry.status == 0 && dry.stdout.contains("Would erase 2 record(s)") && dry.stdout.contains(planID))
        #expect(try admin("erase", "--client-code", "ZH-0042").status != 0, "an erasure without a reason")
        #expect(!dry.stdout.contains(correctedID) && dry.stderr.contains(correctedID), "\(dry.stdout)\(dry.stderr)")
        let erased = try admin("erase", "--client-code", "ZH-0042", "--reason", "verzoek cliënt, brief 2026-11-30")
        #expect(erased.status == 0 && erased.stdout.contains("Erased 2 record(s)"), "\(erased.stdout)\(erased.stderr)")
        #expect(try admin("erase", "--client-code", "ZH-0042", "--reason", "again").stdout.contains("nothing erased"))

        // Anna's unsent change is refused as erased and goes; Olga's copy goes on her pull.
        let annaSync = try anna("sync")
        #expect(annaSync.status == 0 && annaSync.stdout.contains("erased by the office"), "\(annaSync.stdout)\(annaSync.stderr)")
        let olgaSync = try olga("sync")
        #expect(olgaSync.status == 0 && olgaSync.stdout.contains("2 record(s) were erased"), "\(olgaSync.stdout)")
        for device in [anna, olga] {
            #expect(try device("show", planID).status != 0)
            #expect(try device("show", otherID).status == 0, "another client's plan went too")
            #expect(try device("show", correctedID).status == 0, "a plan whose code was corrected away went too")
            let rejected = try device("rejected")
            #expect(rejected.status == 0 && !rejected.stdout.contains(planID))
        }

        // The access log: the erasure, by whom and why, naming both records; --verify holds.
        let log = try admin("audit", "--action", "erase", "--json")
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(log.stdout.utf8)) as? [[String: Any]])
        #expect(entries.count == 1)
        #expect((entries.first?["detail"] as? String)?.contains("reason=\"verzoek cliënt, brief 2026-11-30\"") == true)
        #expect((entries.first?["records"] as? [[String: Any]])?.count == 2)
        #expect(try admin("audit", "--record", String(planID.prefix(8))).stdout.contains("erase"))
        #expect(try admin("audit", "--verify").status == 0)

        // No byte of the erased notes anywhere; the other client's notes are still there.
        #expect(server.stop() == 0)
        let serverFiles = Self.databaseFiles(server.database)
        let deviceFiles = [anna, olga].flatMap { Self.databaseFiles($0.home.url.appendingPathComponent("veld.sqlite").path) }
        #expect(!deviceFiles.isEmpty && !serverFiles.isEmpty)
        for phrase in [secret, goalSecret, editSecret, unsentSecret] {
            let left = try Self.contains(phrase, in: serverFiles + deviceFiles)
            #expect(left.isEmpty, "\(phrase) left in \(left)")
        }
        #expect(try Self.contains(keptSecret, in: serverFiles).count == 1)
    }

    /// `erase --expired`: plans (with their goals) not changed within the retention go;
    /// a plan whose goal changed recently stays; `--retain` says how long.
    @Test func recordsPastTheRetentionAreErased() throws {
        let server = try ServerProcess()
        let anna = try AuditCLITests.Device("anna", .carer, ["loc-zonnehof"], server)
        for code in ["ZH-0001", "ZH-0002"] {
            #expect(try anna("careplan", "add", "--location", "loc-zonnehof", "--client-code", code, "--law", "Wlz",
                             "--care-start", "2001-10-01").status == 0)
        }
        #expect(try anna("sync").status == 0)
        server.kill()
        // Make ZH-0001's plan look 21 years old, as if written then.
        let database = try DatabaseQueue(path: server.database)
        try database.write { db in
            try db.execute(sql: """
                UPDATE history SET receivedAt = '2005-01-01 00:00:00.000'
                WHERE recordID IN (SELECT id FROM record WHERE state LIKE '%ZH-0001%')
                """)
        }
        func admin(_ arguments: String...) throws -> Binaries.Result {
            try Binaries.run(Binaries.server, ["erase"] + arguments + ["--db", server.database])
        }
        #expect(try admin("--expired", "--retain", "30y").stdout.contains("Nothing is past the retention"))
        let dry = try admin("--expired", "--dry-run")
        #expect(dry.stdout.contains("Would erase 1 record(s) of 1 care plan(s)"), "\(dry.stdout)")
        let done = try admin("--expired")
        #expect(done.status == 0 && done.stdout.contains("Erased 1 record(s)"), "\(done.stdout)\(done.stderr)")
        let remaining = try database.read { db in try String.fetchAll(db, sql: "SELECT state FROM record WHERE state <> ''") }
        #expect(remaining.count == 1 && remaining[0].contains("ZH-0002"))
        for bad in [["--expired", "--retain", "20m"], ["--client-code", "ZH-1", "--expired"], []] {
            #expect(try Binaries.run(Binaries.server, ["erase"] + bad + ["--db", server.database]).status != 0, "\(bad)")
        }
    }

    /// `serve` does not start on a database file every user of the machine can read.
    @Test func serveRefusesAWorldReadableDatabase() throws {
        let server = try ServerProcess()
        #expect(server.stop() == 0)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: server.database)
        let refused = try Binaries.run(Binaries.server, ["serve", "--db", server.database, "--port", "0"])
        #expect(refused.status != 0 && refused.stderr.contains("chmod 600"), "\(refused.stderr)")
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: server.database)
        try server.start()
        #expect(server.url != nil)
    }
}
