import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import VeldProtocol
import VeldServer

/// The server keeps what each device says of itself (`Veld-Device`) from requests it
/// accepted; a header that does not parse costs nothing; the office's list puts stuck
/// devices first.
@Suite struct HTTPDeviceHealthTests {
    static let header = HTTPField.Name("Veld-Device")!

    @Test func theLastReportOfEachDeviceIsKept() async throws {
        try await TestServer.run { client, server in
            let said = DeviceHealth(app: "0.9.0", outbox: 12, oldest: Fixture.time(plus: -86_400 * 5), records: 3_912)
            var headers = HTTPFields()
            headers[Self.header] = said.header
            #expect(try await client.pull(as: server.anna, headers: headers).status == .ok)
            // Malformed: the pull still works, and the earlier report stays.
            headers[Self.header] = "app=0.9.0, outbox=lots"
            #expect(try await client.pull(as: server.bram, headers: headers).status == .ok)
            // Without a valid token nothing is noted, whatever the header says.
            headers[Self.header] = DeviceHealth(app: "6.6.6", outbox: 1, oldest: nil, records: 1).header
            #expect(try await client.pull(as: nil, headers: headers).status == .unauthorized)
            await server.storage.flushPendingWrites()
            let tokens = Dictionary(uniqueKeysWithValues: try await server.storage.tokens().map { ($0.id, $0) })
            #expect(tokens[server.anna.id]?.health == said)
            #expect(tokens[server.anna.id]?.healthAt == Fixture.time)
            #expect(tokens[server.bram.id]?.health == nil)
            #expect(tokens.values.allSatisfy { $0.health?.app != "6.6.6" })
            // Read back from the database by another opening of it (another process).
            let again = try SQLiteSyncStorage(path: server.storage.path)
            #expect(try await again.tokens().first { $0.id == server.anna.id }?.health == said)
        }
    }

    /// `GET /v1/devices`: the office's view of every active device, stuck ones first; other
    /// roles are refused; an office token for some scopes sees only devices within them.
    @Test func theOfficeListsDevicesOverHTTP() async throws {
        try await TestServer.run { client, server in
            let said = DeviceHealth(app: "0.9.0", outbox: 40, oldest: Fixture.time(plus: -86_400 * 5), records: 3_912)
            var headers = HTTPFields()
            headers[Self.header] = said.header
            #expect(try await client.pull(as: server.anna, headers: headers).status == .ok)
            await server.storage.flushPendingWrites()
            func get(_ token: IssuedToken) async throws -> TestResponse {
                var headers = HTTPFields()
                headers[.authorization] = token.bearer
                return try await client.execute(uri: "/v1/devices", method: .get, headers: headers)
            }
            try expectProblem(try await get(server.anna), status: 403, .typeForbidden, detail: ["may not list devices"])
            let listed = try await get(server.office).decode([DeviceReport].self)
            #expect(Set(listed.map(\.token)) == [server.office.id, server.anna.id, server.bram.id])
            #expect(listed.first?.token == server.anna.id && listed.first?.unsentTooLong == true)
            #expect(listed.first?.health == said && listed.first?.behind == 0)
            let regional = try await server.storage.issueToken(user: "rita", role: .office, scopes: ["loc-b"])
            #expect(try await get(regional).decode([DeviceReport].self).map(\.token) == [regional.id])
        }
    }

    @Test func stuckDevicesComeFirst() {
        let now = Fixture.time
        func token(_ id: String, contact: Int?, outbox: Int = 0, oldest: Int? = nil) -> DeviceToken {
            var token = DeviceToken(id: id, user: id, role: .visitor, scopes: ["loc-a"], createdAt: now)
            token.lastPullAt = contact.map { now.addingTimeInterval(TimeInterval(-$0 * 86_400)) }
            if outbox > 0 || oldest != nil {
                token.health = DeviceHealth(app: "1", outbox: outbox, oldest: oldest.map { now.addingTimeInterval(TimeInterval(-$0 * 86_400)) },
                                            records: 5)
                token.healthAt = token.lastPullAt
            }
            return token
        }
        let statuses = DeviceStatus.judge([token("fresh", contact: 0), token("quiet", contact: 10), token("never", contact: nil),
                                           token("stuck-new", contact: 0, outbox: 2, oldest: 1),
                                           token("stuck-old", contact: 1, outbox: 40, oldest: 21),
                                           token("stuck-stale", contact: 9, outbox: 3, oldest: 9)],
                                          now: now, staleAfter: 7 * 86_400, unsentAfter: 3 * 86_400)
        #expect(statuses.map(\.token.id) == ["stuck-old", "stuck-stale", "never", "quiet", "fresh", "stuck-new"])
        #expect(statuses.filter(\.stale).map(\.token.id) == ["stuck-stale", "never", "quiet"])
        #expect(statuses.filter(\.unsentTooLong).map(\.token.id) == ["stuck-old", "stuck-stale"])
    }
}
