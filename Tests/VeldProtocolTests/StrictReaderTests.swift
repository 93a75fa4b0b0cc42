import Foundation
import PropertyBased
import Testing
import VeldProtocol
import VeldTestSupport

/// The strict reader against `Codable`, on generated push bodies and on those bodies
/// mutated byte by byte: whatever the strict reader accepts, `Codable` accepts too and
/// reads to the same value; whatever `Codable` refuses, the strict reader refuses. Where
/// only the strict reader refuses, it is for one of the reasons it documents.
@Suite struct StrictReaderTests {
    /// What the strict reader refuses on purpose although `Codable` may read it.
    static let documentedStrictness = [
        "appears twice", "nested deeper", "not UTF-8", "leading zero", "not YYYY-MM-DDTHH:MM:SSZ",
        "whole number without fraction", "lone surrogate", "counter too large",
        // Foundation's JSONDecoder reads `[1,]` and `{"a":1,}`; RFC 8259 does not.
        "trailing comma",
    ]

    static func body(_ lists: [[Int]]) -> [UInt8] {
        let states = lists.enumerated().map { index, codes in
            let state = RecordStateJSONTests.state(codes)
            return RecordState(id: "\(index)-\(state.id)", type: state.type, scope: state.scope, context: state.context,
                               fields: state.fields)
        }
        return RecordStateJSON.encode(PushRequest(replica: "r-1", batch: "b", records: states))
    }

