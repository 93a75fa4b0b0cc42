import AsyncHTTPClient
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOSSL
import VeldCore

/// The HTTP exchange on SwiftNIO and BoringSSL (AsyncHTTPClient): TLS 1.2 or later,
/// certificates verified against the system's CAs or, given `trusting`, against an
/// organisation's own CA only (as `curl --cacert`). Redirects are never followed.
///
/// ```swift
/// let exchange = try NIOExchange.shared(trusting: pem)   // pem: the CA's certificates, or nil
/// let transport = HTTPTransport(server: url, token: token, exchange: exchange)
/// ```
public final class NIOExchange: HTTPExchange {
    /// Answers bigger than this are refused (a pull page is at most 8 MiB plus framing).
    public static let maxAnswerBytes = 64 * 1_048_576

    private let client: HTTPClient

    public struct InvalidCA: Error, CustomStringConvertible {
        public let description: String
    }

    /// One client per trust setting for the whole process: an `HTTPClient` must be shut
    /// down before it goes, and a CLI process simply keeps its one until it exits.
    public static func shared(trusting pem: String?) throws -> NIOExchange {
        try cache.withLockedValue { cache in
            if let exchange = cache[pem ?? ""] { return exchange }
            let exchange = try NIOExchange(trusting: pem)
            cache[pem ?? ""] = exchange
            return exchange
        }
    }

    private static let cache = NIOLockedValueBox<[String: NIOExchange]>([:])

    /// The certificates in `pem`, checked: at least one, each a valid certificate.
    public static func certificates(_ pem: String) throws -> [NIOSSLCertificate] {
        let certificates: [NIOSSLCertificate]
        do { certificates = try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)) } catch {
            throw InvalidCA(description: "not a PEM certificate (\(error))")
        }
        guard !certificates.isEmpty else { throw InvalidCA(description: "no certificate in it (expected -----BEGIN CERTIFICATE-----)") }
        return certificates
    }

    private init(trusting pem: String?) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.certificateVerification = .fullVerification
        if let pem { tls.trustRoots = .certificates(try Self.certificates(pem)) }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(15), read: .seconds(60)), decompression: .disabled)
        // A certificate that fails once fails again: say so at once, not after retries.
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func send(_ request: HTTPExchangeRequest) async throws -> HTTPExchangeAnswer {
        var outgoing = HTTPClientRequest(url: request.url.absoluteString)
        outgoing.method = HTTPMethod(rawValue: request.method)
        for header in request.headers { outgoing.headers.add(name: header.name, value: header.value) }
        if let body = request.body { outgoing.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            let response = try await client.execute(outgoing, timeout: .milliseconds(Int64(request.timeout * 1_000)))
            let body = try await response.body.collect(upTo: Self.maxAnswerBytes)
            var headers: [String: String] = [:]
            for (name, value) in response.headers where headers[name.lowercased()] == nil { headers[name.lowercased()] = value }
            return HTTPExchangeAnswer(status: Int(response.status.code), headers: headers, body: Data(body.readableBytesView))
        } catch let error as SyncTransportError {
            throw error
        } catch where Self.isCertificateFailure(error) {
            throw SyncTransportError.untrusted("\(request.url.host ?? ""): \(error)")
        } catch {
            throw SyncTransportError.unreachable("\(ServerAddress.origin(request.url)): \(error)")
        }
    }

    static func isCertificateFailure(_ error: any Error) -> Bool {
        error is NIOSSLError || error is NIOSSLExtraError || error is BoringSSLError
    }
}
