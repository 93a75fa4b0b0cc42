import Foundation
import HTTPTypes
import NIOCore
import HummingbirdTesting
import PropertyBased
import Testing
import VeldProtocol
import VeldTestSupport
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

    /// Generated histories through the server: anna and bram edit three notes, push and pull
    /// in pages of two, in any order. Every page asked with deltas (against where the
    /// device's last complete pull ended) fills in, over the state each device last pulled,
    /// to exactly the states the same page brings whole; honest devices never need the
    /// whole page. (Against the page's own cursor instead, a note that changed twice while
    /// a device pulled, once before and once after that cursor, would not fill in.)
    @Test func deltaPagesFillInToTheWholePagesThroughTheServer() async throws {
        let used = Tally()
        try await TestServer.run { client, server in
            await checkProperty(count: 25, input: Gen.int(in: 0...9_999).array(of: 5...40)) { codes in
                let notes = (0..<3).map { _ in Records.visitNote(replica: "r-anna") }
                try await client.accepted(Records.batch("r-anna", notes), as: server.anna)
                let tokens = [server.anna, server.bram], users = ["anna", "bram"]
                var local = [[String: RecordState]](repeating: Dictionary(uniqueKeysWithValues: notes.map { ($0.id, $0) }), count: 2)
                var bases = [[String: RecordState]](repeating: [:], count: 2)
                // Each device starts at the head, holding the notes as pulled there.
                let head = try await server.storage.headPosition()
                var cursors = [String](repeating: String(head), count: 2), pullBases = cursors
                for device in 0..<2 { for note in notes { bases[device][note.id] = note } }
                var dirty = [Set<String>](repeating: [], count: 2)
                func page(_ device: Int, since: String, deltas: Bool) async throws -> PullResponse {
                    let response = try await client.execute(uri: "/v1/pull?since=\(since)&limit=2" + (deltas ? "&deltas=1&base=\(pullBases[device])" : ""),
                                                            method: .get,
                                                            headers: [.authorization: tokens[device].bearer])
                    try #require(response.status == .ok, "\(String(buffer: response.body))")
                    return try RecordStateJSON.readPull(Data(response.body.readableBytesView)).page
                }
                for code in codes {
                    let device = code % 2, note = notes[(code / 2) % 3].id
                    switch (code / 6) % 3 {
                    case 0:
                        let field = ["summary", "observations"][(code / 18) % 2]
                        local[device][note]!.edit([field: .string("\(users[device]) \(code)")], replica: "r-\(users[device])",
                                                  author: users[device], time: Fixture.time(plus: code))
                        dirty[device].insert(note)
                    case 1:
                        guard !dirty[device].isEmpty else { continue }
                        try await client.accepted(Records.batch("r-\(users[device])", dirty[device].sorted().map { local[device][$0]! }),
                                                  as: tokens[device])
                        dirty[device] = []
                    default:
                        // Every page from the device's cursor, asked with deltas and whole.
                        for _ in 0..<10 {
                            let delta = try await page(device, since: cursors[device], deltas: true)
                            let whole = try await page(device, since: cursors[device], deltas: false)
                            #expect(delta.cursor == whole.cursor && delta.more == whole.more)
                            var filled = delta.records
                            for (index, change) in delta.deltas.enumerated() {
                                let state = try #require(PullDeltas.expand(change, digest: delta.digests[index], over: bases[device][change.id]),
                                                         "an honest device's base fills the delta in")
                                filled.append(state)
                            }
                            #expect(Dictionary(uniqueKeysWithValues: filled.map { ($0.id, $0) })
                                    == Dictionary(uniqueKeysWithValues: whole.records.map { ($0.id, $0) }))
                            used.add(delta.deltas.count)
                            for state in whole.records {
                                bases[device][state.id] = state
                                local[device][state.id] = try local[device][state.id]!.merged(with: state)
                            }
                            cursors[device] = whole.cursor
                            if !whole.more {
                                pullBases[device] = whole.cursor
                                break
                            }
                        }
                    }
                }
            }
        }
        #expect(used.value > 25, "the generated histories pulled only \(used.value) deltas")
    }
}
