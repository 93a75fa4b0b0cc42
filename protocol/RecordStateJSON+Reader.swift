import Foundation

/// The strict reader for record states, push bodies and pull pages.
///
/// It reads what `Codable` (with `StableJSON.decoder()`) reads, to the same value, and
/// refuses what `Codable` refuses (a differential test over generated and mutated bodies
/// checks both). It refuses a little more, on purpose, because two readers that disagree
/// on one body are a way around a check: a key twice in one object, nesting deeper than
/// ``maxDepth``, bytes that are not UTF-8, numbers with leading zeros, and, in a push, a
/// time in any form but `YYYY-MM-DDTHH:MM:SSZ`. It never recurses deeper than
/// ``maxDepth``, so no body can exhaust the stack.
extension RecordStateJSON {
    /// Objects and arrays nest at most this deep in anything Veld reads (a push body needs 6).
    public static let maxDepth = 32

    public static func decode(_ data: Data) throws -> RecordState {
        try parse(data) { try $0.recordState() }
    }

    /// A push body: `{"batch":…,"records":[…],"replica":…}`. A time in another form than
    /// `YYYY-MM-DDTHH:MM:SSZ` is refused here; ``readPush(_:)`` names the record instead.
    public static func decodePush(_ data: Data) throws -> PushRequest {
        let (push, invalid) = try readPush(data)
        if let first = invalid.first {
            throw DecodingError.dataCorrupted(DecodingError.Context(codingPath: [], debugDescription: first.reason))
        }
        return push
    }

    /// A push body, and what makes its records invalid although they read (for a 422 that
    /// names the record and field): an entry whose time is not `YYYY-MM-DDTHH:MM:SSZ`
    /// (read with a placeholder time), two entries with one dot in a field.
    public static func readPush(_ data: Data) throws -> (request: PushRequest, invalid: [Problem.Item]) {
        try parse(data) { parser in
            parser.canonicalTimes = true
            var batch: String?, replica: String?, records: [RecordState]?
            var proven: [ProvenState] = [], recovery = false, deltas: [RecordState] = []
            try parser.object { parser, key in
                parser.topKey = key
                defer { parser.topKey = nil }
                switch key {
                case "batch": batch = try parser.string()
                case "replica": replica = try parser.string()
                case "recovery":
                    if parser.literal("true") { recovery = true } else if parser.literal("false") { recovery = false } else {
                        throw parser.failure("'recovery' is true or false")
                    }
                case "proven":
                    // States the server wrote (its times are canonical): read as it served them.
                    try parser.array { parser in
                        var proof: String?, state: RecordState?
                        try parser.object { parser, key in
                            switch key {
                            case "proof": proof = try parser.string()
                            case "state": state = try parser.recordState()
                            default: throw parser.failure("a proven state holds proof and state, not '\(key.prefix(40))'")
                            }
                        }
                        guard let proof, let state else { throw parser.failure("a proven state needs proof and state") }
                        proven.append(ProvenState(proof: proof, state: state))
                    }
                case "records":
                    var states: [RecordState] = []
                    try parser.array { parser in
                        parser.recordIndex = states.count
                        states.append(try parser.recordState())
                    }
                    parser.recordIndex = nil
                    records = states
                case "deltas": deltas = try parser.deltaStates()
                default: try parser.skipValue()
                }
            }
            guard let batch, let replica, let records else { throw parser.failure("a push needs batch, replica and records") }
            return (PushRequest(replica: replica, batch: batch, records: records, deltas: deltas, proven: proven, recovery: recovery),
                    parser.invalid)
        }
    }

    public static func decodePull(_ data: Data) throws -> PullResponse {
        try readPull(data).page
    }

