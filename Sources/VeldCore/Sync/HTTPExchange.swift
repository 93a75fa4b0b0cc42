import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One HTTP request as `HTTPTransport` sends it, and the answer it needs back: the seam
/// between the sync protocol and an HTTP stack. `URLSessionExchange` is the default (what
/// a phone app uses, trusting the platform's certificate store); the Linux CLI plugs in
/// one on SwiftNIO (`VeldNIOClient`) that can trust an organisation's own CA.
public protocol HTTPExchange: Sendable {
    /// Sends `request` and returns the answer, whatever its status. Throws
    /// `SyncTransportError.unreachable` when no answer came, `.untrusted` when the
    /// server's certificate was not accepted. Never follows a redirect: the token would
    /// go along.
    func send(_ request: HTTPExchangeRequest) async throws -> HTTPExchangeAnswer
}

public struct HTTPExchangeRequest: Sendable {
    public var method: String
    public var url: URL
    public var headers: [(name: String, value: String)]
    public var body: Data?
    public var timeout: TimeInterval
}

public struct HTTPExchangeAnswer: Sendable {
    public var status: Int
    /// Header names in lower case.
    public var headers: [String: String]
    public var body: Data

    public init(status: Int, headers: [String: String], body: Data) {
        self.status = status
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
        self.body = body
    }
}

/// The exchange over URLSession (libcurl on Linux), trusting the platform's certificates.
public struct URLSessionExchange: HTTPExchange {
    private let session: URLSession

    public init(timeout: TimeInterval = 60) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.httpShouldSetCookies = false
        session = URLSession(configuration: configuration, delegate: RefuseRedirects(), delegateQueue: nil)
    }

    public func send(_ request: HTTPExchangeRequest) async throws -> HTTPExchangeAnswer {
        var urlRequest = URLRequest(url: request.url)
        urlRequest.httpMethod = request.method
        urlRequest.timeoutInterval = request.timeout
        for header in request.headers { urlRequest.setValue(header.value, forHTTPHeaderField: header.name) }
        urlRequest.httpBody = request.body
        let data: Data
        let response: URLResponse
        do {
            // The delegate refuses redirects, so a 3xx comes back as it is.
            (data, response) = try await session.data(for: urlRequest)
        } catch where Self.isCertificateFailure(error) {
            throw SyncTransportError.untrusted("\(request.url.host ?? ""): \(error.localizedDescription)")
        } catch {
            throw SyncTransportError.unreachable("\(ServerAddress.origin(request.url)): \(error.localizedDescription)")
        }
        guard let http = response as? HTTPURLResponse else { throw SyncTransportError.badResponse("not an HTTP response") }
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { headers[name.lowercased()] = value }
        }
        return HTTPExchangeAnswer(status: http.statusCode, headers: headers, body: data)
    }

    static let certificateErrors: Set<Int> = [
        NSURLErrorServerCertificateUntrusted, NSURLErrorServerCertificateHasBadDate, NSURLErrorServerCertificateHasUnknownRoot,
        NSURLErrorServerCertificateNotYetValid, NSURLErrorSecureConnectionFailed, NSURLErrorClientCertificateRejected,
    ]

    /// The platform's own codes, and on Linux libcurl's message (it reports an unknown CA as
    /// a plain connection failure).
    static func isCertificateFailure(_ error: any Error) -> Bool {
        let error = error as NSError
        guard error.domain == NSURLErrorDomain else { return false }
        return certificateErrors.contains(error.code) || error.localizedDescription.contains("SSL certificate problem")
    }
}

/// Answers every redirect with "don't": the 3xx itself comes back to `HTTPTransport`.
private final class RefuseRedirects: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        completionHandler(nil)
    }
}
