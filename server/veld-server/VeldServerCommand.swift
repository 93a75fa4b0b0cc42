import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import VeldProtocol
import VeldServer

@main
struct VeldServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "veld-server",
        abstract: "The Veld sync server: devices push their edits and pull everyone else's.",
        subcommands: [Serve.self, TokenCommand.self, Devices.self, ReceiptCommand.self, SchemaCommand.self, Audit.self, Erase.self,
                      DueCommand.self, SnapshotCommand.self, ReportCommand.self, ConfigCommand.self, BackupCommand.self,
                      RestoreCommand.self, EpochCommand.self, Migrate.self],
        defaultSubcommand: Serve.self
    )
}

struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: ArgumentHelp(
        "A configuration file (YAML; keys in the README, \"Deploying\"); also $VELD_CONFIG. Environment variables and flags override it.",
        valueName: "file"))
    var config: String?

    @Option(name: .customLong("db"), help: ArgumentHelp(
        "The embedded SQLite database, the default store (default veld-data/veld-server.sqlite; also $VELD_DB).", valueName: "path"))
    var path: String?

    @Option(name: .customLong("database"), help: ArgumentHelp(
        "A PostgreSQL URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE) instead of SQLite; also $VELD_DATABASE_URL.",
        valueName: "url"))
    var url: String?

    /// The settings from the file, the environment and these flags (and `more` flags).
    func configuration(more: [String: String] = [:]) throws -> ServerConfiguration {
        let environment = ProcessInfo.processInfo.environment
        let file = config ?? environment["VELD_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        var text: String?
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ValidationError("cannot read the configuration file \(file); check the path (--config or $VELD_CONFIG)")
            }
            text = String(decoding: data, as: UTF8.self)
        }
        var flags = more
        if let path { flags["database.sqlite"] = path }
        if let url { flags["database.url"] = url }
        do {
            return try ServerConfiguration.resolve(fileText: text, file: file, environment: environment, flags: flags)
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// The database chosen: PostgreSQL when a URL is set, unless `--db` was given and the URL
    /// was not (a flag wins over the environment and the file).
    static func database(_ settings: ServerConfiguration) -> (url: String?, sqlite: String) {
        let sqlite = settings["database.sqlite"] ?? ""
        if settings.settings["database.sqlite"]?.source == .flag, settings.settings["database.url"]?.source != .flag { return (nil, sqlite) }
        return (settings["database.url"], sqlite)
    }

    func open(_ purpose: StorageOpening.Purpose = .administer, logger: Logger = Logger(label: "veld-server")) async throws -> any SyncStorage {
        let chosen = Self.database(try configuration())
        return try await StorageOpening.open(databaseURL: chosen.url, sqlitePath: chosen.sqlite, purpose: purpose, logger: logger)
    }

    var describe: String {
        guard let settings = try? configuration() else { return "?" }
        let chosen = Self.database(settings)
        return chosen.url.map { _ in "PostgreSQL" } ?? "SQLite \(chosen.sqlite)"
    }
}

/// The flags of `serve` that a configuration file or the environment may also set.
struct ServeOptions: ParsableArguments {
    @Option(help: "Address to listen on (default 127.0.0.1; also $VELD_HOST).") var host: String?
    @Option(help: "Port to listen on; 0 picks a free one, printed at start (default 8080; also $VELD_PORT).") var port: String?
    @Option(help: ArgumentHelp("The server's certificate, PEM (with its chain); also $VELD_TLS_CERT.", valueName: "cert.pem"))
    var tlsCert: String?
    @Option(help: ArgumentHelp("The certificate's private key, PEM; also $VELD_TLS_KEY.", valueName: "key.pem"))
    var tlsKey: String?
    @Flag(inversion: .prefixedNo,
          help: "Serve plain HTTP on a non-loopback address (only behind a TLS-terminating proxy); also $VELD_INSECURE_HTTP=true.")
    var insecureHTTP: Bool?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (default info; also $VELD_LOG_LEVEL).") var logLevel: String?
    @Option(help: ArgumentHelp("text (one line per event) or json (one JSON object per line, for a log collector); also $VELD_LOG_FORMAT.",
                               valueName: "format"))
    var logFormat: String?
    @Option(help: ArgumentHelp("Where /metrics (Prometheus) is served: HOST:PORT apart from the sync port, or off (default 127.0.0.1:9464; also $VELD_METRICS_ADDRESS).",
                               valueName: "address"))
    var metricsAddress: String?

