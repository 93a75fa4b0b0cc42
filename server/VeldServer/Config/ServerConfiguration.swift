import Foundation
import VeldProtocol
import Yams

/// `veld-server`'s settings from three places, later ones winning: a configuration file
/// (YAML, `--config FILE` or `$VELD_CONFIG`), environment variables (`VELD_…`), and
/// command-line flags. Every key is in ``ServerConfiguration/keys``; a key the file does not
/// know is refused (a typo never silently falls back to a default).
///
/// ```yaml
/// database:
///   sqlite: /var/lib/veld/veld-server.sqlite
/// listen:
///   host: 0.0.0.0
///   port: 8443
/// tls:
///   cert: /etc/veld/cert.pem
///   key: /etc/veld/key.pem
/// log:
///   format: json
/// ```
public struct ServerConfiguration: Sendable, Equatable {
    public enum Source: String, Sendable, Equatable, Codable {
        case file, environment, flag, `default`
    }

    /// One setting: its key in the file, its environment variable and flag, its default,
    /// and whether it is a secret (shown masked).
    public struct Key: Sendable {
        public let name: String
        public let environment: String
        public let flag: String
        public let defaultValue: String?
        public let secret: Bool
        public let help: String
        /// Why a value is not acceptable, or nil.
        let check: @Sendable (String) -> String?
    }

    public struct Setting: Sendable, Equatable, Codable {
        public var value: String?
        public var source: Source

        public init(value: String?, source: Source) {
            self.value = value
            self.source = source
        }
    }

    public static let keys: [Key] = [
        Key(name: "database.sqlite", environment: "VELD_DB", flag: "--db", defaultValue: "veld-data/veld-server.sqlite", secret: false,
            help: "the embedded SQLite database (the default store)",
            check: { $0.isEmpty || $0.contains("://") ? "a file path (a postgres:// URL goes in database.url, --database or $VELD_DATABASE_URL)" : nil }),
        Key(name: "database.url", environment: "VELD_DATABASE_URL", flag: "--database", defaultValue: nil, secret: true,
            help: "a PostgreSQL URL instead of SQLite (its password is a secret)",
            check: { $0.hasPrefix("postgres://") || $0.hasPrefix("postgresql://") ? nil : "a postgres://USER:PASSWORD@HOST:PORT/DATABASE URL" }),
        Key(name: "listen.host", environment: "VELD_HOST", flag: "--host", defaultValue: "127.0.0.1", secret: false,
            help: "the address to listen on", check: { $0.isEmpty || $0.contains(" ") ? "a host name or address" : nil }),
        Key(name: "listen.port", environment: "VELD_PORT", flag: "--port", defaultValue: "8080", secret: false,
            help: "the port to listen on (0: a free one)", check: { Int($0).map { (0...65_535).contains($0) } == true ? nil : "a port, 0 to 65535" }),
        Key(name: "tls.cert", environment: "VELD_TLS_CERT", flag: "--tls-cert", defaultValue: nil, secret: false,
            help: "the server's certificate, PEM, with its chain", check: { $0.isEmpty ? "a file path" : nil }),
        Key(name: "tls.key", environment: "VELD_TLS_KEY", flag: "--tls-key", defaultValue: nil, secret: false,
            help: "the certificate's private key, PEM (the path; the key stays in its file)", check: { $0.isEmpty ? "a file path" : nil }),
        Key(name: "insecure-http", environment: "VELD_INSECURE_HTTP", flag: "--insecure-http", defaultValue: "false", secret: false,
            help: "serve plain HTTP on a non-loopback address (behind a TLS proxy only)", check: { ["true", "false"].contains($0) ? nil : "true or false" }),
        Key(name: "log.level", environment: "VELD_LOG_LEVEL", flag: "--log-level", defaultValue: "info", secret: false,
            help: "trace, debug, info, notice, warning, error or critical",
            check: { ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains($0) ? nil : "trace, debug, info, notice, warning, error or critical" }),
        Key(name: "log.format", environment: "VELD_LOG_FORMAT", flag: "--log-format", defaultValue: "text", secret: false,
            help: "text or json", check: { ["text", "json"].contains($0) ? nil : "text or json" }),
        Key(name: "metrics.address", environment: "VELD_METRICS_ADDRESS", flag: "--metrics-address", defaultValue: "127.0.0.1:9464",
            secret: false, help: "where /metrics is served (HOST:PORT), or off",
            check: { MetricsAddress.parse($0) == nil ? "HOST:PORT (127.0.0.1:9464, [::1]:9464) or off" : nil }),
    ]

    public var settings: [String: Setting]
    /// The file read, if any.
    public var file: String?

    /// The value of `key` (one of ``keys``).
    public subscript(_ key: String) -> String? { settings[key]?.value }

