import Foundation
import Testing
import VeldCore
import VeldProtocol

/// What clients other than Veld's own meet on the wire, through curl against a real server.
@Suite struct HTTPInteropTests {
    /// curl (and every libcurl client) sends `Expect: 100-continue` with a body over a
    /// kilobyte and holds the body back until the server says `100 Continue`, or for a
    /// second: the server says it at once, so a push is not held up, and is then taken.
    @Test func aClientThatExpects100ContinueGetsItAndThePushGoesThrough() throws {
        let server = try ServerProcess()
        let token = try server.token(user: "anna", role: .carer, scopes: ["loc-zonnehof"])
        let notes = (0..<5).map { index -> RecordState in
            var state = RecordState(id: RecordIDs.make(), type: "visitNote", scope: "loc-zonnehof")
            var fields = Device.visit
            fields["summary"] = .string("Rondgang \(index): koffie in de huiskamer, daarna de tuin")
            state.edit(fields, replica: "r-curl", author: "anna", time: WallClock.now())
            return state
        }
        let body = RecordStateJSON.encode(PushRequest(replica: "r-curl", batch: UUID().uuidString.lowercased(), records: notes))
        #expect(body.count > 1_024)
        let folder = try TemporaryFolder("veld-interop")
        let file = folder.url.appendingPathComponent("push.json")
        try Data(body).write(to: file)
        let result = try Binaries.run(URL(fileURLWithPath: "/usr/bin/curl"), [
            "-s", "-v", "--max-time", "20", "-X", "POST", "-o", "-", "-w", "\nstatus=%{http_code}",
            "-H", "Authorization: Bearer \(token)", "-H", "Content-Type: application/json", "-H", "Expect: 100-continue",
            "--data-binary", "@\(file.path)", server.url!.appendingPathComponent("v1/push").absoluteString,
        ])
        #expect(result.stderr.contains("< HTTP/1.1 100 Continue"), "\(result.stderr)")
        #expect(result.stdout.hasSuffix("status=200"), "\(result.stdout)")
        #expect(notes.allSatisfy { result.stdout.contains($0.id) })
        // Without the expectation, as before.
        let plain = try Binaries.run(URL(fileURLWithPath: "/usr/bin/curl"), [
            "-s", "-v", "--max-time", "20", "-o", "/dev/null", "-w", "status=%{http_code}",
            "-H", "Authorization: Bearer \(token)", server.url!.appendingPathComponent("v1/me").absoluteString,
        ])
        #expect(plain.stdout == "status=200" && !plain.stderr.contains("100 Continue"))
    }
}
