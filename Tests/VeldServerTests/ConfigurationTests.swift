import Foundation
import PropertyBased
import Testing
import VeldServer
import VeldTestSupport

/// veld-server's configuration: a flag wins over the environment, which wins over the file,
/// which wins over the default, for every key; a file with an unknown key, a list or a
/// bad value is refused with the place named; a secret never shows.
@Suite struct ConfigurationTests {
    /// A valid value for each key, distinct per layer.
    static func value(_ key: String, layer: Int) -> String {
        switch key {
        case "listen.port": String(8_000 + layer)
        case "insecure-http": layer % 2 == 0 ? "true" : "false"
        case "log.level": ["debug", "info", "warning", "error"][layer]
        case "log.format": layer % 2 == 0 ? "json" : "text"
        case "metrics.address": "127.0.0.1:\(9_400 + layer)"
        case "database.url": "postgres://veld:geheim\(layer)@db.invalid:5432/veld"
        default: "/etc/veld/layer-\(layer)-\(key)"
        }
    }

    @Test func aFlagWinsOverTheEnvironmentOverTheFileOverTheDefault() async {
        let keys = ServerConfiguration.keys
        await checkProperty(count: 200, input: Gen.int(in: 0...7).array(of: keys.count...keys.count)) { choices in
            var file: [String: [String: String]] = [:]
            var flat: [(String, String)] = []
            var environment: [String: String] = [:]
            var flags: [String: String] = [:]
            for (key, choice) in zip(keys, choices) {
                if choice & 1 != 0 { flat.append((key.name, Self.value(key.name, layer: 1))) }
                if choice & 2 != 0 { environment[key.environment] = Self.value(key.name, layer: 2) }
                if choice & 4 != 0 { flags[key.name] = Self.value(key.name, layer: 3) }
            }
            // The file as YAML: nested sections, values quoted.
            for (name, value) in flat {
                let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
                file[parts.count == 2 ? parts[0] : "", default: [:]][parts.count == 2 ? parts[1] : parts[0]] = value
            }
            var yaml = ""
            for (section, entries) in file.sorted(by: { $0.key < $1.key }) {
                if section.isEmpty {
                    for (key, value) in entries { yaml += "\(key): \"\(value)\"\n" }
                } else {
                    yaml += "\(section):\n" + entries.map { "  \($0.key): \"\($0.value)\"\n" }.joined()
                }
            }
            let settings = try ServerConfiguration.resolve(fileText: yaml, file: "test.yaml", environment: environment, flags: flags)
            for (key, choice) in zip(keys, choices) {
                let expected: (String?, ServerConfiguration.Source) =
                    choice & 4 != 0 ? (Self.value(key.name, layer: 3), .flag)
                    : choice & 2 != 0 ? (Self.value(key.name, layer: 2), .environment)
                    : choice & 1 != 0 ? (Self.value(key.name, layer: 1), .file) : (key.defaultValue, .default)
                #expect(settings.settings[key.name] == ServerConfiguration.Setting(value: expected.0, source: expected.1), "\(key.name) with \(choice)")
            }
            // A secret is masked wherever it came from.
            let shown = settings.described().map(\.value).joined(separator: " ")
            #expect(!shown.contains("geheim"), "\(shown)")
        }
    }

    @Test func aBrokenFileIsRefusedWithThePlaceNamed() {
        for (yaml, says) in [("listen:\n  prot: 8080\n", "unknown key listen.prot"),
                             ("lisen:\n  port: 8080\n", "unknown key lisen"),
                             ("listen:\n  port: [1, 2]\n", "listen.port: a single value"),
                             ("listen:\n  port: achtduizend\n", "listen.port in cfg.yaml: a port"),
                             ("insecure-http: yes\n", "insecure-http in cfg.yaml: true or false"),
                             ("log:\n  format: xml\n", "text or json"),
                             ("metrics:\n  address: 9464\n", "HOST:PORT"),
                             ("- a\n- b\n", "a mapping of keys"),
                             ("listen: {port: 80\n", "not valid YAML at line")] {
            do {
                _ = try ServerConfiguration.resolve(fileText: yaml, file: "cfg.yaml", environment: [:], flags: [:])
                Issue.record("accepted: \(yaml)")
            } catch {
                #expect(error.reasons.contains { $0.contains(says) }, "\(yaml): \(error.reasons)")
            }
        }
        // An environment variable and a flag are named as such; a secret's value is never repeated.
        do {
            _ = try ServerConfiguration.resolve(fileText: nil, environment: ["VELD_PORT": "x", "VELD_DATABASE_URL": "mysql://u:geheim@h/d"],
                                                flags: ["log.level": "loud"])
            Issue.record("accepted")
        } catch {
            #expect(error.reasons.contains { $0.hasPrefix("$VELD_PORT: a port") })
            #expect(error.reasons.contains { $0.hasPrefix("--log-level:") && $0.contains("'loud'") })
            #expect(error.reasons.contains { $0.hasPrefix("$VELD_DATABASE_URL:") } && !error.reasons.joined().contains("geheim"))
        }
    }

    @Test func whatYAMLWouldTurnIntoABooleanStaysText() throws {
        // YAML 1.1 reads off/no/yes as booleans; the configuration takes the text as written.
        let settings = try ServerConfiguration.resolve(fileText: "metrics:\n  address: off\nlisten:\n  host: ::1\n", environment: [:], flags: [:])
        #expect(settings["metrics.address"] == "off" && settings["listen.host"] == "::1")
        #expect(ServerConfiguration.mask("postgres://veld:geheim@db.invalid/veld") == "postgres://veld:****@db.invalid/veld")
        #expect(ServerConfiguration.mask("geheim") == "****")
        // A password a URL parser would read as a host and a port is masked all the same.
        #expect(ServerConfiguration.mask("postgres://veld:2024/Zomer!@db.invalid/veld?sslmode=require")
                == "postgres://veld:****@db.invalid/veld?sslmode=require")
        #expect(ServerConfiguration.mask("postgres://veld:p@ss@db.invalid/veld") == "postgres://veld:****@db.invalid/veld")
    }

    @Test func aSecretNeverShowsInARefusal() {
        // Broken YAML: the parser quotes the line; the refusal says only where.
        for yaml in ["database:\n  url: \"postgres://veld:geheim@db.invalid/veld\n", "database:\n  url: postgres://veld:geheim: x\n  - y\n"] {
            do {
                _ = try ServerConfiguration.resolve(fileText: yaml, environment: [:], flags: [:])
                Issue.record("accepted: \(yaml)")
            } catch {
                #expect(!error.description.contains("geheim"), "\(error.description)")
                #expect(error.description.contains("not valid YAML"), "\(error.description)")
            }
        }
        // A URL under the SQLite key is refused without being repeated.
        do {
            _ = try ServerConfiguration.resolve(fileText: nil, environment: ["VELD_DB": "postgres://veld:geheim@db.invalid/veld"], flags: [:])
            Issue.record("accepted a URL as a file path")
        } catch {
            #expect(error.reasons.contains { $0.contains("database.url") } && !error.description.contains("geheim"), "\(error.description)")
        }
    }
}
