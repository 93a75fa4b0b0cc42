import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
import VeldProtocol
import VeldServer
import VeldTestSupport

/// `GET /v1/schemas` and the set in force: published with a strong ETag (304 for the tag a
/// device kept), read by tokens only; a module added while the server runs is enforced at
/// once, its permissions too; a refused module change stores nothing.
@Suite struct HTTPSchemaTests {
    static func schemas(_ client: any TestClientProtocol, as token: IssuedToken?, ifNoneMatch: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = token.bearer }
        if let ifNoneMatch { headers[.ifNoneMatch] = ifNoneMatch }
        return try await client.execute(uri: "/v1/schemas", method: .get, headers: headers)
    }

    static func klacht(replica: String, author: String, status: String = "ontvangen", outcome: String? = nil) -> RecordState {
        var state = RecordState(id: RecordIDs.make(), type: "klacht", scope: "loc-a")
        var fields: [String: FieldValue] = ["receivedOn": .string("2026-11-20"), "subject": .string("Maaltijden te laat"),
                                            "status": .string(status)]
        if let outcome { fields["outcome"] = .string(outcome) }
        state.edit(fields, replica: replica, author: author, time: Fixture.time)
        return state
    }

    @Test func theSetIsPublishedWithAnETagAndOnlyToTokens() async throws {
        try await TestServer.run { client, server in
            try expectProblem(try await Self.schemas(client, as: nil), status: 401, .unauthenticated, detail: [])
            let first = try await Self.schemas(client, as: server.anna)
            #expect(first.status == .ok)
            let etag = try #require(first.headers[.eTag])
            #expect(etag.hasPrefix("\"") && etag.hasSuffix("\"") && etag.count > 10)
            let set = try first.decode(SchemaSet.self)
            #expect(set == SchemaSet.builtIn && set.version == Modules.builtIn.map(\.version).reduce(0, +))
            // The module documents exactly as `schema add` takes them.
            let object = try #require(try JSONSerialization.jsonObject(with: first.data) as? [String: Any])
            #expect(Set(object.keys) == ["version", "modules"])
            // The tag kept: 304, no body; another tag (or none): the set again.
            let again = try await Self.schemas(client, as: server.bram, ifNoneMatch: etag)
            #expect(again.status == .notModified && again.body.readableBytes == 0 && again.headers[.eTag] == etag)
            #expect(try await Self.schemas(client, as: server.anna, ifNoneMatch: "\"other\", \(etag)").status == .notModified)
            #expect(try await Self.schemas(client, as: server.anna, ifNoneMatch: "\"other\"").status == .ok)
        }
    }

    @Test func aModuleAddedWhileServingIsEnforcedAtOnce() async throws {
        try await TestServer.run { client, server in
            let before = try #require(try await Self.schemas(client, as: server.anna).headers[.eTag])
            // Unknown before the module is added: refused, nothing stored.
            let early = Self.klacht(replica: "r-anna", author: "anna")
            try await server.expectNothingStored {
                try expectProblem(try await client.push(Records.batch("r-anna", [early]), as: server.anna), status: 422,
                                  .invalidRecord, detail: ["unknown record type 'klacht'", "GET /v1/schemas"])
            }
            guard case .added(let published) = try await ModuleSets.add(try ExampleModules.klachten(), to: server.storage,
                                                                        by: "admin:test", at: Fixture.time) else {
                Issue.record("the example module was not added")
                return
            }
            #expect(published.set.version == SchemaSet.builtIn.version + 1 && published.set.named("klacht") != nil)
            // The server read the set before the module came; the same push now passes.
            try await client.accepted(Records.batch("r-anna", [early]), as: server.anna)
            let now = try await Self.schemas(client, as: server.anna)
            #expect(now.headers[.eTag] != before && now.headers[.eTag] == published.etag)
            #expect(try now.decode(SchemaSet.self).version == SchemaSet.builtIn.version + 1)
            // The module's rules hold: closing a complaint and its outcome are the office's.
            for (status, outcome) in [("afgehandeld", nil), ("ontvangen", "Nieuwe afspraken met de keuken")] as [(String, String?)] {
                let closed = Self.klacht(replica: "r-anna", author: "anna", status: status, outcome: outcome)
                try await server.expectNothingStored {
                    try expectProblem(try await client.push(Records.batch("r-anna", [closed]), as: server.anna), status: 403,
                                      .fieldForbidden, detail: ["carer"])
                }
            }
            try await client.accepted(Records.batch("r-office", [Self.klacht(replica: "r-office", author: "olga", status: "afgehandeld",
                                                                             outcome: "Nieuwe afspraken")]), as: server.office)
            // Still a 422 for what no module defines, and for a bad value of the new type.
            var wrong = Self.klacht(replica: "r-anna", author: "anna")
            wrong.edit(["channel": .string("duif")], replica: "r-anna", author: "anna", time: Fixture.time)
            try expectProblem(try await client.push(Records.batch("r-anna", [wrong]), as: server.anna), status: 422,
                              .invalidRecord, detail: ["'duif' is not allowed"])
        }
    }

    /// A device that took a newer set (here: one that lets visitors read complaints) names
    /// it on its pull, and the process answers on that set, though it read an older one a
    /// moment ago: the records the older set hid are not skipped past.
    @Test func aPullNamingANewerSetIsAnsweredOnIt() async throws {
        try await TestServer.run { client, server in
            var klachten = try ModuleDocument.parse(try ExampleModules.klachten())
            klachten.types[0].readers = ["carer", "office", "admin"]
            _ = try await ModuleSets.add(try StableJSON.encode(klachten), to: server.storage, by: "admin:test", at: Fixture.time)
            let vera = try await server.storage.issueToken(user: "vera", role: .visitor, scopes: ["loc-a"])
            let complaint = Self.klacht(replica: "r-office", author: "olga")
            try await client.accepted(Records.batch("r-office", [complaint]), as: server.office)
            #expect(try await client.pullAll(as: vera).isEmpty, "a visitor pulled a complaint its role may not read")
            klachten.version = 2
            klachten.types[0].readers = ["visitor", "carer", "office", "admin"]
            guard case .added(let wider) = try await ModuleSets.add(try StableJSON.encode(klachten), to: server.storage,
                                                                  by: "admin:test", at: Fixture.time) else {
                Issue.record("widening the readers was refused")
                return
            }
            let pulled = try await client.pull(as: vera, since: "0", headers: [HTTPField.Name("Veld-Schemas")!: wider.etag])
            #expect(try pulled.decode(PullResponse.self).records.map(\.id) == [complaint.id])
            // Narrowing them again is refused: the visitors' devices hold complaints now.
            klachten.version = 3
            klachten.types[0].readers = ["carer", "office", "admin"]
            await #expect(throws: ModuleProblems.self) {
                _ = try await ModuleSets.add(try StableJSON.encode(klachten), to: server.storage, by: "admin:test", at: Fixture.time)
            }
        }
    }

    @Test func aBreakingChangeIsRefusedAndNothingIsStored() async throws {
        try await TestServer.run { _, server in
            _ = try await ModuleSets.add(try ExampleModules.klachten(), to: server.storage, by: "admin:test", at: Fixture.time)
            var next = try ModuleDocument.parse(try ExampleModules.klachten())
            next.version = 2
            next.types[0].fields.removeAll { $0.name == "outcome" }
            next.types[0].fields[0].writers = ["office"]
            do {
                _ = try await ModuleSets.add(try StableJSON.encode(next), to: server.storage, by: "admin:test", at: Fixture.time)
                Issue.record("a breaking change was stored")
            } catch let problems as ModuleProblems {
                #expect(problems.reasons.contains { $0.contains("field outcome is removed") && $0.contains("deprecated") })
                #expect(problems.reasons.contains { $0.contains("visitor role loses the right to write it") })
            }
            #expect(try await server.storage.storedModules().map(\.version) == [1])
            // The additive way is taken: deprecate, add a value, add an optional field.
            next = try ModuleDocument.parse(try ExampleModules.klachten())
            next.version = 2
            next.types[0].fields[2].deprecated = true
            next.types[0].fields[3].values?.append("doorverwezen")
            next.types[0].fields.append(ModuleDocument.Field(name: "closedOn", kind: "date", summary: "the day it was closed"))
            guard case .added(let published) = try await ModuleSets.add(try StableJSON.encode(next), to: server.storage,
                                                                        by: "admin:test", at: Fixture.time) else {
                Issue.record("an additive change was refused")
                return
            }
            #expect(published.set.version == SchemaSet.builtIn.version + 2 && published.set.named("klacht")?.field("closedOn") != nil)
            #expect(try await server.storage.storedModules().map(\.version) == [1, 2])
            // A stored set is what the next process reads.
            #expect(try await ModuleSets.published(server.storage).etag == published.etag)
        }
    }
}
