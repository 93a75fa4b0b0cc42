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
    let exchange: any HTTPExchange
    let timeout: TimeInterval
    /// What the device says of itself with every request (`Veld-Device`), asked each time.
    let health: (@Sendable () -> DeviceHealth?)?
    /// The server epoch the device knows (`Veld-Epoch`), asked each time.
    let epoch: (@Sendable () -> String?)?

    /// `exchange` is the HTTP stack; URLSession when not given. `health` tells the server
    /// how the device is doing (SPEC.md, "Device health"); nil sends nothing. `epoch` names
    /// the server epoch the device knows, so a push or pull meets a restore with 409
    /// `epoch-changed` instead of a cursor of a change log the server no longer has.
    public init(server: URL, token: String, timeout: TimeInterval = 60, exchange: (any HTTPExchange)? = nil,
                health: (@Sendable () -> DeviceHealth?)? = nil, epoch: (@Sendable () -> String?)? = nil) {
        self.server = server
        self.token = token
        self.timeout = timeout
        self.exchange = exchange ?? URLSessionExchange(timeout: timeout)
        self.health = health
        self.epoch = epoch
    }

    /// The batch in stable JSON, gzip-compressed above ``Gzip/threshold`` bytes.
    public func push(_ request: PushRequest) async throws -> PushResponse {
        var body = Data(RecordStateJSON.encode(request))
        var headers: [(name: String, value: String)] = []
        if body.count > Gzip.threshold, let compressed = Gzip.compress(body) {
            body = compressed
            headers.append((name: "Content-Encoding", value: "gzip"))
        }
        let answer = try await exchange("POST", server.appendingPathComponent("v1/push"), body: body, extraHeaders: headers)
        return try decode(PushResponse.self, from: answer.body)
    }

    public func sendReceipt(_ receipt: PurgeReceipt) async throws {
        let answer = try await send("POST", server.appendingPathComponent("v1/receipts"), body: try StableJSON.encode(receipt),
                                    expecting: ReceiptAnswer.self)
        guard answer.id == receipt.id else { throw SyncTransportError.badResponse("the receipt answer names another receipt") }
    }

    public func pull(since cursor: String, limit: Int) async throws -> PullResponse {
        try await pullEncoded(since: cursor, limit: limit).page
    }

    public func pullEncoded(since cursor: String, limit: Int) async throws -> (page: PullResponse, encoded: [String]?) {
        try await pullEncoded(since: cursor, limit: limit, holding: nil)
    }

    public func pullEncoded(since cursor: String, limit: Int, holding schemas: String?) async throws -> (page: PullResponse, encoded: [String]?) {
        try await pullEncoded(since: cursor, limit: limit, holding: schemas, deltas: nil)
    }

    public func pullEncoded(since cursor: String, limit: Int, holding schemas: String?, deltas base: String?) async throws
        -> (page: PullResponse, encoded: [String]?) {
        var components = URLComponents(url: server.appendingPathComponent("v1/pull"), resolvingAgainstBaseURL: false)!
        components.queryItems = [URLQueryItem(name: "since", value: cursor), URLQueryItem(name: "limit", value: String(limit))]
            + (base.map { [URLQueryItem(name: "deltas", value: "1"), URLQueryItem(name: "base", value: $0)] } ?? [])
        let data = try await exchange("GET", components.url!, extraHeaders: schemas.map { [(name: "Veld-Schemas", value: $0)] } ?? []).body
        // The strict reader hands back each record's bytes too; anything it does not read
        // (a server in another encoding) goes through Codable, without the bytes.
        if let read = try? RecordStateJSON.readPull(data) { return (read.page, read.encoded) }
        return (try decode(PullResponse.self, from: data), nil)
    }

    public func me() async throws -> DeviceIdentity? {
        try await send("GET", server.appendingPathComponent("v1/me"), expecting: DeviceIdentity.self)
    }

    public func schemas(ifNoneMatch etag: String?) async throws -> SchemaFetch {
        let answer = try await exchange(
            "GET", server.appendingPathComponent("v1/schemas"),
            extraHeaders: etag.map { [(name: "If-None-Match", value: $0)] } ?? [], allowNotModified: true)
        if answer.status == 304 { return .unchanged }
        return .set(try decode(SchemaSet.self, from: answer.body), etag: answer.headers["etag"])
    }

    public func record(id: String) async throws -> RecordState? {
        do {
            return try await send("GET", server.appendingPathComponent("v1/records/\(id)"), expecting: RecordState.self)
        } catch SyncTransportError.rejected(let problem) where problem.status == 404 {
            return nil
        }
    }

    /// Every change the server accepted for a record, oldest first.
    public func history(of id: String) async throws -> RecordHistory {
        try await send("GET", server.appendingPathComponent("v1/records/\(id)/history"), expecting: RecordHistory.self)
    }

    /// Who read or changed a record on the server, newest first (`GET /v1/records/{id}/access`,
    /// office and admin tokens).
    public func access(of id: String, limit: Int = 100) async throws -> RecordAccess {
        var components = URLComponents(url: server.appendingPathComponent("v1/records/\(id)/access"), resolvingAgainstBaseURL: false)!
        components.queryItems = [URLQueryItem(name: "limit", value: String(limit))]
        return try await send("GET", components.url!, expecting: RecordAccess.self)
    }

    /// Every active device as the office sees it (`GET /v1/devices`, office and admin tokens).
    public func devices() async throws -> [DeviceReport] {
        try await send("GET", server.appendingPathComponent("v1/devices"), expecting: [DeviceReport].self)
    }

    public func health() async throws -> HealthResponse {
        try await send("GET", server.appendingPathComponent("v1/health"), expecting: HealthResponse.self)
    }

    private func send<T: Decodable>(_ method: String, _ url: URL, body: Data? = nil, expecting: T.Type) async throws -> T {
        try decode(T.self, from: try await fetch(method, url, body: body))
    }

    private func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        do { return try StableJSON.decode(T.self, from: data) } catch {
            throw SyncTransportError.badResponse("\(T.self) did not decode: \(error)")
        }
    }

    /// The body of a 2xx answer; anything else as a `SyncTransportError`.
    private func fetch(_ method: String, _ url: URL, body: Data? = nil) async throws -> Data {
        try await exchange(method, url, body: body).body
    }

    /// A 2xx answer (or a 304 when `allowNotModified`); anything else as a `SyncTransportError`.
    private func exchange(_ method: String, _ url: URL, body: Data? = nil, extraHeaders: [(name: String, value: String)] = [],
                          allowNotModified: Bool = false) async throws -> HTTPExchangeAnswer {
        // Checked on every request, not only when the address is typed: a profile made
        // before this rule still never sends its token in the clear.
        do { try ServerAddress.checkPlainHTTP(url) } catch let invalid as ServerAddress.Invalid {
            throw SyncTransportError.insecure(invalid.description)
        }
        var headers = [(name: "Authorization", value: "Bearer \(token)"), (name: "Accept", value: "application/json"),
                       (name: "User-Agent", value: "veld/\(VeldCoreInfo.version)")]
        if body != nil { headers.append((name: "Content-Type", value: "application/json")) }
        if let report = health?() { headers.append((name: DeviceHealth.headerName, value: report.header)) }
        if let known = epoch?() { headers.append((name: ServerEpoch.headerName, value: known)) }
        headers += extraHeaders
        let answer = try await exchange.send(HTTPExchangeRequest(method: method, url: url, headers: headers, body: body, timeout: timeout))
        let data = answer.body
        switch answer.status {
        case 200..<300:
            return answer
        case 304 where allowNotModified:
            return answer
        case 300..<400:
            throw SyncTransportError.badResponse(
                "the server answered \(answer.status), a redirect; Veld does not follow redirects (the token would go along): connect to the address it names")
        case 408, 429, 503:
            let detail = (try? StableJSON.decode(Problem.self, from: data))?.detail ?? Self.reason(answer.status)
            let retryAfter = answer.headers["retry-after"].flatMap { TimeInterval($0.trimmingCharacters(in: .whitespaces)) }
            throw SyncTransportError.busy(status: answer.status, retryAfter: retryAfter.map { max(0, $0) }, detail: detail)
        case 400..<500:
            let problem = (try? StableJSON.decode(Problem.self, from: data))
                ?? Problem(type: .malformed, status: answer.status, detail: String(decoding: data.prefix(300), as: UTF8.self))
            throw SyncTransportError.rejected(problem)
        default:
            let problem = try? StableJSON.decode(Problem.self, from: data)
            let detail = (problem?.detail ?? Self.reason(answer.status)) + (problem?.requestId.map { " [request \($0)]" } ?? "")
            throw SyncTransportError.serverFailed(status: answer.status, detail: detail)
        }
    }

    static func reason(_ status: Int) -> String {
        HTTPURLResponse.localizedString(forStatusCode: status)
    }
}

public enum VeldCoreInfo {
    public static let version = "0.1.0"
}
