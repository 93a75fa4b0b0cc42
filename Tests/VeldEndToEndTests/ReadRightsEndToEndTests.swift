import Foundation
import Testing
import VeldCore
import VeldProtocol

/// A device whose role may no longer read a type (here: a carer's profile given a visitor's
/// token) removes its records of that type on its next sync, keeps its unsent change aside,
/// and tells the office; it then pulls again from the start and receives only what its
/// role may read.
@Suite struct ReadRightsEndToEndTests {
    @Test func aRoleThatMayNotReadATypeLeavesItsRecordsBehind() async throws {
        let server = try ServerProcess()
        let anna = try Device("anna", role: .carer, server: server)
        let visit = try anna.store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit)
        let plan = try anna.store.create(type: "carePlan", scope: "loc-zonnehof", fields: Device.carePlan)
        try await anna.sync(server)
        // Offline, one more change of the plan; then the office gives the device a visitor's token.
        try anna.store.edit(id: plan.id, changes: ["agreements": .string("Dochter belt op zondag")])
        let visitorToken = try server.token(user: "anna", role: .visitor, scopes: ["loc-zonnehof"])
        try anna.store.connect(server: server.url!, token: visitorToken)
        let asVisitor = { anna.engine(server, transport: HTTPTransport(server: server.url!, token: visitorToken)) }
        let report = try await asVisitor().sync()

        let receipt = try #require(report.purged.first { $0.kind == .types })
        #expect(receipt.types == ["carePlan"] && receipt.records == 1 && receipt.unsent == 1)
        let held = try anna.records()
        #expect(held[plan.id] == nil && held[visit.id] != nil, "the care plan is gone, the visit stays")
        #expect(try anna.store.outbox().isEmpty && anna.store.pendingReceipts().isEmpty)
        let kept = try anna.store.discardedChanges()
        #expect(kept.map(\.recordID) == [plan.id])
        #expect(kept.first?.problem?.detail.contains("visitor role may not read or write carePlan") == true)
        #expect(try anna.store.identity()?.role == .visitor && anna.store.profile().role == .visitor)

        // The server recorded the receipt under the visitor's token; devices shows it.
        let devices = try Binaries.run(Binaries.server, ["devices", "--all"] + server.databaseArguments)
        #expect(devices.stdout.contains("removed type(s) its role may not read: carePlan"), "\(devices.stdout)")
        // Nothing more to purge, and the visitor cannot make a plan again.
        #expect(try await asVisitor().sync().purged.isEmpty)
        #expect(throws: LocalStoreError.self) { try anna.store.create(type: "carePlan", scope: "loc-zonnehof", fields: Device.carePlan) }
    }
}
