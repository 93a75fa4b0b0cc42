import CompressNIO
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import VeldProtocol

/// Reading and writing JSON bodies, gzip-encoded or not, within the body size limit.
enum JSONBody {
    static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        try decode(type, from: try await body(of: request))
    }

    /// The request body, unzipped when it came gzip-encoded, within the size limit, or a
    /// 408 (and the connection closed) when it has not arrived whole within `deadline`.
    static func body(of request: Request, deadline: Duration = .seconds(120)) async throws -> ByteBuffer {
        let incoming = request.body
        var buffer = try await withDeadline(deadline, orThrow: Problem(
            type: .timeout, status: 408,
            detail: "the request body did not arrive within \(deadline.components.seconds) s; send smaller batches (veld sync --batch-size) or try again on a better connection")) {
            try await incoming.collect(upTo: SyncLimits.maxBodyBytes)
        }
        if let encoding = request.headers[.contentEncoding]?.lowercased(), encoding != "identity" {
            guard encoding == "gzip" else {
                throw Problem(type: .malformed, status: 415, detail: "Content-Encoding \(encoding) is not supported; send gzip or nothing")
            }
            let tooLarge = Problem(type: .tooLarge, status: 413,
                                   detail: "the body is larger than \(SyncLimits.maxBodyBytes / 1_048_576) MiB once unzipped; send fewer records per batch")
            do {
                buffer = try buffer.decompress(with: .gzip, maxSize: SyncLimits.maxBodyBytes)
            } catch let error as CompressNIOError where error == .bufferOverflow {
                throw tooLarge
            } catch {
                throw Problem(type: .malformed, status: 400, detail: "the body says Content-Encoding: gzip but is not valid gzip")
            }
            // The decompressor allocates in steps, so check the exact size as well.
            if buffer.readableBytes > SyncLimits.maxBodyBytes { throw tooLarge }
        }
        return buffer
    }

    /// A push body through the strict reader only (protocol/RecordStateJSON+Reader.swift):
    /// what it refuses is a 400 with its reason, and an entry time in another form than
    /// `YYYY-MM-DDTHH:MM:SSZ` is a 422 naming the record. Nothing else gets a say, so no
    /// second reader can accept what this one refused.
    static func decodePush(from buffer: ByteBuffer) throws -> PushRequest {
        let read: (request: PushRequest, invalid: [Problem.Item])
        do {
            read = try RecordStateJSON.readPush(Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            throw Problem(type: .malformed, status: 400, detail: "the body is not a valid PushRequest: \(describe(error))")
        }
        if !read.invalid.isEmpty {
            throw Problem.invalidRecords(Array(read.invalid.prefix(100)), total: read.invalid.count)
        }
        return read.request
    }

    static func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        do {
            return try StableJSON.decode(type, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            throw Problem(type: .malformed, status: 400, detail: "the body is not a valid \(type): \(describe(error))")
        }
    }

    static func response<T: Encodable>(_ value: T, for request: Request, status: HTTPResponse.Status = .ok) throws -> Response {
        try response(json: ByteBuffer(bytes: try StableJSON.encode(value)), for: request, status: status)
    }

    /// Bodies above this are gzipped at zlib's fastest level (1), which spends much less
    /// time on a page of 500 records (about 750 KB) for somewhat more bytes; smaller
    /// bodies (single records, push answers) keep the default level (6), where the time
    /// is small and the bytes matter more (the wire-cost figures).
    static let fastGzipAbove = 64 * 1_024

    /// A body that is stable JSON already (a pull page spliced from stored states).
    static func response(json: ByteBuffer, for request: Request, status: HTTPResponse.Status = .ok) throws -> Response {
        var buffer = json
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        let acceptsGzip = request.headers[values: .acceptEncoding].contains { $0.lowercased().contains("gzip") }
        if acceptsGzip && buffer.readableBytes > 1_024 {
            let level: ZlibConfiguration.CompressionLevel = buffer.readableBytes > fastGzipAbove ? .fastestCompression : .defaultCompressionLevel
            buffer = try buffer.compress(with: .gzip(configuration: ZlibConfiguration(compressionLevel: level)))
            headers[.contentEncoding] = "gzip"
        }
        headers[.vary] = "Accept-Encoding"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: buffer))
    }

    /// "records[2].fields.summary[0].value: a field value is …" rather than Swift's dump.
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.reduce("") { result, key in
                if let index = key.intValue { return result + "[\(index)]" }
                return result.isEmpty ? key.stringValue : result + "." + key.stringValue
            }
        }
        switch error {
        case .dataCorrupted(let context):
            let at = path(context.codingPath)
            let reason = context.underlyingError.map { _ in "not JSON" } ?? context.debugDescription
            return at.isEmpty ? reason : "\(at): \(reason)"
        case .keyNotFound(let key, let context):
            return "missing \(path(context.codingPath + [key]))"
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)): expected \(type)"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)): expected \(type), found null"
        @unknown default:
            return "\(error)"
        }
    }
}
