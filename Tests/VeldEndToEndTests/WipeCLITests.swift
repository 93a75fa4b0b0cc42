import Foundation
import Testing
import VeldCore
import VeldProtocol

/// Wipe and scope purge against a live server: a device whose scope is removed keeps
/// exactly its remaining scopes and reports it; a device revoked with `--wipe` ends empty
/// and reports it once; a wipe whose receipt could not be sent is reported on the next
/// sync; `veld-server devices` and `audit` show the receipts.
@Suite struct WipeCLITests {
    @Test func aNarrowedDeviceKeepsItsScopesAndAWipedOneEndsEmpty() throws {
        let server = try ServerProcess()
        func admin(_ arguments: String...) throws -> Binaries.Result {
            try Binaries.run(Binaries.server, arguments + ["--db", server.database])
        }
        let anna = try AuditCLITests.Device("anna", .visitor, ["loc-zonnehof", "loc-de-linde"], server)
        var ids: [String: String] = [:]
        for (name, location) in [("z1", "loc-zonnehof"), ("z2", "loc-zonnehof"), ("l1", "loc-de-linde"), ("l2", "loc-de-linde")] {
            let added = try anna("visit", "add", "--location", location, "--kind", "werkbezoek", "--date", "2026-11-20",
                                 "--summary", "Ronde \(name)", "--json")
            ids[name] = try #require((try JSONSerialization.jsonObject(with: Data(added.stdout.utf8)) as? [String: Any])?["id"] as? String)
        }
        #expect(try anna("sync").status == 0)
        // One more De Linde note, not yet sent, when the office takes De Linde away.
        let unsent = try anna("visit", "add", "--location", "loc-de-linde", "--kind", "werkbezoek", "--date", "2026-11-21",
                              "--summary", "Nog niet verstuurd", "--json")
        let unsentID = try #require((try JSONSerialization.jsonObject(with: Data(unsent.stdout.utf8)) as? [String: Any])?["id"] as? String)
        let tokens = try #require(try JSONSerialization.jsonObject(with: Data(try admin("token", "list", "--json").stdout.utf8)) as? [[String: Any]])
        let annaToken = try #require(tokens.first { $0["user"] as? String == "anna" }?["id"] as? String)
        #expect(try admin("token", "update", annaToken, "--scopes", "loc-zonnehof").status == 0)
        let narrowed = try anna("sync")
        #expect(narrowed.status == 0 && narrowed.stdout.contains("removed scope(s) loc-de-linde"), "\(narrowed.stdout)\(narrowed.stderr)")
        for name in ["z1", "z2"] { #expect(try anna("show", ids[name]!).status == 0) }
        for id in [ids["l1"]!, ids["l2"]!, unsentID] { #expect(try anna("show", id).status != 0) }
        #expect(try anna("rejected", "--discarded").stdout.contains(unsentID), "the unsent change was dropped silently")

        // The receipt reached the office.
        let devices = try #require(try JSONSerialization.jsonObject(with: Data(try admin("devices", "--json", "--all").stdout.utf8)) as? [[String: Any]])
        let receipts = try #require(devices.first { $0["token"] as? String == annaToken }?["receipts"] as? [[String: Any]])
        #expect(receipts.count == 1)
        #expect(receipts.first?["kind"] as? String == "scopes" && receipts.first?["records"] as? Int == 3 && receipts.first?["unsent"] as? Int == 1)
        #expect(try admin("devices").stdout.contains("removed scope(s) loc-de-linde: 3 record(s) removed, 1 unsent change(s)"))
        let receiptID = try #require(receipts.first?["id"] as? String)
        #expect(try admin("devices").stdout.contains("kept on the device's discard log until confirmed: veld-server receipt confirm \(receiptID)"))
        #expect(try anna("rejected", "--discarded").stdout.contains("kept until the office confirms receipt \(receiptID)"))

        // The office confirms the receipt: the device drops what it kept, on its next sync.
        let unknown = try admin("receipt", "confirm", RecordIDs.make())
        #expect(unknown.status == 1 && unknown.stderr.contains("no receipt"))
        let confirmed = try admin("receipt", "confirm", receiptID)
        #expect(confirmed.status == 0 && confirmed.stdout.contains("drops the 1 unsent change(s)"), "\(confirmed.stdout)\(confirmed.stderr)")
        #expect(try anna("rejected", "--discarded").stdout.contains(unsentID), "nothing goes before the device hears of it")
        #expect(try anna("sync").status == 0)
        #expect(!(try anna("rejected", "--discarded").stdout.contains(unsentID)))
        #expect(try admin("devices").stdout.contains("released (confirmed by"))

        // Lost: revoked with --wipe. The next sync empties the device and says so.
        let lost = try anna("visit", "add", "--location", "loc-zonnehof", "--kind", "werkbezoek", "--date", "2026-11-22",
                            "--summary", "Op het verloren apparaat", "--json")
        let lostID = try #require((try JSONSerialization.jsonObject(with: Data(lost.stdout.utf8)) as? [String: Any])?["id"] as? String)
        #expect(try admin("token", "revoke", annaToken, "--wipe").stdout.contains("erases its data"))
        let wiped = try anna("sync")
        #expect(wiped.status == 1 && wiped.stderr.contains("3 record(s) removed, 1 change(s) that were not sent erased"), "\(wiped.stderr)")
        #expect(try anna("list").stdout.contains("No records"))
        let afterWipe = try anna("rejected", "--discarded")
        // Unlike a scope removal, a wipe does not keep the unsent change aside.
        #expect(afterWipe.status == 0 && afterWipe.stdout.contains("No discarded changes") && !afterWipe.stdout.contains(lostID),
                "a wipe keeps nothing it cannot send")
        let again = try anna("sync")
        #expect(again.status == 1 && again.stderr.contains("done before"))
        let listed = try admin("devices", "--all")
        #expect(listed.stdout.contains("(wiped)") && listed.stdout.contains("wiped: 3 record(s) removed, 1 unsent change(s) erased"), "\(listed.stdout)")
        let purges = try admin("audit", "--action", "purge", "--json")
        #expect((try JSONSerialization.jsonObject(with: Data(purges.stdout.utf8)) as? [[String: Any]])?.count == 2)
    }

    /// A wipe whose receipt is cut off: the device is empty at once, the receipt waits in
    /// the profile, and the next sync sends it (once).
    @Test func anInterruptedWipeIsReportedOnTheNextSync() async throws {
        let server = try ServerProcess()
        let device = try Device("dora", scopes: ["loc-zonnehof"], server: server)
        for index in 0..<3 { _ = try device.store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit.merging(["summary": .string("n\(index)")]) { $1 }) }
        try await device.sync(server)
        _ = try device.store.create(type: "visitNote", scope: "loc-zonnehof", fields: Device.visit)
        let tokens = try #require(try JSONSerialization.jsonObject(with: Data(try Binaries.run(Binaries.server, ["token", "list", "--json", "--db", server.database]).stdout.utf8)) as? [[String: Any]])
        let id = try #require(tokens.first?["id"] as? String)
        #expect(try Binaries.run(Binaries.server, ["token", "revoke", id, "--wipe", "--db", server.database]).status == 0)

        let cut = ReceiptCuttingTransport(HTTPTransport(server: server.url!, token: device.token))
        await #expect(throws: ReceiptCuttingTransport.Cut.self) { try await device.engine(server, transport: cut).sync() }
        #expect(try device.records().isEmpty && device.store.outbox().isEmpty)
        let pending = try device.store.pendingReceipts()
        #expect(pending.count == 1 && pending.first?.kind == .wipe && pending.first?.records == 4 && pending.first?.unsent == 1)
        #expect(!(try Binaries.run(Binaries.server, ["devices", "--all", "--db", server.database]).stdout.contains("(wiped)")))

        let report = try await device.sync(server)
        #expect(report.wiped && report.purged.isEmpty, "the wipe is reported once, not made again")
        #expect(try device.store.pendingReceipts().isEmpty)
        let devices = try #require(try JSONSerialization.jsonObject(with: Data(try Binaries.run(Binaries.server, ["devices", "--all", "--json", "--db", server.database]).stdout.utf8)) as? [[String: Any]])
        let receipts = try #require(devices.first?["receipts"] as? [[String: Any]])
        #expect(receipts.count == 1 && receipts.first?["id"] as? String == pending.first?.id && devices.first?["wipedAt"] != nil)
    }
}

/// Passes everything on but cuts every receipt off, as a dropped network would.
struct ReceiptCuttingTransport: SyncTransport {
    struct Cut: Error {}
    let inner: any SyncTransport
    init(_ inner: any SyncTransport) { self.inner = inner }
    func push(_ request: PushRequest) async throws -> PushResponse { try await inner.push(request) }
    func pull(since cursor: String, limit: Int) async throws -> PullResponse { try await inner.pull(since: cursor, limit: limit) }
    func me() async throws -> DeviceIdentity? { try await inner.me() }
    func sendReceipt(_ receipt: PurgeReceipt) async throws { throw Cut() }
}
