import Foundation
import GRDB
import HTTPTypes
import HummingbirdTesting
import NIOCore
import PropertyBased
import Testing
import VeldProtocol
import VeldServer
import VeldTestSupport

/// The access log through the HTTP API (NEN 7513): generated syncs of three devices and
/// an office, with refusals mixed in, write exactly the entries a model of the requests
/// expects: one per pull that read something, per push, per history or record read,
/// per refusal by a known token; none for `GET /v1/me`, an empty pull or an unknown token.
@Suite struct HTTPAccessLogTests {
    /// What one request should leave in the log.
    struct Expected: Equatable, CustomStringConvertible {
        var action: AccessAction
        var status: Int
        var token: String
        var records: [String]

        init(_ action: AccessAction, _ status: Int, _ token: String, _ records: [(String, String)] = []) {
            self.action = action
            self.status = status
            self.token = token
            self.records = records.map { "\($0.0.prefix(8)):\($0.1)" }
        }

        init(_ entry: AccessEntry) {
            action = entry.action
            status = entry.status
            token = entry.tokenID ?? "-"
            records = entry.records.map { "\($0.id.prefix(8)):\($0.effect)" }
        }

        var description: String { "\(action) \(status) \(token) \(records)" }
    }

    /// The server as the test knows it: each record's scope and position, each device's cursor.
    final class Model: @unchecked Sendable {
        var records: [String: (scope: String, position: Int64)] = [:]
        var cursors: [String: String] = [:]
        var lastPush: [String: PushRequest] = [:]

        func readable(by scopes: [String], after cursor: Int64, limit: Int) -> [String] {
            records.filter { scopes.contains("*") || scopes.contains($0.value.scope) }
                .filter { $0.value.position > cursor }
                .sorted { $0.value.position < $1.value.position }
                .prefix(limit).map(\.key)
        }
    }

    struct Device {
        let token: IssuedToken
        let replica: String
        let user: String
        let scopes: [String]
        var home: String { scopes.first == "*" ? "loc-a" : scopes[0] }
        var foreign: String { scopes.first == "*" ? "loc-a" : (scopes[0] == "loc-a" ? "loc-b" : "loc-a") }
    }

    @Test func generatedSyncsWriteExactlyTheExpectedEntries() async throws {
        try await TestServer.run { client, server in
            let carl = try await server.storage.issueToken(user: "carl", role: .carer, scopes: ["loc-b"])
            let dora = try await server.storage.issueToken(user: "dora", role: .carer, scopes: ["loc-a"])
            _ = try await server.storage.revokeToken(id: dora.id, at: Fixture.time)
            let devices = [
                Device(token: server.anna, replica: "r-anna", user: "anna", scopes: ["loc-a"]),
                Device(token: carl, replica: "r-carl", user: "carl", scopes: ["loc-b"]),
                Device(token: server.office, replica: "r-office", user: "olga", scopes: ["*"]),
            ]
            let model = Model()
            await checkProperty(count: 25, input: Gen.int(in: 0...1_000_000).array(of: 1...20)) { codes in
                let head = try await server.storage.accessLogHead().seq
                var expected: [Expected] = []
                for code in codes {
                    let device = devices[code % devices.count]
                    if let entry = try await Self.step(code / devices.count, device, client, server, model, revoked: dora) {
                        expected.append(entry)
                    }
                }
                let entries = try await server.storage.accessEntries(AccessQuery(limit: 10_000)).filter { $0.seq > head }
                #expect(entries.map(Expected.init) == expected)
                // No entry holds a field value: the only strings are ids, types, scopes and cursors.
                for entry in entries {
                    let json = String(decoding: try StableJSON.encode(entry), as: UTF8.self)
                    #expect(!json.contains("Rondgang") && !json.contains("huiskamer"), "\(json)")
                }
            }
            let verifier = try await StorageContract.verify(server.storage, pageSize: 50)
            #expect(verifier.problems.isEmpty, "\(verifier.problems)")
        }
    }