    /// A pull page, with each record's JSON exactly as it came (same order): a client keeps
    /// those bytes for a record new to its store instead of encoding it again.
    public static func readPull(_ data: Data) throws -> (page: PullResponse, encoded: [String]) {
        try parse(data) { parser in
            var cursor: String?, more: Bool?, records: [RecordState]?
            var erased: [String] = [], proofs: [String] = [], deltas: [RecordState] = [], digests: [String] = []
            var encoded: [String] = []
            try parser.object { parser, key in
                parser.topKey = key
                defer { parser.topKey = nil }
                switch key {
                case "cursor": cursor = try parser.string()
                case "more":
                    if parser.literal("true") { more = true } else if parser.literal("false") { more = false } else {
                        throw parser.failure("'more' is true or false")
                    }
                case "records":
                    var states: [RecordState] = []
                    encoded = []
                    try parser.array { parser in
                        parser.recordIndex = states.count
                        parser.skipSpace()
                        let start = parser.index
                        states.append(try parser.recordState())
                        encoded.append(String(decoding: UnsafeBufferPointer(rebasing: parser.bytes[start..<parser.index]), as: UTF8.self))
                    }
                    parser.recordIndex = nil
                    records = states
                case "erased":
                    try parser.array { parser in
                        let id = try parser.string()
                        guard RecordIDs.isValid(id) else { throw parser.failure("an erased record's id is a lowercase UUID") }
                        erased.append(id)
                    }
                case "proofs":
                    try parser.array { parser in proofs.append(try parser.string()) }
                case "deltas": deltas = try parser.deltaStates()
                case "digests":
                    try parser.array { parser in digests.append(try parser.string()) }
                default: try parser.skipValue()
                }
            }
            guard let cursor, let more, let records else { throw parser.failure("a pull page needs cursor, more and records") }
            guard proofs.isEmpty || proofs.count == records.count + deltas.count else {
                throw parser.failure("a pull page's proofs go one for each record, then one for each delta")
            }
            guard digests.count == deltas.count else { throw parser.failure("a pull page's digests go one for each delta") }
            return (PullResponse(records: records, deltas: deltas, digests: digests, erased: erased, cursor: cursor, more: more,
                                 proofs: proofs), encoded)
        }
    }

    private static func parse<T>(_ data: Data, _ body: (inout StrictReader) throws -> T) throws -> T {
        try data.withUnsafeBytes { raw in
            var parser = StrictReader(bytes: raw.bindMemory(to: UInt8.self))
            let value = try body(&parser)
            parser.skipSpace()
            guard parser.index == parser.bytes.count else { throw parser.failure("unexpected text after the JSON value") }
            return value
        }
    }
}

