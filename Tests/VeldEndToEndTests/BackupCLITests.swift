import Foundation
import Testing
import VeldCore
import VeldProtocol

/// `veld-server backup` through the binary, beside a running server: an owner-only copy
/// that another command opens as a database; an existing file is kept unless --force; a
/// PostgreSQL database is pointed to its own tools.
@Suite struct BackupCLITests {
    @Test func aRunningServersDatabaseIsCopied() async throws {
        let server = try ServerProcess()
        let anna = try Device("anna", server: server)
        for _ in 0..<4 { _ = try anna.store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit) }
        try await anna.sync(server)
        let folder = try TemporaryFolder("veld-backup")
        let copy = folder.url.appendingPathComponent("veld-backup.sqlite").path
        let made = try Binaries.run(Binaries.server, ["backup", "--to", copy, "--db", server.database])
        #expect(made.status == 0 && made.stdout.contains("Backed up 4 record(s), 1 token(s)"), "\(made.stdout)\(made.stderr)")
        let mode = (try FileManager.default.attributesOfItem(atPath: copy)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
        let listed = try Binaries.run(Binaries.server, ["token", "list", "--db", copy])
        #expect(listed.status == 0 && listed.stdout.contains("anna"), "\(listed.stderr)")
        let again = try Binaries.run(Binaries.server, ["backup", "--to", copy, "--db", server.database])
        #expect(again.status != 0 && again.stderr.contains("--force"), "\(again.stderr)")
        #expect(try Binaries.run(Binaries.server, ["backup", "--to", copy, "--force", "--db", server.database]).status == 0)
        let postgres = try Binaries.run(Binaries.server, ["backup", "--to", copy + ".pg", "--database", "postgres://veld:geheim@db.invalid/veld"])
        #expect(postgres.status != 0 && postgres.stderr.contains("pg_dump") && !postgres.stderr.contains("geheim"), "\(postgres.stderr)")
    }

    /// `veld-server restore` refuses under a running server and anything that is not a
    /// backup of a Veld server, leaving the database and its folder as they were; `epoch`
    /// shows the epoch and `--renew` replaces it.
    @Test func restoreRefusesWhatWouldLoseData() async throws {
        let server = try ServerProcess()
        let anna = try Device("anna", server: server)
        _ = try anna.store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit)
        try await anna.sync(server)
        let folder = try TemporaryFolder("veld-restore")
        let backup = folder.url.appendingPathComponent("backup.sqlite").path
        #expect(try Binaries.run(Binaries.server, ["backup", "--to", backup, "--db", server.database]).status == 0)
        let epoch = try Binaries.run(Binaries.server, ["epoch", "--db", server.database]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(ServerEpoch.isValid(epoch), "\(epoch)")
        let backupEpoch = try Binaries.run(Binaries.server, ["epoch", "--db", backup]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(ServerEpoch.isValid(backupEpoch) && backupEpoch != epoch, "a backup carries an epoch of its own")

        func unchanged(_ result: Binaries.Result, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            #expect(result.status != 0 && result.stderr.contains(fragment), "\(result.stdout)\(result.stderr)", sourceLocation: sourceLocation)
            let now = try Binaries.run(Binaries.server, ["epoch", "--db", server.database]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(now == epoch, "the database was replaced", sourceLocation: sourceLocation)
            let left = try FileManager.default.contentsOfDirectory(atPath: server.folder.url.path)
            #expect(!left.contains { $0.contains("restoring") || $0.contains("before-restore") }, "\(left)", sourceLocation: sourceLocation)
        }
        try unchanged(try Binaries.run(Binaries.server, ["restore", "--from", backup, "--db", server.database]), "stop it first")
        _ = server.stop()
        try unchanged(try Binaries.run(Binaries.server, ["restore", "--from", backup + ".missing", "--db", server.database]), "cannot read")
        let text = folder.url.appendingPathComponent("notes.txt").path
        try Data("geen database".utf8).write(to: URL(fileURLWithPath: text))
        try unchanged(try Binaries.run(Binaries.server, ["restore", "--from", text, "--db", server.database]), "not")
        // A device's profile is an SQLite database of Veld, but not a server's.
        let profile = anna.home.url.appendingPathComponent("veld.sqlite").path
        try unchanged(try Binaries.run(Binaries.server, ["restore", "--from", profile, "--db", server.database]), "not a Veld database backup")
        let postgres = try Binaries.run(Binaries.server, ["restore", "--from", backup, "--database", "postgres://veld:geheim@db.invalid/veld"])
        #expect(postgres.status != 0 && postgres.stderr.contains("pg_restore") && postgres.stderr.contains("epoch --renew")
                && !postgres.stderr.contains("geheim"), "\(postgres.stderr)")

        let restored = try Binaries.run(Binaries.server, ["restore", "--from", backup, "--db", server.database])
        #expect(restored.status == 0 && restored.stdout.contains("Restored 1 record(s) and 1 token(s)"), "\(restored.stdout)\(restored.stderr)")
        let after = try Binaries.run(Binaries.server, ["epoch", "--db", server.database]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(ServerEpoch.isValid(after) && after != epoch && after != backupEpoch, "a restore gives an epoch nobody knew")
        let kept = try FileManager.default.contentsOfDirectory(atPath: server.folder.url.path).filter { $0.contains("before-restore") }
        #expect(kept.contains { !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm") }, "the replaced database is kept: \(kept)")
        let renewed = try Binaries.run(Binaries.server, ["epoch", "--renew", "--db", server.database])
        #expect(renewed.status == 0 && !renewed.stdout.contains(after), "\(renewed.stdout)")
        try server.start()
        #expect(try await anna.sync(server).serverRestored)
    }
}
