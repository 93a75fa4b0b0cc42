import CompressNIO
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GRDB
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import VeldProtocol

/// The floor of a first sync: the same page bodies the real server sends, served over
/// loopback HTTP by a server that does nothing but hand out pre-encoded bytes (gzip when
/// asked, by the same rule as the real server), fetched by URLSession, and each page's
/// record states inserted raw into SQLite (one transaction per page, WAL,
/// synchronous=FULL). No JSON is parsed or produced on either side.
enum Floor {
    struct Page {
        var since: String
        var next: String
        var more: Bool
        var body: Data
    }

    /// Fetches every page from the real server as a new device would and keeps the bodies
    /// in `folder`: `page-N.json`, `index.txt` (since, next, more), `records.bin` (per
    /// page: count, then id and state of each record, length-prefixed).
    static func capture(server: URL, token: String, pageSize: Int, into folder: URL) async throws -> (pages: Int, bytes: Int) {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let session = URLSession(configuration: .ephemeral)
        defer { session.finishTasksAndInvalidate() }
        var cursor = "0"
        var index = ""
        var records = Data()
        var page = 0
        var bytes = 0
        while page < 100_000 {
            var components = URLComponents(url: server.appendingPathComponent("v1/pull"), resolvingAgainstBaseURL: false)!
            components.queryItems = [URLQueryItem(name: "since", value: cursor), URLQueryItem(name: "limit", value: String(pageSize))]
            var request = URLRequest(url: components.url!)
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            request.setValue("application/json", forHTTPHeaderField: "Accept")
            let (data, response) = try await session.data(for: request)
            guard (response as? HTTPURLResponse)?.statusCode == 200 else { throw BenchError("capturing pages: \(response)") }
            let decoded = try StableJSON.decode(PullResponse.self, from: data)
            try data.write(to: folder.appendingPathComponent("page-\(page).json"))
            index += "\(cursor) \(decoded.cursor) \(decoded.more ? 1 : 0)\n"
            append(UInt32(decoded.records.count), to: &records)
            for state in decoded.records {
                let json = try StableJSON.encode(state)
                append(UInt32(state.id.utf8.count), to: &records)
                records.append(Data(state.id.utf8))
                append(UInt32(json.count), to: &records)
                records.append(json)
            }
            bytes += data.count
            page += 1
            guard decoded.more else { break }
            cursor = decoded.cursor
        }
        try Data(index.utf8).write(to: folder.appendingPathComponent("index.txt"))
        try records.write(to: folder.appendingPathComponent("records.bin"))
        return (page, bytes)
    }

