import Foundation

/// Record states to and from stable JSON without `Codable`.
///
/// Every sync moves record states through JSON, and Foundation's generic coders spend most
/// of their time in the machinery rather than in the bytes (BENCHMARKS.md: decoding alone
/// was half of a merge round trip). This writes exactly what `JSONEncoder` writes with
/// `StableJSON`'s settings (keys sorted, slashes unescaped, control characters as
/// `\u00xx`, dates as whole-second UTC), byte for byte. The reader beside it is
/// `RecordStateJSON+Reader.swift`. `StableJSON.encode`/`decode` use both for states.
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

    public static func writeString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            // Runs that need no escape (nearly every string: ids, scopes, prose) are copied
            // whole; only a quote, a backslash or a control character is written apart.
            var start = 0
            for index in 0..<bytes.count {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if start < index { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index])) }
                switch byte {
                case UInt8(ascii: "\""): out.append(contentsOf: [92, 34])
                case UInt8(ascii: "\\"): out.append(contentsOf: [92, 92])
                case 0x0A: out.append(contentsOf: [92, UInt8(ascii: "n")])
                case 0x0D: out.append(contentsOf: [92, UInt8(ascii: "r")])
                case 0x09: out.append(contentsOf: [92, UInt8(ascii: "t")])
                case 0x08: out.append(contentsOf: [92, UInt8(ascii: "b")])
                case 0x0C: out.append(contentsOf: [92, UInt8(ascii: "f")])
                default: out.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, Hex.digits[Int(byte >> 4)], Hex.digits[Int(byte & 15)]])
                }
                start = index + 1
            }
            if start < bytes.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...])) }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// A push body: `{"batch":…,"deltas":[…],"proven":[…],"records":[…],"recovery":true,"replica":…}`,
    /// `deltas` only when there are any, `proven` and `recovery` only when a restored server
    /// is sent what it lost.
    public static func encode(_ push: PushRequest) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity((push.records.count + push.proven.count) * 1500 + push.deltas.count * 400 + 100)
        out.append(contentsOf: #"{"batch":"#.utf8)
        writeString(push.batch, to: &out)
        if !push.deltas.isEmpty {
            out.append(contentsOf: #","deltas":["#.utf8)
            for (index, state) in push.deltas.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: encode(state))
            }
            out.append(UInt8(ascii: "]"))
        }
        if !push.proven.isEmpty {
            out.append(contentsOf: #","proven":["#.utf8)
            for (index, proven) in push.proven.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: #"{"proof":"#.utf8)
                writeString(proven.proof, to: &out)
                out.append(contentsOf: #","state":"#.utf8)
                out.append(contentsOf: encode(proven.state))
                out.append(UInt8(ascii: "}"))
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(contentsOf: #","records":["#.utf8)
        for (index, state) in push.records.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: encode(state))
        }
        out.append(contentsOf: push.recovery ? #"],"recovery":true,"replica":"#.utf8 : #"],"replica":"#.utf8)
        writeString(push.replica, to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// A pull page: `{"cursor":…,"deltas":[…],"digests":[…],"erased":[…],"more":…,"proofs":[…],"records":[…]}`,
    /// as ``PullPages/body(encoded:deltas:digests:erased:cursor:more:proofs:)`` splices it.
    public static func encode(_ page: PullResponse) -> [UInt8] {
        PullPages.body(encoded: page.records.map { encode($0) }, deltas: page.deltas.map { encode($0) }, digests: page.digests,
                       erased: page.erased, cursor: page.cursor, more: page.more, proofs: page.proofs)
    }
}
