import Foundation
import PropertyBased
import Testing
import VeldCore
import VeldProtocol

/// Generated runs through a real server: three devices edit, delete and sync in a random
/// order, some syncs cut off half-way. At the end, after everyone has synced, every device
/// holds the same states, and every edit a device acknowledged is either current or was
/// seen by an edit that superseded it.
@Suite(.serialized) struct GeneratedSyncTests {
    struct Acknowledged {
        let record: String
        let dot: Dot
        let values: [String: FieldValue]
        let saw: VersionVector
    }

    static let fields = ["summary", "observations", "followUp"]

    @Test func generatedRunsConvergeAndLoseNothingAcknowledged() async throws {
        let server = try ServerProcess()
        await propertyCheck(count: 12, input: Gen.int(in: 0...999_999).array(of: 5...40)) { codes in
            let devices = try ["anna", "bram", "carla"].map { try Device($0, server: server) }
            var acknowledged: [Acknowledged] = []
            var records: [String] = []
            // One shared record to start with, so there is something to fight over.
            let first = try devices[0].store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit)
            records.append(first.id)
            acknowledged.append(Acknowledged(record: first.id, dot: Dot(replica: devices[0].replica, counter: 1),
                                             values: Device.visit, saw: VersionVector()))
            for code in codes {
                let device = devices[code % devices.count]
                switch (code / 3) % 6 {
                case 0, 1:
                    try await device.sync(server)
                case 2:
                    // A sync cut off after its first push or first pull page.
                    let cut: CuttingTransport.Cut = code % 2 == 0 ? .afterPushes(1) : .afterPulls(1)
                    let transport = CuttingTransport(HTTPTransport(server: server.url!, token: device.token), cut: cut)
                    _ = try? await device.engine(server, transport: transport, batchSize: 1, pageSize: 1).sync()
                case 3 where records.count < 4:
                    let state = try device.store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit)
                    records.append(state.id)
                    acknowledged.append(Acknowledged(record: state.id, dot: Dot(replica: device.replica, counter: 1),
                                                     values: Device.visit, saw: VersionVector()))
                default:
                    let id = records[(code / 20) % records.count]
                    guard let before = try device.records()[id], !before.isDeleted else { continue }
                    let after: RecordState
                    if code % 17 == 0 {
                        after = try device.store.delete(id: id)
                    } else {
                        let field = Self.fields[(code / 100) % Self.fields.count]
                        after = try device.store.edit(id: id, changes: [field: .string("\(field) \(code)")])
                    }
                    let dot = Dot(replica: device.replica, counter: after.context[device.replica])
                    let values = after.fields.compactMapValues { $0.first { $0.dot == dot }?.value }
                    acknowledged.append(Acknowledged(record: id, dot: dot, values: values, saw: before.context))
                }
            }
            for _ in 0..<2 { for device in devices { try await device.sync(server) } }

            let reference = try devices[0].records()
            for device in devices.dropFirst() { #expect(try device.records() == reference) }
            for device in devices { #expect(try device.store.outbox().isEmpty) }
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