    var flags: [String: String] {
        var flags: [String: String] = [:]
        flags["listen.host"] = host
        flags["listen.port"] = port
        flags["tls.cert"] = tlsCert
        flags["tls.key"] = tlsKey
        if let insecureHTTP { flags["insecure-http"] = insecureHTTP ? "true" : "false" }
        flags["log.level"] = logLevel
        flags["log.format"] = logFormat
        flags["metrics.address"] = metricsAddress
        return flags
    }
}

/// What `serve` runs with, resolved and checked as a whole.
struct ServeSettings {
    let host: String
    let port: Int
    let tlsCert: String?
    let tlsKey: String?
    let insecureHTTP: Bool
    let logLevel: Logger.Level
    let jsonLogs: Bool
    let metrics: (host: String, port: Int)?

    init(_ settings: ServerConfiguration) throws {
        host = settings["listen.host"] ?? "127.0.0.1"
        port = Int(settings["listen.port"] ?? "8080") ?? 8080
        tlsCert = settings["tls.cert"]
        tlsKey = settings["tls.key"]
        insecureHTTP = settings["insecure-http"] == "true"
        logLevel = Logger.Level(rawValue: settings["log.level"] ?? "info") ?? .info
        jsonLogs = settings["log.format"] == "json"
        metrics = MetricsAddress.parse(settings["metrics.address"] ?? "off") ?? nil
        if let metrics, metrics.port != 0, metrics.port == port, metrics.host == host {
            throw ValidationError("--metrics-address must differ from the sync address: metrics never share the public port")
        }
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("give --tls-cert and --tls-key together") }
        if tlsCert != nil, insecureHTTP { throw ValidationError("--insecure-http and --tls-cert exclude each other") }
        if tlsCert == nil, !insecureHTTP, !Loopback.contains(host) {
            throw ValidationError("""
                without TLS the server listens on loopback only, and \(host) is not loopback; \
                give --tls-cert and --tls-key (or --insecure-http behind a TLS proxy on this machine)
                """)
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the sync server until SIGINT or SIGTERM; in-flight requests finish first.",
        discussion: """
            With --tls-cert and --tls-key it speaks HTTPS (HTTP/2 or HTTP/1.1). Without them it
            speaks plain HTTP and listens on loopback only, so tokens and client data never
            cross a network unencrypted; --insecure-http lifts that (only behind a TLS proxy
            on the same machine). Every setting may also come from a configuration file
            (--config) or the environment; flags win over both (veld-server config check).
            """)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var options: ServeOptions

    func validate() throws {
        _ = try ServeSettings(try database.configuration(more: options.flags))
    }

