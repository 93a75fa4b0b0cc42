import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import PropertyBased
import Testing
import VeldProtocol
import VeldServer
import VeldTestSupport

/// Read rights per role and type, on top of scopes, in generated syncs: carers and the
/// office write visit notes, care plans, goals and council input in generated order; a
/// purchaser (visitor) and a council member pull in generated page sizes and ask for every
/// record and its history. They never receive a care plan or a goal, in any answer or in
/// the access log's account of what they read, while the carer receives everything of
/// its scope; their pushes of such records are refused with nothing stored.
@Suite struct HTTPReadRightsTests {
    static func goal(of plan: RecordState, replica: String, author: String) -> RecordState {
        var goal = RecordState(id: RecordIDs.make(), type: "carePlanGoal", scope: plan.scope)
        goal.edit(["carePlan": .string(plan.id), "domain": .string("welzijn"), "goal": .string("Dagelijks naar buiten"),
                   "status": .string("open")], replica: replica, author: author, time: Fixture.time)
        return goal
    }

    static func council(replica: String, author: String) -> RecordState {
        var input = RecordState(id: RecordIDs.make(), type: "councilInput", scope: "loc-a")
        input.edit(["council": .string("Cliëntenraad Zonnehof"), "kind": .string("signaal"), "topic": .string("Maaltijden"),
                    "status": .string("open")], replica: replica, author: author, time: Fixture.time)
        return input
    }

    @Test func purchasersAndCouncilsNeverReceiveCarePlans() async throws {
        await checkProperty(count: 25, input: Gen.int(in: 0...999).array(of: 1...14), Gen.int(in: 1...9)) { (codes: [Int], pageSize: Int) async throws in
            try await TestServer.run { client, server in
                let vera = try await server.storage.issueToken(user: "vera", role: .visitor, scopes: ["loc-a"])
                let cora = try await server.storage.issueToken(user: "cora", role: .council, scopes: ["loc-a"])
                var plans: [RecordState] = [], all: [RecordState] = []
                for code in codes {
                    let (writer, replica, author) = code % 3 == 0 ? (server.office, "r-office", "olga") : (server.anna, "r-anna", "anna")
                    let record: RecordState
                    switch code % 4 {
                    case 0: record = Records.visitNote(replica: replica, author: author)
                    case 1: record = Records.carePlan(replica: replica, author: author)
                    case 2: record = plans.isEmpty ? Self.council(replica: replica, author: author)
                        : Self.goal(of: plans[code % plans.count], replica: replica, author: author)
                    default: record = Self.council(replica: replica, author: author)
                    }
                    try await client.accepted(Records.batch(replica, [record]), as: writer)
                    if record.type == "carePlan" { plans.append(record) }
                    all.append(record)
                }
                let hidden: Set<String> = ["carePlan", "carePlanGoal"]
                for reader in [vera, cora] {
                    let pulled = try await client.pullAll(as: reader, limit: pageSize)
                    #expect(!pulled.contains { hidden.contains($0.type) }, "\(reader.token.role) pulled a care plan or goal")
                    #expect(Set(pulled.map(\.id)) == Set(all.filter { !hidden.contains($0.type) }.map(\.id)))
                    for record in all {
                        let headers: HTTPFields = [.authorization: reader.bearer]
                        let one = try await client.execute(uri: "/v1/records/\(record.id)", method: .get, headers: headers)
                        let history = try await client.execute(uri: "/v1/records/\(record.id)/history", method: .get, headers: headers)
                        if hidden.contains(record.type) {
                            // Answered as a record that does not exist: not even its type shows.
                            try expectProblem(one, status: 404, .notFound, detail: ["no record \(record.id)"])
                            try expectProblem(history, status: 404, .notFound, detail: ["no record \(record.id)"])
                            #expect(!String(buffer: one.body).contains(record.type) && !String(buffer: history.body).contains(record.type))
                        } else {
                            #expect(one.status == .ok && history.status == .ok)
                        }
                    }
                    // The access log's account of what this token read names no care plan.
                    let entries = try await server.storage.accessEntries(AccessQuery(device: reader.id))
                    #expect(!entries.isEmpty)
                    #expect(entries.allSatisfy { entry in entry.records.allSatisfy { !hidden.contains($0.type) || $0.effect != "read" } })
                    #expect(entries.flatMap(\.records).allSatisfy { record in !plans.contains { $0.id == record.id } || record.effect == "refused" })
                }
                // The carer, in the same scope, receives everything.
                #expect(Set(try await client.pullAll(as: server.bram, limit: pageSize).map(\.id)) == Set(all.map(\.id)))

                // Pushes: a new plan, a goal of a stored plan, a stored plan's id under another
                // type: refused whole, nothing stored, nothing about the stored plan told.
                var attempts = [Records.carePlan(replica: "r-vera", author: "vera")]
                if let plan = plans.first {
                    attempts.append(Self.goal(of: plan, replica: "r-vera", author: "vera"))
                    attempts.append(Records.visitNote(id: plan.id, replica: "r-vera", author: "vera"))
                }
                for attempt in attempts {
                    let batch = Records.batch("r-vera", [Records.visitNote(replica: "r-vera", author: "vera"), attempt])
                    let response = try await server.expectNothingStored { try await client.push(batch, as: vera) }
                    #expect([403, 422].contains(response.status.code), "\(String(buffer: response.body))")
                    let problem = try response.decode(Problem.self)
                    #expect(problem.records?.map(\.id) == [attempt.id])
                    if attempt.type == "visitNote" {
                        #expect(problem.type == "urn:veld:problem:invalid-record" && problem.detail.contains("its id is taken")
                                && !problem.detail.contains("carePlan"))
                    } else {
                        #expect(problem.type == "urn:veld:problem:type-forbidden"
                                && problem.detail.contains("the visitor role may not read or write \(attempt.type) records"))
                    }
                }
            }
        }
    }
}
