import Foundation
import PropertyBased
import Testing
import VeldCore
import VeldProtocol
import VeldTestSupport

/// Push bodies above a kilobyte go gzip-compressed; smaller ones (a one-field delta) go as
/// they are. What is sent decompresses to exactly the batch's stable JSON.
@Suite struct GzipPushTests {
    /// Keeps each request and answers every push as accepted.
    final class Capture: HTTPExchange, @unchecked Sendable {
        private let lock = NSLock()
        private var requests: [HTTPExchangeRequest] = []
        var sent: [HTTPExchangeRequest] { lock.withLock { requests } }

        func send(_ request: HTTPExchangeRequest) async throws -> HTTPExchangeAnswer {
            lock.withLock { requests.append(request) }
            return HTTPExchangeAnswer(status: 200, headers: ["Content-Type": "application/json"],
                                      body: Data(#"{"batch":"b","results":[]}"#.utf8))
        }
    }

    static func notes(_ count: Int) -> [RecordState] {
        (0..<count).map { index in
            var state = RecordState(id: RecordIDs.make(), type: "visitNote", scope: "loc-zonnehof")
            state.edit(["visitedAt": .string("2026-11-20"), "visitor": .string("anna"), "kind": .string("werkbezoek"),
                        "summary": .string("Rondgang \(index)"), "status": .string("concept"),
                        "observations": .string("Bewoners zaten samen aan de koffie; er was muziek in de huiskamer.")],
                       replica: "r-anna", author: "anna", time: Date(timeIntervalSince1970: 1_795_168_800))
            return state
        }
    }

    @Test func aLargeBatchGoesGzippedASmallOneAsItIs() async throws {
        let capture = Capture()
        let transport = HTTPTransport(server: URL(string: "http://127.0.0.1:9")!, token: "veld_test", exchange: capture)
        let large = PushRequest(replica: "r-anna", batch: UUID().uuidString.lowercased(), records: Self.notes(40))
        _ = try await transport.push(large)
        let small = PushRequest(replica: "r-anna", batch: UUID().uuidString.lowercased(), records: Self.notes(1))
        _ = try await transport.push(small)

        let sent = capture.sent
        #expect(sent.count == 2)
        let gzipped = try #require(sent.first)
        let json = Data(RecordStateJSON.encode(large))
        #expect(gzipped.headers.contains { $0.name == "Content-Encoding" && $0.value == "gzip" })
        let body = try #require(gzipped.body)
        #expect(body.prefix(2) == Data([0x1f, 0x8b]))
        #expect(Gzip.decompress(body) == json)
        #expect(body.count * 4 < json.count, "\(json.count) bytes of JSON went as \(body.count)")

        let plain = try #require(sent.last)
        #expect(!plain.headers.contains { $0.name == "Content-Encoding" })
        #expect(plain.body == Data(RecordStateJSON.encode(small)) && plain.body!.count <= Gzip.threshold)
    }

    @Test func gzipRoundTrips() async {
        await checkProperty(count: 100, input: Gen.int(in: 0...255).array(of: 0...5_000), Gen.int(in: 1...40)) { bytes, repeats in
            let data = Data((0..<repeats).flatMap { _ in bytes.map(UInt8.init) })
            let compressed = try #require(Gzip.compress(data))
            #expect(Gzip.decompress(compressed) == data)
        }
        #expect(Gzip.decompress(Data("not gzip".utf8)) == nil)
    }
}
