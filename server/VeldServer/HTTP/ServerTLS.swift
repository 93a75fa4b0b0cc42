import Foundation
import NIOSSL

/// The server's certificate and key, read and checked before the server binds, so a wrong
/// path, a key that does not belong to the certificate or an expired certificate is one
/// clear line at start instead of failed handshakes later.
///
/// ```swift
/// let tls = try ServerTLS(certificateFile: "cert.pem", keyFile: "key.pem")
/// let app = try buildApplication(storage: storage, host: "0.0.0.0", port: 8443, tls: tls)
/// ```
public struct ServerTLS: Sendable {
    public let configuration: TLSConfiguration
    /// When the leaf certificate stops being valid.
    public let notValidAfter: Date

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public init(certificateFile: String, keyFile: String, now: Date = Date()) throws {
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(certificateFile) } catch {
            throw Invalid(description: "cannot read a PEM certificate from \(certificateFile): \(Self.reason(error, path: certificateFile))")
        }
        guard let leaf = chain.first else {
            throw Invalid(description: "\(certificateFile) holds no certificate; give the PEM file with the server's certificate (and its chain)")
        }
        let key: NIOSSLPrivateKey
        do { key = try NIOSSLPrivateKey(file: keyFile, format: .pem) } catch {
            throw Invalid(description: "cannot read a PEM private key from \(keyFile): \(Self.reason(error, path: keyFile))")
        }
        notValidAfter = Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter))
        guard notValidAfter > now else {
            throw Invalid(description: "the certificate in \(certificateFile) expired on \(ISO8601DateFormatter().string(from: notValidAfter)); renew it")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        do { _ = try NIOSSLContext(configuration: configuration) } catch {
            throw Invalid(description: "the key in \(keyFile) does not fit the certificate in \(certificateFile) (\(error)); give the key the certificate was issued for")
        }
        self.configuration = configuration
    }

    private static func reason(_ error: any Error, path: String) -> String {
        FileManager.default.isReadableFile(atPath: path) ? "not valid PEM (\(error))" : "no such readable file"
    }
}
