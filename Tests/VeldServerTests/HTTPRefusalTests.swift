import CompressNIO
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
import VeldProtocol
import VeldServer

/// Every refusal answers with a problem+json body that says what to do, and stores
/// nothing: no record, no position, no token binding, no remembered batch.
@Suite struct HTTPRefusalTests {
    // MARK: Authentication

    @Test func pushWithoutTokenIs401() async throws {
        try await TestServer.run { client, server in
            let request = Records.batch("r-anna", [Records.visitNote(replica: "r-anna")])
            let response = try await server.expectNothingStored { try await client.push(request, as: nil) }
            try expectProblem(response, status: 401, .unauthenticated, detail: ["Authorization: Bearer", "veld-server token create"])
            // The batch id was not remembered: the same batch with a token goes through.
            #expect(try await client.accepted(request, as: server.anna).results.first?.changed == true)
        }
    }

    @Test func pullWithoutTokenIs401() async throws {
        try await TestServer.run { client, server in
            let response = try await client.pull(as: nil, since: "0")
            try expectProblem(response, status: 401, .unauthenticated, detail: ["Authorization: Bearer"])
        }
    }

    @Test func notABearerHeaderIs401() async throws {
        try await TestServer.run { client, server in
            let request = Records.batch("r-anna", [Records.visitNote(replica: "r-anna")])
            let response = try await server.expectNothingStored {
                try await client.post(body: ByteBuffer(bytes: try StableJSON.encode(request)), as: nil,
                                      headers: [.authorization: "Basic YW5uYTpnZWhlaW0="])
            }
            try expectProblem(response, status: 401, .unauthenticated, detail: ["Bearer TOKEN"])
        }
    }

    @Test func wrongTokenIs401() async throws {
        try await TestServer.run { client, server in
            let stranger = IssuedToken(secret: TokenSecret.make(), token: server.anna.token)
            let request = Records.batch("r-anna", [Records.visitNote(replica: "r-anna")])
            let response = try await server.expectNothingStored { try await client.push(request, as: stranger) }
            try expectProblem(response, status: 401, .unauthenticated, detail: ["not known to the server", "ask the office"])
            try expectProblem(try await client.pull(as: stranger), status: 401, .unauthenticated, detail: ["not known"])
        }
    }

    @Test func revokedTokenIs401() async throws {
        try await TestServer.run { client, server in
            #expect(try await server.storage.revokeToken(id: server.anna.id, at: Fixture.time))
            let request = Records.batch("r-anna", [Records.visitNote(replica: "r-anna")])
            let response = try await server.expectNothingStored { try await client.push(request, as: server.anna) }
            try expectProblem(response, status: 401, .unauthenticated, detail: [server.anna.id, "revoked", "new one"])
            try expectProblem(try await client.pull(as: server.anna), status: 401, .unauthenticated, detail: ["revoked"])
        }
    }

    @Test func expiredTokenIs401AndSaysSo() async throws {
        try await TestServer.run { client, server in
            // The fixture's clock stands at Fixture.time: a token that expired a second before.
            let secret = TokenSecret.make()
            var token = DeviceToken(id: TokenSecret.makeID(), user: "anna", role: .carer, scopes: ["loc-a"],
                                    createdAt: Fixture.time(plus: -86_400), expiresAt: Fixture.time(plus: -1))
            try await server.storage.insertToken(token, hash: TokenSecret.hash(secret))
            let expired = IssuedToken(secret: secret, token: token)
            let request = Records.batch("r-anna-2", [Records.visitNote(replica: "r-anna-2")])
            let response = try await server.expectNothingStored { try await client.push(request, as: expired) }
            try expectProblem(response, status: 401, .unauthenticated, detail: [token.id, "expired on", "new secret"])
            try expectProblem(try await client.pull(as: expired), status: 401, .unauthenticated, detail: ["expired"])
            // One that expires a second later still works.
            let fresh = TokenSecret.make()
            token.id = TokenSecret.makeID()
            token.expiresAt = Fixture.time(plus: 1)
            try await server.storage.insertToken(token, hash: TokenSecret.hash(fresh))
            #expect(try await client.pull(as: IssuedToken(secret: fresh, token: token)).status == .ok)
        }
    }

    // MARK: Scopes, roles, dots

    @Test func pushIntoAnotherScopeIs403() async throws {
        try await TestServer.run { client, server in
            let note = Records.visitNote(scope: "loc-b", replica: "r-anna")
            let response = try await server.expectNothingStored {
                try await client.push(Records.batch("r-anna", [note]), as: server.anna)
            }
            let problem = try expectProblem(response, status: 403, .scopeForbidden, detail: ["loc-b", note.id, "ask the office"])
            #expect(problem.records?.map(\.id) == [note.id])
        }
    }