    func run() async throws {
        let settings = try ServeSettings(try database.configuration(more: options.flags))
        let level = settings.logLevel
        let json = settings.jsonLogs
        let registry = PrometheusCollectorRegistry()
        // Counted only when they are served (off: every metric is a no-op).
        if settings.metrics != nil { MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry)) }
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "veld-server")
        logger.logLevel = level
        var tls: ServerTLS?
        if let tlsCert = settings.tlsCert, let tlsKey = settings.tlsKey {
            do { tls = try ServerTLS(certificateFile: tlsCert, keyFile: tlsKey) } catch let invalid as ServerTLS.Invalid {
                throw ValidationError(invalid.description)
            }
        }
        let storage = try await database.open(.serve, logger: logger)
        // This release's built-in modules into the database (every process then enforces
        // the same set); a set that no longer forms would refuse every push: say why before
        // listening.
        try await SchemaCommand.installBuiltIns(storage)
        _ = try await SchemaCommand.published(storage)
        // A restored database takes back, for some days from now, what devices still hold.
        let identity = try await storage.openRecoveryWindow(at: Date())
        if let until = identity.recoveryUntil, until > Date() {
            FileHandle.standardOutput.write(Data(("veld-server: this database was restored from a backup (epoch \(identity.epoch)); devices send back "
                + "what it lacks on their next sync, until \(InternetTime.format(until))\n").utf8))
        }
        let host = settings.host
        let describe = database.describe
        let scheme = tls == nil ? "http" : "https"
        var note = tls.map { "TLS, certificate valid until \(ISO8601DateFormatter().string(from: $0.notValidAfter))" }
            ?? "plain HTTP, loopback only; give --tls-cert and --tls-key to serve other machines"
        if tls == nil, !Loopback.contains(host) {
            note = "plain HTTP on a non-loopback address (--insecure-http): only behind a TLS proxy on this machine"
            logger.warning("serving plain HTTP on \(host): tokens and client data are unencrypted on the wire")
        }
        if AccessLogSwitch.isOff {
            FileHandle.standardError.write(Data("WARNING: the access log is OFF (VELD_BENCH_ACCESS_LOG_OFF=1): for benchmarks only, never with client data\n".utf8))
        }
        let shown = host.contains(":") ? "[\(host)]" : host
        let said = note
        var services: [any Service] = []
        if let metrics = settings.metrics {
            if !Loopback.contains(metrics.host) {
                logger.warning("metrics are served on \(metrics.host), not loopback: they hold no client data, but say how busy the server is")
            }
            let metricsHost = metrics.host.contains(":") ? "[\(metrics.host)]" : metrics.host
            let metricsApp = buildMetricsApplication(registry: registry, storage: storage, host: metrics.host, port: metrics.port,
                                                     logger: logger, onServerRunning: { port in
                FileHandle.standardOutput.write(Data("veld-server metrics on http://\(metricsHost):\(port)/metrics\n".utf8))
            })
            // Metrics that cannot listen (the port taken by another process) never take the
            // sync server down with them: said once, then the server serves without them.
            services.append(SecondaryService(metricsApp, logger: logger,
                                             what: "metrics could not listen on \(metricsHost):\(metrics.port); serving without them (--metrics-address)"))
        }
        let app = try buildApplication(storage: storage, host: host, port: settings.port, logger: logger, tls: tls, services: services,
                                       onServerRunning: { port in
            // Written straight to the file descriptor so a supervising process sees it at once.
            FileHandle.standardOutput.write(Data("veld-server listening on \(scheme)://\(shown):\(port) (\(said); database \(describe))\n".utf8))
        })
        try await app.runService()
    }
}

