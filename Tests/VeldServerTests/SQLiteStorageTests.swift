import Foundation
import Testing
import VeldProtocol
import VeldServer

/// The storage contract on the embedded SQLite backend, each store a fresh file.
@Suite struct SQLiteStorageTests {
    @Test(arguments: StorageContract.allCases)
    func contract(_ check: StorageContract) async throws {
        let folder = try TemporaryFolder()
        try await check.run(folder.sqliteFactory)
        withExtendedLifetime(folder) {}
    }

    /// The file and its folder are created owner-only, and a reopened store still holds what was written.
    @Test func fileIsPrivateAndDurable() async throws {
        let folder = try TemporaryFolder()
        let path = folder.url.appendingPathComponent("data/veld-server.sqlite").path
        let token: IssuedToken
        let note = Records.visitNote(replica: "r-anna")
        do {
            let storage = try SQLiteSyncStorage(path: path)
            #expect(try await storage.needsMigration())
            try await storage.migrate()
            #expect(try await !storage.needsMigration())
            token = try await storage.issueToken(user: "anna", role: .visitor, scopes: ["loc-a"])
            try await storage.accept(Records.batch("r-anna", [note]), token: token)
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let folderAttributes = try FileManager.default.attributesOfItem(atPath: folder.url.appendingPathComponent("data").path)
        #expect((folderAttributes[.posixPermissions] as? NSNumber)?.intValue == 0o700)
        do {
            let reopened = try SQLiteSyncStorage(path: path)
            #expect(try await !reopened.needsMigration())
            #expect(try await reopened.record(id: note.id) == note)
            #expect(try await reopened.token(hash: TokenSecret.hash(token.secret))?.replica == "r-anna")
        }
        withExtendedLifetime(folder) {}
    }
}
