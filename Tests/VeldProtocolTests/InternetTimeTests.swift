import Foundation
import PropertyBased
import Testing
import VeldTestSupport
import VeldProtocol

/// Veld's own date arithmetic must agree with Foundation's ISO 8601 formatter to the byte,
/// or two encodings of one state would differ.
@Suite struct InternetTimeTests {
    static func foundation() -> ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter
    }

    @Test func formatsAndParsesLikeFoundation() async {
        // 1600-03-01 to 2400-12-31 in whole seconds: leap centuries and both sides of 1970.
        await checkProperty(count: 2000, input: Gen.int(in: -11_670_912_000...13_601_000_000)) { seconds in
            let date = Date(timeIntervalSince1970: Double(seconds))
            let text = InternetTime.format(date)
            #expect(text == Self.foundation().string(from: date))
            #expect(InternetTime.parse(text) == date)
        }
    }

    @Test func dropsFractionsAsEncodingAlwaysDid() {
        let date = Date(timeIntervalSince1970: 1_763_900_000.75)
        #expect(InternetTime.format(date) == "2025-11-23T12:13:20Z")
    }

    @Test(arguments: ["2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-11-23T24:00:00Z", "2026-11-23 12:00:00Z",
                      "2026-11-23T12:00:00", "not a date", ""])
    func refusesWhatIsNotATime(_ text: String) {
        #expect(InternetTime.parse(text) == nil)
    }

    @Test func acceptsOffsetsThroughFoundation() {
        #expect(InternetTime.parse("2026-11-23T13:00:00+01:00") == InternetTime.parse("2026-11-23T12:00:00Z"))
    }
}
