import Foundation
import Testing
import VeldCore

/// Server addresses as a user types them: https anywhere, plain http to this machine only.
@Suite struct ServerAddressTests {
    @Test(arguments: ["https://sync.example.invalid", "https://sync.example.invalid:8443/veld", "HTTPS://sync.example.invalid",
                      "http://127.0.0.1:8080", "http://[::1]:8080", "http://localhost:8080"])
    func accepted(_ text: String) throws {
        _ = try ServerAddress.parse(text)
    }

    @Test(arguments: ["http://sync.example.invalid", "HTTP://sync.example.invalid", "http://127.0.0.1.example.invalid",
                      "http://127.0.0.1@sync.example.invalid", "https://anna:geheim@sync.example.invalid",
                      "https://sync.example.invalid/?token=x", "https://sync.example.invalid/#x", "ftp://sync.example.invalid",
                      "sync.example.invalid", "https://"])
    func refused(_ text: String) {
        #expect(throws: ServerAddress.Invalid.self) { _ = try ServerAddress.parse(text) }
    }
}
