import Foundation
import PropertyBased
import Testing
import VeldTestSupport
import VeldCore
import VeldProtocol

/// A server restored from last night's backup loses nothing any device still holds
/// (SPEC.md, "Server epochs"), through the real binaries: devices edit and sync, a backup
/// is taken at a generated moment, more edits sync, one device is lost for good, another
/// edits offline, the server is restored from the backup (`veld-server restore`, or the
/// file copied into place by hand), and the
/// remaining devices sync. Then every edit is on the server and on every device, nothing is
/// duplicated, and the history marks what came back.
@Suite(.serialized) struct RestoreEndToEndTests {
    static let fields = ["summary", "observations", "followUp"]

    // Each case runs its own server; shrinking would take very long: off.
    @Test(.shrinking(false)) func everyEditAnyDeviceHoldsSurvivesARestore() async throws {
        await checkProperty(count: 6, input: Gen.int(in: 0...999_999).array(of: 6...30), Gen.int(in: 0...100)) { codes, where_ in
            let server = try ServerProcess()
            let visitors = try ["anna", "bram", "carla"].map { try Device($0, server: server) }
            let office = try Device("office", role: .office, scopes: ["*"], server: server)
            let everyone = visitors + [office]
            let backupAt = where_ * codes.count / 100
            let backup = server.folder.url.appendingPathComponent("nightly.sqlite").path
            var records: [String] = []
            for (index, code) in codes.enumerated() {
                if index == backupAt {
                    let made = try Binaries.run(Binaries.server, ["backup", "--to", backup, "--db", server.database])
                    #expect(made.status == 0, "\(made.stderr)")
                }
                let device = visitors[code % visitors.count]
                switch (code / 3) % 4 {
                case 0:
                    try await device.sync(server)
                case 1 where records.count < 5:
                    records.append(try device.store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit).id)
                default:
                    guard !records.isEmpty else { continue }
                    let id = records[(code / 20) % records.count]
                    guard let before = try device.records()[id], !before.isDeleted else { continue }
                    let field = Self.fields[(code / 100) % Self.fields.count]
                    _ = try device.store.edit(id: id, changes: [field: .string("\(device.name) \(code)")])
                }
            }
            if backupAt >= codes.count {
                #expect(try Binaries.run(Binaries.server, ["backup", "--to", backup, "--db", server.database]).status == 0)
            }
            // Everyone syncs until every device holds everything: the server's state before
            // the restore, which the restore must bring back whole.
            for _ in 0..<2 { for device in everyone { try await device.sync(server) } }
            let before = try office.records()
            for device in everyone { #expect(try device.records() == before, "\(device.name) differs before the restore") }

            // Carla's laptop is lost (her edits live on only in the others' copies); Anna
            // edits offline while the server is down.
            let offline = records.isEmpty ? nil : records[codes[0] % records.count]
            if let offline { _ = try visitors[0].store.edit(id: offline, changes: ["followUp": .string("offline tijdens herstel")]) }
            let port = server.url!.port!
            #expect(server.stop() == 0)
            if where_ % 2 == 0 {
                let restored = try Binaries.run(Binaries.server, ["restore", "--from", backup, "--db", server.database])
                #expect(restored.status == 0 && restored.stdout.contains("new epoch"), "\(restored.stdout)\(restored.stderr)")
            } else {
                // Copied into place by hand: the backup's own epoch tells the devices.
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: server.database + suffix) }
                try FileManager.default.copyItem(atPath: backup, toPath: server.database)
            }
            // Where it was: the devices' profiles point there.
            try server.start(port: port)
            let officeTransport = HTTPTransport(server: server.url!, token: office.token)
            var atBackup: [String: RecordState] = [:]
            for id in before.keys { atBackup[id] = try await officeTransport.record(id: id) }

            let remaining = [visitors[0], visitors[1], office]
            var reports: [SyncReport] = []
            for _ in 0..<2 {
                for device in remaining {
                    reports.append(try await device.sync(server))
                    let parked = try device.store.parked()
                    #expect(parked.isEmpty, "\(device.name): \(parked.map(\.problem.detail))")
                }
            }
            #expect(reports.prefix(3).allSatisfy { $0.serverRestored }, "each device noticed the new epoch on its first sync")
            #expect(reports.allSatisfy { $0.parked == 0 && $0.pushRefused == nil }, "nothing was refused: \(reports.map(\.pushRefused))")

            // Every edit: what the server held before, plus Anna's offline edit.
            var expected = before
            if let offline, let anna = try visitors[0].records()[offline] { expected[offline] = try expected[offline]?.merged(with: anna) ?? anna }
            let after = try office.records()
            #expect(after == expected, "the server lost or changed something in the restore")
            for device in remaining {
                #expect(try device.records() == expected, "\(device.name) differs after the restore")
                #expect(try device.store.outbox().isEmpty, "\(device.name) still has something to send")
            }
            // What the backup lacked came back, and its history says so.
            for (id, state) in expected where atBackup[id] != state {
                let history = try await officeTransport.history(of: id)
                #expect(history.changes.contains { $0.recovered }, "\(id) came back without a recovered change in its history")
            }
            for (id, state) in expected where atBackup[id] == state {
                let history = try await officeTransport.history(of: id)
                #expect(!history.changes.contains { $0.recovered }, "\(id) was whole in the backup, yet a change was recovered")
            }
            _ = server.stop()
        }
    }
}
