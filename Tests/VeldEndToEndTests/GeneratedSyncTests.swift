import Foundation
import PropertyBased
import Testing
import VeldTestSupport
import VeldCore
import VeldProtocol

/// Generated runs through a real server: three visitors edit, delete and sync in a random
/// order, some syncs cut off half-way, and an office resolves the conflicts it sees at
/// random moments (taking a value, writing a merged one, keeping or deleting). At the
/// end, after everyone has synced: every device holds the same states; no field holds a
/// value that nobody chose; and every edit a device acknowledged is either current or was
/// seen by an edit that superseded it.
@Suite(.serialized) struct GeneratedSyncTests {
    struct Acknowledged {
        let record: String
        let dot: Dot
        let values: [String: FieldValue]
        let saw: VersionVector
    }

    static let fields = ["summary", "observations", "followUp"]

    // Each case drives a real server, so shrinking a failure would take very long: off.
    @Test(.shrinking(false)) func generatedRunsWithOfficeResolutionsConvergeAndLoseNothing() async throws {
        let server = try ServerProcess()
        await checkProperty(count: 12, input: Gen.int(in: 0...999_999).array(of: 5...45)) { codes in
            let visitors = try ["anna", "bram", "carla"].map { try Device($0, server: server) }
            let office = try Device("office", role: .office, scopes: ["*"], server: server)
            let devices = visitors + [office]
            var acknowledged: [Acknowledged] = []
            var records: [String] = []
            func remember(_ device: Device, _ before: RecordState?, _ after: RecordState) {
                let dot = Dot(replica: device.replica, counter: after.context[device.replica])
                acknowledged.append(Acknowledged(record: after.id, dot: dot,
                                                 values: after.fields.compactMapValues { $0.first { $0.dot == dot }?.value },
                                                 saw: before?.context ?? VersionVector()))
            }
            let first = try visitors[0].store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit)
            records.append(first.id)
            remember(visitors[0], nil, first)

            for code in codes {
                let device = visitors[code % visitors.count]
                switch (code / 3) % 7 {
                case 0, 1:
                    try await device.sync(server)
                case 2:
                    // A sync cut off after its first push or its first pull page.
                    let cut: CuttingTransport.Cut = code % 2 == 0 ? .afterPushes(1) : .afterPulls(1)
                    let transport = CuttingTransport(HTTPTransport(server: server.url!, token: device.token), cut: cut)
                    _ = try? await device.engine(server, transport: transport, batchSize: 1, pageSize: 1).sync()
                case 3 where records.count < 4:
                    let state = try device.store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit)
                    records.append(state.id)
                    remember(device, nil, state)
                case 4:
                    // The office catches up and settles what it sees, each in its own way.
                    try await office.sync(server)
                    for conflict in try office.store.conflicts() where records.contains(conflict.recordID) {
                        let before = try office.store.record(conflict.recordID)
                        guard LocalStore.conflicts(of: before).contains(where: { $0.field == conflict.field }) else { continue }
                        let after: RecordState
                        if conflict.deleteVersusEdit {
                            after = try office.store.resolveDeletion(id: conflict.recordID, keep: code % 2 == 0)
                        } else if code % 3 == 0 {
                            after = try office.store.resolve(id: conflict.recordID,
                                                             [conflict.field: .value(.string("samengevoegd \(code)"))])
                        } else {
                            after = try office.store.resolve(id: conflict.recordID,
                                                             [conflict.field: .take(code % conflict.entries.count)])
                        }
                        remember(office, before, after)
                    }
                    if code % 5 == 0 { try await office.sync(server) }
                default:
                    let id = records[(code / 20) % records.count]
                    guard let before = try device.records()[id], !before.isDeleted else { continue }
                    if code % 17 == 0 {
                        remember(device, before, try device.store.delete(id: id))
                    } else {
                        let field = Self.fields[(code / 100) % Self.fields.count]
                        remember(device, before, try device.store.edit(id: id, changes: [field: .string("\(field) \(code)")]))
                    }
                }
            }
            for _ in 0..<2 { for device in devices { try await device.sync(server) } }

            // One server serves every generated case; compare this case's records.
            let reference = try office.records().filter { records.contains($0.key) }
            for device in visitors {
                #expect(try device.records().filter { records.contains($0.key) } == reference, "\(device.name) differs from the office")
            }
            for device in devices { #expect(try device.store.outbox().isEmpty) }
            let chosen = Set(acknowledged.flatMap { edit in edit.values.map { "\(edit.record) \($0.key) \(edit.dot)=\($0.value)" } })
            for (id, state) in reference {
                for (field, entries) in state.fields {
                    for entry in entries {
                        #expect(chosen.contains("\(id) \(field) \(entry.dot)=\(entry.value)"),
                                "\(id) \(field) holds \(entry.value) (\(entry.dot)), which nobody chose")
                    }
                }
            }
            for edit in acknowledged {
                let state = try #require(reference[edit.record])
                for (field, value) in edit.values {
                    let present = state.entries(of: field).contains { $0.dot == edit.dot && $0.value == value }
                    let superseded = acknowledged.contains {
                        $0.record == edit.record && $0.dot != edit.dot && $0.values[field] != nil && $0.saw.contains(edit.dot)
                    }
                    #expect(present != superseded, "\(edit.record) \(field) \(edit.dot): present \(present), superseded \(superseded)")
                }
            }
        }
    }
}
