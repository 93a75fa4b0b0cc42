import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import VeldProtocol

/// The sync transport over HTTP with URLSession: JSON bodies, a bearer token, problem
/// bodies turned into `SyncTransportError.rejected`.
///
/// ```swift
/// let transport = HTTPTransport(server: URL(string: "http://127.0.0.1:8080")!, token: token)
/// let page = try await transport.pull(since: "0", limit: 500)
/// ```
public struct HTTPTransport: SyncTransport {
    public let server: URL
    let token: String
    let session: URLSession

    public init(server: URL, token: String, timeout: TimeInterval = 60) {
        self.server = server
        self.token = token
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.httpAdditionalHeaders = ["User-Agent": "veld/\(VeldCoreInfo.version)"]
        session = URLSession(configuration: configuration)
    }

    public func push(_ request: PushRequest) async throws -> PushResponse {
        var urlRequest = URLRequest(url: server.appendingPathComponent("v1/push"))
        urlRequest.httpMethod = "POST"
        urlRequest.setValue("application/json", forHTTPHeaderField: "Content-Type")
        urlRequest.httpBody = try StableJSON.encode(request)
        return try await send(urlRequest, expecting: PushResponse.self)
    }

    public func pull(since cursor: String, limit: Int) async throws -> PullResponse {
        try await pullEncoded(since: cursor, limit: limit).page
    }

    public func pullEncoded(since cursor: String, limit: Int) async throws -> (page: PullResponse, encoded: [String]?) {
        var components = URLComponents(url: server.appendingPathComponent("v1/pull"), resolvingAgainstBaseURL: false)!
        components.queryItems = [URLQueryItem(name: "since", value: cursor), URLQueryItem(name: "limit", value: String(limit))]
        let data = try await fetch(URLRequest(url: components.url!))
        // The strict reader hands back each record's bytes too; anything it does not read
        // (a server in another encoding) goes through Codable, without the bytes.
        if let read = try? RecordStateJSON.readPull(data) { return (read.page, read.encoded) }
        return (try decode(PullResponse.self, from: data), nil)
    }

    public func me() async throws -> DeviceIdentity? {
        try await send(URLRequest(url: server.appendingPathComponent("v1/me")), expecting: DeviceIdentity.self)
    }

    public func record(id: String) async throws -> RecordState? {
        do {
            return try await send(URLRequest(url: server.appendingPathComponent("v1/records/\(id)")), expecting: RecordState.self)
        } catch SyncTransportError.rejected(let problem) where problem.status == 404 {
            return nil
        }
    }

    /// Every change the server accepted for a record, oldest first.
    public func history(of id: String) async throws -> RecordHistory {
        try await send(URLRequest(url: server.appendingPathComponent("v1/records/\(id)/history")), expecting: RecordHistory.self)
    }

    public func health() async throws -> HealthResponse {
        try await send(URLRequest(url: server.appendingPathComponent("v1/health")), expecting: HealthResponse.self)
    }

    private func send<T: Decodable>(_ request: URLRequest, expecting: T.Type) async throws -> T {
        try decode(T.self, from: try await fetch(request))
    }

    private func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        do { return try StableJSON.decode(T.self, from: data) } catch {
            throw SyncTransportError.badResponse("\(T.self) did not decode: \(error)")
        }
    }

    /// The body of a 2xx answer; anything else as a `SyncTransportError`.
    private func fetch(_ request: URLRequest) async throws -> Data {
        var request = request
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch {
            throw SyncTransportError.unreachable("\(server.absoluteString): \(error.localizedDescription)")
        }
        guard let http = response as? HTTPURLResponse else {
            throw SyncTransportError.badResponse("not an HTTP response")
        }
        switch http.statusCode {
        case 200..<300:
            return data
        case 408, 429, 503:
            let detail = (try? StableJSON.decode(Problem.self, from: data))?.detail ?? HTTPURLResponse.localizedString(forStatusCode: http.statusCode)
            let retryAfter = (http.value(forHTTPHeaderField: "Retry-After")).flatMap { TimeInterval($0.trimmingCharacters(in: .whitespaces)) }
            throw SyncTransportError.busy(status: http.statusCode, retryAfter: retryAfter.map { max(0, $0) }, detail: detail)
        case 400..<500:
            let problem = (try? StableJSON.decode(Problem.self, from: data))
                ?? Problem(type: .malformed, status: http.statusCode, detail: String(decoding: data.prefix(300), as: UTF8.self))
            throw SyncTransportError.rejected(problem)
        default:
            let detail = (try? StableJSON.decode(Problem.self, from: data))?.detail ?? HTTPURLResponse.localizedString(forStatusCode: http.statusCode)
            throw SyncTransportError.serverFailed(status: http.statusCode, detail: detail)
        }
    }
}

public enum VeldCoreInfo {
    public static let version = "0.1.0"
}
