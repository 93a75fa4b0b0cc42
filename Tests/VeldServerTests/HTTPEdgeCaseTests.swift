import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
import VeldProtocol
import VeldServer

/// Less common requests: batch limits, wrong methods, and batches that are well-formed
/// JSON but not well-formed Veld states.
@Suite struct HTTPEdgeCaseTests {
    @Test func moreThan10000RecordsIs413() async throws {
        try await TestServer.run { client, server in
            let records = (0...10_000).map { _ in RecordState(id: RecordIDs.make(), type: "visitNote", scope: "loc-a") }
            let response = try await server.expectNothingStored {
                try await client.push(Records.batch("r-anna", records), as: server.anna)
            }
            try expectProblem(response, status: 413, .tooLarge, detail: ["at most 10000 records", "several batches"])
        }
    }

    @Test func wrongMethodIsAProblem() async throws {
        try await TestServer.run { client, server in
            let response = try await client.execute(uri: "/v1/push", method: .get, headers: [.authorization: server.anna.bearer])
            // Hummingbird's router answers an unrouted method like an unknown path.
            #expect([404, 405].contains(response.status.code))
            #expect(response.headers[.contentType] == "application/problem+json")
            let problem = try response.decode(Problem.self)
            #expect(problem.detail.contains("GET") && problem.detail.contains("/v1/push"), "detail: \(problem.detail)")
        }
    }

    /// A state with an entry beyond the record's own context is malformed: nobody who
    /// merged it could supersede the entry (their context would not cover it until the
    /// pusher made that many edits), so it would stay as a conflict no resolution removes.
    @Test func entryOutsideItsOwnContextIsRefused() async throws {
        try await TestServer.run { client, server in
            let note = Records.visitNote(replica: "r-anna")
            var fields = note.fields
            fields["summary"] = [FieldEntry(value: .string("Uit de toekomst"), dot: Dot(replica: "r-anna", counter: 5),
                                            author: "anna", time: Fixture.time)]
            let malformed = RecordState(id: note.id, type: note.type, scope: note.scope, context: note.context, fields: fields)
            let response = try await server.expectNothingStored {
                try await client.push(Records.batch("r-anna", [malformed]), as: server.anna)
            }
            try expectProblem(response, status: 422, .invalidRecord, detail: [note.id, "not covered"])
        }
    }

    /// A record travels once per batch, in its latest state: two copies of one id (the same
    /// dot with two values, or simply twice) are refused before anything is merged.
    @Test func oneRecordTwiceInOneBatchIs422() async throws {
        try await TestServer.run { client, server in
            let note = Records.visitNote(replica: "r-anna")
            let twin = Records.visitNote(id: note.id, replica: "r-anna", changes: ["summary": .string("Andere waarde")])
            for batch in [[note, twin], [note, note]] {
                let response = try await server.expectNothingStored {
                    try await client.push(Records.batch("r-anna", batch), as: server.anna)
                }
                try expectProblem(response, status: 422, .invalidRecord, detail: [note.id, "twice"])
            }
        }
    }

    /// Two states of one new record that disagree on type or scope are refused as invalid
    /// (422), not left to the storage's merge (which would make a 500 the device retries).
    @Test func oneIDWithTwoScopesInOneBatchIs422() async throws {
        try await TestServer.run { client, server in
            let id = RecordIDs.make()
            let inA = Records.visitNote(id: id, scope: "loc-a", replica: "r-office", author: "olga")
            let inB = Records.visitNote(id: id, scope: "loc-b", replica: "r-office", author: "olga")
            let response = try await server.expectNothingStored {
                try await client.push(Records.batch("r-office", [inA, inB]), as: server.office)
            }
            try expectProblem(response, status: 422, .invalidRecord, detail: [id, "appears twice"])
        }
    }

    /// A visitor deletes a care plan the way `LocalStore.delete` does: the delete
    /// re-asserts every field the visitor may write (`RecordSchema.reassertedByDelete`),
    /// never an office-only one. Writing an office-only field, even to re-assert what the
    /// server holds or to null, is refused: only the office replaces an office decision.
    @Test func visitorDeletesOwnCarePlan() async throws {
        try await TestServer.run { client, server in
            var plan = Records.carePlan(replica: "r-anna")
            try await client.accepted(Records.batch("r-anna", [plan]), as: server.anna)
            plan.edit(["approvedBy": .string("olga")], replica: "r-office", author: "olga", time: Fixture.time)
            try await client.accepted(Records.batch("r-office", [plan]), as: server.office)
            var deleted = plan
            deleted.delete(allFields: Schemas.carePlan.reassertedByDelete(of: plan, role: .carer), replica: "r-anna",
                           author: "anna", time: Fixture.time)
            #expect(deleted.entries(of: "approvedBy") == plan.entries(of: "approvedBy"))
            #expect(deleted.value(of: "status") == plan.value(of: "status"))
            // Re-asserting the office's value under the visitor's dot would replace it.
            var reasserting = plan
            reasserting.delete(allFields: Schemas.carePlan.fieldNames, replica: "r-anna", author: "anna", time: Fixture.time)
            let refused = try await server.expectNothingStored {
                try await client.push(Records.batch("r-anna", [reasserting]), as: server.anna)
            }
            try expectProblem(refused, status: 403, .fieldForbidden, detail: [plan.id, "approvedBy"])
            let response = try await client.push(Records.batch("r-anna", [deleted]), as: server.anna)
            #expect(response.status == .ok, "body: \(String(buffer: response.body))")
            // Writing a different office-only value is refused as well.
            var approving = deleted
            approving.edit(["approvedBy": .string("anna")], replica: "r-anna", author: "anna", time: Fixture.time)
            let alsoRefused = try await server.expectNothingStored {
                try await client.push(Records.batch("r-anna", [approving]), as: server.anna)
            }
            try expectProblem(alsoRefused, status: 403, .fieldForbidden, detail: [plan.id])
        }
    }

    /// `vastgesteld` is the office's to set and so the office's to change again: a visitor
    /// who moves a plan back to `besproken` is refused, the office is not.
    @Test func onlyTheOfficeChangesAnOfficeDecision() async throws {
        try await TestServer.run { client, server in
            var plan = Records.carePlan(replica: "r-office", author: "olga")
            plan.edit(["status": .string("vastgesteld")], replica: "r-office", author: "olga", time: Fixture.time)
            try await client.accepted(Records.batch("r-office", [plan]), as: server.office)
            let undone = Records.edited(plan, ["status": .string("besproken")], replica: "r-anna")
            let refused = try await server.expectNothingStored {
                try await client.push(Records.batch("r-anna", [undone]), as: server.anna)
            }
            try expectProblem(refused, status: 403, .fieldForbidden, detail: [plan.id])
            // A visitor's edit of another field of the same plan still goes through.
            let other = Records.edited(plan, ["agreements": .string("Dochter belt")], replica: "r-anna")
            try await client.accepted(Records.batch("r-anna", [other]), as: server.anna)
            let byOffice = Records.edited(plan, ["status": .string("besproken")], replica: "r-office", author: "olga")
            try await client.accepted(Records.batch("r-office", [byOffice]), as: server.office)
        }
    }
}
