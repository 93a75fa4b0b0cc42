import CZlib
import Foundation

/// gzip (RFC 1952) through the system's zlib: the client core compresses a push body
/// above ``threshold`` before it goes out (`Content-Encoding: gzip`, which every Veld server
/// takes). A first push of hundreds of records shrinks several times; a one-field delta is
/// below the threshold and goes as it is.
public enum Gzip {
    /// Bodies up to this many bytes go uncompressed: below it the gzip header and a
    /// second pass cost more than they save.
    public static let threshold = 1_024

    /// `data` gzip-compressed, or nil when zlib fails (the caller sends it as it is). Level 1,
    /// zlib's fastest: a push's JSON (ids, dots, repeated keys) shrinks nearly as much as
    /// at the default level, for a fraction of the time.
    public static func compress(_ data: Data, level: Int32 = 1) -> Data? {
        var stream = z_stream()
        // windowBits 15 + 16: a gzip wrapper rather than zlib's own.
        guard deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
                            Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(data.count))) + 64)
        let status: Int32 = data.withUnsafeBytes { (input: UnsafeRawBufferPointer) -> Int32 in
            output.withUnsafeMutableBytes { (out: UnsafeMutableRawBufferPointer) -> Int32 in
                stream.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
                stream.avail_in = uInt(input.count)
                stream.next_out = out.bindMemory(to: Bytef.self).baseAddress
                stream.avail_out = uInt(out.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { return nil }
        return Data(output.prefix(Int(stream.total_out)))
    }

    /// A gzip stream's content, or nil when it is not one (for tests and tools).
    public static func decompress(_ data: Data, limit: Int = 64 << 20) -> Data? {
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var result = Data()
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var input = [UInt8](data)
        return input.withUnsafeMutableBufferPointer { (source: inout UnsafeMutableBufferPointer<UInt8>) -> Data? in
            stream.next_in = source.baseAddress
            stream.avail_in = uInt(source.count)
            while true {
                let status: Int32 = chunk.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk.count - Int(stream.avail_out)
                result.append(contentsOf: chunk.prefix(produced))
                guard result.count <= limit else { return nil }
                if status == Z_STREAM_END { return result }
                guard status == Z_OK, produced > 0 || stream.avail_in > 0 else { return nil }
            }
        }
    }
}
