import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import VeldCore
import VeldProtocol

/// `/metrics` on its own address: scraped before and after devices sync (and are refused),
/// the counters and histograms move by what happened, the gauges say how many devices were
/// active and how large the database is, and the sync port does not serve it.
@Suite struct MetricsTests {
    static func scrape(_ url: URL) async throws -> [String: Double] {
        let (data, response) = try await URLSession.shared.data(from: url)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        var samples: [String: Double] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    @Test func theCountersMoveWithWhatHappens() async throws {
        let server = try ServerProcess()
        let metrics = try await server.metricsURL()
        #expect(metrics.port != server.url!.port)
        let before = try await Self.scrape(metrics)
        let anna = try Device("anna", server: server)
        let bram = try Device("bram", server: server)
        let notes = try (0..<5).map { _ in try anna.store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit) }
        try await anna.sync(server)
        try await bram.sync(server)
        // The same field by both: a conflict.
        _ = try anna.store.edit(id: notes[0].id, changes: ["summary": .string("Anna's")])
        _ = try bram.store.edit(id: notes[0].id, changes: ["summary": .string("Bram's")])
        try await anna.sync(server)
        try await bram.sync(server)
        // Refused: no token.
        var request = URLRequest(url: server.url!.appendingPathComponent("v1/pull"))
        request.httpMethod = "GET"
        _ = try await URLSession.shared.data(for: request)

        let after = try await Self.scrape(metrics)
        func moved(_ name: String) -> Double { (after[name] ?? 0) - (before[name] ?? 0) }
        #expect(moved(#"veld_http_requests_total{route="/v1/push",method="POST",status="200"}"#) == 3, "\(after.keys.sorted())")
        #expect(moved(#"veld_http_requests_total{route="/v1/pull",method="GET",status="401"}"#) == 1)
        #expect(moved("veld_records_merged_total") == 7, "5 new notes, then each device's edit of one")
        #expect(moved("veld_records_in_conflict_after_push_total") == 1)
        #expect(moved("veld_pull_records_total") >= 6)
        // Each device pulls the note it held back as only its summary (SPEC.md, "Pull deltas").
        #expect(moved("veld_pull_deltas_total") == 2)
        #expect(moved(#"veld_refusals_total{problem="unauthenticated",status="401"}"#) == 1)
        #expect(moved(#"veld_http_request_duration_seconds_count{route="/v1/push"}"#) == 3)
        #expect(after["veld_active_devices"] == 2 && after["veld_devices"] == 2)
        #expect((after["veld_database_bytes"] ?? 0) > 10_000)
        #expect(after.keys.allSatisfy { !$0.contains(notes[0].id) }, "no record id in a label")
        // Not on the sync port.
        let (_, onSync) = try await URLSession.shared.data(from: server.url!.appendingPathComponent("metrics"))
        #expect((onSync as? HTTPURLResponse)?.statusCode == 404)
    }

    @Test func aBadMetricsAddressIsRefused() throws {
        let folder = try TemporaryFolder("veld-metrics")
        for (address, says) in [("9464", "HOST:PORT"), ("127.0.0.1:99999", "HOST:PORT"), ("127.0.0.1:8080", "differ from the sync address")] {
            let result = try Binaries.run(Binaries.server, ["serve", "--db", folder.url.appendingPathComponent("s.sqlite").path,
                                                            "--port", "8080", "--metrics-address", address])
            #expect(result.status != 0 && result.stderr.contains(says), "\(address): \(result.stderr)")
        }
    }
}