struct Devices: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Each device: its user, replica, last push and pull, how far behind it is, and how it is doing.",
        discussion: """
            Devices say with every request which app version they run, how many changes wait \
            to be sent and since when, and how many records they hold (SPEC.md, "Device \
            health"). Listed first: devices whose unsent work is older than --unsent-days \
            (UNSENT), then devices not heard from in --stale-days (STALE), then the rest, each \
            group oldest contact first.
            """)
    @OptionGroup var database: DatabaseOptions
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Include revoked tokens.") var all = false
    @Option(help: ArgumentHelp("A device not heard from in this many days is STALE.", valueName: "days")) var staleDays = 7
    @Option(help: ArgumentHelp("A device with changes waiting longer than this many days is UNSENT.", valueName: "days"))
    var unsentDays = 3

    func validate() throws {
        guard (1...3_650).contains(staleDays) else { throw ValidationError("--stale-days takes 1 to 3650 days") }
        guard (0...3_650).contains(unsentDays) else { throw ValidationError("--unsent-days takes 0 to 3650 days") }
    }

    func run() async throws {
        let storage = try await database.open()
        let head = try await storage.headPosition()
        let now = Date()
        let receipts = Dictionary(grouping: try await storage.receipts(), by: \.tokenID)
        let tokens = try await storage.tokens().filter { all || $0.revokedAt == nil || ($0.wipeRequestedAt != nil && $0.wipedAt == nil) }
        let statuses = DeviceStatus.judge(tokens, now: now, staleAfter: TimeInterval(staleDays) * 86_400,
                                          unsentAfter: TimeInterval(unsentDays) * 86_400)
        let devices = statuses.map(\.token)
        if json {
            struct Receipt: Encodable {
                let id: String, kind: String, scopes: [String], types: [String]?, records: Int, unsent: Int, receivedAt: Date
                let confirmedAt: Date?, confirmedBy: String?
            }
            struct Device: Encodable {
                let token: String, user: String, role: String, replica: String?
                let lastPushAt: Date?, lastPullAt: Date?, behind: Int64?, revoked: Bool
                let wipeRequestedAt: Date?, wipedAt: Date?, receipts: [Receipt]
                let health: DeviceHealth?, healthAt: Date?, stale: Bool, unsentTooLong: Bool
            }
            let rows = statuses.map { status in
                let device = status.token
                return Device(token: device.id, user: device.user, role: device.role.rawValue, replica: device.replica, lastPushAt: device.lastPushAt,
                       lastPullAt: device.lastPullAt, behind: device.lastCursor.map { head - $0 }, revoked: device.revokedAt != nil,
                       wipeRequestedAt: device.wipeRequestedAt, wipedAt: device.wipedAt,
                       receipts: (receipts[device.id] ?? []).map {
                           Receipt(id: $0.receipt.id, kind: $0.receipt.kind.rawValue, scopes: $0.receipt.scopes, types: $0.receipt.types,
                                   records: $0.receipt.records,
                                   unsent: $0.receipt.unsent, receivedAt: $0.receivedAt, confirmedAt: $0.confirmedAt,
                                   confirmedBy: $0.confirmedBy)
                       },
                       health: device.health, healthAt: device.healthAt, stale: status.stale, unsentTooLong: status.unsentTooLong)
            }
            print(String(decoding: try StableJSON.encode(rows, pretty: true), as: UTF8.self))
            return
        }
        print("USER         ROLE     REPLICA                    LAST PUSH     LAST PULL     BEHIND  TOKEN")
        for device in devices {
            let behind = device.lastCursor.map { String(head - $0) } ?? "all"
            let status = statuses.first { $0.token.id == device.id }
            print([String(device.user.prefix(12)).padding(toLength: 12, withPad: " ", startingAt: 0),
                   device.role.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0),
                   (device.replica ?? "-").padding(toLength: 26, withPad: " ", startingAt: 0),
                   Self.ago(device.lastPushAt, now).padding(toLength: 13, withPad: " ", startingAt: 0),
                   Self.ago(device.lastPullAt, now).padding(toLength: 13, withPad: " ", startingAt: 0),
                   behind.padding(toLength: 7, withPad: " ", startingAt: 0),
                   device.id + (device.revokedAt == nil ? "" : " (\(device.state(at: now)))")].joined(separator: " "))
            var flags: [String] = []
            if status?.unsentTooLong == true { flags.append("UNSENT") }
            if status?.stale == true { flags.append("STALE") }
            if let health = device.health {
                let waiting = health.outbox == 0 ? "nothing unsent"
                    : "\(health.outbox) unsent" + (health.oldest.map { " (oldest \(Self.ago($0, now)))" } ?? "")
                print("    app \(health.app), \(waiting), \(health.records) record(s); said \(Self.ago(device.healthAt, now))"
                      + (flags.isEmpty ? "" : "  " + flags.joined(separator: " ")))
            } else if !flags.isEmpty {
                print("    has not said how it is doing  " + flags.joined(separator: " "))
            }
            for stored in receipts[device.id] ?? [] {
                let receipt = stored.receipt
                let what = switch receipt.kind {
                case .wipe: "wiped"
                case .scopes: "removed scope(s) \(receipt.scopes.joined(separator: ","))"
                case .types: "removed type(s) its role may not read: \((receipt.types ?? []).joined(separator: ","))"
                }
                print("    \(InternetTime.format(stored.receivedAt)) \(what): \(receipt.records) record(s) removed, \(receipt.unsent) unsent change(s)"
                      + (receipt.kind == .wipe ? " erased" : stored.confirmedAt.map { " released (confirmed by \(stored.confirmedBy ?? "?") \(InternetTime.format($0)))" }
                         ?? " kept on the device's discard log until confirmed: veld-server receipt confirm \(receipt.id)"))
            }
        }
        print("\(devices.count) device(s); the change log is at position \(head).")
    }

    static func ago(_ date: Date?, _ now: Date) -> String {
        guard let date else { return "never" }
        let seconds = Int(now.timeIntervalSince(date))
        switch seconds {
        case ..<120: return "just now"
        case ..<7_200: return "\(seconds / 60) min ago"
        case ..<172_800: return "\(seconds / 3_600) h ago"
        default: return "\(seconds / 86_400) days ago"
        }
    }
}

