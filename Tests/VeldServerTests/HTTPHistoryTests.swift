import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
import VeldProtocol
import VeldServer

/// `GET /v1/records/{id}/history`: the office sees every record's history, a visitor the
/// records of its own scopes; a record the caller may not read does not exist for it.
@Suite struct HTTPHistoryTests {
    @Test func historyShowsWhoChangedWhatThroughWhichDevice() async throws {
        try await TestServer.run { client, server in
            let note = Records.visitNote(replica: "r-anna")
            try await client.accepted(Records.batch("r-anna", [note]), as: server.anna)
            let edit = Records.edited(note, ["summary": .string("Rondgang tuin")], replica: "r-bram", author: "bram")
            try await client.accepted(Records.batch("r-bram", [edit]), as: server.bram)

            for token in [server.office, server.anna] {
                let response = try await client.execute(uri: "/v1/records/\(note.id)/history", method: .get,
                                                        headers: [.authorization: token.bearer])
                #expect(response.status == .ok)
                let history = try response.decode(RecordHistory.self)
                #expect(history.id == note.id && history.type == "visitNote" && history.scope == "loc-a")
                #expect(history.changes.map(\.user) == ["anna", "bram"])
                #expect(history.changes.map(\.device) == [server.anna.id, server.bram.id])
                #expect(history.changes[1].fields == [FieldChange(field: "summary", old: [.string("Rondgang huiskamer")],
                                                                  new: edit.entries(of: "summary"))])
            }
        }
    }

    @Test func aRecordOutsideTheCallersScopesIsNotFound() async throws {
        try await TestServer.run { client, server in
            let elsewhere = Records.visitNote(scope: "loc-b", replica: "r-office", author: "olga")
            try await client.accepted(Records.batch("r-office", [elsewhere]), as: server.office)
            for uri in ["/v1/records/\(elsewhere.id)/history", "/v1/records/\(RecordIDs.make())/history",
                        "/v1/records/not-a-uuid/history"] {
                let response = try await client.execute(uri: uri, method: .get, headers: [.authorization: server.anna.bearer])
                try expectProblem(response, status: 404, .notFound, detail: ["no record", "may read"])
            }
            let unauthenticated = try await client.execute(uri: "/v1/records/\(elsewhere.id)/history", method: .get)
            #expect(unauthenticated.status == .unauthorized)
        }
    }
}