/// A JSON reader for exactly the shapes Veld reads, strict about everything JSON allows
/// two readers to disagree on.
struct StrictReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    var depth = 0
    /// Whether a time must be `YYYY-MM-DDTHH:MM:SSZ` (a push) or is refused otherwise.
    var canonicalTimes = false
    /// What makes a record of a push invalid although it reads (a 422, not a 400): the
    /// field and a sentence to finish once the record's type and id are known.
    var pending: [(field: String, reason: @Sendable (_ type: String, _ id: String) -> String)] = []
    var invalid: [Problem.Item] = []
    /// Where the reader is, for error messages: `records[3].fields.summary`.
    var recordIndex: Int?
    /// The array `recordIndex` counts in: `records`, or a push's or a pull page's `deltas`.
    var recordArray = "records"
    var fieldName: String?
    /// The key of the top-level member being read.
    var topKey: String?

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    func failure(_ what: String) -> DecodingError {
        var place = ""
        if let recordIndex {
            place = "\(recordArray)[\(recordIndex)]" + (fieldName.map { ".fields.\($0.prefix(40))" } ?? "") + ": "
        } else if let topKey {
            place = "\(topKey.prefix(40)): "
        }
        return DecodingError.dataCorrupted(DecodingError.Context(codingPath: [], debugDescription: "\(place)\(what) (at byte \(index))"))
    }

    mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
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

    mutating func enter() throws {
        depth += 1
        guard depth <= RecordStateJSON.maxDepth else { throw failure("JSON nested deeper than \(RecordStateJSON.maxDepth) levels") }
    }

    /// Calls `member` for each key of an object, positioned at its value. A key twice is refused.
    mutating func object(_ member: (inout StrictReader, String) throws -> Void) throws {
        try expect(UInt8(ascii: "{"))
        try enter()
        defer { depth -= 1 }
        if try peek() == UInt8(ascii: "}") { index += 1; return }
        var few: [String] = []
        var many: Set<String> = []
        while true {
            let key = try string()
            if many.isEmpty && few.count < 8 {
                if few.contains(key) { throw failure("the key '\(key.prefix(40))' appears twice in one object") }
                few.append(key)
            } else {
                if many.isEmpty { many = Set(few) }
                guard many.insert(key).inserted else { throw failure("the key '\(key.prefix(40))' appears twice in one object") }
            }
            try expect(UInt8(ascii: ":"))
            try member(&self, key)
            let next = try peek()
            index += 1
            if next == UInt8(ascii: "}") { return }
            guard next == UInt8(ascii: ",") else { throw failure("expected ',' or '}'") }
            if try peek() == UInt8(ascii: "}") { throw failure("a trailing comma before '}' (JSON has none)") }
        }
    }

    mutating func array(_ element: (inout StrictReader) throws -> Void) throws {
        try expect(UInt8(ascii: "["))
        try enter()
        defer { depth -= 1 }
        if try peek() == UInt8(ascii: "]") { index += 1; return }
        while true {
            try element(&self)
            let next = try peek()
            index += 1
            if next == UInt8(ascii: "]") { return }
            guard next == UInt8(ascii: ",") else { throw failure("expected ',' or ']'") }
            if try peek() == UInt8(ascii: "]") { throw failure("a trailing comma before ']' (JSON has none)") }
        }
    }

    mutating func literal(_ word: StaticString) -> Bool {
        skipSpace()
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let matches = word.withUTF8Buffer { bytes[index..<(index + count)].elementsEqual($0) }
        if matches { index += count }
        return matches
    }

    mutating func string() throws -> String {
        try expect(UInt8(ascii: "\""))
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                guard let text = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self) else {
                    throw failure("a string that is not UTF-8")
                }
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
                guard let text = String(validating: out, as: UTF8.self) else { throw failure("a string that is not UTF-8") }
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

    /// A whole number without sign, fraction, exponent or leading zeros.
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
        if bytes[start] == 48, index - start > 1 { throw failure("a number with a leading zero") }
        if index < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index]) {
            throw failure("a counter is a whole number without fraction or exponent")
        }
        return value
    }

    /// A push's or a pull page's `deltas`: record states, counted as `deltas[N]` in errors.
    mutating func deltaStates() throws -> [RecordState] {
        var states: [RecordState] = []
        recordArray = "deltas"
        defer {
            recordIndex = nil
            recordArray = "records"
        }
        try array { parser in
            parser.recordIndex = states.count
            states.append(try parser.recordState())
        }
        return states
    }

    mutating func recordState() throws -> RecordState {
        var id: String?, type: String?, scope: String?
        var context: [String: UInt64]?
        var fields: [String: [FieldEntry]]?
        pending.removeAll()
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
                    parser.fieldName = name
                    var entries: [FieldEntry] = []
                    try parser.array { parser in entries.append(try parser.entry()) }
                    if entries.count > 1, Set(entries.map(\.dot)).count < entries.count {
                        // The state's canonical form would keep one of them silently.
                        parser.pending.append((name, { type, id in
                            "\(type) \(id), field \(name): two entries with one dot; a dot names one edit, so a field holds at most one entry per dot"
                        }))
                    }
                    all[name] = entries
                }
                parser.fieldName = nil
                fields = all
            default: try parser.skipValue()
            }
        }
        guard let id, let type, let scope, let context, let fields else {
            throw failure("a record state needs id, type, scope, context and fields")
        }
        for problem in pending {
            invalid.append(Problem.Item(id: id, field: problem.field, reason: problem.reason(type, id)))
        }
        pending.removeAll()
        return RecordState(id: id, type: type, scope: scope, context: VersionVector(context), fields: fields)
    }

    mutating func entry() throws -> FieldEntry {
        var author: String?, time: Date?, value: FieldValue?
        var replica: String?, counter: UInt64?
        try object { parser, key in
            switch key {
            case "author": author = try parser.string()
            case "time":
                var text = try parser.string()
                if let date = text.withUTF8({ InternetTime.parseCanonical($0) }) {
                    time = date
                } else if parser.canonicalTimes {
                    let field = parser.fieldName ?? "?", shown = String(text.prefix(40))
                    parser.pending.append((field, { type, id in
                        "\(type) \(id), field \(field): the time '\(shown)' is not YYYY-MM-DDTHH:MM:SSZ; Veld times are UTC in whole seconds, like 2026-11-20T09:00:00Z"
                    }))
                    time = Date(timeIntervalSince1970: 0)
                } else {
                    throw parser.failure("'\(text.prefix(40))' is not a time of the form 2026-11-20T09:00:00Z")
                }
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
        return FieldEntry(value: value, dot: Dot(replica: replica, counter: counter), author: author, time: time)
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

    /// Skips any JSON value (a member this version does not know), within the depth limit.
    mutating func skipValue() throws {
        switch try peek() {
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "{"): try object { parser, _ in try parser.skipValue() }
        case UInt8(ascii: "["): try array { parser in try parser.skipValue() }
        default:
            if literal("null") || literal("true") || literal("false") { return }
            try skipNumber()
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, exactly.
    mutating func skipNumber() throws {
        func digits(_ reader: inout StrictReader) -> Int {
            let start = reader.index
            while reader.index < reader.bytes.count, (48...57).contains(reader.bytes[reader.index]) { reader.index += 1 }
            return reader.index - start
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        let start = index
        let whole = digits(&self)
        guard whole > 0 else { throw failure("unexpected character") }
        if bytes[start] == 48, whole > 1 { throw failure("a number with a leading zero") }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits(&self) > 0 else { throw failure("a number without digits after its point") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits(&self) > 0 else { throw failure("a number without digits in its exponent") }
        }
    }
}
