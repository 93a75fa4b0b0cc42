import Foundation
import PropertyBased
import Testing
import VeldTestSupport
import VeldProtocol

/// A pull page spliced from stored JSON is what the encoder makes of the page, and the
/// reader takes it apart again into exactly the records' bytes, whatever their text holds.
@Suite struct PullPagesTests {
    static let alphabet = Array("ab é\"\\{}[]:,/ñ\n\t😀")

    @Test func splicedPagesReadBackIntoTheirRecords() async throws {
        await checkProperty(count: 200, input: Gen.int(in: 0...(Self.alphabet.count - 1)).array(of: 0...40).array(of: 0...6),
                            Gen.bool) { texts, more in
            let records = texts.enumerated().map { index, codes in
                var state = RecordState(id: "r\(index)\"}", type: "visitNote", scope: "loc-{zonnehof}")
                state.edit(["summary": .string(String(codes.map { Self.alphabet[$0] }))], replica: "a",
                           author: "anna", time: Date(timeIntervalSince1970: 1_763_900_000))
                return state
            }
            let stored = records.map { String(decoding: RecordStateJSON.encode($0), as: UTF8.self) }
            let body = PullPages.body(states: stored, cursor: "12\"]", more: more)
            #expect(body == Array(try! StableJSON.encode(PullResponse(records: records, cursor: "12\"]", more: more))))
            let read = try? RecordStateJSON.readPull(Data(body))
            #expect(read?.page == PullResponse(records: records, cursor: "12\"]", more: more))
            #expect(read?.encoded == stored)
        }
    }

    @Test func aPageWithoutRecordsIsRefusedAndAnEmptyOneIsRead() throws {
        #expect(throws: DecodingError.self) { try RecordStateJSON.readPull(Data(#"{"cursor":"3","more":false}"#.utf8)) }
        let empty = try RecordStateJSON.readPull(Data(#"{"cursor":"3","more":false,"records":[]}"#.utf8))
        #expect(empty.page.records.isEmpty && empty.encoded.isEmpty && empty.page.cursor == "3")
    }
}
