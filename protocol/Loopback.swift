/// Whether a host name or address stays on this machine: `localhost`, `127.0.0.0/8` or
/// `::1`. Plain HTTP is allowed only there (the server will not listen on anything else
/// without TLS, and a client will not send a token anywhere else over `http://`).
///
/// ```swift
/// Loopback.contains("127.0.0.1")        // true
/// Loopback.contains("[::1]")            // true
/// Loopback.contains("sync.example.invalid")  // false
/// ```
public enum Loopback {
    public static func contains(_ host: String) -> Bool {
        var host = host.lowercased()
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "127" else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isASCII) && part.allSatisfy(\.isNumber) && (Int(part) ?? 256) <= 255
        }
    }
}