    /// Office-only decisions on a care plan: `approvedBy`, and status `vastgesteld`.
    @Test(arguments: [
        ("approvedBy", FieldValue.string("Jan de Vries")),
        ("status", FieldValue.string("vastgesteld")),
    ])
    func officeOnlyFieldByVisitorIs403(field: String, value: FieldValue) async throws {
        try await TestServer.run { client, server in
            let plan = Records.carePlan(replica: "r-anna", changes: [field: value])
            let response = try await server.expectNothingStored {
                try await client.push(Records.batch("r-anna", [plan]), as: server.anna)
            }
            let problem = try expectProblem(response, status: 403, .fieldForbidden,
                                            detail: ["carer", "\(plan.id) (\(field))", "office"])
            #expect(problem.records?.map(\.id) == [plan.id])
            #expect(problem.records?.map(\.field) == [field])
        }
    }

    /// An office-only field can also not be slipped into an existing record as an edit.
    @Test func officeOnlyFieldAddedToStoredRecordIs403() async throws {
        try await TestServer.run { client, server in
            let plan = Records.carePlan(replica: "r-anna")
            try await client.accepted(Records.batch("r-anna", [plan]), as: server.anna)
            let approved = Records.edited(plan, ["approvedBy": .string("anna")], replica: "r-anna")
            let response = try await server.expectNothingStored {
                try await client.push(Records.batch("r-anna", [approved]), as: server.anna)
            }
            try expectProblem(response, status: 403, .fieldForbidden, detail: ["\(plan.id) (approvedBy)"])
        }
    }

    /// An entry whose dot belongs to another replica that the server never saw.
    @Test func forgedDotOfAnotherReplicaIs403() async throws {
        try await TestServer.run { client, server in
            let forged = Records.visitNote(replica: "r-bram", author: "bram")
            let response = try await server.expectNothingStored {
                try await client.push(Records.batch("r-anna", [forged]), as: server.anna)
            }
            let problem = try expectProblem(response, status: 403, .forgedDot,
                                            detail: [forged.id, "other replicas", "only send its own"])
            #expect(problem.records?.contains { $0.reason.contains("r-bram") } == true)
        }
    }

    /// Only the entry is forged; the context is the pusher's own. Such a state is not even
    /// well-formed (it holds an edit its context does not count), so it is refused as
    /// invalid before the dots are looked at.
    @Test func forgedEntryUnderOwnContextIs422() async throws {
        try await TestServer.run { client, server in
            let own = Records.visitNote(replica: "r-anna")
            let forged = Records.withContext(Records.visitNote(id: own.id, replica: "r-bram", author: "bram"), ["r-anna": 1])
            let response = try await server.expectNothingStored {
                try await client.push(Records.batch("r-anna", [forged]), as: server.anna)
            }
            try expectProblem(response, status: 422, .invalidRecord, detail: [forged.id, "r-bram:1", "not covered"])
        }
    }

    /// A context that counts more edits of another replica than the server knows would
    /// suppress that replica's future edits.
    @Test func inflatedContextOfAnotherReplicaIs403() async throws {
        try await TestServer.run { client, server in
            let plan = Records.carePlan(replica: "r-office", author: "olga")
            try await client.accepted(Records.batch("r-office", [plan]), as: server.office)
            let edited = Records.edited(plan, ["agreements": .string("Wekelijks wandelen")], replica: "r-anna")
            let inflated = Records.withContext(edited, ["r-office": 7, "r-anna": 1])
            let response = try await server.expectNothingStored {
                try await client.push(Records.batch("r-anna", [inflated]), as: server.anna)
            }
            let problem = try expectProblem(response, status: 403, .forgedDot, detail: [plan.id, "counters of other replicas"])
            #expect(problem.records?.contains { $0.reason.contains("r-office") && $0.reason.contains("7") } == true)
            // The honest edit goes through.
            try await client.accepted(Records.batch("r-anna", [edited]), as: server.anna)
        }
    }

    /// The same dot with another value: a replica id reused after a restore from backup.
    @Test func knownDotWithAnotherValueIs409() async throws {
        try await TestServer.run { client, server in
            let note = Records.visitNote(replica: "r-anna")
            try await client.accepted(Records.batch("r-anna", [note]), as: server.anna)
            let restored = Records.visitNote(id: note.id, replica: "r-anna", changes: ["summary": .string("Iets anders")])
            #expect(restored.entries(of: "summary").first?.dot == note.entries(of: "summary").first?.dot)
            let response = try await server.expectNothingStored {
                try await client.push(Records.batch("r-anna", [restored]), as: server.anna)
            }
            let problem = try expectProblem(response, status: 409, .dotReused,
                                            detail: ["r-anna", note.id, "restored from a backup", "veld init"])
            #expect(problem.records?.contains { $0.field == "summary" } == true)
            #expect(try await server.storage.record(id: note.id) == note)
        }
    }

