import Testing
import VeldProtocol

/// What counts as this machine: plain HTTP is allowed there only.
@Suite struct LoopbackTests {
    @Test(arguments: ["127.0.0.1", "127.255.0.9", "::1", "[::1]", "0:0:0:0:0:0:0:1", "localhost", "LOCALHOST"])
    func loopback(_ host: String) {
        #expect(Loopback.contains(host))
    }

    @Test(arguments: ["127.0.0.1.example.invalid", "127.0.0.1.", "127.1", "0x7f.0.0.1", "127.0.0.256", "127.00000.0.1",
                      "[::ffff:127.0.0.1]", "128.0.0.1", "10.0.0.1", "sync.example.invalid", "localhost.example.invalid", "", "::2"])
    func notLoopback(_ host: String) {
        #expect(!Loopback.contains(host))
    }
}
