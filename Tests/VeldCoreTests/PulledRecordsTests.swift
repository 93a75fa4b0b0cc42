import Foundation
import PropertyBased
import Testing
@testable import VeldCore
import VeldProtocol

/// The pull fast path keeps each record's bytes as received; the slices it cuts from a
/// page must be exactly the records, whatever their text holds.
@Suite struct PulledRecordsTests {
    static let alphabet = Array("ab é\"\\{}[]:,/ñ\n\t😀")

    @Test func slicesAreTheRecordsOfAPage() async throws {
        await propertyCheck(count: 200, input: Gen.int(in: 0...(Self.alphabet.count - 1)).array(of: 0...40).array(of: 0...6),
                            Gen.bool) { texts, more in
            let records = texts.enumerated().map { index, codes in
                var state = RecordState(id: "r\(index)\"}", type: "visitNote", scope: "loc-{zonnehof}")
                state.edit(["summary": .string(String(codes.map { Self.alphabet[$0] }))], replica: "a",
                           author: "anna", time: Date(timeIntervalSince1970: 1_763_900_000))
                return state
            }
            let body = try! StableJSON.encode(PullResponse(records: records, cursor: "12\"]", more: more))
            let slices = PulledRecords.slices(of: body)
            #expect(slices?.count == records.count)
            for (slice, record) in zip(slices ?? [], records) {
                #expect(try! StableJSON.decode(RecordState.self, from: Data(slice.utf8)) == record)
                #expect(slice == String(decoding: try! StableJSON.encode(record), as: UTF8.self))
            }
        }
    }

    @Test func aBodyWithoutRecordsGivesNothingToKeep() {
        #expect(PulledRecords.slices(of: Data(#"{"cursor":"3","more":false}"#.utf8)) == nil)
        #expect(PulledRecords.slices(of: Data(#"{"cursor":"3","more":false,"records":[]}"#.utf8)) == [])
    }
}
