/// The one place a pull page is put together from stored JSON (the server) and taken apart
/// into each record's JSON (the client, through ``RecordStateJSON/readPull(_:)``).
///
/// ```swift
/// let body = PullPages.body(states: [#"{"context":{},…}"#], cursor: "42", more: false)
/// // {"cursor":"42","more":false,"records":[{"context":{},…}]}
/// ```
public enum PullPages {
    /// A `PullResponse` in stable JSON, spliced from states that are stable JSON already:
    /// keys sorted (`cursor`, `deltas`, `digests`, `erased`, `more`, `proofs`, `records`), no
    /// spaces; byte for byte what `StableJSON.encode` makes of the decoded page.
    public static func body(states: [String], erased: [String] = [], cursor: String, more: Bool, proofs: [String] = []) -> [UInt8] {
        body(encoded: states.map { Array($0.utf8) }, erased: erased, cursor: cursor, more: more, proofs: proofs)
    }

    /// The same, with each state's JSON as bytes (as a storage keeps it).
    public static func body(encoded states: [[UInt8]], deltas: [[UInt8]] = [], digests: [String] = [], erased: [String] = [],
                            cursor: String, more: Bool, proofs: [String] = []) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity((states + deltas).reduce(64 + erased.count * 40 + proofs.count * 28 + digests.count * 19) { $0 + $1.count + 1 })
        out.append(contentsOf: #"{"cursor":"#.utf8)
        RecordStateJSON.writeString(cursor, to: &out)
        if !deltas.isEmpty {
            out.append(contentsOf: #","deltas":["#.utf8)
            for (index, state) in deltas.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: state)
            }
            out.append(UInt8(ascii: "]"))
            strings(digests, key: #","digests":["#, to: &out)
        }
        if !erased.isEmpty { strings(erased, key: #","erased":["#, to: &out) }
        out.append(contentsOf: (more ? #","more":true"# : #","more":false"#).utf8)
        if !proofs.isEmpty { strings(proofs, key: #","proofs":["#, to: &out) }
        out.append(contentsOf: #","records":["#.utf8)
        for (index, state) in states.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: state)
        }
        out.append(contentsOf: "]}".utf8)
        return out
    }

    /// `key` (which opens the array), the strings, and the closing bracket.
    private static func strings(_ list: [String], key: String, to out: inout [UInt8]) {
        out.append(contentsOf: key.utf8)
        for (index, text) in list.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            RecordStateJSON.writeString(text, to: &out)
        }
        out.append(UInt8(ascii: "]"))
    }
}

/// Pull deltas (SPEC.md, "Pull deltas"): a record the device held where its last complete
/// pull ended (the pull's `base` cursor) comes as only the fields that changed after that,
/// with the record's whole context, and the digest of the whole state. The device fills the
/// other fields in from the last state the server served it of the record (the server's
/// state at `base`) and takes the result only when its digest is the one sent; otherwise
/// it asks for the page whole. The digest catches a pulled state that is not the server's
/// state at `base`, for whatever reason; it is a consistency check, not a security one
/// (the page comes from the server over the same connection).
///
/// ```swift
/// let delta = PullDeltas.delta(of: state, changed: ["status"])!   // the server
/// let whole = PullDeltas.expand(delta, digest: PullDeltas.digest(of: state), over: base)  // == state
/// ```
public enum PullDeltas {
    /// What `GET /v1/me` names (`features`) when the server answers `deltas=1`.
    public static let feature = "pull-deltas"

    /// The changes after the cursor a server reads, at most, to make the deltas of a page of
    /// `records`: four a record (and 100 more). A page whose records changed more goes whole:
    /// its changes would cost more to read than the whole states cost to send.
    public static func maxHistoryRows(records: Int) -> Int { 4 * records + 100 }

    /// `state` with only the fields in `changed`: nil when that would be every field of the
    /// state, or names a field the state does not have (then the state goes whole).
    public static func delta(of state: RecordState, changed: Set<String>) -> RecordState? {
        guard changed.count < state.fields.count else { return nil }
        var fields: [String: [FieldEntry]] = [:]
        for name in changed {
            guard let entries = state.fields[name] else { return nil }
            fields[name] = entries
        }
        return RecordState(id: state.id, type: state.type, scope: state.scope, context: state.context, fields: fields)
    }

    /// ``delta(of:changed:)`` made from a state's stable JSON without decoding it: the same
    /// bytes as encoding that delta (the context, `id`, `scope` and `type` copied, and of
    /// `fields` only the members named). Nil where ``delta(of:changed:)`` is nil, and for
    /// bytes not laid out as a state's stable JSON up to the end of `fields`, or with a field
    /// name that holds an escape (then the state goes whole). What follows `fields` is
    /// copied as it is.
    public static func delta(encoded state: [UInt8], changed: Set<String>) -> [UInt8]? {
        state.withUnsafeBufferPointer { bytes -> [UInt8]? in
            let fieldsKey = Array(#","fields":{"#.utf8)
            guard bytes.starts(with: #"{"context":"#.utf8) else { return nil }
            var index = 11
            guard let contextEnd = skipValue(bytes, from: index), contextEnd + fieldsKey.count <= bytes.count,
                  Array(bytes[contextEnd..<contextEnd + fieldsKey.count]) == fieldsKey else { return nil }
            index = contextEnd + fieldsKey.count
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            out.append(contentsOf: bytes[0..<index])
            var members = 0, kept = 0
            while index < bytes.count, bytes[index] != UInt8(ascii: "}") {
                if members > 0 {
                    guard bytes[index] == UInt8(ascii: ",") else { return nil }
                    index += 1
                }
                // A field name: plain ASCII, no escapes (a schema's names are identifiers).
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
                let nameStart = index + 1
                var nameEnd = nameStart
                while nameEnd < bytes.count, bytes[nameEnd] != UInt8(ascii: "\""), bytes[nameEnd] != UInt8(ascii: "\\") { nameEnd += 1 }
                guard nameEnd + 1 < bytes.count, bytes[nameEnd] == UInt8(ascii: "\""), bytes[nameEnd + 1] == UInt8(ascii: ":") else { return nil }
                guard let valueEnd = skipValue(bytes, from: nameEnd + 2) else { return nil }
                members += 1
                if changed.contains(String(decoding: UnsafeBufferPointer(rebasing: bytes[nameStart..<nameEnd]), as: UTF8.self)) {
                    if kept > 0 { out.append(UInt8(ascii: ",")) }
                    out.append(contentsOf: bytes[index..<valueEnd])
                    kept += 1
                }
                index = valueEnd
            }
            guard index < bytes.count, kept == changed.count, kept < members else { return nil }
            out.append(contentsOf: bytes[index...])
            return out
        }
    }

    /// Where the JSON value starting at `start` ends (one past its last byte), or nil.
    private static func skipValue(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        var index = start, depth = 0
        repeat {
            guard index < bytes.count else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "\""):
                index += 1
                while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                    index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                guard index < bytes.count else { return nil }
                index += 1
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                index += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard depth > 0 else { return nil }
                depth -= 1
                index += 1
            case UInt8(ascii: ","), UInt8(ascii: ":"):
                guard depth > 0 else { return nil }
                index += 1
            default:
                // A number or a literal: up to the next delimiter.
                scan: while index < bytes.count {
                    switch bytes[index] {
                    case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), UInt8(ascii: ":"): break scan
                    default: index += 1
                    }
                }
            }
        } while depth > 0
        return index
    }

    /// The digest of a state: FNV-1a (64 bits) of its stable JSON, as 16 lowercase hex digits.
    public static func digest(of state: RecordState) -> String { digest(RecordStateJSON.encode(state)) }

    /// The same, of a state's stable JSON as bytes.
    public static func digest(_ bytes: [UInt8]) -> String {
        var hash = FNV1a()
        hash.add(bytes)
        return hash.hex
    }

    /// The whole state `delta` stands for over `base`: the delta's id, type, scope, context
    /// and fields, and every other field as `base` holds it. Nil when there is no base, it
    /// is another record, or the result's digest is not `digest`.
    public static func expand(_ delta: RecordState, digest: String, over base: RecordState?) -> RecordState? {
        guard let base, base.id == delta.id, base.type == delta.type, base.scope == delta.scope else { return nil }
        let whole = RecordDelta.expand(delta, over: base)
        return Self.digest(of: whole) == digest ? whole : nil
    }
}
