import CompressNIO
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
import VeldProtocol
import VeldServer

/// Push and pull as a device sees them, through the real routes and middleware.
@Suite struct HTTPSyncTests {
    @Test func healthNeedsNoToken() async throws {
        try await TestServer.run { client, _ in
            let response = try await client.execute(uri: "/v1/health", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json")
            let health = try response.decode(HealthResponse.self)
            #expect(health.status == "ok" && health.protocolVersion == 1 && health.version == VeldServerInfo.version)
        }
    }

    @Test func pushThenPullReturnsTheRecord() async throws {
        try await TestServer.run { client, server in
            let note = Records.visitNote(replica: "r-anna")
            let request = Records.batch("r-anna", [note])
            let response = try await client.push(request, as: server.anna)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json")
            let answer = try response.decode(PushResponse.self)
            #expect(answer.batch == request.batch)
            #expect(answer.results.count == 1)
            #expect(answer.results.first?.id == note.id && answer.results.first?.changed == true)
            #expect(answer.results.first?.conflicts == false)
            let position = try #require(answer.results.first?.position)

            let pulled = try await client.pull(as: server.bram, since: "0")
            #expect(pulled.status == .ok)
            let page = try pulled.decode(PullResponse.self)
            #expect(page.records == [note])
            #expect(page.cursor == String(position) && !page.more)

            // From the returned cursor there is nothing new, and the cursor stays.
            let next = try await client.pull(as: server.bram, since: page.cursor).decode(PullResponse.self)
            #expect(next.records.isEmpty && next.cursor == page.cursor && !next.more)
            // No `since` means from the beginning.
            #expect(try await client.pull(as: server.anna).decode(PullResponse.self).records == [note])
            #expect(try await server.storage.token(hash: TokenSecret.hash(server.anna.secret))?.lastPushAt == Fixture.time)
        }
    }

    @Test func replayedPushGetsTheSameBodyAndNoNewPosition() async throws {
        try await TestServer.run { client, server in
            let request = Records.batch("r-anna", [Records.visitNote(replica: "r-anna"), Records.visitNote(replica: "r-anna")])
            let first = try await client.push(request, as: server.anna)
            #expect(first.status == .ok)
            let before = try await server.storage.snapshot()
            let again = try await client.push(request, as: server.anna)
            #expect(again.status == .ok)
            #expect(again.body == first.body, "a replay must get the same answer, byte for byte")
            let after = try await server.storage.snapshot()
            #expect(after.rows == before.rows)
            let tail = try await client.pull(as: server.office, since: String(before.lastPosition)).decode(PullResponse.self)
            #expect(tail.records.isEmpty)
        }
    }

    /// Pushing the same states again under a new batch id changes nothing and gets no
    /// new positions.
    @Test func resentStatesChangeNothing() async throws {
        try await TestServer.run { client, server in
            let note = Records.visitNote(replica: "r-anna")
            try await client.accepted(Records.batch("r-anna", [note]), as: server.anna)
            let before = try await server.storage.snapshot()
            let again = try await client.accepted(Records.batch("r-anna", [note]), as: server.anna)
            #expect(again.results.map(\.changed) == [false])
            #expect(again.results.first?.position == nil)
            #expect(try await server.storage.snapshot().rows == before.rows)
        }
    }

    @Test func gzipRequestBodyIsAccepted() async throws {
        try await TestServer.run { client, server in
            let note = Records.visitNote(replica: "r-anna")
            var plain = ByteBuffer(bytes: try StableJSON.encode(Records.batch("r-anna", [note])))
            let zipped = try plain.compress(with: .gzip)
            let response = try await client.post(body: zipped, as: server.anna, headers: [.contentEncoding: "gzip"])
            #expect(response.status == .ok, "body: \(String(buffer: response.body))")
            #expect(try await server.storage.record(id: note.id) == note)
        }
    }

    @Test func gzipResponseWhenAccepted() async throws {
        try await TestServer.run { client, server in
            let notes = (0..<6).map { index in
                Records.visitNote(replica: "r-anna", changes: ["observations": .string("Bezoek \(index): " + String(repeating: "rustig ", count: 40))])
            }
            try await client.accepted(Records.batch("r-anna", notes), as: server.anna)

            let zipped = try await client.pull(as: server.anna, since: "0", headers: [.acceptEncoding: "gzip, deflate"])
            #expect(zipped.status == .ok)
            #expect(zipped.headers[.contentEncoding] == "gzip")
            #expect(zipped.headers[.vary] == "Accept-Encoding")
            var body = zipped.body
            let unzipped = try body.decompress(with: .gzip)
            #expect(unzipped.readableBytes > zipped.body.readableBytes)
            let page = try StableJSON.decode(PullResponse.self, from: Data(unzipped.readableBytesView))
            #expect(page.records == notes)

            let plain = try await client.pull(as: server.anna, since: "0")
            #expect(plain.headers[.contentEncoding] == nil)
            #expect(try plain.decode(PullResponse.self) == page)
        }
    }

    /// The office may write office-only fields; a visitor who pulled them may push the
    /// record back with its own edit, since entries the server already holds are not
    /// checked again.
    @Test func visitorMayPushBackTheOfficeApproval() async throws {
        try await TestServer.run { client, server in
            let plan = Records.carePlan(replica: "r-office", author: "olga",
                                        changes: ["approvedBy": .string("Olga Bakker"), "status": .string("vastgesteld")])
            let approved = try await client.accepted(Records.batch("r-office", [plan]), as: server.office)
            #expect(approved.results.first?.changed == true)

            let pulled = try await client.pullAll(as: server.anna)
            let local = try #require(pulled.first { $0.id == plan.id })
            #expect(local == plan)
            let edited = Records.edited(local, ["agreements": .string("Dochter belt wekelijks")], replica: "r-anna")
            try await client.accepted(Records.batch("r-anna", [edited]), as: server.anna)

            let stored = try #require(try await server.storage.record(id: plan.id))
            #expect(stored == edited)
            #expect(stored.entries(of: "approvedBy").map(\.dot) == [Dot(replica: "r-office", counter: 1)])
            #expect(stored.value(of: "status") == .string("vastgesteld"))
            #expect(stored.entries(of: "agreements").map(\.dot) == [Dot(replica: "r-anna", counter: 1)])
            #expect(!stored.hasConflicts)
        }
    }

    /// A visitor's pull pages through its own scope only; the office sees everything.
    @Test func visitorPullNeverReturnsAnotherScope() async throws {
        try await TestServer.run { client, server in
            var inA: [String] = []
            var all: [String] = []
            for index in 0..<7 {
                let scope = index.isMultiple(of: 2) ? "loc-b" : "loc-a"
                let note = Records.visitNote(scope: scope, replica: "r-office", author: "olga")
                try await client.accepted(Records.batch("r-office", [note]), as: server.office)
                if scope == "loc-a" { inA.append(note.id) }
                all.append(note.id)
            }
            for limit in [1, 2, 500] {
                let visitor = try await client.pullAll(as: server.anna, limit: limit)
                #expect(visitor.map(\.id) == inA, "limit \(limit)")
                #expect(visitor.allSatisfy { $0.scope == "loc-a" })
                #expect(try await client.pullAll(as: server.office, limit: limit).map(\.id) == all, "limit \(limit)")
            }
            // A token without scopes sees nothing at all.
            let nowhere = try await server.storage.issueToken(user: "niemand", role: .carer, scopes: [])
            #expect(try await client.pullAll(as: nowhere).isEmpty)
        }
    }

    /// Paging with `limit`: cursors increase, pages are full while `more`, every record
    /// once.
    @Test func pullPagesWithCursors() async throws {
        try await TestServer.run { client, server in
            let notes = (0..<5).map { _ in Records.visitNote(replica: "r-anna") }
            try await client.accepted(Records.batch("r-anna", notes), as: server.anna)
            var cursor = "0"
            var seen: [RecordState] = []
            var sizes: [Int] = []
            while true {
                let page = try await client.pull(as: server.anna, since: cursor, limit: "2").decode(PullResponse.self)
                #expect(try #require(Int64(page.cursor)) > Int64(cursor)!)
                seen += page.records
                sizes.append(page.records.count)
                cursor = page.cursor
                if !page.more { break }
            }
            #expect(sizes == [2, 2, 1])
            #expect(seen == notes)
        }
    }

    /// Two visitors edit the same field concurrently: both values are kept and the
    /// answer says so.
    @Test func concurrentEditsAreKeptAsAConflict() async throws {
        try await TestServer.run { client, server in
            let note = Records.visitNote(replica: "r-anna")
            try await client.accepted(Records.batch("r-anna", [note]), as: server.anna)
            let byAnna = Records.edited(note, ["summary": .string("Anna's versie")], replica: "r-anna")
            let byBram = Records.edited(note, ["summary": .string("Bram's versie")], replica: "r-bram", author: "bram")
            try await client.accepted(Records.batch("r-anna", [byAnna]), as: server.anna)
            let answer = try await client.accepted(Records.batch("r-bram", [byBram]), as: server.bram)
            #expect(answer.results.first?.conflicts == true)
            let stored = try #require(try await server.storage.record(id: note.id))
            #expect(stored == (try byAnna.merged(with: byBram)))
            #expect(Set(stored.entries(of: "summary").map(\.value)) == [.string("Anna's versie"), .string("Bram's versie")])
        }
    }
}
