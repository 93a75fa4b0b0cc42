import Foundation

/// What a device says of itself with every request (the `Veld-Device` header), so the
/// office can see a device that is stuck: its app version, how many changes wait to be
/// sent and since when, and how many records it holds. Nothing in it is client data.
///
/// ```
/// Veld-Device: app=0.9.0, outbox=12, oldest=2026-11-20T10:00:00Z, records=3912
/// ```
public struct DeviceHealth: Codable, Hashable, Sendable {
    /// The app's version: 1 to 40 of `A-Z a-z 0-9 . + - _`.
    public var app: String
    /// Local changes not yet accepted by the server (set-aside ones included).
    public var outbox: Int
    /// When the oldest of them was made; absent with an empty outbox.
    public var oldest: Date?
    /// Records the device holds (deleted ones left out).
    public var records: Int

    public init(app: String, outbox: Int, oldest: Date?, records: Int) {
        self.app = app
        self.outbox = outbox
        self.oldest = oldest.map(WallClock.truncate)
        self.records = records
    }

    public static let headerName = "Veld-Device"
    /// The largest count either number may say.
    public static let maxCount = 1_000_000_000

    /// The header's value.
    public var header: String {
        var parts = ["app=\(app)", "outbox=\(outbox)"]
        if let oldest { parts.append("oldest=\(InternetTime.format(oldest))") }
        parts.append("records=\(records)")
        return parts.joined(separator: ", ")
    }

    /// Reads a header's value: `key=value` pairs separated by commas, in any order; keys
    /// it does not know are skipped (a newer app may say more). Nil when `app`, `outbox`
    /// or `records` is missing or any known value is malformed.
    public init?(header: String) {
        guard header.utf8.count <= 256 else { return nil }
        var values: [String: String] = [:]
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, !pair[0].isEmpty, values[pair[0]] == nil else { return nil }
            values[pair[0]] = pair[1]
        }
        func count(_ key: String) -> Int? {
            guard let text = values[key], !text.isEmpty, text.count <= 10, text.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let n = Int(text), n <= Self.maxCount else { return nil }
            return n
        }
        guard let app = values["app"], Self.isAppVersion(app), let outbox = count("outbox"), let records = count("records") else {
            return nil
        }
        var oldest: Date?
        if let text = values["oldest"] {
            guard let date = InternetTime.parse(text) else { return nil }
            oldest = date
        }
        self.init(app: app, outbox: outbox, oldest: oldest, records: records)
    }

    static func isAppVersion(_ text: String) -> Bool {
        (1...40).contains(text.count) && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".+-_".contains($0)) }
    }
}
