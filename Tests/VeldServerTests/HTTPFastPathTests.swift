import CompressNIO
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
import VeldProtocol
import VeldServer

/// The server's fast paths give the same bytes and answers as the slow ones: a pull page
/// spliced from stored states, push fingerprints of the body as received, device cursors
/// written in the background.
@Suite struct HTTPFastPathTests {
    /// Every page's body is byte for byte `StableJSON.encode` of the page it decodes to.
    @Test func splicedPullBodyIsTheStableEncoding() async throws {
        try await TestServer.run { client, server in
            var notes = (0..<5).map { index in
                Records.visitNote(replica: "r-office", author: "olga", changes: [
                    "summary": .string("Bezoek \(index): \"aanhalingstekens\", schuine/strepen, één ∑ en \\backslash\n"),
                ])
            }
            notes.append(Records.carePlan(replica: "r-office", author: "olga", changes: ["approvedBy": .string("Olga Bakker")]))
            notes.append(Records.visitNote(scope: "loc-b", replica: "r-office", author: "olga"))
            try await client.accepted(Records.batch("r-office", notes), as: server.office)
            // A conflict, so a field holds two entries.
            let byAnna = Records.edited(notes[0], ["summary": .string("Anna's versie")], replica: "r-anna")
            let byBram = Records.edited(notes[0], ["summary": .string("Bram's versie")], replica: "r-bram", author: "bram")
            try await client.accepted(Records.batch("r-anna", [byAnna]), as: server.anna)
            try await client.accepted(Records.batch("r-bram", [byBram]), as: server.bram)

            for (token, limit) in [(server.office, "2"), (server.office, "500"), (server.anna, "3"), (server.anna, "1")] {
                var cursor = "0"
                var pages = 0
                while pages < 20 {
                    let response = try await client.pull(as: token, since: cursor, limit: limit)
                    #expect(response.status == .ok)
                    let page = try response.decode(PullResponse.self)
                    #expect(response.data == (try StableJSON.encode(page)), "limit \(limit): \(String(buffer: response.body))")
                    pages += 1
                    cursor = page.cursor
                    if !page.more { break }
                }
                // The empty page after the end, too.
                let end = try await client.pull(as: token, since: cursor, limit: limit)
                #expect(end.data == (try StableJSON.encode(try end.decode(PullResponse.self))))
            }
        }
    }

    /// The fingerprint is of the stable encoding: a batch sent again in other bytes (key
    /// order) is still a replay.
    @Test func replayOfABatchSentAgainInOtherBytes() async throws {
        try await TestServer.run { client, server in
            let request = Records.batch("r-anna", [Records.visitNote(replica: "r-anna")])
            let first = try await server.storage.push(request, token: server.anna.token, fingerprint: try Records.fingerprint(request),
                                                      at: Fixture.time) { _ in }
            let before = try await server.storage.snapshot()
            let resent = try rawPushBody(request) { _ in }  // JSONSerialization: other key order
            let response = try await client.post(body: resent, as: server.anna)
            #expect(response.status == .ok, "body: \(String(buffer: response.body))")
            #expect(try response.decode(PushResponse.self) == first)
            #expect(try await server.storage.snapshot().rows == before.rows)

            // Other content under that id is still refused.
            let other = Records.batch("r-anna", [Records.visitNote(replica: "r-anna")], id: request.batch)
            let refused = try await server.expectNothingStored { try await client.push(other, as: server.anna) }
            try expectProblem(refused, status: 409, .batchReused, detail: [request.batch])
        }
    }

    /// The same body sent again is a replay, gzip-encoded or not.
    @Test func replayOfTheSameBodyZippedOrNot() async throws {
        try await TestServer.run { client, server in
            let request = Records.batch("r-anna", [Records.visitNote(replica: "r-anna"), Records.visitNote(replica: "r-anna")])
            let plain = ByteBuffer(bytes: try StableJSON.encode(request))
            let first = try await client.post(body: plain, as: server.anna)
            #expect(first.status == .ok)
            var copy = plain
            let zipped = try copy.compress(with: .gzip)
            let again = try await client.post(body: zipped, as: server.anna, headers: [.contentEncoding: "gzip"])
            #expect(again.status == .ok)
            #expect(again.body == first.body)
        }
    }

    /// A pull's mark reaches the database: another store on the same file sees it once
    /// the first has flushed (the server flushes at shutdown, and in the background).
    @Test func pullMarksReachTheDatabase() async throws {
        let folder = try TemporaryFolder()
        let path = folder.url.appendingPathComponent("veld-server.sqlite").path
        let storage = try SQLiteSyncStorage(path: path)
        try await storage.migrate()
        let anna = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
        let response = try await storage.accept(Records.batch("r-anna", [Records.visitNote(replica: "r-anna")]), token: anna)
        let position = try #require(response.results.first?.position)
        for second in 1...20 {
            _ = try await storage.pull(scopes: anna.token.scopeFilter, after: 0, limit: 10, token: anna.token, at: Fixture.time(plus: second))
        }
        // An older pull arriving late does not move the mark back.
        _ = try await storage.pull(scopes: anna.token.scopeFilter, after: position, limit: 10, token: anna.token, at: Fixture.time(plus: 3))
        let seen = try await storage.tokens().first { $0.id == anna.id }
        #expect(seen?.lastPullAt == Fixture.time(plus: 20) && seen?.lastCursor == position)
        await storage.flushPendingWrites()
        let other = try SQLiteSyncStorage(path: path)
        let stored = try await other.tokens().first { $0.id == anna.id }
        #expect(stored?.lastPullAt == Fixture.time(plus: 20))
        #expect(stored?.lastCursor == position)
        withExtendedLifetime(folder) {}
    }
}
