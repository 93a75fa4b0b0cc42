import Foundation

/// The one JSON form of everything Veld sends or stores: keys sorted, dates ISO 8601 in
/// UTC without fractions, slashes unescaped. Two implementations that follow it produce
/// byte-identical encodings of the same value.
///
/// ```swift
/// let data = try StableJSON.encode(state)
/// let back = try StableJSON.decode(RecordState.self, from: data)
/// ```
public enum StableJSON {
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty
            ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
            : [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    public static func encode<T: Encodable>(_ value: T, pretty: Bool = false) throws -> Data {
        try encoder(pretty: pretty).encode(value)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try decoder().decode(type, from: data)
    }

    /// The encoding as a string; for values that always encode (no throwing members).
    static func string<T: Encodable>(_ value: T) -> String {
        (try? encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }
}
