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
        let page = try decode(PullResponse.self, from: data)
        let encoded = PulledRecords.slices(of: data).flatMap { $0.count == page.records.count ? $0 : nil }
        return (page, encoded)
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

/// Finds each element of the top-level `"records"` array in a pull body, as text.
enum PulledRecords {
    static func slices(of data: Data) -> [String]? {
        data.withUnsafeBytes { raw -> [String]? in
            let bytes = raw.bindMemory(to: UInt8.self)
            let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\"), colon = UInt8(ascii: ":")
            let open = UInt8(ascii: "{"), close = UInt8(ascii: "}"), openArray = UInt8(ascii: "["), closeArray = UInt8(ascii: "]")
            let recordsKey = Array("records".utf8)
            var slices: [String] = []
            var depth = 0, index = 0, stringStart = -1, elementStart = -1
            var lastString: Range<Int>? = nil, key: Range<Int>? = nil
            var inString = false, inRecords = false, seenRecords = false
            while index < bytes.count {
                let byte = bytes[index]
                if inString {
                    if byte == backslash { index += 2; continue }
                    if byte == quote {
                        inString = false
                        if depth == 1 { lastString = (stringStart + 1)..<index }
                    }
                    index += 1
                    continue
                }
                switch byte {
                case quote:
                    inString = true
                    stringStart = index
                case colon where depth == 1:
                    key = lastString
                case open, openArray:
                    if depth == 1, byte == openArray, let key, bytes[key].elementsEqual(recordsKey) {
                        inRecords = true
                        seenRecords = true
                    } else if inRecords, depth == 2, byte == open {
                        elementStart = index
                    }
                    depth += 1
                case close, closeArray:
                    depth -= 1
                    if inRecords, depth == 2, byte == close, elementStart >= 0 {
                        slices.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[elementStart...index]), as: UTF8.self))
                        elementStart = -1
                    } else if inRecords, depth == 1 {
                        inRecords = false
                    }
                default:
                    break
                }
                index += 1
            }
            return seenRecords ? slices : nil
        }
    }
}

public enum VeldCoreInfo {
    public static let version = "0.1.0"
}
