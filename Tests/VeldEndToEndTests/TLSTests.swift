import Foundation
import Testing
import VeldCore
import VeldNIOClient
import VeldProtocol
import VeldTestSupport

/// HTTPS end to end: a real `veld-server serve --tls-cert --tls-key` on loopback with a
/// certificate from a throwaway CA made in the test, and the real `veld` CLI.
@Suite struct TLSTests {
    let ca: TestCA
    let server: ServerProcess

    init() throws {
        ca = try TestCA()
        server = try ServerProcess(serveArguments: ["--tls-cert", ca.serverCertificate, "--tls-key", ca.serverKey])
    }

    func veld(_ home: TemporaryFolder, _ arguments: String..., stdin: String? = nil) throws -> Binaries.Result {
        try veld(home, arguments, stdin: stdin)
    }

    func veld(_ home: TemporaryFolder, _ arguments: [String], stdin: String? = nil) throws -> Binaries.Result {
        try Binaries.run(Binaries.cli, arguments + ["--home", home.url.path], stdin: stdin)
    }

    @Test func theCLISyncsOverHTTPSWithTheOrganisationsCA() throws {
        #expect(server.url?.scheme == "https")
        let anna = try TemporaryFolder("veld-tls-anna")
        let token = try server.token(user: "anna", role: .carer, scopes: ["loc-zonnehof"])
        let tokenFile = anna.url.appendingPathComponent("token.txt")
        try Data((token + "\n").utf8).write(to: tokenFile)
        let initialised = try veld(anna, "init", "--user", "anna", "--server", server.url!.absoluteString,
                                   "--token-file", tokenFile.path, "--ca-file", ca.certificate)
        #expect(initialised.status == 0, "\(initialised.stderr)")
        #expect(initialised.stdout.contains("Scopes: loc-zonnehof (from the server)"))
        let added = try veld(anna, "visit", "add", "--location", "loc-zonnehof", "--kind", "werkbezoek",
                             "--date", "2026-11-20", "--summary", "Rondgang huiskamer")
        #expect(added.status == 0, "\(added.stderr)")
        let synced = try veld(anna, "sync")
        #expect(synced.status == 0, "\(synced.stderr)")
        #expect(synced.stdout.contains("pushed 1"))
        // The token and the CA live in the profile, readable by its owner only.
        let files = FileManager.default
        #expect(try files.attributesOfItem(atPath: anna.url.appendingPathComponent(LocalStore.databaseName).path)[.posixPermissions] as? Int == 0o600)
        #expect(try files.attributesOfItem(atPath: anna.url.path)[.posixPermissions] as? Int == 0o700)
        #expect(try LocalStore.open(home: anna.url).syncSettings().serverCA?.contains("BEGIN CERTIFICATE") == true)
    }

