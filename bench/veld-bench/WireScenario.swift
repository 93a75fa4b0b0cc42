import CompressNIO
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import NIOCore
import VeldCore
import VeldProtocol
import VeldServer

/// A loopback TCP proxy that counts the bytes each way: HTTP headers and bodies exactly
/// as they cross the wire (TCP/IP framing not included).
final class CountingProxy: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let upstreamPort: Int
    let toServer = Locked(0)
    let toClient = Locked(0)
    private let sockets = Locked<[Int32]>([])

    init(upstreamPort: Int) throws {
        self.upstreamPort = upstreamPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("proxy: socket failed") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { close(fd); throw BenchError("proxy: bind/listen failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 { return }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: upstreamPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if connected != 0 { close(client); close(upstream); continue }
            sockets.withLock { $0 += [client, upstream] }
            Thread { [self] in pump(from: client, to: upstream, counter: toServer) }.start()
            Thread { [self] in pump(from: upstream, to: client, counter: toClient) }.start()
        }
    }

    private func pump(from source: Int32, to target: Int32, counter: Locked<Int>) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            if n <= 0 { shutdown(target, Int32(SHUT_WR)); return }
            counter.withLock { $0 += n }
            var written = 0
            while written < n {
                let w = buffer.withUnsafeBytes { write(target, $0.baseAddress! + written, n - written) }
                if w <= 0 { return }
                written += w
            }
        }
    }

    /// Bytes (to server, to client) that `body` caused.
    func count(_ body: () async throws -> Void) async rethrows -> (request: Int, response: Int) {
        let up = toServer.current, down = toClient.current
        try await body()
        return (toServer.current - up, toClient.current - down)
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for fd in sockets.withLock({ $0 }) { shutdown(fd, Int32(SHUT_RDWR)) }
    }
}

/// Wire cost of a one-field edit of a ~1 KB record: the push that carries it and the pull
/// that brings it to another device, measured through a counting proxy.
enum WireScenario {
    struct Cost { var request: Int; var response: Int; var requestBody: Int; var responseBody: Int }