struct ReceiptCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receipt", abstract: "Confirm what a device reported it removed.", subcommands: [Confirm.self])

    struct Confirm: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Confirm a device's purge receipt: the device then drops the unsent changes it kept for it.",
            discussion: """
                After a scope removal a device keeps its changes that had not been sent in its
                encrypted discard log, and its receipt says how many (`veld-server devices`).
                They are not sent from there: the device's user reads them (`veld rejected
                --discarded`) so that what still matters is entered again by someone who holds
                the scope. Once the office has dealt with them, confirm the receipt: on its
                next sync the device removes them. A confirmation cannot be taken back.
                """)
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The receipt's id, as `veld-server devices` shows it.") var id: String

        func run() async throws {
            let storage = try await database.open()
            let who = Audit.operator()
            guard let stored = try await storage.confirmReceipt(id: id.lowercased(), by: who, at: Date()) else {
                throw ExitMessage("no receipt \(id); `veld-server devices --all` lists every device's receipts")
            }
            let receipt = stored.receipt
            print("Receipt \(receipt.id) of \(stored.tokenID) confirmed by \(stored.confirmedBy ?? who) at \(InternetTime.format(stored.confirmedAt ?? Date()))"
                  + (receipt.unsent > 0 ? "; on its next sync the device drops the \(receipt.unsent) unsent change(s) it kept." : "."))
        }
    }
}