    /// Resolves every key: a flag given, else the environment, else the file, else the default.
    /// `flags` holds the flags given on the command line by key name.
    public static func resolve(fileText: String?, file: String? = nil, environment: [String: String],
                               flags: [String: String]) throws(ConfigurationProblems) -> ServerConfiguration {
        var problems: [String] = []
        var fromFile: [String: String] = [:]
        if let fileText {
            do { fromFile = try flatten(fileText) } catch let failure as ConfigurationProblems {
                problems += failure.reasons
            } catch {
                // Only where: the parser's own text quotes the line, which may hold a password.
                let place = "\(error)".range(of: #"line \d+(,)? column \d+"#, options: .regularExpression).map { " at " + "\(error)"[$0] } ?? ""
                problems.append("the configuration file is not valid YAML\(place); mend that line (quote a value that holds ': ', '#' or starts with a quote)")
            }
        }
        var settings: [String: Setting] = [:]
        for key in keys {
            let setting: Setting
            if let value = flags[key.name] {
                setting = Setting(value: value, source: .flag)
            } else if let value = environment[key.environment], !value.isEmpty {
                setting = Setting(value: value, source: .environment)
            } else if let value = fromFile[key.name] {
                setting = Setting(value: value, source: .file)
            } else {
                setting = Setting(value: key.defaultValue, source: .default)
            }
            if let value = setting.value, let problem = key.check(value) {
                let place = switch setting.source {
                case .flag: key.flag
                case .environment: "$\(key.environment)"
                case .file: "\(key.name) in \(file ?? "the configuration file")"
                case .default: key.name
                }
                // A value that looks like a URL may hold a password, whatever key it is under.
                let shown = value.contains("://") ? Self.mask(value) : value
                problems.append("\(place): \(problem)\(key.secret ? "" : ", not '\(shown)'")")
            }
            settings[key.name] = setting
        }
        if !problems.isEmpty { throw ConfigurationProblems(problems) }
        return ServerConfiguration(settings: settings, file: file)
    }

    /// The file's scalars by dotted key; unknown keys and nested values where a scalar
    /// belongs are refused with every reason.
    static func flatten(_ text: String) throws -> [String: String] {
        guard let root = try Yams.compose(yaml: text) else { return [:] }
        guard let mapping = root.mapping else { throw ConfigurationProblems(["the configuration file is a mapping of keys (database:, listen:, …)"]) }
        let known = Set(keys.map(\.name))
        var values: [String: String] = [:]
        var problems: [String] = []
        func walk(_ mapping: Node.Mapping, prefix: String) {
            for (keyNode, value) in mapping {
                guard let name = keyNode.scalar?.string else { problems.append("\(prefix)…: a key is a plain name"); continue }
                let key = prefix.isEmpty ? name : prefix + "." + name
                if let nested = value.mapping {
                    if known.contains(where: { $0.hasPrefix(key + ".") }) { walk(nested, prefix: key) }
                    else { problems.append("unknown key \(key) (keys: \(keys.map(\.name).joined(separator: ", ")))") }
                } else if let scalar = value.scalar {
                    if known.contains(key) { values[key] = scalar.string }
                    else { problems.append("unknown key \(key) (keys: \(keys.map(\.name).joined(separator: ", ")))") }
                } else {
                    problems.append("\(key): a single value, not a list")
                }
            }
        }
        walk(mapping, prefix: "")
        if !problems.isEmpty { throw ConfigurationProblems(problems) }
        return values
    }

    /// Every setting with where it came from, secrets masked: what `config check` prints.
    public func described() -> [(key: String, value: String, source: Source)] {
        Self.keys.map { key in
            let setting = settings[key.name] ?? Setting(value: nil, source: .default)
            let shown = setting.value.map { key.secret ? Self.mask($0) : $0 } ?? "(none)"
            return (key.name, shown, setting.source)
        }
    }

    /// A URL with its password replaced by `****`: everything between the user's `:` and
    /// the last `@` of what follows `://`, whatever characters the password holds (a URL
    /// parser would read `veld:2024/Zomer!@db` as a host and a port). Without `://`, masked whole.
    public static func mask(_ value: String) -> String {
        guard let scheme = value.range(of: "://") else { return "****" }
        let rest = value[scheme.upperBound...]
        guard let at = rest.lastIndex(of: "@") else { return value }
        let credentials = rest[..<at]
        let user = credentials.firstIndex(of: ":").map { credentials[..<$0] } ?? credentials
        return String(value[..<scheme.upperBound]) + user + ":****" + rest[at...]
    }
}

/// `--metrics-address`: HOST:PORT, [IPv6]:PORT, or off.
public enum MetricsAddress {
    /// `.some(nil)` for off; nil when it does not parse.
    public static func parse(_ text: String) -> (host: String, port: Int)?? {
        if text == "off" { return .some(nil) }
        let host: Substring, port: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") {
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else if let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") {
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        } else {
            return nil
        }
        guard !host.isEmpty, let number = Int(port), (0...65_535).contains(number), String(number) == port else { return nil }
        return .some((String(host), number))
    }
}

/// Why the configuration could not be used: every reason, one per line.
public struct ConfigurationProblems: Error, CustomStringConvertible, Sendable {
    public let reasons: [String]
    public init(_ reasons: [String]) { self.reasons = reasons }
    public var description: String { "the configuration was refused:\n" + reasons.map { "- \($0)" }.joined(separator: "\n") }
}
