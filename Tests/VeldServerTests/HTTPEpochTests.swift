import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PropertyBased
import Testing
import VeldProtocol
import VeldServer
import VeldTestSupport

/// Server epochs and proofs over HTTP (SPEC.md, "Server epochs and restores"): every answer
/// names the epoch; a push or pull under another one is refused before anything is read; a
/// proven state is taken only with the server's own proof of exactly that state, and a
/// batch that leans on a forged or altered one stores nothing.
@Suite struct HTTPEpochTests {
    static let epochHeader = HTTPField.Name(ServerEpoch.headerName)!

    @Test func everyAnswerNamesTheEpoch() async throws {
        try await TestServer.run { client, server in
            let epoch = try await server.storage.identity().epoch
            #expect(ServerEpoch.isValid(epoch))
            let answers = [
                try await client.execute(uri: "/v1/health", method: .get),
                try await client.pull(as: server.anna),
                try await client.pull(as: nil),
                try await client.execute(uri: "/v1/nothing-here", method: .get),
                try await client.push(Records.batch("r-anna", [Records.visitNote(replica: "r-bram")]), as: server.anna),
            ]
            for answer in answers { #expect(answer.headers[Self.epochHeader] == epoch, "\(answer.status)") }
            var headers = HTTPFields()
            headers[.authorization] = server.anna.bearer
            let me = try await client.execute(uri: "/v1/me", method: .get, headers: headers).decode(DeviceIdentity.self)
            #expect(me.epoch == epoch)
        }
    }

    @Test func aStaleEpochIsRefusedBeforeAnythingIsRead() async throws {
        try await TestServer.run { client, server in
            try await client.accepted(Records.batch("r-anna", [Records.visitNote(replica: "r-anna")]), as: server.anna)
            let old = try await server.storage.identity().epoch
            let renewed = try await server.storage.renewEpoch()
            #expect(renewed != old && ServerEpoch.isValid(renewed))
            for known in [old, "not-an-epoch"] {
                var headers = HTTPFields()
                headers[Self.epochHeader] = known
                let pushed = try await server.expectNothingStored {
                    try await client.push(Records.batch("r-anna", [Records.visitNote(replica: "r-anna")]), as: server.anna, headers: headers)
                }
                try expectProblem(pushed, status: 409, .epochChanged, detail: ["restored from a backup", renewed, "sync again"])
                #expect(pushed.headers[Self.epochHeader] == renewed)
                let pulled = try await client.pull(as: server.anna, since: "1", headers: headers)
                try expectProblem(pulled, status: 409, .epochChanged, detail: [renewed])
            }
            var current = HTTPFields()
            current[Self.epochHeader] = renewed
            #expect(try await client.pull(as: server.anna, since: "0", headers: current).status == .ok)
            // A client that names no epoch (an older release) is served as before.
            #expect(try await client.pull(as: server.anna, since: "0").status == .ok)
        }
    }

    /// Bram's note, as anna's device pulled it (with the server's proof), and anna's edit of it.
    struct Pulled {
        let state: RecordState
        let proof: String
        let edited: RecordState
    }

    /// After a restore (a renewed epoch, served since `Fixture.time`), with bram's note pulled.
    static func pulledNote(_ client: any TestClientProtocol, _ server: TestServer, restored: Bool = true) async throws -> Pulled {
        if restored {
            _ = try await server.storage.renewEpoch()
            #expect(try await server.storage.openRecoveryWindow(at: Fixture.time(plus: -60)).recoveryFrom == Fixture.time(plus: -60))
        }
        let note = Records.visitNote(replica: "r-bram", author: "bram", changes: ["observations": .string("Tuin opgeruimd")])
        try await client.accepted(Records.batch("r-bram", [note]), as: server.bram)
        let page = try await client.pull(as: server.anna).decode(PullResponse.self)
        let index = try #require(page.records.firstIndex { $0.id == note.id })
        let proof = try #require(page.proof(at: index))
        #expect(proof.hasPrefix("p1.") && proof.count == 25)
        return Pulled(state: page.records[index], proof: proof,
                      edited: Records.edited(page.records[index], ["summary": .string("Aangevuld")], replica: "r-anna"))
    }

    @Test func aProvenStateIsTakenAndItsChangeMarkedRecovered() async throws {
        try await TestServer.run { client, server in
            let pulled = try await Self.pulledNote(client, server)
            let request = PushRequest(replica: "r-anna", batch: UUID().uuidString.lowercased(), records: [pulled.edited],
                                      proven: [ProvenState(proof: pulled.proof, state: pulled.state)], recovery: true)
            let answer = try await client.accepted(request, as: server.anna)
            #expect(answer.results.first?.changed == true)
            let history = try await server.storage.history(recordID: pulled.state.id)
            #expect(history.map(\.recovered) == [false, true])
            // The same batch again is a replay, as always.
            #expect(try await client.push(request, as: server.anna).status == .ok)
        }
    }

    /// Generated alterations of a proven state (a value, an author, a time, another
    /// replica's entry or counter, another record's id, another proof) are refused as
    /// `invalid-proof`, with nothing stored.
    @Test func alteredProvenStatesAreRefusedWithNothingStored() async throws {
        try await TestServer.run { client, server in
            let pulled = try await Self.pulledNote(client, server)
            let own = Records.visitNote(replica: "r-anna")
            try await client.accepted(Records.batch("r-anna", [own]), as: server.anna)
            await checkProperty(count: 40, input: Gen.int(in: 0...5), Gen.int(in: 0...1_000)) { kind, code in
                var proven = pulled.state
                var records = [pulled.edited]
                let fields = proven.fields.keys.sorted()
                let field = fields[code % fields.count]
                func altered(_ change: (inout FieldEntry) -> Void) -> RecordState {
                    var all = proven.fields
                    change(&all[field]![0])
                    return RecordState(id: proven.id, type: proven.type, scope: proven.scope, context: proven.context, fields: all)
                }
                switch kind {
                case 0:
                    // A free-text field, so the altered state still fits the schema.
                    var all = proven.fields
                    all["observations"]![0].value = .string("anders \(code)")
                    proven = RecordState(id: proven.id, type: proven.type, scope: proven.scope, context: proven.context, fields: all)
                case 1:
                    proven = altered { $0.author = "carla" }
                case 2:
                    proven = altered { $0.time = $0.time.addingTimeInterval(Double(1 + code)) }
                case 3:
                    proven = Records.withContext(proven, ["r-bram": UInt64(2 + code % 50)])
                case 4:
                    // Bram's content under anna's own record's id.
                    proven = RecordState(id: own.id, type: own.type, scope: own.scope, context: proven.context, fields: proven.fields)
                    records = [Records.edited(own, ["summary": .string("x \(code)")], replica: "r-anna")]
                default:
                    break
                }
                let proof = kind == 5 ? "p1." + String(repeating: "A", count: 21) + String("ABCD".randomElement()!) : pulled.proof
                if kind != 4 { records = [try pulled.edited.merged(with: proven)] }
                let request = PushRequest(replica: "r-anna", batch: UUID().uuidString.lowercased(), records: records,
                                          proven: [ProvenState(proof: proof, state: proven)], recovery: true)
                let response = try await server.expectNothingStored { try await client.push(request, as: server.anna) }
                let problem = try expectProblem(response, status: 403, .invalidProof, detail: ["proofs this server does not take", "without them"])
                #expect(problem.records?.map(\.id) == [proven.id])
            }
        }
    }

    /// A server that was not restored, or was restored more than the recovery days ago,
    /// takes no proven state, however good its proof.
    @Test func provenStatesAreTakenOnlyInTheDaysAfterARestore() async throws {
        try await TestServer.run { client, server in
            let pulled = try await Self.pulledNote(client, server, restored: false)
            let request = PushRequest(replica: "r-anna", batch: UUID().uuidString.lowercased(), records: [pulled.edited],
                                      proven: [ProvenState(proof: pulled.proof, state: pulled.state)], recovery: true)
            let never = try await server.expectNothingStored { try await client.push(request, as: server.anna) }
            try expectProblem(never, status: 403, .invalidProof, detail: ["does not take"])
            #expect(try never.decode(Problem.self).records?.first?.reason.contains("\(ServerEpoch.recoveryDays) days after") == true)
            _ = try await server.storage.renewEpoch()
            let long = Fixture.time(plus: -(ServerEpoch.recoveryDays * 86_400 + 60))
            _ = try await server.storage.openRecoveryWindow(at: long)
            // Served again later: the days run from the first time, not from now.
            #expect(try await server.storage.openRecoveryWindow(at: Fixture.time).recoveryFrom == long)
            let late = try await server.expectNothingStored { try await client.push(request, as: server.anna) }
            try expectProblem(late, status: 403, .invalidProof, detail: ["does not take"])
            // Without the proven state the push is what it always was: bram's edits are known.
            #expect(try await client.push(PushRequest(replica: "r-anna", batch: UUID().uuidString.lowercased(), records: [pulled.edited]),
                                          as: server.anna).status == .ok)
            #expect(try await server.storage.history(recordID: pulled.state.id).map(\.recovered) == [false, false])
        }
    }

    @Test func aProvenStateGoesOnlyWithItsRecordInItsScope() async throws {
        try await TestServer.run { client, server in
            let pulled = try await Self.pulledNote(client, server)
            let proven = [ProvenState(proof: pulled.proof, state: pulled.state)]
            // Without its record in the batch.
            let alone = PushRequest(replica: "r-anna", batch: UUID().uuidString.lowercased(), records: [Records.visitNote(replica: "r-anna")],
                                    proven: proven)
            let refused = try await server.expectNothingStored { try await client.push(alone, as: server.anna) }
            try expectProblem(refused, status: 422, .invalidRecord, detail: ["comes without the record"])
            // Twice for one record.
            let twice = PushRequest(replica: "r-anna", batch: UUID().uuidString.lowercased(), records: [pulled.edited],
                                    proven: proven + proven)
            try expectProblem(try await server.expectNothingStored { try await client.push(twice, as: server.anna) },
                              status: 422, .invalidRecord, detail: ["two proven states"])
            // A note the office holds in loc-b, proven, does not take anna there.
            let elsewhere = Records.visitNote(scope: "loc-b", replica: "r-office", author: "olga")
            try await client.accepted(Records.batch("r-office", [elsewhere]), as: server.office)
            let page = try await client.pull(as: server.office).decode(PullResponse.self)
            let index = try #require(page.records.firstIndex { $0.id == elsewhere.id })
            let intruding = PushRequest(replica: "r-anna", batch: UUID().uuidString.lowercased(),
                                        records: [Records.edited(page.records[index], ["summary": .string("x")], replica: "r-anna")],
                                        proven: [ProvenState(proof: try #require(page.proof(at: index)), state: page.records[index])])
            try expectProblem(try await server.expectNothingStored { try await client.push(intruding, as: server.anna) },
                              status: 403, .scopeForbidden, detail: ["loc-b"])
        }
    }
}