extension DeviceToken {
    var lastActivity: Date? { [lastPushAt, lastPullAt].compactMap { $0 }.max() }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create or update the database schema, then exit.")
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        try await SchemaCommand.installBuiltIns(try await database.open(.migrate))
        print("The database (\(database.describe)) is up to date.")
    }
}

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Issue, list, rotate, update and revoke device tokens.",
        subcommands: [Create.self, List.self, Rotate.self, Update.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a token for one device. The token is printed once; only its hash is kept.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Whose device this is.") var user: String
        @Option(help: "visitor, council, carer (care plans), office or admin.") var role: Role
        @Option(name: .customLong("scope"), parsing: .singleValue,
                help: "A scope the device may read and write (repeat, or comma-separate); * for all.")
        var scopes: [String]
        @Option(help: ArgumentHelp("How long the token lives: 24h, 90d, 12w or 1y (default: until revoked).", valueName: "duration"))
        var expires: Lifetime?

        func validate() throws {
            if user.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--user must not be empty") }
            _ = try ScopeList.expand(scopes)
        }

        func run() async throws {
            let storage = try await database.open()
            let secret = TokenSecret.make()
            let now = Date()
            let scopes = try ScopeList.expand(scopes)
            let token = DeviceToken(id: TokenSecret.makeID(), user: user, role: role, scopes: scopes, createdAt: now,
                                    expiresAt: expires.map { now.addingTimeInterval($0.seconds) }, secretIssuedAt: now)
            try await storage.insertToken(token, hash: TokenSecret.hash(secret))
            print(secret)
            let until = token.expiresAt.map { ", valid until \(InternetTime.format($0))" } ?? ""
            FileHandle.standardError.write(Data("Token \(token.id) for \(user) (\(role.rawValue), scopes \(scopes.joined(separator: ","))\(until)). It is shown only now.\n".utf8))
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give a token a new secret (printed once); the old one stops working at once.",
            discussion: """
                The token keeps its id, user, role, scopes and the device it is bound to, so the
                device goes on where it was after `veld connect --token-file` with the new secret.
                Without --expires an expiring token gets as long again as it was first given.
                """)
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The token id from `veld-server token list`.") var id: String
        @Option(help: ArgumentHelp("How long the new secret lives: 24h, 90d, 12w or 1y.", valueName: "duration"))
        var expires: Lifetime?
        @Flag(help: "The new secret does not expire.") var noExpiry = false

        func validate() throws {
            if expires != nil, noExpiry { throw ValidationError("--expires and --no-expiry exclude each other") }
        }

        func run() async throws {
            let storage = try await database.open()
            guard let token = try await storage.tokens().first(where: { $0.id == id }) else {
                throw ValidationError("no token \(id); `veld-server token list` shows the ids")
            }
            guard token.revokedAt == nil else { throw ValidationError("\(id) is revoked; issue a new token with `veld-server token create`") }
            let now = Date()
            let expiresAt: Date? = noExpiry ? nil : expires.map { now.addingTimeInterval($0.seconds) }
                ?? token.lifetime.map { now.addingTimeInterval($0) }
            let secret = TokenSecret.make()
            guard try await storage.rotateToken(id: id, hash: TokenSecret.hash(secret), at: now, expiresAt: expiresAt) else {
                throw ValidationError("\(id) was revoked meanwhile; nothing was changed")
            }
            print(secret)
            let until = expiresAt.map { "valid until \(InternetTime.format($0))" } ?? "no expiry"
            FileHandle.standardError.write(Data("New secret for \(id) (\(token.user), \(until)); the old one no longer works. It is shown only now.\n".utf8))
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change the scopes a token may read and write; the device learns them at its next sync.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The token id from `veld-server token list`.") var id: String
        @Option(name: .customLong("scopes"), parsing: .singleValue,
                help: "The token's scopes from now on (repeat, or comma-separate); * for all.")
        var scopes: [String]

        func validate() throws { _ = try ScopeList.expand(scopes) }

        func run() async throws {
            let storage = try await database.open()
            let scopes = try ScopeList.expand(scopes)
            guard let token = try await storage.tokens().first(where: { $0.id == id }) else {
                throw ValidationError("no token \(id); `veld-server token list` shows the ids")
            }
            guard try await storage.updateTokenScopes(id: id, scopes: scopes) else {
                throw ValidationError("\(id) is revoked; a revoked token cannot be changed")
            }
            print("\(id) (\(token.user)): scopes \(token.scopes.joined(separator: ",")) → \(scopes.joined(separator: ",")).")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens: user, role, scopes, bound replica, last push and pull.")
        @OptionGroup var database: DatabaseOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let storage = try await database.open()
            let tokens = try await storage.tokens()
            if json {
                print(String(decoding: try StableJSON.encode(tokens, pretty: true), as: UTF8.self))
                return
            }
            print("ID           USER         ROLE     SCOPES           REPLICA                    LAST PUSH            LAST PULL            EXPIRES              STATE")
            let now = Date()
            for token in tokens {
                let columns = [
                    token.id.padding(toLength: 12, withPad: " ", startingAt: 0),
                    String(token.user.prefix(12)).padding(toLength: 12, withPad: " ", startingAt: 0),
                    token.role.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0),
                    String(token.scopes.joined(separator: ",").prefix(16)).padding(toLength: 16, withPad: " ", startingAt: 0),
                    (token.replica ?? "-").padding(toLength: 26, withPad: " ", startingAt: 0),
                    (token.lastPushAt.map { ISO8601DateFormatter().string(from: $0) } ?? "-").padding(toLength: 20, withPad: " ", startingAt: 0),
                    (token.lastPullAt.map { ISO8601DateFormatter().string(from: $0) } ?? "-").padding(toLength: 20, withPad: " ", startingAt: 0),
                    (token.expiresAt.map { ISO8601DateFormatter().string(from: $0) } ?? "never").padding(toLength: 20, withPad: " ", startingAt: 0),
                    token.state(at: now),
                ]
                print(columns.joined(separator: " "))
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a token by its id (tok_…); the device can no longer sync.",
            discussion: "With --wipe (a lost or stolen device) the device erases everything it holds on its next contact with the server and reports it; `veld-server devices` shows the receipt.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The token id from `veld-server token list`.") var id: String
        @Flag(help: "Also have the device erase its local data on its next contact.") var wipe = false

        func run() async throws {
            let storage = try await database.open()
            let done = wipe ? try await storage.requestWipe(id: id, at: Date()) : try await storage.revokeToken(id: id, at: Date())
            guard done else { throw ValidationError("no token \(id); `veld-server token list` shows the ids") }
            print(wipe ? "Revoked \(id); its device erases its data on its next contact (`veld-server devices` shows when)." : "Revoked \(id).")
        }
    }
}

