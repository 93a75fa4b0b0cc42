import Foundation
import PropertyBased
import Testing
import VeldProtocol
import VeldTestSupport

/// The `Veld-Device` header: what a device writes, the server reads back exactly; what does
/// not parse is nil (never a crash), and unknown keys are skipped.
@Suite struct DeviceHealthTests {
    @Test func whatADeviceWritesReadsBack() async {
        await checkProperty(count: 300, input: Gen.int(in: 0...DeviceHealth.maxCount), Gen.int(in: 0...DeviceHealth.maxCount),
                            Gen.int(in: -1...2_000_000_000), Gen.int(in: 0...5)) { outbox, records, seconds, app in
            let oldest = seconds < 0 ? nil : Date(timeIntervalSince1970: TimeInterval(seconds))
            let version = ["0.9.0", "1", "2.0.0-beta+7", "x_y", String(repeating: "9", count: 40), "A.b-C"][app]
            let health = DeviceHealth(app: version, outbox: outbox, oldest: oldest, records: records)
            #expect(DeviceHealth(header: health.header) == health, "\(health.header)")
            // Keys in another order, extra spaces and a key from a newer app read the same.
            let shuffled = health.header.split(separator: ",").reversed().joined(separator: " ,  ") + ", battery=12"
            #expect(DeviceHealth(header: shuffled) == health, "\(shuffled)")
        }
    }

    @Test func whatDoesNotParseIsNil() {
        for bad in ["", "app=0.9.0", "outbox=1, records=2", "app=0.9.0, outbox=-1, records=2", "app=0.9.0, outbox=1, records=x",
                    "app=0.9.0, outbox=1, records=2, outbox=3", "app=0.9.0 1, outbox=1, records=2", "app=, outbox=1, records=2",
                    "app=\(String(repeating: "9", count: 41)), outbox=1, records=2", "app=0.9.0, outbox=1000000001, records=2",
                    "app=0.9.0, outbox=1, records=2, oldest=gisteren", "app=0.9.0, outbox=1, records=2, =3", "app=0.9.0, outbox, records=2",
                    "app=0.9.0, outbox=1, records=2, note=" + String(repeating: "x", count: 300), "app=0.9.0;outbox=1;records=2",
                    "app=é, outbox=1, records=2", "app=0.9.0, outbox=١, records=2"] {
            #expect(DeviceHealth(header: bad) == nil, "\(bad)")
        }
    }

    @Test func junkNeverCrashes() async {
        await checkProperty(count: 500, input: Gen.int(in: 0...127).array(of: 0...120)) { bytes in
            let text = String(decoding: bytes.map(UInt8.init), as: UTF8.self)
            if let health = DeviceHealth(header: text) { #expect(DeviceHealth(header: health.header) == health) }
        }
    }
}
