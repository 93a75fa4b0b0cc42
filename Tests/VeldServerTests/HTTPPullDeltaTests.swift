import Foundation
import HTTPTypes
import NIOCore
import HummingbirdTesting
import Testing
import VeldProtocol
import VeldServer

/// `GET /v1/pull?deltas=1` (SPEC.md, "Pull deltas") through the HTTP layer: a record that
/// changed after the cursor comes as the fields that changed, and a client fills it in to
/// exactly the whole state that a pull without `deltas` brings; a pull from 0, a record
/// made after the cursor and a pull that does not ask bring whole states.
@Suite struct HTTPPullDeltaTests {
    @Test func aPullAfterAnEditBringsOnlyTheFieldsThatChanged() async throws {
        try await TestServer.run { client, server in
            let note = Records.visitNote(replica: "r-anna")
            try await client.accepted(Records.batch("r-anna", [note]), as: server.anna)
            func page(since: String, deltas: Bool) async throws -> PullResponse {
                let response = try await client.execute(uri: "/v1/pull?since=\(since)" + (deltas ? "&deltas=1" : ""), method: .get,
                                                        headers: [.authorization: server.anna.bearer])
                try #require(response.status == .ok, "\(String(buffer: response.body))")
                return try RecordStateJSON.readPull(Data(response.body.readableBytesView)).page
            }
            // From 0: whole, with or without asking.
            let first = try await page(since: "0", deltas: true)
            #expect(first.records == [note] && first.deltas.isEmpty && first.digests.isEmpty)
            let cursor = first.cursor
            // One field of the note, and a new note after the cursor.
            let edited = Records.edited(note, ["summary": .string("Rondgang tuin")], replica: "r-anna")
            let later = Records.visitNote(replica: "r-anna")
            try await client.accepted(Records.batch("r-anna", [edited, later]), as: server.anna)
            let delta = try await page(since: cursor, deltas: true)
            #expect(delta.records == [later], "a record made after the cursor goes whole")
            #expect(delta.deltas.map(\.id) == [note.id] && delta.deltas.first.map { Array($0.fields.keys) } == ["summary"])
            #expect(delta.deltas.first?.context == edited.context && delta.digests == [PullDeltas.digest(of: edited)])
            #expect(delta.proofs.count == 2)
            let whole = try await page(since: cursor, deltas: false)
            #expect(whole.records == [edited, later] && whole.deltas.isEmpty)
            // The proofs are the same states' proofs: whole ones first, then the deltas'.
            #expect(delta.proofs == [whole.proofs[1], whole.proofs[0]])
            #expect(PullDeltas.expand(delta.deltas[0], digest: delta.digests[0], over: note) == edited)
            #expect(delta.cursor == whole.cursor && delta.more == whole.more)
            // Nothing changed after the end: nothing comes.
            let none = try await page(since: delta.cursor, deltas: true)
            #expect(none.records.isEmpty && none.deltas.isEmpty)
        }
    }
}
