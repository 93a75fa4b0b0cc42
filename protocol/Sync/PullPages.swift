/// The one place a pull page is put together from stored JSON (the server) and taken apart
/// into each record's JSON (the client, through ``RecordStateJSON/readPull(_:)``).
///
/// ```swift
/// let body = PullPages.body(states: [#"{"context":{},…}"#], cursor: "42", more: false)
/// // {"cursor":"42","more":false,"records":[{"context":{},…}]}
/// ```
public enum PullPages {
    /// A `PullResponse` in stable JSON, spliced from states that are stable JSON already:
    /// keys sorted (`cursor`, `erased`, `more`, `proofs`, `records`), no spaces; byte for byte what
    /// `StableJSON.encode` makes of the decoded page.
    public static func body(states: [String], erased: [String] = [], cursor: String, more: Bool, proofs: [String] = []) -> [UInt8] {
        body(encoded: states.map { Array($0.utf8) }, erased: erased, cursor: cursor, more: more, proofs: proofs)
    }

    /// The same, with each state's JSON as bytes (as a storage keeps it).
    public static func body(encoded states: [[UInt8]], erased: [String] = [], cursor: String, more: Bool, proofs: [String] = []) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(states.reduce(64 + erased.count * 40 + proofs.count * 28) { $0 + $1.count + 1 })
        out.append(contentsOf: #"{"cursor":"#.utf8)
        RecordStateJSON.writeString(cursor, to: &out)
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
