import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
import VeldProtocol
import VeldServer

/// A token revoked with `--wipe`: every request is `401 wipe-requested` (and logged),
/// except the wipe receipt, which is recorded once; receipts are checked before they are
/// recorded.
@Suite struct HTTPWipeTests {
    static func send(_ receipt: String, as token: IssuedToken, _ client: any TestClientProtocol) async throws -> TestResponse {
        try await client.post("/v1/receipts", body: ByteBuffer(string: receipt), as: token)
    }

    @Test func aWipedDeviceMaySendItsReceiptAndNothingElse() async throws {
        try await TestServer.run { client, server in
            try await client.accepted(Records.batch("r-anna", [Records.visitNote(replica: "r-anna")]), as: server.anna)
            #expect(try await server.storage.requestWipe(id: server.anna.id, at: Fixture.time))
            try expectProblem(try await client.pull(as: server.anna, since: "0"), status: 401, .wipeRequested, detail: ["erased", "POST /v1/receipts"])
            try expectProblem(try await client.push(Records.batch("r-anna", [Records.visitNote(replica: "r-anna")]), as: server.anna),
                              status: 401, .wipeRequested, detail: ["erased"])
            let me = try await client.execute(uri: "/v1/me", method: .get, headers: [.authorization: server.anna.bearer])
            try expectProblem(me, status: 401, .wipeRequested, detail: [])
            // A scope receipt from a device that is to be wiped: no.
            let scopes = PurgeReceipt(kind: .scopes, scopes: ["loc-a"], records: 1, unsent: 0)
            try expectProblem(try await Self.send(String(decoding: try StableJSON.encode(scopes), as: UTF8.self), as: server.anna, client),
                              status: 401, .wipeRequested, detail: ["wipe receipt"])
            let wipe = PurgeReceipt(kind: .wipe, records: 1, unsent: 0)
            let body = String(decoding: try StableJSON.encode(wipe), as: UTF8.self)
            let first = try await Self.send(body, as: server.anna, client)
            #expect(first.status == .ok)
            #expect(try first.decode(ReceiptAnswer.self) == ReceiptAnswer(id: wipe.id, recorded: true))
            #expect(try await Self.send(body, as: server.anna, client).decode(ReceiptAnswer.self).recorded == false)
            #expect(try await server.storage.receipts().map(\.receipt) == [wipe])
            let token = try #require(try await server.storage.tokens().first { $0.id == server.anna.id })
            #expect(token.wipedAt == Fixture.time && token.state(at: Fixture.time) == "wiped")
            // The log: the refusals as wipe-requested, the receipt as a purge, once.
            let entries = try await server.storage.accessEntries(AccessQuery(device: server.anna.id))
            #expect(entries.map(\.action) == [.push, .pull, .push, .purge])
            #expect(entries.dropFirst().prefix(2).allSatisfy { $0.status == 401 && $0.problem == "wipe-requested" })
            #expect(entries.last?.detail == "wipe receipt=\(wipe.id) records=1 unsent=0")
        }
    }

    @Test func meNamesTheTokensOwnConfirmedReceiptsOnly() async throws {
        try await TestServer.run { client, server in
            func me(_ token: IssuedToken) async throws -> DeviceIdentity {
                try await client.execute(uri: "/v1/me", method: .get, headers: [.authorization: token.bearer]).decode(DeviceIdentity.self)
            }
            let annas = PurgeReceipt(kind: .scopes, scopes: ["loc-b"], records: 2, unsent: 1)
            let brams = PurgeReceipt(kind: .scopes, scopes: ["loc-c"], records: 1, unsent: 1)
            for (receipt, token) in [(annas, server.anna), (brams, server.bram)] {
                #expect(try await Self.send(String(decoding: try StableJSON.encode(receipt), as: UTF8.self), as: token, client).status == .ok)
            }
            #expect(try await me(server.anna).confirmedReceipts == nil)
            _ = try await server.storage.confirmReceipt(id: annas.id, by: "office", at: Fixture.time)
            #expect(try await me(server.anna).confirmedReceipts == [annas.id])
            #expect(try await me(server.bram).confirmedReceipts == nil)
            let raw = try await client.execute(uri: "/v1/me", method: .get, headers: [.authorization: server.bram.bearer])
            #expect(!String(buffer: raw.body).contains("confirmedReceipts"), "absent, not empty, when there are none")
        }
    }

    @Test func receiptsAreCheckedBeforeTheyAreRecorded() async throws {
        try await TestServer.run { client, server in
            let id = RecordIDs.make()
            let refused: [(String, Int)] = [
                (#"{"id":"\#(id)","kind":"wipe","records":1,"scopes":[],"unsent":0}"#, 400),   // not asked to wipe
                (#"{"id":"x","kind":"scopes","records":1,"scopes":["loc-a"],"unsent":0}"#, 400),
                (#"{"id":"\#(id)","kind":"scopes","records":1,"scopes":[],"unsent":0}"#, 400),
                (#"{"id":"\#(id)","kind":"scopes","records":1,"scopes":["Loc A"],"unsent":0}"#, 400),
                (#"{"id":"\#(id)","kind":"scopes","records":1,"scopes":["loc-a"],"unsent":2}"#, 400),
                (#"{"id":"\#(id)","kind":"scopes","records":-1,"scopes":["loc-a"],"unsent":0}"#, 400),
                (#"{"id":"\#(id)","kind":"burn","records":1,"scopes":["loc-a"],"unsent":0}"#, 400),
                (#"{"id":"#, 400),
            ]
            for (body, status) in refused {
                let response = try await Self.send(body, as: server.anna, client)
                #expect(response.status.code == status, "\(body)")
                #expect(response.headers[.contentType] == "application/problem+json")
            }
            #expect(try await server.storage.receipts().isEmpty)
            let fine = PurgeReceipt(kind: .scopes, scopes: ["loc-b"], records: 3, unsent: 1)
            let response = try await Self.send(String(decoding: try StableJSON.encode(fine), as: UTF8.self), as: server.anna, client)
            #expect(response.status == .ok)
            #expect(try await server.storage.receipts().map(\.tokenID) == [server.anna.id])
            let unknown = try await client.execute(uri: "/v1/receipts", method: .post, headers: [.authorization: "Bearer veld_nobody"],
                                                   body: ByteBuffer(string: "{}"))
            #expect(unknown.status.code == 401)
        }
    }
}
