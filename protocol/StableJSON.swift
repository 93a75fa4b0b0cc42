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
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(InternetTime.format(date))
        }
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = InternetTime.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "Expected date string to be ISO8601-formatted.")
            }
            return date
        }
        return decoder
    }

    public static func encode<T: Encodable>(_ value: T, pretty: Bool = false) throws -> Data {
        if !pretty {
            if let state = value as? RecordState { return Data(RecordStateJSON.encode(state)) }
            if let push = value as? PushRequest { return Data(RecordStateJSON.encode(push)) }
            if let page = value as? PullResponse { return Data(RecordStateJSON.encode(page)) }
            if let changes = value as? [FieldChange] { return Data(RecordStateJSON.encode(changes)) }
        }
        return try encoder(pretty: pretty).encode(value)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        // The fast readers for the hot types; what they refuse goes through Codable, whose
        // errors name the place (records[0].fields.summary…) for the problem body.
        if type == RecordState.self, let state = (try? RecordStateJSON.decode(data)) as? T { return state }
        if type == PushRequest.self, let push = (try? RecordStateJSON.decodePush(data)) as? T { return push }
        if type == PullResponse.self, let page = (try? RecordStateJSON.decodePull(data)) as? T { return page }
        return try decoder().decode(type, from: data)
    }

    /// The encoding as a string; for values that always encode (no throwing members).
    static func string<T: Encodable>(_ value: T) -> String {
        (try? encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }
}

/// `yyyy-MM-ddTHH:mm:ssZ` in UTC, by arithmetic: the form every Veld time takes. About ten
/// dates sit in each record state, and Foundation's ISO 8601 formatter was a fifth of the
/// cost of decoding one (see BENCHMARKS.md).
public enum InternetTime {
    public static func format(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let (year, month, day) = civil(days: days)
        guard (0...9999).contains(year) else { return fallbackFormatter().string(from: date) }
        return written(year: year, month: month, day: day, secondOfDay: seconds - days * 86_400,
                       separator: UInt8(ascii: "T"), millisecond: nil, suffix: UInt8(ascii: "Z"))
    }

    /// The civil date `days` days after 1970-01-01 (before it when negative), by Howard
    /// Hinnant's algorithm.
    public static func civil(days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// `yyyy-MM-dd` + `separator` + `HH:mm:ss`, then `.SSS` when a millisecond is given,
    /// then `suffix` when given: the fixed-width forms of Veld's times and GRDB's.
    public static func written(year: Int64, month: Int64, day: Int64, secondOfDay: Int64, separator: UInt8,
                               millisecond: Int64?, suffix: UInt8?) -> String {
        let count = 19 + (millisecond == nil ? 0 : 4) + (suffix == nil ? 0 : 1)
        return String(unsafeUninitializedCapacity: count) { bytes in
            func put(_ value: Int64, at offset: Int, digits: Int) {
                var value = value
                for index in stride(from: offset + digits - 1, through: offset, by: -1) {
                    bytes[index] = UInt8(48 + value % 10)
                    value /= 10
                }
            }
            put(year, at: 0, digits: 4); bytes[4] = UInt8(ascii: "-")
            put(month, at: 5, digits: 2); bytes[7] = UInt8(ascii: "-")
            put(day, at: 8, digits: 2); bytes[10] = separator
            put(secondOfDay / 3600, at: 11, digits: 2); bytes[13] = UInt8(ascii: ":")
            put(secondOfDay / 60 % 60, at: 14, digits: 2); bytes[16] = UInt8(ascii: ":")
            put(secondOfDay % 60, at: 17, digits: 2)
            if let millisecond {
                bytes[19] = UInt8(ascii: ".")
                put(millisecond, at: 20, digits: 3)
            }
            if let suffix { bytes[count - 1] = suffix }
            return count
        }
    }

    /// The fast form, or anything else ISO 8601 internet time allows (offsets) through
    /// Foundation; nil when it is not a date.
    public static func parse(_ text: String) -> Date? {
        var text = text
        if let date = text.withUTF8({ parseFast($0) }) { return date }
        // The plain UTC form that names no real moment (Feb 29 in 2026, hour 24) is
        // refused here; Foundation would roll it over.
        if text.utf8.count == 20 && text.hasSuffix("Z") { return nil }
        return fallbackFormatter().date(from: text)
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` exactly, naming a real moment; nil for anything else.
    public static func parseCanonical(_ bytes: UnsafeBufferPointer<UInt8>) -> Date? {
        parseFast(bytes)
    }

    private static func parseFast(_ bytes: UnsafeBufferPointer<UInt8>) -> Date? {
        guard bytes.count == 20, bytes[4] == 45, bytes[7] == 45, bytes[10] == 84, bytes[13] == 58, bytes[16] == 58,
              bytes[19] == 90 else { return nil }
        func number(_ offset: Int, _ digits: Int) -> Int64? {
            var value: Int64 = 0
            for index in offset..<(offset + digits) {
                let digit = bytes[index] &- 48
                guard digit < 10 else { return nil }
                value = value * 10 + Int64(digit)
            }
            return value
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
              let minute = number(14, 2), let second = number(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60 else { return nil }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let lengths: [Int64] = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard day <= lengths[Int(month - 1)] else { return nil }
        // Days since 1970-01-01 from a civil date (H. Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return Date(timeIntervalSince1970: Double(days * 86_400 + hour * 3600 + minute * 60 + second))
    }

    /// A new one each time (formatters are not safe to share between threads); only
    /// unusual input gets here.
    private static func fallbackFormatter() -> ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter
    }
}