    /// Small edits of the kinds that make two JSON readers disagree.
    static func mutate(_ body: [UInt8], _ codes: [Int]) -> [UInt8] {
        var bytes = body
        let pieces: [[UInt8]] = [
            Array("0".utf8), Array("01".utf8), Array("1.0".utf8), Array("1e2".utf8), Array("-1".utf8), [0xC3], [0xFF], [0xED, 0xA0, 0x80],
            Array("\\ud800".utf8), Array("\\u0000".utf8), Array(#""x":1,"#.utf8), Array("[[[[".utf8), Array("]]".utf8), Array(" ".utf8),
            Array(",".utf8), Array("\"".utf8), Array("null".utf8), Array("+01:00".utf8), Array("z".utf8), Array(".5".utf8),
            Array("{}".utf8), Array(#""counter":2,"#.utf8), Array(#""author":"x","#.utf8), Array("\t\r\n".utf8),
        ]
        for code in codes where !bytes.isEmpty {
            let at = (code / 7) % bytes.count
            switch code % 4 {
            case 0: bytes.remove(at: at)
            case 1: bytes.insert(contentsOf: pieces[(code / 5) % pieces.count], at: at)
            case 2: bytes.replaceSubrange(at..<min(bytes.count, at + 1 + code % 3), with: pieces[(code / 3) % pieces.count])
            default:
                // Repeat an object member right after itself: a duplicate key.
                if let quote = bytes[at...].firstIndex(of: UInt8(ascii: "\"")),
                   let comma = bytes[quote...].firstIndex(of: UInt8(ascii: ",")) {
                    bytes.insert(contentsOf: Array(bytes[quote...comma]), at: quote)
                }
            }
        }
        return bytes
    }

    @Test func readsWhatCodableReadsAndRefusesWhatItRefuses() async {
        await checkProperty(count: 600, input: RecordStateJSONTests.codes.array(of: 1...3),
                            Gen.int(in: 0...1_000_000).array(of: 0...3)) { lists, mutations in
            let bytes = Self.mutate(Self.body(lists), mutations)
            let data = Data(bytes)
            let strict = Result { try RecordStateJSON.decodePush(data) }
            let codable = Result { try StableJSON.decoder().decode(PushRequest.self, from: data) }
            switch (strict, codable) {
            case (.success(let a), .success(let b)):
                #expect(a == b, "the readers read \(String(decoding: bytes, as: UTF8.self)) differently")
            case (.success, .failure):
                Issue.record("only the strict reader accepted \(String(decoding: bytes, as: UTF8.self))")
            case (.failure(let error), .success):
                let reason = "\(error)"
                #expect(Self.documentedStrictness.contains { reason.contains($0) },
                        "the strict reader refused what Codable reads, for an undocumented reason: \(reason)")
            case (.failure, .failure):
                break
            }
        }
    }

    /// A body of 11,000 nested arrays under an unknown key once crashed the server
    /// (recursion in the reader); it is refused at the depth limit instead.
    @Test func deepNestingIsRefusedNotACrash() throws {
        let nested = String(repeating: "[", count: 11_000) + String(repeating: "]", count: 11_000)
        let body = #"{"batch":"b","records":[],"replica":"r","x":"# + nested + "}"
        #expect { try RecordStateJSON.decodePush(Data(body.utf8)) } throws: { "\($0)".contains("nested deeper than 32") }
        let shallow = #"{"batch":"b","records":[],"replica":"r","x":[[[{"y":[1,2.5e-3,-0,true,null,"z"]}]]]}"#
        #expect(try RecordStateJSON.decodePush(Data(shallow.utf8)).records.isEmpty)
    }

    @Test(arguments: [
        (#"{"batch":"b","batch":"c","records":[],"replica":"r"}"#, "appears twice"),
        ("{\"batch\":\"b\",\"records\":[],\"replica\":\"r\u{1}\"}", "control character"),
        (#"{"batch":"b","records":[],"replica":"r","n":01}"#, "leading zero"),
        (#"{"batch":"b","records":[],"replica":"r","n":1-2}"#, "expected"),
        (#"{"batch":"b","records":[],"replica":"r","n":.5}"#, "unexpected character"),
        (#"{"batch":"b","records":[],"replica":"r",}"#, "trailing comma before '}'"),
        (#"{"batch":"b","records":[],"replica":"r","n":[1,]}"#, "trailing comma before ']'"),
    ])
    func refusesWhatJSONDoesNotAllowOrTwoReadersMightReadApart(_ body: String, _ reason: String) {
        #expect { try RecordStateJSON.decodePush(Data(body.utf8)) } throws: { "\($0)".contains(reason) }
    }

    @Test func invalidUTF8IsRefusedNotReplaced() {
        var bytes = Array(#"{"batch":"b","records":[],"replica":"r-"#.utf8)
        bytes += [0xC3, 0x28]
        bytes += Array(#""}"#.utf8)
        #expect { try RecordStateJSON.decodePush(Data(bytes)) } throws: { "\($0)".contains("not UTF-8") }
    }

    /// A push's times are `YYYY-MM-DDTHH:MM:SSZ` exactly: other forms (an offset, a lower
    /// `z`, fractions) are named by record and field, for a 422.
    @Test(arguments: ["2026-11-20T10:00:00+01:00", "2026-11-20T09:00:00z", "2026-11-20T09:00:00.5Z", "2026-11-20 09:00:00Z"])
    func pushTimesHaveOneForm(_ time: String) throws {
        var state = RecordState(id: RecordIDs.make(), type: "visitNote", scope: "loc-a")
        state.edit(["summary": .string("x")], replica: "r-1", author: "anna", time: Date(timeIntervalSince1970: 1_795_168_800))
        let canonical = String(decoding: RecordStateJSON.encode(PushRequest(replica: "r-1", batch: "b", records: [state])), as: UTF8.self)
        #expect(canonical.contains("2026-11-20T10:00:00Z"))
        let body = canonical.replacingOccurrences(of: "2026-11-20T10:00:00Z", with: time)
        let read = try RecordStateJSON.readPush(Data(body.utf8))
        #expect(read.invalid.map(\.id) == [state.id])
        #expect(read.invalid.map(\.field) == ["summary"])
        #expect(read.invalid.first?.reason.contains("is not YYYY-MM-DDTHH:MM:SSZ") == true)
        #expect(throws: DecodingError.self) { try RecordStateJSON.decodePush(Data(body.utf8)) }
    }
}