    /// A device that counts fewer of its own edits than the server has lost its history.
    @Test func ownCounterBehindTheServerIs409() async throws {
        try await TestServer.run { client, server in
            let note = Records.visitNote(replica: "r-anna")
            let second = Records.edited(note, ["observations": .string("Rustig")], replica: "r-anna")
            try await client.accepted(Records.batch("r-anna", [second]), as: server.anna)
            // Restored from a backup taken before the second edit: it counts one edit of its own.
            let response = try await server.expectNothingStored {
                try await client.push(Records.batch("r-anna", [note]), as: server.anna)
            }
            let problem = try expectProblem(response, status: 409, .dotReused, detail: [note.id, "veld init"])
            #expect(problem.records?.first?.reason.contains("counts 1 of its own edits; the server already has 2") == true)
        }
    }

    @Test func otherReplicaOnABoundTokenIs403() async throws {
        try await TestServer.run { client, server in
            try await client.accepted(Records.batch("r-anna", [Records.visitNote(replica: "r-anna")]), as: server.anna)
            let request = Records.batch("r-copy", [Records.visitNote(replica: "r-copy")])
            let response = try await server.expectNothingStored { try await client.push(request, as: server.anna) }
            try expectProblem(response, status: 403, .replicaMismatch, detail: [server.anna.id, "r-anna", "r-copy", "its own token"])
        }
    }

    @Test func sameBatchIDWithOtherContentIs409() async throws {
        try await TestServer.run { client, server in
            let request = Records.batch("r-anna", [Records.visitNote(replica: "r-anna")])
            try await client.accepted(request, as: server.anna)
            let other = Records.batch("r-anna", [Records.visitNote(replica: "r-anna")], id: request.batch)
            let response = try await server.expectNothingStored { try await client.push(other, as: server.anna) }
            try expectProblem(response, status: 409, .batchReused, detail: [request.batch, "new batch id"])
        }
    }

    // MARK: Bodies