    /// One request of a generated sync; what it should log.
    static func step(_ code: Int, _ device: Device, _ client: any TestClientProtocol, _ server: TestServer, _ model: Model,
                     revoked: IssuedToken) async throws -> Expected? {
        let id = device.token.id
        switch code % 12 {
        case 0, 1:
            // New notes in the device's own scope.
            let notes = (0...(code / 11 % 3)).map { _ in Records.visitNote(scope: device.home, replica: device.replica, author: device.user) }
            let request = Records.batch(device.replica, notes)
            let response = try await client.accepted(request, as: device.token)
            for result in response.results { model.records[result.id] = (device.home, try #require(result.position)) }
            model.lastPush[id] = request
            return Expected(.push, 200, id, notes.map { ($0.id, "changed") })
        case 2:
            // A note in a scope the token does not hold (the office holds all: one under
            // another user's name): refused, and the note is named.
            let office = device.scopes == ["*"]
            let note = Records.visitNote(scope: device.foreign, replica: device.replica, author: office ? "anna" : device.user)
            let response = try await client.push(Records.batch(device.replica, [note]), as: device.token)
            #expect(response.status.code == 403)
            return Expected(.push, 403, id, [(note.id, "refused")])
        case 3, 4:
            let cursor = model.cursors[id] ?? "0"
            let response = try await client.pull(as: device.token, since: cursor, limit: "2")
            #expect(response.status == .ok)
            let page = try response.decode(PullResponse.self)
            let ids = model.readable(by: device.scopes, after: Int64(cursor)!, limit: 2)
            #expect(page.records.map(\.id) == ids)
            model.cursors[id] = page.cursor
            return ids.isEmpty ? nil : Expected(.pull, 200, id, ids.map { ($0, "read") })
        case 5:
            let response = try await client.pull(as: device.token, since: "0\(code % 9 + 1)")
            #expect(response.status.code == 400)
            return Expected(.pull, 400, id)
        case 6, 7:
            // History or the current state of a known record, readable or not.
            let known = model.records.keys.sorted()
            guard !known.isEmpty else { return nil }
            let record = known[code % known.count]
            let history = code % 11 == 6
            let response = try await client.execute(uri: "/v1/records/\(record)" + (history ? "/history" : ""), method: .get,
                                                    headers: [.authorization: device.token.bearer])
            let readable = device.scopes.contains("*") || device.scopes.contains(model.records[record]!.scope)
            #expect(response.status.code == (readable ? 200 : 404))
            return Expected(history ? .history : .record, readable ? 200 : 404, id, [(record, readable ? "read" : "refused")])
        case 8:
            let response = try await client.execute(uri: "/v1/me", method: .get, headers: [.authorization: device.token.bearer])
            #expect(response.status == .ok)
            return nil
        case 9:
            // A revoked token is someone the office knows: logged. An unknown one is not.
            if code % 2 == 0 {
                #expect(try await client.pull(as: revoked, since: "0").status.code == 401)
                return Expected(.pull, 401, revoked.id)
            }
            let response = try await client.execute(uri: "/v1/pull", method: .get, headers: [.authorization: "Bearer veld_unknown"])
            #expect(response.status.code == 401)
            return nil
        case 11:
            // Who accessed a known record: the office reads exactly the entries that name
            // it, newest first; any other role is refused (and the refusal is logged).
            let known = model.records.keys.sorted()
            guard !known.isEmpty else { return nil }
            let record = known[code % known.count]
            let logged = try await server.storage.accessEntries(AccessQuery(recordIDs: [record], limit: 10_000))
            let response = try await client.execute(uri: "/v1/records/\(record)/access?limit=1000", method: .get,
                                                    headers: [.authorization: device.token.bearer])
            let office = device.scopes == ["*"]
            #expect(response.status.code == (office ? 200 : 403))
            if office {
                let answer = try response.decode(RecordAccess.self)
                #expect(answer.entries.map(\.seq) == logged.reversed().map(\.seq))
                #expect(answer.entries.map(\.effect) == logged.reversed().map { $0.records.first { $0.id == record }!.effect })
                #expect(!answer.more)
            }
            return Expected(.access, office ? 200 : 403, id, [(record, office ? "read" : "refused")])
        default:
            // The last batch again: answered as before, logged as a replay.
            guard let request = model.lastPush[id] else { return nil }
            _ = try await client.accepted(request, as: device.token)
            return Expected(.push, 200, id, request.records.map { ($0.id, "unchanged") })
        }
    }

    /// A push the policy refuses names its records in the entry, with the problem type,
    /// and stores nothing else; a body that cannot be read is logged with no records.
    @Test func refusedPushesAreLoggedAsRefused() async throws {
        try await TestServer.run { client, server in
            let forged = Records.visitNote(replica: "r-anna", author: "bram")
            let response = try await server.expectNothingStored { try await client.push(Records.batch("r-anna", [forged]), as: server.anna) }
            #expect(response.status.code == 403)
            let malformed = try await client.post(body: ByteBuffer(string: #"{"batch":"#), as: server.anna)
            #expect(malformed.status.code == 400)
            let entries = try await server.storage.accessEntries(AccessQuery(refusedOnly: true))
            #expect(entries.map(\.problem) == [Problem.Kind.forgedAuthor.rawValue, Problem.Kind.malformed.rawValue])
            #expect(entries.map(\.status) == [403, 400])
            #expect(entries[0].records == [AccessedRecord(id: forged.id, type: "visitNote", scope: "loc-a", effect: "refused")])
            // Not bound yet: the replica the push claimed is only mentioned.
            #expect(entries[0].replica == nil && entries[0].detail.contains("claimed-replica=r-anna"))
            #expect(entries[0].user == "anna" && entries[0].tokenID == server.anna.id)
            #expect(entries[1].records.isEmpty)
            // Bram claims Anna's replica: refused, and not filed under her device.
            try await client.accepted(Records.batch("r-anna", [Records.visitNote(replica: "r-anna")]), as: server.anna)
            let taken = try await client.push(Records.batch("r-anna", [Records.visitNote(replica: "r-anna", author: "bram")]), as: server.bram)
            #expect(taken.status.code == 403)
            let annas = try await server.storage.accessEntries(AccessQuery(device: "r-anna"))
            #expect(annas.count == 1 && annas.allSatisfy { $0.tokenID == server.anna.id })
            let brams = try await server.storage.accessEntries(AccessQuery(device: server.bram.id))
            #expect(brams.count == 1 && brams[0].refused && brams[0].detail.contains("claimed-replica=r-anna"))
        }
    }

    /// Paths the router reads the same (`/v1/pull/`, `//v1/pull`, `/v1//records/ID`) are
    /// logged the same: an extra slash takes no read out of the log.
    @Test func anOddlyWrittenPathIsLoggedAsWell() async throws {
        try await TestServer.run { client, server in
            let note = Records.visitNote(replica: "r-anna")
            try await client.accepted(Records.batch("r-anna", [note]), as: server.anna)
            let head = try await server.storage.accessLogHead().seq
            let paths = ["/v1/pull/?since=0", "//v1/pull?since=0", "/v1//records/\(note.id)", "/v1/records/\(note.id)/history/"]
            for path in paths {
                let response = try await client.execute(uri: path, method: .get, headers: [.authorization: server.bram.bearer])
                #expect(response.status == .ok, "\(path)")
            }
            let entries = try await server.storage.accessEntries(AccessQuery()).filter { $0.seq > head }
            #expect(entries.map(\.action) == [.pull, .pull, .record, .history])
            #expect(entries.allSatisfy { $0.records.map(\.id) == [note.id] && $0.tokenID == server.bram.id })
        }
    }

    /// The access view of one record: office and admin only, only for records in the
    /// token's scopes (another scope's looks like none), bounded by `limit` with `more`
    /// saying there is more; a bad limit is a 400 that says what to send.
    @Test func theAccessViewOfARecord() async throws {
        try await TestServer.run { client, server in
            let note = Records.visitNote(scope: "loc-a", replica: "r-anna")
            try await client.accepted(Records.batch("r-anna", [note]), as: server.anna)
            for _ in 0..<3 { #expect(try await client.pull(as: server.bram, since: "0").status == .ok) }
            func access(_ token: IssuedToken, _ query: String = "") async throws -> TestResponse {
                try await client.execute(uri: "/v1/records/\(note.id)/access" + query, method: .get, headers: [.authorization: token.bearer])
            }
            let all = try await access(server.office).decode(RecordAccess.self)
            #expect(all.entries.map(\.action) == ["pull", "pull", "pull", "push"])
            #expect(all.entries.map(\.user) == ["bram", "bram", "bram", "anna"])
            #expect(all.entries.last?.effect == "changed" && !all.more)
            // The office's reads of the log are in it too: the one before is the newest now.
            let two = try await access(server.office, "?limit=2").decode(RecordAccess.self)
            #expect(two.entries.map(\.action) == ["access", "pull"] && two.entries[1].seq == all.entries[0].seq && two.more)
            #expect(two.entries[0].user == "olga" && two.entries[0].effect == "read")
            for bad in ["?limit=0", "?limit=1001", "?limit=x", "?limit=+5", "?limit=-1"] {
                let response = try await access(server.office, bad)
                #expect(response.status.code == 400, "\(bad)")
                #expect(String(buffer: response.body).contains("limit must be a whole number"))
            }
            #expect(try await access(server.anna).status.code == 403)
            let regional = try await server.storage.issueToken(user: "rita", role: .office, scopes: ["loc-b"])
            #expect(try await access(regional).status.code == 404)
            let unknown = try await client.execute(uri: "/v1/records/\(UUID().uuidString.lowercased())/access", method: .get,
                                                   headers: [.authorization: server.office.bearer])
            #expect(unknown.status.code == 404)
        }
    }

    /// A read is answered only once it is logged: with the log's table gone, a pull that
    /// would read records fails (and says nothing of them) instead of answering unlogged.
    @Test func aReadThatCannotBeLoggedIsNotAnswered() async throws {
        try await TestServer.run { client, server in
            let note = Records.visitNote(replica: "r-anna")
            try await client.accepted(Records.batch("r-anna", [note]), as: server.anna)
            try await server.storage.dropAccessLogForTest()
            let response = try await client.pull(as: server.bram, since: "0")
            #expect(response.status.code == 500)
            #expect(!String(buffer: response.body).contains(note.id))
        }
    }
}

extension SQLiteSyncStorage {
    /// Breaks the access log the way a full disk or a damaged file would for its writes.
    func dropAccessLogForTest() async throws {
        let other = try DatabaseQueue(path: path)
        try await other.write { try $0.execute(sql: "DROP TABLE accessLog") }
    }
}