extension Role: ExpressibleByArgument {}

/// `--scope` values: repeated or comma-separated, each a scope name or `*`.
enum ScopeList {
    static func expand(_ values: [String]) throws -> [String] {
        let scopes = values.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
        for scope in scopes where scope != "*" && !Scopes.isValid(scope) {
            throw ValidationError("'\(scope)' is not a scope; use names like loc-zonnehof or org-bezinn, or * for all")
        }
        if scopes.isEmpty { throw ValidationError("give at least one scope") }
        var seen = Set<String>()
        return scopes.filter { seen.insert($0).inserted }
    }
}

/// A token's lifetime as typed: a whole number and a unit, `24h`, `90d`, `12w` or `1y`
/// (365 days); at most 10 years.
struct Lifetime: ExpressibleByArgument {
    let seconds: TimeInterval

    init?(argument: String) {
        let units: [Character: TimeInterval] = ["h": 3_600, "d": 86_400, "w": 604_800, "y": 365 * 86_400]
        let digits = argument.dropLast()
        guard let unit = argument.last.flatMap({ units[$0] }), !digits.isEmpty, digits.allSatisfy(\.isASCII),
              digits.allSatisfy(\.isNumber), let count = Int(digits), count > 0,
              Double(count) * unit <= 3_653 * 86_400 else { return nil }
        seconds = Double(count) * unit
    }

    static var defaultCompletionKind: CompletionKind { .default }
}

/// A service whose failure is logged and outlived: it waits for the shutdown instead.
struct SecondaryService: Service {
    let inner: any Service
    let logger: Logger
    let what: String

    init(_ inner: any Service, logger: Logger, what: String) {
        self.inner = inner
        self.logger = logger
        self.what = what
    }

    func run() async throws {
        do {
            try await inner.run()
        } catch is CancellationError {
            return
        } catch {
            logger.error("\(what): \(error)")
            FileHandle.standardError.write(Data("veld-server: \(what)\n".utf8))
            try? await gracefulShutdown()
        }
    }
}
