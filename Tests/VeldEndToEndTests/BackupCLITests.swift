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
}
