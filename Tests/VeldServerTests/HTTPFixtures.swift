import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
import VeldProtocol
import VeldServer

/// One in-process server on a fresh SQLite store, with the tokens most tests need.
struct TestServer: Sendable {
    let storage: SQLiteSyncStorage
    /// Office, all scopes, replica `r-office`.
    let office: IssuedToken
    /// Visitor in `loc-a`, replica `r-anna`.
    let anna: IssuedToken
    /// Another visitor in `loc-a`, replica `r-bram`.
    let bram: IssuedToken

    /// Runs `test` against a fresh server (routed in process, no sockets; `.live` for a real
    /// server on a loopback port).
    static func run(_ mode: TestingSetup = .router, idleTimeout: Duration = .seconds(30), bodyDeadline: Duration = .seconds(120),
                    _ test: @Sendable (any TestClientProtocol, TestServer) async throws -> Void) async throws {
        let folder = try TemporaryFolder()
        // In its own function, so the store is closed before the folder goes.
        try await run(in: folder, mode: mode, idleTimeout: idleTimeout, bodyDeadline: bodyDeadline, test)
    }

    private static func run(in folder: TemporaryFolder, mode: TestingSetup, idleTimeout: Duration, bodyDeadline: Duration,
                            _ test: @Sendable (any TestClientProtocol, TestServer) async throws -> Void) async throws {
        let storage = try SQLiteSyncStorage(path: folder.url.appendingPathComponent("veld-server.sqlite").path)
        try await storage.migrate()
        let server = TestServer(
            storage: storage,
            office: try await storage.issueToken(user: "olga", role: .office, scopes: ["*"]),
            anna: try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"]),
            bram: try await storage.issueToken(user: "bram", role: .carer, scopes: ["loc-a"])
        )
        var logger = Logger(label: "veld-server-test")
        logger.logLevel = .critical
        let app = try buildApplication(storage: storage, logger: logger, clock: { Fixture.time }, idleTimeout: idleTimeout,
                                     bodyDeadline: bodyDeadline)
        try await app.test(mode) { client in try await test(client, server) }
    }

    /// Asserts that `refusal` leaves the store exactly as it was.
    func expectNothingStored<T>(_ refusal: () async throws -> T,
                                sourceLocation: SourceLocation = #_sourceLocation) async throws -> T {
        let before = try await storage.snapshot()
        let result = try await refusal()
        let after = try await storage.snapshot()
        #expect(after == before, "a refused request changed the store", sourceLocation: sourceLocation)
        return result
    }
}

// MARK: Requests

extension TestClientProtocol {
    func push(_ request: PushRequest, as token: IssuedToken?, headers: HTTPFields = [:]) async throws -> TestResponse {
        try await post(body: ByteBuffer(bytes: try StableJSON.encode(request)), as: token, headers: headers)
    }

    func post(_ path: String = "/v1/push", body: ByteBuffer, as token: IssuedToken?, headers: HTTPFields = [:]) async throws -> TestResponse {
        var headers = headers
        if let token { headers[.authorization] = token.bearer }
        headers[.contentType] = "application/json"
        return try await execute(uri: path, method: .post, headers: headers, body: body)
    }

    func pull(as token: IssuedToken?, since: String? = nil, limit: String? = nil, headers: HTTPFields = [:]) async throws -> TestResponse {
        var headers = headers
        if let token { headers[.authorization] = token.bearer }
        let query = [since.map { "since=\($0)" }, limit.map { "limit=\($0)" }].compactMap { $0 }.joined(separator: "&")
        return try await execute(uri: query.isEmpty ? "/v1/pull" : "/v1/pull?\(query)", method: .get, headers: headers)
    }

    /// Pushes and requires 200.
    @discardableResult
    func accepted(_ request: PushRequest, as token: IssuedToken,
                  sourceLocation: SourceLocation = #_sourceLocation) async throws -> PushResponse {
        let response = try await push(request, as: token)
        try #require(response.status == .ok, "push refused: \(String(buffer: response.body))", sourceLocation: sourceLocation)
        return try response.decode(PushResponse.self)
    }

    /// Pulls every page (of `limit`) from 0 and requires 200 for each.
    func pullAll(as token: IssuedToken, limit: Int = 500,
                 sourceLocation: SourceLocation = #_sourceLocation) async throws -> [RecordState] {
        var cursor = "0"
        var records: [RecordState] = []
        for _ in 0..<1_000 {
            let response = try await pull(as: token, since: cursor, limit: String(limit))
            try #require(response.status == .ok, "pull refused: \(String(buffer: response.body))", sourceLocation: sourceLocation)
            let page = try response.decode(PullResponse.self)
            records += page.records
            cursor = page.cursor
            if !page.more { return records }
        }
        Issue.record("pull does not end", sourceLocation: sourceLocation)
        return records
    }
}

extension TestResponse {
    var data: Data { Data(body.readableBytesView) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try StableJSON.decode(type, from: data)
    }
}

// MARK: Problems

/// Checks a refusal: status, `application/problem+json`, the problem kind, and a detail
/// that says what to do (each of `detail` must appear in it).
@discardableResult
func expectProblem(_ response: TestResponse, status: Int, _ kind: Problem.Kind, detail: [String],
                   sourceLocation: SourceLocation = #_sourceLocation) throws -> Problem {
    #expect(response.status.code == status, "body: \(String(buffer: response.body))", sourceLocation: sourceLocation)
    #expect(response.headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
    let problem = try response.decode(Problem.self)
    #expect(problem.status == status, sourceLocation: sourceLocation)
    #expect(problem.type == "urn:veld:problem:" + kind.rawValue, sourceLocation: sourceLocation)
    #expect(problem.title == kind.title, sourceLocation: sourceLocation)
    for fragment in detail {
        #expect(problem.detail.contains(fragment), "\"\(fragment)\" not in detail: \(problem.detail)", sourceLocation: sourceLocation)
    }
    return problem
}

/// A push body edited as plain JSON, for bodies the Codable types cannot produce.
func rawPushBody(_ request: PushRequest, _ edit: (inout [String: Any]) -> Void) throws -> ByteBuffer {
    var object = try JSONSerialization.jsonObject(with: StableJSON.encode(request)) as! [String: Any]
    edit(&object)
    return ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object))
}