    static func run(_ sizes: Sizes, _ report: Report) async throws {
        let scratch = try Scratch("wire")
        defer { scratch.remove() }
        let database = scratch.path("server.sqlite").path
        let scope = DataGenerator.locations[0]
        let (writerToken, readerToken) = try await {
            let storage = try SQLiteSyncStorage(path: database)
            try await storage.migrate()
            return (try await ServerFixture.token(storage, user: "Anna de Vries", role: .carer, scopes: [scope]),
                    try await ServerFixture.token(storage, user: "Joost Bakker", role: .carer, scopes: [scope]))
        }()
        let server = try ServerFixture.serve(database: database)
        Cleanup.shared.add("wire-server") { server.stop() }
        defer { server.stop(); Cleanup.shared.remove("wire-server") }
        let proxy = try CountingProxy(upstreamPort: server.url.port!)
        defer { proxy.stop() }
        let viaProxy = URL(string: "http://127.0.0.1:\(proxy.port)")!

        // The writer's record: a ~1 KB visit note of its own.
        let generator = DataGenerator()
        let replica = DataGenerator.replica(500)
        var random = SeededRandom(seed: 42)
        // A care plan: a ~1 KB state (a visit note has more fields, so more per-field metadata).
        var state = RecordState(id: RecordIDs.make(), type: "carePlan", scope: scope)
        state.edit(generator.fields(11, &random), replica: replica, author: "Anna de Vries", time: WallClock.now())
        let writer = HTTPTransport(server: server.url, token: writerToken)
        _ = try await writer.push(PushRequest(replica: replica, batch: UUID().uuidString.lowercased(), records: [state]))
        let reader = HTTPTransport(server: server.url, token: readerToken)
        var cursor = try await reader.pull(since: "0", limit: 500).cursor
        let recordBytes = try StableJSON.encode(state).count

        let session = URLSession(configuration: .ephemeral)
        defer { session.finishTasksAndInvalidate() }
        var results: [String: (push: Cost, pull: Cost)] = [:]
        var edit = 0
        func oneEdit() -> RecordState {
            edit += 1
            state.edit(["lastDiscussedAt": .string(String(format: "2026-02-%02d", 1 + edit % 28))], replica: replica, author: "Anna de Vries",
                       time: WallClock.now())
            return state
        }

        // The edit goes as a delta (SPEC.md, "Deltas") against the state the server served
        // the writer last: after a sync (push, then pull) that is the writer's own state
        // before the edit. The whole state's body is counted beside it.
        var wholeBodies: [Double] = [], wholePullBodies: [Double] = []
        for mode in ["identity", "gzip"] {
            var pushCosts: [Cost] = [], pullCosts: [Cost] = []
            for _ in 0..<max(3, sizes.repetitions) {
                let base = state
                let edited = oneEdit()
                guard let delta = RecordDelta.between(base, edited) else { throw BenchError("wire: the edit makes no delta") }
                let body = try StableJSON.encode(PushRequest(replica: replica, batch: UUID().uuidString.lowercased(), records: [], deltas: [delta]))
                if mode == "identity" {
                    wholeBodies.append(Double(try StableJSON.encode(PushRequest(replica: replica, batch: UUID().uuidString.lowercased(),
                                                                                records: [edited])).count))
                }
                var request = URLRequest(url: viaProxy.appendingPathComponent("v1/push"))
                request.httpMethod = "POST"
                request.setValue("application/json", forHTTPHeaderField: "Content-Type")
                request.setValue("Bearer \(writerToken)", forHTTPHeaderField: "Authorization")
                request.setValue("application/json", forHTTPHeaderField: "Accept")
                request.setValue(mode, forHTTPHeaderField: "Accept-Encoding")
                if mode == "gzip" {
                    request.setValue("gzip", forHTTPHeaderField: "Content-Encoding")
                    var buffer = ByteBuffer(bytes: body)
                    request.httpBody = Data(try buffer.compress(with: .gzip).readableBytesView)
                } else {
                    request.httpBody = body
                }
                var responseBody = 0
                let push = try await proxy.count {
                    let (data, response) = try await session.data(for: request)
                    guard (response as? HTTPURLResponse)?.statusCode == 200 else { throw BenchError("wire push: \(String(decoding: data, as: UTF8.self))") }
                    responseBody = (response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Content-Length").flatMap(Int.init) ?? data.count
                }
                pushCosts.append(Cost(request: push.request, response: push.response, requestBody: request.httpBody!.count, responseBody: responseBody))

                // The reader holds the state before the edit: the edit comes as a pull delta
                // (SPEC.md, "Pull deltas"). The whole state's body is counted beside it.
                var components = URLComponents(url: viaProxy.appendingPathComponent("v1/pull"), resolvingAgainstBaseURL: false)!
                components.queryItems = [URLQueryItem(name: "since", value: cursor), URLQueryItem(name: "limit", value: "500")]
                if mode == "identity" {
                    var whole = URLRequest(url: components.url!)
                    whole.setValue("Bearer \(readerToken)", forHTTPHeaderField: "Authorization")
                    whole.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
                    wholePullBodies.append(Double(try await session.data(for: whole).0.count))
                }
                components.queryItems?.append(URLQueryItem(name: "deltas", value: "1"))
                var pullRequest = URLRequest(url: components.url!)
                pullRequest.setValue("Bearer \(readerToken)", forHTTPHeaderField: "Authorization")
                pullRequest.setValue("application/json", forHTTPHeaderField: "Accept")
                pullRequest.setValue(mode, forHTTPHeaderField: "Accept-Encoding")
                var pulledBody = 0
                let pull = try await proxy.count {
                    let (data, response) = try await session.data(for: pullRequest)
                    guard (response as? HTTPURLResponse)?.statusCode == 200 else { throw BenchError("wire pull failed") }
                    let page = try StableJSON.decode(PullResponse.self, from: data)
                    guard page.records.isEmpty, page.deltas.count == 1,
                          PullDeltas.expand(page.deltas[0], digest: page.digests[0], over: base) == edited else {
                        throw BenchError("wire pull returned \(page.records.count) records and \(page.deltas.count) deltas, not the edit's delta")
                    }
                    cursor = page.cursor
                    pulledBody = (response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Content-Length").flatMap(Int.init) ?? data.count
                }
                pullCosts.append(Cost(request: pull.request, response: pull.response, requestBody: 0, responseBody: pulledBody))
            }
            results[mode] = (pushCosts.last!, pullCosts.last!)
            let label = mode == "gzip" ? "gzip" : "no gzip"
            let goal = "≤ 300 bytes"
            report.add("wire cost", "push, \(label): request body carrying the edit (a delta)", unit: "bytes",
                       values: pushCosts.map { Double($0.requestBody) }, goal: goal, check: { $0 <= 300 })
            if mode == "identity" {
                report.add("wire cost", "push, no gzip: request body if the edit went as the whole state", unit: "bytes", values: wholeBodies)
            }
            report.add("wire cost", "push, \(label): all bytes both ways (headers + bodies)", unit: "bytes",
                       values: pushCosts.map { Double($0.request + $0.response) })
            report.add("wire cost", "pull by another device, \(label): response body carrying the edit (a delta)", unit: "bytes",
                       values: pullCosts.map { Double($0.responseBody) }, goal: goal, check: { $0 <= 300 })
            if mode == "identity" {
                report.add("wire cost", "pull, no gzip: response body if the edit came as the whole state", unit: "bytes", values: wholePullBodies)
            }
            report.add("wire cost", "pull, \(label): all bytes both ways (headers + bodies)", unit: "bytes",
                       values: pullCosts.map { Double($0.request + $0.response) })
        }

        // What HTTPTransport sends today, left to URLSession's defaults.
        let defaultWriter = HTTPTransport(server: viaProxy, token: writerToken)
        let defaultReader = HTTPTransport(server: viaProxy, token: readerToken)
        let before = state
        let pushed = oneEdit()
        guard let pushedDelta = RecordDelta.between(before, pushed) else { throw BenchError("wire: the edit makes no delta") }
        let transportPush = try await proxy.count {
            _ = try await defaultWriter.push(PushRequest(replica: replica, batch: UUID().uuidString.lowercased(), records: [], deltas: [pushedDelta]))
        }
        let since = cursor
        let transportPull = try await proxy.count {
            _ = try await defaultReader.pullEncoded(since: since, limit: 500, holding: nil, deltas: since)
        }
        report.add("wire cost", "push + pull of a one-field edit as HTTPTransport sends them today", unit: "bytes",
                   values: [Double(transportPush.request + transportPush.response + transportPull.request + transportPull.response)],
                   note: "push \(transportPush.request)+\(transportPush.response), pull \(transportPull.request)+\(transportPull.response)")
        if let plain = results["identity"], let gzip = results["gzip"] {
            report.note("Wire cost, one-field edit (lastDiscussedAt) of a care plan whose state is \(recordBytes) bytes of JSON. Bytes are HTTP headers + bodies counted by a loopback proxy (request + response). No gzip: push request \(plain.push.request) (body \(plain.push.requestBody)), response \(plain.push.response) (body \(plain.push.responseBody)); pull request \(plain.pull.request), response \(plain.pull.response) (body \(plain.pull.responseBody)). Gzip: push request \(gzip.push.request) (body \(gzip.push.requestBody)), response \(gzip.push.response); pull request \(gzip.pull.request), response \(gzip.pull.response) (body \(gzip.pull.responseBody)). The push and the pull carry the edit as deltas. The server gzips a response only above 1 KiB. HTTP/1.1 headers alone are about 330 bytes per request and 150 per response, so the ≤ 300 bytes goal is read on the body that carries the edit.")
        }
    }
}
