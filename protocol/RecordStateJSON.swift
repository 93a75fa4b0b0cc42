import Foundation

/// Record states to and from stable JSON without `Codable`.
///
/// Every sync moves record states through JSON, and Foundation's generic coders spend most
/// of their time in the machinery rather than in the bytes (BENCHMARKS.md: decoding alone
/// was half of a merge round trip). This writes exactly what `JSONEncoder` writes with
/// `StableJSON`'s settings (keys sorted, slashes unescaped, control characters as
/// `\u00xx`, dates as whole-second UTC), byte for byte, and reads any JSON that the
/// `Codable` form accepts for a state. `StableJSON.encode`/`decode` use it for states.
public enum RecordStateJSON {
    public static func encode(_ state: RecordState) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        out.append(contentsOf: #"{"context":{"#.utf8)
        var first = true
        for (replica, counter) in state.context.counters.sorted(by: { $0.key < $1.key }) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            writeString(replica, to: &out)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: String(counter).utf8)
        }
        out.append(contentsOf: #"},"fields":{"#.utf8)
        first = true
        for (name, entries) in state.fields.sorted(by: { $0.key < $1.key }) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            writeString(name, to: &out)
            out.append(contentsOf: ":[".utf8)
            for (index, entry) in entries.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                writeEntry(entry, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(contentsOf: #"},"id":"#.utf8)
        writeString(state.id, to: &out)
        out.append(contentsOf: #","scope":"#.utf8)
        writeString(state.scope, to: &out)
        out.append(contentsOf: #","type":"#.utf8)
        writeString(state.type, to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    static func writeEntry(_ entry: FieldEntry, to out: inout [UInt8]) {
        out.append(contentsOf: #"{"author":"#.utf8)
        writeString(entry.author, to: &out)
        out.append(contentsOf: #","dot":{"counter":"#.utf8)
        out.append(contentsOf: String(entry.dot.counter).utf8)
        out.append(contentsOf: #","replica":"#.utf8)
        writeString(entry.dot.replica, to: &out)
        out.append(contentsOf: #"},"time":""#.utf8)
        out.append(contentsOf: InternetTime.format(entry.time).utf8)
        out.append(contentsOf: #"","value":"#.utf8)
        writeValue(entry.value, to: &out)
        out.append(UInt8(ascii: "}"))
    }

    static func writeValue(_ value: FieldValue, to out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .string(let text): writeString(text, to: &out)
        case .strings(let list):
            out.append(UInt8(ascii: "["))
            for (index, text) in list.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                writeString(text, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
    }

    /// A history entry's field changes: `[{"field":…,"kept":[…],"new":[…],"old":[…]}]`.
    public static func encode(_ changes: [FieldChange]) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "[")]
        func values(_ list: [FieldValue]) {
            out.append(UInt8(ascii: "["))
            for (index, value) in list.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                writeValue(value, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        for (index, change) in changes.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"field":"#.utf8)
            writeString(change.field, to: &out)
            out.append(contentsOf: #","kept":"#.utf8)
            values(change.kept)
            out.append(contentsOf: #","new":["#.utf8)
            for (position, entry) in change.new.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                writeEntry(entry, to: &out)
            }
            out.append(contentsOf: #"],"old":"#.utf8)
            values(change.old)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    private static let hex = Array("0123456789abcdef".utf8)

    static func writeString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): out.append(contentsOf: [92, 92])
            case 0x0A: out.append(contentsOf: [92, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [92, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [92, UInt8(ascii: "t")])
            case 0x08: out.append(contentsOf: [92, UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [92, UInt8(ascii: "f")])
            case 0..<0x20:
                out.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    public static func decode(_ data: Data) throws -> RecordState {
        try parse(data) { try $0.recordState() }
    }

    /// A push body: `{"batch":…,"records":[…],"replica":…}`.
    public static func encode(_ push: PushRequest) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(push.records.count * 1500 + 100)
        out.append(contentsOf: #"{"batch":"#.utf8)
        writeString(push.batch, to: &out)
        out.append(contentsOf: #","records":["#.utf8)
        for (index, state) in push.records.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: encode(state))
        }
        out.append(contentsOf: #"],"replica":"#.utf8)
        writeString(push.replica, to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    public static func decodePush(_ data: Data) throws -> PushRequest {
        try parse(data) { parser in
            var batch: String?, replica: String?, records: [RecordState]?
            try parser.object { parser, key in
                switch key {
                case "batch": batch = try parser.string()
                case "replica": replica = try parser.string()
                case "records":
                    var states: [RecordState] = []
                    try parser.array { parser in states.append(try parser.recordState()) }
                    records = states
                default: try parser.skipValue()
                }
            }
            guard let batch, let replica, let records else { throw parser.failure("a push needs batch, replica and records") }
            return PushRequest(replica: replica, batch: batch, records: records)
        }
    }

    /// A pull page: `{"cursor":…,"more":…,"records":[…]}`.
    public static func encode(_ page: PullResponse) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(page.records.count * 1500 + 100)
        out.append(contentsOf: #"{"cursor":"#.utf8)
        writeString(page.cursor, to: &out)
        out.append(contentsOf: (page.more ? #","more":true,"records":["# : #","more":false,"records":["#).utf8)
        for (index, state) in page.records.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: encode(state))
        }
        out.append(contentsOf: "]}".utf8)
        return out
    }

    public static func decodePull(_ data: Data) throws -> PullResponse {
        try parse(data) { parser in
            var cursor: String?, more: Bool?, records: [RecordState]?
            try parser.object { parser, key in
                switch key {
                case "cursor": cursor = try parser.string()
                case "more":
                    if parser.literal("true") { more = true } else if parser.literal("false") { more = false } else {
                        throw parser.failure("'more' is true or false")
                    }
                case "records":
                    var states: [RecordState] = []
                    try parser.array { parser in states.append(try parser.recordState()) }
                    records = states
                default: try parser.skipValue()
                }
            }
            guard let cursor, let more, let records else { throw parser.failure("a pull page needs cursor, more and records") }
            return PullResponse(records: records, cursor: cursor, more: more)
        }
    }

    private static func parse<T>(_ data: Data, _ body: (inout Parser) throws -> T) throws -> T {
        try data.withUnsafeBytes { raw in
            var parser = Parser(bytes: raw.bindMemory(to: UInt8.self))
            let value = try body(&parser)
            parser.skipSpace()
            guard parser.index == parser.bytes.count else { throw parser.failure("unexpected text after the JSON value") }
            return value
        }
    }
}

/// A JSON reader for exactly the shapes a record state has.
private struct Parser {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    func failure(_ what: String) -> DecodingError {
        DecodingError.dataCorrupted(DecodingError.Context(codingPath: [], debugDescription: "\(what) (at byte \(index))"))
    }

    mutating func skipSpace() {
        while index < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 }
    }

    mutating func peek() throws -> UInt8 {
        skipSpace()
        guard index < bytes.count else { throw failure("unexpected end of JSON") }
        return bytes[index]
    }

    mutating func expect(_ byte: UInt8) throws {
        guard try peek() == byte else { throw failure("expected '\(Character(Unicode.Scalar(byte)))'") }
        index += 1
    }

    /// Calls `member` for each key of an object, positioned at its value.
    mutating func object(_ member: (inout Parser, String) throws -> Void) throws {
        try expect(UInt8(ascii: "{"))
        if try peek() == UInt8(ascii: "}") { index += 1; return }
        while true {
            let key = try string()
            try expect(UInt8(ascii: ":"))
            try member(&self, key)
            let next = try peek()
            index += 1
            if next == UInt8(ascii: "}") { return }
            guard next == UInt8(ascii: ",") else { throw failure("expected ',' or '}'") }
        }
    }

    mutating func array(_ element: (inout Parser) throws -> Void) throws {
        try expect(UInt8(ascii: "["))
        if try peek() == UInt8(ascii: "]") { index += 1; return }
        while true {
            try element(&self)
            let next = try peek()
            index += 1
            if next == UInt8(ascii: "]") { return }
            guard next == UInt8(ascii: ",") else { throw failure("expected ',' or ']'") }
        }
    }

    mutating func literal(_ word: String) -> Bool {
        skipSpace()
        let utf8 = Array(word.utf8)
        guard index + utf8.count <= bytes.count, bytes[index..<(index + utf8.count)].elementsEqual(utf8) else { return false }
        index += utf8.count
        return true
    }

    mutating func string() throws -> String {
        try expect(UInt8(ascii: "\""))
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                index += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw failure("a control character inside a string") }
            index += 1
        }
        // Escapes: decode the rest byte by byte.
        var out = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(bytes: out, encoding: .utf8) else { throw failure("a string that is not UTF-8") }
                return text
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { break }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    var scalar = try hexQuad()
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard index + 2 <= bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw failure("a lone surrogate in a string")
                        }
                        index += 2
                        let low = try hexQuad()
                        guard (0xDC00..<0xE000).contains(low) else { throw failure("a lone surrogate in a string") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw failure("a lone surrogate in a string") }
                    out.append(contentsOf: String(Character(unicode)).utf8)
                default: throw failure("an unknown escape in a string")
                }
            default:
                guard byte >= 0x20 else { throw failure("a control character inside a string") }
                out.append(byte)
            }
        }
        throw failure("a string without its closing quote")
    }

    mutating func hexQuad() throws -> UInt32 {
        guard index + 4 <= bytes.count else { throw failure("a short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            index += 1
            let digit: UInt8
            switch byte {
            case 48...57: digit = byte - 48
            case 97...102: digit = byte - 87
            case 65...70: digit = byte - 55
            default: throw failure("a bad \\u escape")
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    mutating func unsigned() throws -> UInt64 {
        skipSpace()
        let start = index
        var value: UInt64 = 0
        while index < bytes.count, (48...57).contains(bytes[index]) {
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(UInt64(bytes[index] - 48))
            guard !overflow1, !overflow2 else { throw failure("a counter too large") }
            value = sum
            index += 1
        }
        guard index > start else { throw failure("expected a counter (a whole number)") }
        return value
    }

    mutating func recordState() throws -> RecordState {
        var id: String?, type: String?, scope: String?
        var context: [String: UInt64]?
        var fields: [String: [FieldEntry]]?
        try object { parser, key in
            switch key {
            case "id": id = try parser.string()
            case "type": type = try parser.string()
            case "scope": scope = try parser.string()
            case "context":
                var counters: [String: UInt64] = [:]
                try parser.object { parser, replica in counters[replica] = try parser.unsigned() }
                context = counters
            case "fields":
                var all: [String: [FieldEntry]] = [:]
                try parser.object { parser, name in
                    var entries: [FieldEntry] = []
                    try parser.array { parser in entries.append(try parser.entry()) }
                    all[name] = entries
                }
                fields = all
            default: try parser.skipValue()
            }
        }
        guard let id, let type, let scope, let context, let fields else {
            throw failure("a record state needs id, type, scope, context and fields")
        }
        return RecordState(id: id, type: type, scope: scope, context: VersionVector(context), fields: fields)
    }

    mutating func entry() throws -> FieldEntry {
        var author: String?, time: Date?, value: FieldValue?
        var replica: String?, counter: UInt64?
        try object { parser, key in
            switch key {
            case "author": author = try parser.string()
            case "time":
                let text = try parser.string()
                guard let date = InternetTime.parse(text) else { throw parser.failure("'\(text)' is not an ISO 8601 time") }
                time = date
            case "value": value = try parser.fieldValue()
            case "dot":
                try parser.object { parser, key in
                    switch key {
                    case "replica": replica = try parser.string()
                    case "counter": counter = try parser.unsigned()
                    default: try parser.skipValue()
                    }
                }
            default: try parser.skipValue()
            }
        }
        guard let author, let time, let value, let replica, let counter else {
            throw failure("a field entry needs value, dot (replica, counter), author and time")
        }
        var entry = FieldEntry(value: value, dot: Dot(replica: replica, counter: counter), author: author, time: time)
        entry.time = time  // as sent: validation reports a fractional time rather than hiding it
        return entry
    }

    mutating func fieldValue() throws -> FieldValue {
        switch try peek() {
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "["):
            var list: [String] = []
            try array { parser in list.append(try parser.string()) }
            return .strings(list)
        default:
            if literal("null") { return .null }
            if literal("true") { return .bool(true) }
            if literal("false") { return .bool(false) }
            throw failure("a field value is null, true/false, a string or a list of strings")
        }
    }

    /// Skips any JSON value (a member this version does not know).
    mutating func skipValue() throws {
        switch try peek() {
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "{"): try object { parser, _ in try parser.skipValue() }
        case UInt8(ascii: "["): try array { parser in try parser.skipValue() }
        default:
            if literal("null") || literal("true") || literal("false") { return }
            let start = index
            while index < bytes.count, "+-.eE0123456789".utf8.contains(bytes[index]) { index += 1 }
            guard index > start else { throw failure("unexpected character") }
        }
    }
}
