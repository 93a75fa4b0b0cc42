import Foundation

/// A throwaway certificate authority made with `openssl` for one test: its certificate,
/// and a server certificate it issued for 127.0.0.1, ::1 and localhost. Removed with the
/// value.
public final class TestCA: @unchecked Sendable {
    public let folder: URL
    public var certificate: String { path("ca.pem") }
    public var serverCertificate: String { path("server.pem") }
    public var serverKey: String { path("server.key") }

    public init(name: String = "Veld Test CA") throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("veld-ca-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data("""
            subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost
            basicConstraints = critical, CA:FALSE
            keyUsage = critical, digitalSignature
            extendedKeyUsage = serverAuth

            """.utf8).write(to: folder.appendingPathComponent("server.ext"))
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", path("ca.key"), "-out", path("ca.pem"), "-days", "2", "-subj", "/CN=\(name)",
                     "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", path("server.key"), "-out", path("server.csr"), "-subj", "/CN=127.0.0.1"])
        try openssl(["x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
                     "-set_serial", "\(Int.random(in: 1...Int(Int32.max)))", "-days", "2",
                     "-extfile", path("server.ext"), "-out", path("server.pem")])
    }

    deinit { try? FileManager.default.removeItem(at: folder) }

    public func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    private func openssl(_ arguments: [String]) throws {
        let outcome = try Subprocess.run(URL(fileURLWithPath: "/usr/bin/env"), ["openssl"] + arguments)
        guard outcome.status == 0 else {
            throw Failure(description: "openssl \(arguments.first ?? "") failed: \(String(decoding: outcome.stderr, as: UTF8.self))")
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }
}
