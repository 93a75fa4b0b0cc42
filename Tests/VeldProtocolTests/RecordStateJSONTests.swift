import Foundation
import PropertyBased
import Testing
import VeldTestSupport
import VeldProtocol

/// The hand-written state codec must agree with `Codable` to the byte: stored states,
/// fingerprints and the vectors all depend on one encoding.
@Suite struct RecordStateJSONTests {
    static let alphabet = Array("aZ09 -_é\"\\/{}[]:,\n\t\r\u{1}\u{8}\u{c}\u{1f}\u{7f}\u{2028}😀ñ")

    static func text(_ codes: [Int]) -> String { String(codes.map { alphabet[$0 % alphabet.count] }) }

    /// A state from generated numbers: several replicas, fields with one or more entries,
    /// every kind of value, text with quotes, escapes, control characters and emoji.
    static func state(_ codes: [Int]) -> RecordState {
        var state = RecordState(id: "id-\(text(Array(codes.prefix(3))))", type: "visitNote", scope: "loc-\(codes.count)")
        for (step, code) in codes.enumerated() {
            let replica = "r-\(code % 4)\(text([code / 7]))"
            let value: FieldValue = switch code % 5 {
            case 0: .null
            case 1: .bool(code % 2 == 0)
            case 2: .strings([text([code, code / 3]), text([code / 11])])
            default: .string(text(Array(codes[step...].prefix(12))))
            }
            var other = state
            other.edit(["f\(code % 6)": value], replica: replica, author: text([code / 5, code]),
                       time: Date(timeIntervalSince1970: Double(1_700_000_000 + code * 977)))
            // Every third edit is concurrent with what came before it: conflicts arise.
            state = step % 3 == 2 ? ((try? state.merged(with: other)) ?? other) : other
        }
        return state
    }

    static let codes = Gen.int(in: 0...10_000).array(of: 0...25)

    @Test func encodesExactlyAsCodable() async {
        await checkProperty(count: 300, input: Self.codes) { codes in
            let state = Self.state(codes)
            let reference = try! StableJSON.encoder().encode(state)
            #expect(Data(RecordStateJSON.encode(state)) == reference)
        }
    }

    @Test func decodesWhatCodableWrites() async {
        await checkProperty(count: 300, input: Self.codes) { codes in
            let state = Self.state(codes)
            let compact = try! StableJSON.encoder().encode(state)
            let pretty = try! StableJSON.encoder(pretty: true).encode(state)
            #expect((try? RecordStateJSON.decode(compact)) == state)
            #expect((try? RecordStateJSON.decode(pretty)) == state)
            #expect((try? RecordStateJSON.decode(compact)) == (try? StableJSON.decoder().decode(RecordState.self, from: compact)))
        }
    }

    @Test func pushAndPullBodiesMatchCodable() async {
        await checkProperty(count: 100, input: Self.codes.array(of: 0...5), Gen.bool) { lists, more in
            let states = lists.enumerated().map { index, codes in
                var state = Self.state(codes)
                state = RecordState(id: "\(index)-\(state.id)", type: state.type, scope: state.scope, context: state.context,
                                    fields: state.fields)
                return state
            }
            // With proven states and proofs (a push and pulls after a restore) or without.
            let proven = more ? states.prefix(2).map { ProvenState(proof: "p1.\($0.id)\"", state: $0) } : []
            let push = PushRequest(replica: "r-\"x\"", batch: Self.text(lists.first ?? []), records: states, proven: proven,
                                   recovery: more && states.count % 2 == 0)
            let page = PullResponse(records: states, erased: more ? ["0b0e5a3c-56f8-4e4e-9d1a-3f2f6c1d2e4b"] : [],
                                    cursor: "\(lists.count)", more: more, proofs: more ? states.map { "p1.\($0.id)" } : [])
            let pushJSON = try! StableJSON.encoder().encode(push), pageJSON = try! StableJSON.encoder().encode(page)
            #expect(Data(RecordStateJSON.encode(push)) == pushJSON)
            #expect(Data(RecordStateJSON.encode(page)) == pageJSON)
            #expect((try? RecordStateJSON.decodePush(pushJSON)) == push)
            #expect((try? RecordStateJSON.decodePull(pageJSON)) == page)
            #expect((try? RecordStateJSON.decodePull(try! StableJSON.encoder(pretty: true).encode(page))) == page)
        }
    }

    @Test func historyChangesMatchCodable() async {
        await checkProperty(count: 200, input: Self.codes, Self.codes) { first, second in
            let before = Self.state(first)
            let after = (try? before.merged(with: RecordState(id: before.id, type: before.type, scope: before.scope,
                                                              context: Self.state(second).context, fields: Self.state(second).fields)))
                ?? before
            for changes in [FieldChange.between(nil, after), FieldChange.between(before, after),
                            [FieldChange(field: "f", old: [.null, .strings(["a\"b"])], new: after.fields.values.first ?? [], kept: [.bool(true)])]] {
                #expect(Data(RecordStateJSON.encode(changes)) == (try! StableJSON.encoder().encode(changes)))
            }
        }
    }

    @Test func readsEscapesCodableWouldAccept() throws {
        let json = #"{"id":"x\/y","type":"t","scope":"s","extra":[1,{"a":null}],"context":{"r":1},"fields":{"f":[{"value":"\u00e9\ud83d\ude00\n","dot":{"replica":"r","counter":1},"author":"a","time":"2026-11-23T12:00:00Z"}]}}"#
        let state = try RecordStateJSON.decode(Data(json.utf8))
        #expect(state.id == "x/y")
        #expect(state.value(of: "f") == .string("é😀\n"))
    }

    @Test(arguments: ["", "{", #"{"id":"a"}"#, #"{"id":"a","type":"t","scope":"s","context":{"r":-1},"fields":{}}"#,
                      #"{"id":"a","type":"t","scope":"s","context":{},"fields":{}} x"#, #"{"id":"\ud800","type":"t"}"#,
                      #"{"id":"a","type":"t","scope":"s","context":{},"fields":{"f":[{"value":1,"dot":{"replica":"r","counter":1},"author":"a","time":"2026-11-23T12:00:00Z"}]}}"#,
                      #"{"id":"a","type":"t","scope":"s","context":{"r":99999999999999999999},"fields":{}}"#])
    func refusesWhatIsNotAState(_ json: String) {
        #expect(throws: DecodingError.self) { try RecordStateJSON.decode(Data(json.utf8)) }
    }

    @Test(arguments: [#"{"batch":"b","replica":"r"}"#, #"{"batch":"b","replica":"r","records":[{}]}"#, #"{"batch":1,"replica":"r","records":[]}"#,
                      #"{"cursor":"1","more":"yes","records":[]}"#, #"{"cursor":"1","more":false,"records":[]"#])
    func refusesWhatIsNotAMessage(_ json: String) {
        #expect(throws: DecodingError.self) { try RecordStateJSON.decodePush(Data(json.utf8)) }
        #expect(throws: DecodingError.self) { try RecordStateJSON.decodePull(Data(json.utf8)) }
    }
}
