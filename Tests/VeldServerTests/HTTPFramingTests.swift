import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HummingbirdTesting
import Testing
import VeldProtocol
import VeldServer

/// Bytes on a real loopback socket, for what no HTTP client will send: broken framing and
/// connections that say nothing.
@Suite struct HTTPFramingTests {
    static func seconds(_ n: Int) -> timeval {
        var time = timeval()
        time.tv_sec = n
        return time
    }

    /// Sends `request` on a new connection to 127.0.0.1:`port` and reads until the server
    /// closes it or `patience` passes; nil when nothing came back in time. The blocking
    /// socket runs on a thread of its own: on the cooperative pool it would starve the
    /// in-process server it talks to.
    static func exchange(_ request: String, port: Int, patience: Int = 10) async throws -> String? {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try blockingExchange(request, port: port, patience: patience) })
            }
        }
    }

    /// A TCP connection to 127.0.0.1:`port` whose reads wait at most `receiveTimeout`.
    static func connectLoopback(port: Int, receiveTimeout: timeval) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        var timeout = receiveTimeout
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if connected != 0 { close(fd) }
        try #require(connected == 0)
        return fd
    }

    static func blockingExchange(_ request: String, port: Int, patience: Int) throws -> String? {
        let fd = try connectLoopback(port: port, receiveTimeout: Self.seconds(patience))
        defer { close(fd) }
        let bytes = Array(request.utf8)
        if !bytes.isEmpty { _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        // Bounded: at most 256 reads, each waiting at most `patience` seconds.
        for _ in 0..<256 {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count == 0 { return String(decoding: answer, as: UTF8.self) }  // closed by the server
            if count < 0 { return answer.isEmpty ? nil : String(decoding: answer, as: UTF8.self) }
            answer += buffer[0..<count]
        }
        return String(decoding: answer, as: UTF8.self)
    }

    @Test(arguments: [
        "Transfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFFFF\r\nx\r\n0\r\n\r\n",
    ])
    func brokenFramingIs400(_ tail: String) async throws {
        try await TestServer.run(.live) { client, server in
            let port = try #require(client.port)
            let request = "POST /v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: \(server.anna.bearer)\r\nContent-Type: application/json\r\n" + tail
            // Patient: on a machine busy with the rest of the suite the answer can take a
            // while; it comes back as soon as the server answers and closes.
            let answer = try #require(try await Self.exchange(request, port: port, patience: 60), "no answer")
            #expect(answer.hasPrefix("HTTP/1.1 400"), "answer: \(answer.prefix(200))")
            #expect(!answer.contains(" 500 "))
            #expect(try await server.storage.headPosition() == 0)
        }
    }

    /// `Expect: 100-continue` gets `100 Continue` before the final answer; a request sent
    /// behind another on one connection (pipelining) gets its `100 Continue` only after the
    /// answer to the one before it, never ahead of it.
    @Test func a100ContinueComesInTurn() async throws {
        try await TestServer.run(.live) { client, server in
            let port = try #require(client.port)
            let alone = "POST /v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: \(server.anna.bearer)\r\nExpect: 100-continue\r\n"
                + "Content-Length: 2\r\nConnection: close\r\n\r\n{}"
            let first = try #require(try await Self.exchange(alone, port: port, patience: 60), "no answer")
            #expect(first.hasPrefix("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 400"), "answer: \(first.prefix(120))")
            let behind = "GET /v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: \(server.anna.bearer)\r\n\r\n" + alone
            let both = try #require(try await Self.exchange(behind, port: port, patience: 60), "no answer")
            #expect(both.hasPrefix("HTTP/1.1 200"), "answer: \(both.prefix(120))")
            let me = try #require(both.range(of: "HTTP/1.1 200")), proceed = try #require(both.range(of: "HTTP/1.1 100 Continue"))
            let refused = try #require(both.range(of: "HTTP/1.1 400"))
            #expect(me.lowerBound < proceed.lowerBound && proceed.lowerBound < refused.lowerBound)
        }
    }

    /// A connection that sends nothing is closed after the idle timeout, so a few thousand
    /// of them cannot hold the server's connections forever.
    @Test func aSilentConnectionIsClosed() async throws {
        try await TestServer.run(.live, idleTimeout: .seconds(1)) { client, _ in
            let port = try #require(client.port)
            let answer = try await Self.exchange("", port: port, patience: 20)
            #expect(answer == "", "the server kept a silent connection open")
            let halfHeaders = try await Self.exchange("GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n", port: port, patience: 20)
            #expect(halfHeaders == "", "the server kept a connection with half its headers open")
        }
    }

    /// A body trickled a byte every 200 ms never goes idle, but it must arrive whole
    /// within the body deadline: past it the answer is 408 and the connection is closed.
    @Test func aTrickledBodyIsCutOffAtTheDeadline() async throws {
        try await TestServer.run(.live, idleTimeout: .seconds(30), bodyDeadline: .seconds(2)) { client, server in
            let port = try #require(client.port)
            let head = "POST /v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: \(server.anna.bearer)\r\n"
                + "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
            let started = Date()
            let answer = try await withCheckedThrowingContinuation { continuation in
                Thread.detachNewThread {
                    continuation.resume(with: Result { try Self.trickle(head, port: port) })
                }
            }
            let elapsed = Date().timeIntervalSince(started)
            // The answer, unless a byte sent just as the server closed made its kernel reset the
            // connection (which drops the answer unread on this side): then the cut-off itself,
            // after the deadline, is what shows.
            if answer.isEmpty {
                #expect(elapsed >= 1.5, "the connection ended before the body deadline")
            } else {
                #expect(answer.hasPrefix("HTTP/1.1 408"), "answer: \(answer.prefix(200))")
                #expect(answer.contains("request-timeout"))
            }
            // Bounded: well before the 30 s idle timeout, or the 100,000 bytes' 5.5 hours.
            #expect(elapsed < 25)
            #expect(try await server.storage.headPosition() == 0)
        }
    }

    /// Sends `head`, then one byte every 200 ms (at most 100 of them) until the server
    /// answers; returns the answer.
    static func trickle(_ head: String, port: Int) throws -> String {
        let fd = try connectLoopback(port: port, receiveTimeout: { var time = timeval(); time.tv_usec = 200_000; return time }())
        defer { close(fd) }
        let bytes = Array(head.utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<100 {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count > 0 { answer += buffer[0..<count] }
            if count == 0 || (count < 0 && !answer.isEmpty) { break }
            if count < 0 && errno != EAGAIN && errno != EWOULDBLOCK { break }  // reset: the server closed
            // Nothing to send into an answer that is already arriving.
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&ready, 1, 0) > 0 { continue }
            var byte: UInt8 = 0x20
            if send(fd, &byte, 1, Int32(MSG_NOSIGNAL)) < 0 { break }
        }
        return String(decoding: answer, as: UTF8.self)
    }
}
