import Foundation
import GRDB
import Testing
import VeldProtocol
import VeldServer
import VeldTestSupport

/// `veld-server backup` while pushes go on: the copy opens, passes its integrity check,
/// holds every batch whole or not at all with its history, its access log verifies, and it
/// serves as a database of its own; an existing file is not replaced unasked.
@Suite struct BackupTests {
    @Test func aBackupUnderConcurrentPushesIsConsistent() async throws {
        let folder = try TemporaryFolder()
        let path = folder.url.appendingPathComponent("veld-server.sqlite").path
        let storage = try SQLiteSyncStorage(path: path)
        try await storage.migrate()
        let anna = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
        let batches = (0..<60).map { _ in (0..<5).map { _ in Records.visitNote(replica: "r-anna") } }
        let copy = folder.url.appendingPathComponent("backup.sqlite").path
        let result = try await withThrowingTaskGroup(of: SQLiteSyncStorage.BackupResult?.self) { group in
            group.addTask {
                for (index, batch) in batches.enumerated() {
                    try await storage.accept(Records.batch("r-anna", batch), token: anna, at: Fixture.time(plus: index))
                }
                return nil
            }
            group.addTask {
                // Once some pushes are in (bounded: at most 10 s), while the rest go on.
                for _ in 0..<1_000 where try await storage.headPosition() < 25 { try await Task.sleep(for: .milliseconds(10)) }
                return try await storage.backup(to: copy)
            }
            var found: SQLiteSyncStorage.BackupResult?
            for try await result in group { if let result { found = result } }
            return try #require(found)
        }
        let mode = (try FileManager.default.attributesOfItem(atPath: copy)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
        let restored = try SQLiteSyncStorage(path: copy)
        #expect(try await restored.needsMigration() == false)
        let held = Set(try await restored.everything().records.map(\.id))
        #expect(held.count == result.records)
        for batch in batches {
            let present = batch.filter { held.contains($0.id) }.count
            #expect(present == 0 || present == batch.count, "a batch split by the backup")
        }
        for id in held.prefix(50) { #expect(try await restored.history(recordID: id).count == 1) }
        #expect(try await restored.headPosition() >= Int64(held.count))
        // The access log in the copy is a whole chain.
        let entries = try await restored.accessLogPage(after: 0, limit: 10_000)
        #expect(entries.count == result.accessEntries)
        for (index, pair) in entries.enumerated() where index > 0 {
            #expect(pair.entry.previousHash == entries[index - 1].entry.hash)
        }
        let (seq, hash) = try await restored.accessLogHead()
        #expect(seq == (entries.last?.entry.seq ?? 0) && hash == (entries.last?.entry.hash ?? AccessChain.genesis))
        #expect(held.count >= 25, "the backup was taken after some pushes were in")
        // The copy serves: a push on top of it works.
        #expect(try await restored.accept(Records.batch("r-anna", [Records.visitNote(replica: "r-anna")]), token: anna,
                                          at: Fixture.time(plus: 1_000)).results.allSatisfy(\.changed))
        // An existing file is refused unless replacing is asked for.
        await #expect(throws: StorageError.self) { _ = try await storage.backup(to: copy) }
        #expect(try await storage.backup(to: copy, replacing: true).records == 300)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.url.path).filter { $0.contains("partial") }
        #expect(leftovers.isEmpty)
    }
}