    static func append(_ value: UInt32, to data: inout Data) {
        withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) }
    }

    static func loadPages(_ folder: URL) throws -> [Page] {
        let index = try String(contentsOf: folder.appendingPathComponent("index.txt"), encoding: .utf8)
        return try index.split(separator: "\n").enumerated().map { n, line in
            let parts = line.split(separator: " ").map(String.init)
            return Page(since: parts[0], next: parts[1], more: parts[2] == "1",
                        body: try Data(contentsOf: folder.appendingPathComponent("page-\(n).json")))
        }
    }

    /// Per page, the (id, state) pairs of its records.
    static func loadRecords(_ folder: URL) throws -> [[(String, Data)]] {
        let data = try Data(contentsOf: folder.appendingPathComponent("records.bin"))
        var offset = 0
        func u32() -> Int {
            let value = data[offset..<offset + 4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            offset += 4
            return Int(UInt32(littleEndian: value))
        }
        var pages: [[(String, Data)]] = []
        while offset < data.count {
            let count = u32()
            var page: [(String, Data)] = []
            page.reserveCapacity(count)
            for _ in 0..<count {
                let idLength = u32()
                let id = String(decoding: data[offset..<offset + idLength], as: UTF8.self)
                offset += idLength
                let stateLength = u32()
                page.append((id, Data(data[offset..<offset + stateLength])))
                offset += stateLength
            }
            pages.append(page)
        }
        return pages
    }

    /// `floor-server PAGES`: serves the captured pages at GET /v1/pull?since=…, the next
    /// cursor in `x-next` and `x-more`, until SIGTERM.
    static func serve(pages folder: URL) async throws {
        let pages = try loadPages(folder)
        var plain: [String: (ByteBuffer, ByteBuffer, Page)] = [:]
        for page in pages {
            let buffer = ByteBuffer(bytes: page.body)
            var copy = buffer
            plain[page.since] = (buffer, try copy.compress(with: .gzip), page)
        }
        let bySince = plain
        let router = Router()
        router.get("/v1/pull") { request, _ -> Response in
            let since = request.uri.queryParameters["since"].map(String.init) ?? "0"
            guard let (body, gzipped, page) = bySince[since] else { return Response(status: .notFound) }
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            headers[HTTPField.Name("x-next")!] = page.next
            headers[HTTPField.Name("x-more")!] = page.more ? "1" : "0"
            let acceptsGzip = request.headers[values: .acceptEncoding].contains { $0.lowercased().contains("gzip") }
            if acceptsGzip && body.readableBytes > 1_024 {
                headers[.contentEncoding] = "gzip"
                return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: gzipped))
            }
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: body))
        }
        var logger = Logger(label: "floor-server")
        logger.logLevel = .warning
        let app = Application(router: router, configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in
                                  FileHandle.standardOutput.write(Data("floor-server listening on http://127.0.0.1:\(channel.localAddress?.port ?? 0)\n".utf8))
                              }, logger: logger)
        try await app.runService()
    }

    /// `floor-client URL PAGES HOME`: fetches every page, inserting each page's records raw
    /// in one transaction. The records come from `records.bin`, read before the clock
    /// starts, so nothing is parsed while timing.
    static func client(server: URL, pages folder: URL, home: URL) async throws {
        let records = try loadRecords(folder)
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let database = try RawTable(path: home.appendingPathComponent("floor.sqlite").path)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 60
        let session = URLSession(configuration: configuration)
        var received = 0
        var inserted = 0
        let seconds = try await measureAsync {
            var cursor = "0"
            var page = 0
            while page < records.count {
                var components = URLComponents(url: server.appendingPathComponent("v1/pull"), resolvingAgainstBaseURL: false)!
                components.queryItems = [URLQueryItem(name: "since", value: cursor), URLQueryItem(name: "limit", value: "500")]
                var request = URLRequest(url: components.url!)
                request.setValue("Bearer floor", forHTTPHeaderField: "Authorization")
                request.setValue("application/json", forHTTPHeaderField: "Accept")
                let (data, response) = try await session.data(for: request)
                guard let http = response as? HTTPURLResponse, http.statusCode == 200,
                      let next = http.value(forHTTPHeaderField: "x-next") else { throw BenchError("floor page \(page) failed") }
                received += data.count
                try database.insert(records[page])
                inserted += records[page].count
                page += 1
                if http.value(forHTTPHeaderField: "x-more") != "1" { break }
                cursor = next
            }
        }
        session.finishTasksAndInvalidate()
        try ClientCommands.print(ClientResult(seconds: seconds, records: inserted, peakRSS: peakRSS(), bytes: received))
    }
}

/// A table of (id, state) with the client's pragmas (WAL through a pool, synchronous=FULL):
/// the raw insert the offline-capture and first-sync floors measure.
final class RawTable: @unchecked Sendable {
    let pool: DatabasePool

    init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        pool = try DatabasePool(path: path, configuration: configuration)
        try pool.write { db in
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS record (id TEXT PRIMARY KEY, state TEXT NOT NULL)")
        }
    }

    /// One transaction for all of `rows`.
    func insert(_ rows: some Collection<(String, Data)>) throws {
        try pool.write { db in
            let statement = try db.cachedStatement(sql: "INSERT OR REPLACE INTO record (id, state) VALUES (?, ?)")
            for (id, state) in rows {
                try statement.execute(arguments: [id, String(decoding: state, as: UTF8.self)])
            }
        }
    }

    func close() throws { try pool.close() }
}
