import Foundation
import Testing
import VeldCore
import VeldProtocol
import VeldTestSupport

/// Two module sets in the field at once, through a real veld-server: the server on a newer
/// set (a new field and a new value on the built-in visit note, a new type from an added
/// module), one device on the built-in set (a release that does not fetch sets) and one on
/// the newer set. Both edit the same records offline; after syncing they converge, the
/// older device kept the newer data byte for byte, and once it takes the newer set it can
/// edit what it only kept before.
@Suite struct ModuleVersionsEndToEndTests {
    /// The transport of a release from before module sets: everything but `GET /v1/schemas`.
    struct OlderRelease: SyncTransport {
        let inner: any SyncTransport
        func push(_ request: PushRequest) async throws -> PushResponse { try await inner.push(request) }
        func pull(since cursor: String, limit: Int) async throws -> PullResponse { try await inner.pull(since: cursor, limit: limit) }
        func pullEncoded(since cursor: String, limit: Int) async throws -> (page: PullResponse, encoded: [String]?) {
            try await inner.pullEncoded(since: cursor, limit: limit)
        }
        func me() async throws -> DeviceIdentity? { try await inner.me() }
        func record(id: String) async throws -> RecordState? { try await inner.record(id: id) }
        func sendReceipt(_ receipt: PurgeReceipt) async throws { try await inner.sendReceipt(receipt) }
        func schemas(ifNoneMatch etag: String?) async throws -> SchemaFetch { .unsupported }
    }

    /// veld-core's next version: visit notes gain `duration` and the kind `digitaal`.
    static func veldCore2() throws -> Data {
        var core = Modules.builtIn[0]
        core.version += 1
        let index = try #require(core.types.firstIndex { $0.type == "visitNote" })
        core.types[index].fields.append(ModuleDocument.Field(name: "duration", kind: "text", summary: "how long the visit took"))
        let kind = try #require(core.types[index].fields.firstIndex { $0.name == "kind" })
        core.types[index].fields[kind].values?.append("digitaal")
        return try StableJSON.encode(core)
    }

    static func addModule(_ data: Data, to server: ServerProcess) throws {
        let file = server.folder.url.appendingPathComponent("module-\(UUID().uuidString).json")
        try data.write(to: file)
        let result = try Binaries.run(Binaries.server, ["schema", "add"] + server.databaseArguments + [file.path])
        #expect(result.status == 0, "schema add: \(result.stderr)")
    }

    static func bytes(_ records: [String: RecordState]) throws -> [String: String] {
        try records.mapValues { String(decoding: try StableJSON.encode($0), as: UTF8.self) }
    }

    @Test func anOlderDeviceKeepsNewerDataIntactAndBothConverge() async throws {
        let server = try ServerProcess()
        let anna = try Device("anna", server: server)   // on the built-in set
        let bram = try Device("bram", server: server)   // on the server's set
        let old = { anna.engine(server, transport: OlderRelease(inner: HTTPTransport(server: server.url!, token: anna.token))) }

        // Anna captures a visit on the built-in set; the server moves on.
        let visit = try anna.store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit)
        try await old().sync()
        try Self.addModule(try Self.veldCore2(), to: server)
        try Self.addModule(try ExampleModules.klachten(), to: server)
        let report = try await bram.sync(server)
        #expect(report.newSchemaSet == SchemaSet.builtIn.version + 2)
        #expect(try bram.store.schemaSet().named("klacht") != nil)
        #expect(try anna.store.schemaSet() == SchemaSet.builtIn)

        // Bram writes what only the newer set has: a field, a value, a type.
        try bram.store.edit(id: visit.id, changes: ["duration": .string("90 minuten"), "kind": .string("digitaal")])
        let klacht = try bram.store.create(type: "klacht", scope: "loc-zonnehof", fields: [
            "receivedOn": .string("2026-11-21"), "subject": .string("Maaltijden te laat"), "status": .string("ontvangen"),
        ])
        var digital = Device.visit
        digital["kind"] = .string("digitaal")
        digital["duration"] = .string("30 minuten")
        let second = try bram.store.create(type: "visitNote", scope: "loc-zonnehof", fields: digital)
        try await bram.sync(server)
        try await old().sync()
        let kept = try #require(try anna.records()[visit.id])
        #expect(kept.value(of: "duration") == .string("90 minuten") && kept.value(of: "kind") == .string("digitaal"))
        #expect(try anna.records()[klacht.id] != nil)

        // Both edit the same records offline. Anna's set knows neither the field nor the
        // value nor the type: her edit of another field is taken, and keeps them.
        try anna.store.edit(id: visit.id, changes: ["summary": .string("Rondgang huiskamer en tuin")])
        try bram.store.edit(id: visit.id, changes: ["duration": .string("2 uur")])
        try bram.store.edit(id: klacht.id, changes: ["channel": .string("mondeling")])
        #expect(throws: LocalStoreError.self) { try anna.store.edit(id: klacht.id, changes: ["subject": .string("Koud eten")]) }
        // A field her set does not have is refused for her own edits, not written.
        #expect(throws: LocalStoreError.self) { try anna.store.edit(id: visit.id, changes: ["duration": .string("1 uur")]) }
        // Her delete re-asserts the newer value it cannot check, as it is, and leaves the
        // unknown field alone.
        try anna.store.delete(id: second.id)
        try await old().sync()
        try await bram.sync(server)
        try await old().sync()

        let annas = try anna.records(), brams = try bram.records()
        #expect(try Self.bytes(annas) == Self.bytes(brams), "the devices differ")
        #expect(try anna.store.outbox().isEmpty && bram.store.outbox().isEmpty)
        let merged = try #require(annas[visit.id])
        #expect(merged.value(of: "summary") == .string("Rondgang huiskamer en tuin"))
        #expect(merged.value(of: "duration") == .string("2 uur") && merged.value(of: "kind") == .string("digitaal"))
        #expect(annas[klacht.id]?.value(of: "channel") == .string("mondeling"))
        let deleted = try #require(annas[second.id])
        #expect(deleted.isDeleted && deleted.value(of: "kind") == .string("digitaal") && deleted.value(of: "duration") == .string("30 minuten"))

        // Anna's device is upgraded: it fetches the set, and what it kept is now hers to edit.
        let upgraded = try await anna.sync(server)
        #expect(upgraded.newSchemaSet == SchemaSet.builtIn.version + 2)
        try anna.store.edit(id: klacht.id, changes: ["subject": .string("Koud eten")])
        try anna.store.edit(id: visit.id, changes: ["duration": .string("1 uur")])
        try await anna.sync(server)
        try await bram.sync(server)
        #expect(try Self.bytes(anna.records()) == Self.bytes(bram.records()))
        #expect(try bram.records()[klacht.id]?.value(of: "subject") == .string("Koud eten"))
        // A sync with nothing new fetches nothing (304).
        #expect(try await anna.sync(server).newSchemaSet == nil)
    }
}
