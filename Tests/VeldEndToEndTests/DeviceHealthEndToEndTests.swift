import Foundation
import Testing
import VeldCore
import VeldProtocol

/// Device health end to end: a client core says with its requests how many changes wait
/// and since when, and `veld-server devices` shows it, putting a device with old unsent
/// work first, and marks a device not heard from.
@Suite struct DeviceHealthEndToEndTests {
    @Test func theOfficeSeesWhatWaitsOnEachDevice() async throws {
        let server = try ServerProcess()
        let anna = try Device("anna", server: server)
        let bram = try Device("bram", server: server)
        _ = try server.token(user: "cees", role: .carer, scopes: ["loc-zonnehof"])   // never heard from
        for _ in 0..<3 { _ = try anna.store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit) }
        try await anna.sync(server)
        // Bram works offline: two notes wait. His app asks the server who it is (as every
        // sync starts) and says so.
        for _ in 0..<2 { _ = try bram.store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit) }
        let transport = HTTPTransport(server: server.url!, token: bram.token, health: { try? bram.store.health(app: "0.9.0-test") })
        _ = try await transport.me()
        try await Task.sleep(for: .milliseconds(1_100))

        let listed = try Binaries.run(Binaries.server, ["devices", "--json", "--unsent-days", "0", "--db", server.database])
        #expect(listed.status == 0, "\(listed.stderr)")
        let devices = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
        #expect(devices.map { $0["user"] as? String } == ["bram", "cees", "anna"], "\(listed.stdout)")
        let bramsHealth = try #require(devices[0]["health"] as? [String: Any])
        #expect(bramsHealth["app"] as? String == "0.9.0-test" && bramsHealth["outbox"] as? Int == 2 && bramsHealth["records"] as? Int == 2)
        #expect(bramsHealth["oldest"] is String && devices[0]["unsentTooLong"] as? Bool == true)
        #expect(devices[1]["stale"] as? Bool == true && devices[1]["health"] == nil)
        let annasHealth = try #require(devices[2]["health"] as? [String: Any])
        #expect(annasHealth["outbox"] as? Int == 0 && annasHealth["records"] as? Int == 3 && devices[2]["stale"] as? Bool == false)

        let table = try Binaries.run(Binaries.server, ["devices", "--unsent-days", "0", "--db", server.database])
        #expect(table.stdout.contains("app 0.9.0-test, 2 unsent (oldest just now), 2 record(s)") && table.stdout.contains("UNSENT"),
                "\(table.stdout)")
        #expect(table.stdout.contains("has not said how it is doing  STALE"), "\(table.stdout)")
        let refused = try Binaries.run(Binaries.server, ["devices", "--stale-days", "0", "--db", server.database])
        #expect(refused.status != 0 && refused.stderr.contains("--stale-days takes"), "\(refused.stderr)")
    }
}