    @Test func aCertificateFromAnotherCAIsRefusedAndNothingIsKept() throws {
        let other = try TestCA(name: "Another CA")
        let token = try server.token(user: "bram", role: .carer, scopes: ["loc-zonnehof"])
        for caArguments in [["--ca-file", other.certificate], []] {
            let bram = try TemporaryFolder("veld-tls-bram")
            #expect(try veld(bram, "init", "--user", "bram").status == 0)
            let refused = try veld(bram, ["connect", "--server", server.url!.absoluteString, "--token-file", "-"] + caArguments,
                                   stdin: token)
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("not trusted"), "\(refused.stderr)")
            #expect(!refused.stderr.contains(token))
            #expect(try LocalStore.open(home: bram.url).syncSettings().server == nil, "a refused connect kept the server")
        }
    }

    @Test func theDefaultURLSessionTransportTrustsOnlyTheSystemsCAs() async throws {
        let token = try server.token(user: "bram", role: .carer, scopes: ["loc-zonnehof"])
        await #expect {
            _ = try await HTTPTransport(server: server.url!, token: token).me()
        } throws: { error in
            if case SyncTransportError.untrusted = error { return true }
            return false
        }
    }

    @Test func httpToAnotherMachineIsRefusedBeforeAnythingIsSent() async throws {
        let carol = try TemporaryFolder("veld-tls-carol")
        #expect(try veld(carol, "init", "--user", "carol").status == 0)
        let refused = try veld(carol, "connect", "--server", "http://sync.example.invalid:8080", "--token-file", "-", stdin: "tok")
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("https://sync.example.invalid:8080"), "\(refused.stderr)")
        // The transport itself refuses too (a profile stored before the rule): the
        // exchange never sees a request.
        let recorder = RecordingExchange()
        let transport = HTTPTransport(server: URL(string: "http://sync.example.invalid")!, token: "secret", exchange: recorder)
        await #expect(throws: SyncTransportError.self) { _ = try await transport.me() }
        #expect(recorder.count == 0)
        // Loopback over http stays allowed.
        #expect(throws: Never.self) { _ = try ServerAddress.parse("http://127.0.0.1:8080") }
        #expect(throws: Never.self) { _ = try ServerAddress.parse("http://[::1]:8080") }
        #expect(throws: ServerAddress.Invalid.self) { _ = try ServerAddress.parse("https://anna:geheim@sync.example.invalid") }
    }

    @Test func aTokenIsNeverTakenOnTheCommandLine() throws {
        let dave = try TemporaryFolder("veld-tls-dave")
        let refused = try veld(dave, "init", "--user", "dave", "--server", server.url!.absoluteString, "--token", "tok_secret")
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("--token-file"))
        #expect(!FileManager.default.fileExists(atPath: dave.url.appendingPathComponent(LocalStore.databaseName).path))
        let empty = try veld(dave, "init", "--user", "dave", "--server", server.url!.absoluteString, "--token-file", "-", stdin: "\n")
        #expect(empty.status != 0 && empty.stderr.contains("no token"))
    }

    @Test func theServerSpeaksHTTP2WhenAsked() throws {
        let curl = try Subprocess.run(URL(fileURLWithPath: "/usr/bin/env"),
                                      ["curl", "-sS", "--http2", "--cacert", ca.certificate, "-o", "/dev/null", "-w", "%{http_version}",
                                       server.url!.appendingPathComponent("v1/health").absoluteString])
        #expect(curl.status == 0, "\(String(decoding: curl.stderr, as: UTF8.self))")
        #expect(String(decoding: curl.stdout, as: UTF8.self) == "2")
    }

    @Test func serveRefusesWhatWouldBeUnsafeOrBroken() throws {
        func serve(_ arguments: [String]) throws -> Binaries.Result {
            try Binaries.run(Binaries.server, ["serve", "--db", server.folder.url.appendingPathComponent("other.sqlite").path,
                                               "--port", "0"] + arguments)
        }
        let plain = try serve(["--host", "sync.example.invalid"])
        #expect(plain.status != 0 && plain.stderr.contains("loopback only"), "\(plain.stderr)")
        let half = try serve(["--tls-cert", ca.serverCertificate])
        #expect(half.status != 0 && half.stderr.contains("together"))
        let other = try TestCA(name: "Another CA")
        let mismatched = try serve(["--tls-cert", ca.serverCertificate, "--tls-key", other.serverKey])
        #expect(mismatched.status != 0 && mismatched.stderr.contains("does not fit"), "\(mismatched.stderr)")
        let missing = try serve(["--tls-cert", ca.path("nothing.pem"), "--tls-key", ca.serverKey])
        #expect(missing.status != 0 && missing.stderr.contains("no such readable file"), "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: server.folder.url.appendingPathComponent("other.sqlite").path),
                "a refused serve created its database")
    }
}

final class RecordingExchange: HTTPExchange, @unchecked Sendable {
    private let lock = NSLock()
    private var sent = 0
    var count: Int { lock.withLock { sent } }

    func send(_ request: HTTPExchangeRequest) async throws -> HTTPExchangeAnswer {
        lock.withLock { sent += 1 }
        return HTTPExchangeAnswer(status: 500, headers: [:], body: Data())
    }
}
