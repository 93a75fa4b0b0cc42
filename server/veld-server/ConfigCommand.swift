import ArgumentParser
import Foundation
import VeldProtocol
import VeldServer

/// `veld-server config check`: the settings `serve` would run with, from the file, the
/// environment and the flags, with where each came from; secrets masked.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Show and check the configuration (file, environment, flags).", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the effective configuration, where each value comes from, secrets masked; exit 1 when it would not serve.",
            discussion: """
                Each setting comes from a flag if given, else its environment variable, else the \\
                configuration file (--config or $VELD_CONFIG), else its default. Give the flags \\
                `serve` would get to see what they make of it.

                  veld-server config check --config /etc/veld/veld-server.yaml
                """)

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var options: ServeOptions
        @Flag(help: "Print JSON: each key with its value (masked when secret) and source.") var json = false

        func run() async throws {
            let settings = try database.configuration(more: options.flags)
            let rows = settings.described()
            if json {
                struct Row: Encodable { let key: String, value: String, source: String }
                print(String(decoding: try StableJSON.encode(rows.map { Row(key: $0.key, value: $0.value, source: $0.source.rawValue) }, pretty: true),
                             as: UTF8.self))
            } else {
                print("Configuration" + (settings.file.map { " (file \($0))" } ?? " (no file)") + ":")
                for row in rows {
                    let name = ServerConfiguration.keys.first { $0.name == row.key }
                    let from = switch row.source {
                    case .flag: "flag \(name?.flag ?? "")"
                    case .environment: "$\(name?.environment ?? "")"
                    case .file: "file"
                    case .default: "default"
                    }
                    print("  \(row.key.padded(18)) \(row.value.padded(40)) \(from)")
                }
            }
            do {
                _ = try ServeSettings(settings)
            } catch let error as ArgumentParser.ValidationError {
                FileHandle.standardError.write(Data("veld-server would not serve with this: \(error.message)\n".utf8))
                throw ExitCode(1)
            }
            if let cert = settings["tls.cert"], let key = settings["tls.key"] {
                do { _ = try ServerTLS(certificateFile: cert, keyFile: key) } catch let invalid as ServerTLS.Invalid {
                    FileHandle.standardError.write(Data("veld-server would not serve with this: \(invalid.description)\n".utf8))
                    throw ExitCode(1)
                }
            }
            if !json { print("It would serve with this.") }
        }
    }
}
