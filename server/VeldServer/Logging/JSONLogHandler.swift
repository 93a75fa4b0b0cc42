import Foundation
import Logging
import VeldProtocol

/// One JSON object per line on standard error (`veld-server serve --log-format json`), for a
/// log collector: `{"label","level","message","time", …metadata}`, keys sorted, the
/// metadata's keys beside the fixed ones (a metadata key that would shadow one is prefixed
/// `meta.`). What Veld logs holds no token, password or field value (SPEC.md, "Logs").
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String
    let write: @Sendable (String) -> Void

    public init(label: String, write: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String,
                    file: String, function: String, line: UInt) {
        var object: [String: String] = ["time": Self.time(Date()), "level": level.rawValue, "label": label, "message": message.description]
        for (key, value) in metadata.merging(explicit ?? [:], uniquingKeysWith: { $1 }) {
            object[object[key] == nil ? key : "meta." + key] = Self.text(value)
        }
        let data = (try? StableJSON.encode(object)) ?? Data("{\"message\":\"unencodable log line\"}".utf8)
        write(String(decoding: data, as: UTF8.self) + "\n")
    }

    static func text(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): text
        case .stringConvertible(let value): value.description
        case .array(let list): "[" + list.map(text).joined(separator: ", ") + "]"
        case .dictionary(let dictionary): "{" + dictionary.sorted { $0.key < $1.key }.map { "\($0.key): \(text($0.value))" }.joined(separator: ", ") + "}"
        }
    }

    /// UTC with milliseconds: `2026-12-07T09:15:41.123Z`.
    static func time(_ date: Date) -> String {
        let millis = Int((date.timeIntervalSince1970 * 1_000).truncatingRemainder(dividingBy: 1_000))
        let base = InternetTime.format(date)
        return String(base.dropLast()) + String(format: ".%03dZ", max(0, millis))
    }

    private static let lock = NSLock()

    @Sendable public static func standardError(_ line: String) {
        lock.withLock { FileHandle.standardError.write(Data(line.utf8)) }
    }
}
