import Foundation
import VeldProtocol

/// A sync server's address as a user types it, checked: `https://HOST[:PORT][/PATH]`, or
/// `http://` to this machine only (`127.0.0.1`, `::1`, `localhost`), so a token is never
/// sent unencrypted over a network.
///
/// ```swift
/// try ServerAddress.parse("https://sync.example.nl")   // fine
/// try ServerAddress.parse("http://127.0.0.1:8080")     // fine: loopback
/// try ServerAddress.parse("http://sync.example.invalid")  // throws: use https://
/// ```
public enum ServerAddress {
    public struct Invalid: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public static func parse(_ text: String) throws -> URL {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = url.host, !host.isEmpty else {
            throw Invalid(description: "'\(text)' is not a server address; use e.g. https://sync.example.nl (or http://127.0.0.1:8080 on this machine)")
        }
        if url.user != nil || url.password != nil {
            throw Invalid(description: "the server address must not hold a user or password; the token is given with --token-file")
        }
        if url.query != nil || url.fragment != nil {
            throw Invalid(description: "the server address must not hold a query or fragment; give just https://HOST[:PORT]")
        }
        try checkPlainHTTP(url)
        return url
    }

    /// Scheme, host and port: what a message may name of a server (never a path or query).
    public static func origin(_ url: URL) -> String {
        "\(url.scheme ?? "")://\(url.host ?? "")" + (url.port.map { ":\($0)" } ?? "")
    }

    /// Refuses `http://` to anything but this machine.
    public static func checkPlainHTTP(_ url: URL) throws {
        guard url.scheme?.lowercased() == "http", let host = url.host, !Loopback.contains(host) else { return }
        var secure = URLComponents(url: url, resolvingAgainstBaseURL: false)
        secure?.scheme = "https"
        throw Invalid(description: "will not send the token to \(host) over plain http://; use \(secure?.url?.absoluteString ?? "https://\(host)") (plain http:// is for this machine only)")
    }
}