    @Test func malformedJSONIs400() async throws {
        try await TestServer.run { client, server in
            let response = try await server.expectNothingStored {
                try await client.post(body: ByteBuffer(string: #"{"replica": "r-anna", "batch": "#), as: server.anna)
            }
            try expectProblem(response, status: 400, .malformed, detail: ["not a valid PushRequest", "JSON"])
        }
    }

    @Test func recordsThatAreNotAListIs400() async throws {
        try await TestServer.run { client, server in
            let body = try rawPushBody(Records.batch("r-anna", [])) { $0["records"] = "x" }
            let response = try await server.expectNothingStored { try await client.post(body: body, as: server.anna) }
            try expectProblem(response, status: 400, .malformed, detail: ["records", "expected"])
        }
    }

    @Test func fieldValueThatIsANumberIs400() async throws {
        try await TestServer.run { client, server in
            let note = Records.visitNote(replica: "r-anna")
            let body = try rawPushBody(Records.batch("r-anna", [note])) { object in
                var records = object["records"] as! [[String: Any]]
                var fields = records[0]["fields"] as! [String: Any]
                var entries = fields["summary"] as! [[String: Any]]
                entries[0]["value"] = 42
                fields["summary"] = entries
                records[0]["fields"] = fields
                object["records"] = records
            }
            let response = try await server.expectNothingStored { try await client.post(body: body, as: server.anna) }
            try expectProblem(response, status: 400, .malformed, detail: ["summary", "a field value is null, true/false, a string or a list of strings"])
        }
    }

    @Test func missingReplicaOrBadBatchIDIs400() async throws {
        try await TestServer.run { client, server in
            let note = Records.visitNote(replica: "r-anna")
            let noReplica = try await server.expectNothingStored {
                try await client.push(Records.batch("", [note]), as: server.anna)
            }
            try expectProblem(noReplica, status: 400, .malformed, detail: ["replica"])
            let badBatch = try await server.expectNothingStored {
                try await client.push(Records.batch("r-anna", [note], id: "batch-1"), as: server.anna)
            }
            try expectProblem(badBatch, status: 400, .malformed, detail: ["batch must be a UUID"])
        }
    }

    @Test func unknownRecordTypeIs422() async throws {
        try await TestServer.run { client, server in
            var report = RecordState(id: RecordIDs.make(), type: "visitReport", scope: "loc-a")
            report.edit(["summary": .string("Rondgang")], replica: "r-anna", author: "anna", time: Fixture.time)
            let response = try await server.expectNothingStored {
                try await client.push(Records.batch("r-anna", [report]), as: server.anna)
            }
            let problem = try expectProblem(response, status: 422, .invalidRecord,
                                            detail: ["unknown record type 'visitReport'", "visitNote", "nothing was stored"])
            #expect(problem.records?.first?.id == report.id)
        }
    }

    @Test func recordThatClaimsAnotherTypeThanStoredIs422() async throws {
        try await TestServer.run { client, server in
            let note = Records.visitNote(replica: "r-anna")
            try await client.accepted(Records.batch("r-anna", [note]), as: server.anna)
            let imposter = Records.carePlan(id: note.id, replica: "r-anna")
            let response = try await server.expectNothingStored {
                try await client.push(Records.batch("r-anna", [Records.withContext(imposter, ["r-anna": 2])]), as: server.anna)
            }
            try expectProblem(response, status: 422, .invalidRecord, detail: ["fixed at creation"])
        }
    }

    /// Hummingbird's body collection refuses past the limit with NIO's own error, which
    /// must still come out as a 413 problem (it once came out as a 500).
    @Test func bodyOver16MiBIs413() async throws {
        try await TestServer.run { client, server in
            let body = ByteBuffer(repeating: UInt8(ascii: " "), count: SyncLimits.maxBodyBytes + 1)
            let response = try await server.expectNothingStored { try await client.post(body: body, as: server.anna) }
            try expectProblem(response, status: 413, .tooLarge, detail: ["16 MiB", "fewer records"])
        }
    }

    /// A small gzip body that unzips to more than the limit (a zip bomb) is refused, also
    /// when it is only just over (the decompressor's buffers can hold a little more).
    @Test(arguments: [1, 4 * 1_048_576, 48 * 1_048_576])
    func gzipBodyOver16MiBUnzippedIs413(excess: Int) async throws {
        try await TestServer.run { client, server in
            let body = try Self.gzipBody(unzippedSize: SyncLimits.maxBodyBytes + excess)
            let response = try await server.expectNothingStored {
                try await client.post(body: body, as: server.anna, headers: [.contentEncoding: "gzip"])
            }
            try expectProblem(response, status: 413, .tooLarge, detail: ["16 MiB", "unzipped", "fewer records"])
        }
    }

    /// Exactly at the limit is still fine, zipped or not.
    @Test(arguments: [false, true])
    func bodyOfExactly16MiBIsAccepted(zipped: Bool) async throws {
        try await TestServer.run { client, server in
            let body = zipped ? try Self.gzipBody(unzippedSize: SyncLimits.maxBodyBytes)
                              : try Self.paddedBody(size: SyncLimits.maxBodyBytes)
            let response = try await client.post(body: body, as: server.anna,
                                                 headers: zipped ? [.contentEncoding: "gzip"] : [:])
            #expect(response.status == .ok, "body: \(String(buffer: response.body))")
        }
    }

    /// A valid push of one visit note, padded with spaces to `size` bytes.
    static func paddedBody(size: Int) throws -> ByteBuffer {
        var json = ByteBuffer(bytes: try StableJSON.encode(Records.batch("r-anna", [Records.visitNote(replica: "r-anna")])))
        json.writeRepeatingByte(UInt8(ascii: " "), count: size - json.readableBytes)
        return json
    }

    /// ``paddedBody(size:)`` gzipped.
    static func gzipBody(unzippedSize: Int) throws -> ByteBuffer {
        var json = try paddedBody(size: unzippedSize)
        let zipped = try json.compress(with: .gzip)
        #expect(zipped.readableBytes < 1_048_576)
        return zipped
    }

    @Test func notGzipAlthoughSaidSoIs400() async throws {
        try await TestServer.run { client, server in
            let body = ByteBuffer(bytes: try StableJSON.encode(Records.batch("r-anna", [Records.visitNote(replica: "r-anna")])))
            let response = try await server.expectNothingStored {
                try await client.post(body: body, as: server.anna, headers: [.contentEncoding: "gzip"])
            }
            try expectProblem(response, status: 400, .malformed, detail: ["not valid gzip"])
        }
    }

    @Test func unsupportedContentEncodingIs415() async throws {
        try await TestServer.run { client, server in
            let body = ByteBuffer(bytes: try StableJSON.encode(Records.batch("r-anna", [Records.visitNote(replica: "r-anna")])))
            let response = try await server.expectNothingStored {
                try await client.post(body: body, as: server.anna, headers: [.contentEncoding: "br"])
            }
            try expectProblem(response, status: 415, .malformed, detail: ["br", "gzip"])
        }
    }

    // MARK: Whole batches

    /// One good record and one bad one: the batch is refused as a whole.
    @Test(arguments: MixedBatch.allCases)
    func mixedBatchStoresNeitherRecord(_ bad: MixedBatch) async throws {
        try await TestServer.run { client, server in
            let good = Records.visitNote(replica: "r-anna")
            let invalid = bad.record(replica: "r-anna")
            let request = Records.batch("r-anna", [good, invalid])
            let response = try await server.expectNothingStored { try await client.push(request, as: server.anna) }
            let problem = try expectProblem(response, status: bad.status, bad.kind, detail: [invalid.id])
            #expect(problem.records?.allSatisfy { $0.id == invalid.id } == true, "only the bad record is named")
            #expect(try await server.storage.record(id: good.id) == nil)
            #expect(try await server.storage.tokens().first { $0.id == server.anna.id }?.replica == nil)
        }
    }

    enum MixedBatch: String, CaseIterable, Sendable {
        case missingRequiredField, invalidDate, otherScope, officeField, forgedDot

        func record(replica: String) -> RecordState {
            switch self {
            case .missingRequiredField: Records.visitNote(replica: replica, changes: ["summary": .null])
            case .invalidDate: Records.visitNote(replica: replica, changes: ["visitedAt": .string("20-11-2026")])
            case .otherScope: Records.visitNote(scope: "loc-b", replica: replica)
            case .officeField: Records.carePlan(replica: replica, changes: ["approvedBy": .string("anna")])
            case .forgedDot: Records.visitNote(replica: "r-someone-else")
            }
        }

        var status: Int {
            switch self {
            case .missingRequiredField, .invalidDate: 422
            case .otherScope, .officeField, .forgedDot: 403
            }
        }

        var kind: Problem.Kind {
            switch self {
            case .missingRequiredField, .invalidDate: .invalidRecord
            case .otherScope: .scopeForbidden
            case .officeField: .fieldForbidden
            case .forgedDot: .forgedDot
            }
        }
    }

    // MARK: Pull parameters

    @Test(arguments: ["0", "-1", "999999", "abc", "", "1.5"])
    func absurdLimitIs400(_ limit: String) async throws {
        try await TestServer.run { client, server in
            let response = try await client.pull(as: server.anna, since: "0", limit: limit)
            try expectProblem(response, status: 400, .malformed, detail: ["limit must be a whole number from 1 to 5000", "'\(limit)'"])
        }
    }

    @Test(arguments: ["-1", "abc", "1e3", "01", "00"])
    func badCursorIs400(_ since: String) async throws {
        try await TestServer.run { client, server in
            let response = try await client.pull(as: server.anna, since: since)
            try expectProblem(response, status: 400, .malformed, detail: ["since must be a cursor", "'\(since)'"])
        }
    }

    @Test(arguments: ["2", "true", "", "yes", "01", "1,1"])
    func badDeltasIs400(_ deltas: String) async throws {
        try await TestServer.run { client, server in
            let response = try await client.execute(uri: "/v1/pull?since=0&deltas=\(deltas)", method: .get,
                                                    headers: [.authorization: server.anna.bearer])
            try expectProblem(response, status: 400, .malformed, detail: ["deltas must be 1", "or 0"])
        }
    }

    /// `base` (where the device's last complete pull ended) is a cursor at or before `since`.
    @Test(arguments: [("abc", "base must be a cursor"), ("01", "base must be a cursor"), ("-1", "base must be a cursor"),
                      ("5", "at or before since (3)")])
    func badBaseIs400(_ base: String, _ says: String) async throws {
        try await TestServer.run { client, server in
            for _ in 0..<3 { try await client.accepted(Records.batch("r-anna", [Records.visitNote(replica: "r-anna")]), as: server.anna) }
            let response = try await client.execute(uri: "/v1/pull?since=3&deltas=1&base=\(base)", method: .get,
                                                    headers: [.authorization: server.anna.bearer])
            try expectProblem(response, status: 400, .malformed, detail: [says])
        }
    }

    // MARK: Routes

    @Test(arguments: ["/nope", "/v1/nope", "/v2/pull"])
    func unknownPathIs404(_ path: String) async throws {
        try await TestServer.run { client, server in
            let response = try await client.execute(uri: path, method: .get, headers: [.authorization: server.anna.bearer])
            try expectProblem(response, status: 404, .notFound, detail: ["no such endpoint", path])
        }
    }
}
