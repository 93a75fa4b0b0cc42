import ArgumentParser
import Foundation
import VeldCore
import VeldProtocol

@main
struct Veld: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "veld",
        abstract: "Capture visit notes, council input and care plans offline; sync them later.",
        discussion: """
            Everything is stored in a local SQLite database (see --home). Records are
            addressed by id; a unique prefix of 4 or more characters is enough.
            """,
        subcommands: [
            Init.self, RecordGroup<VisitNoun>.self, RecordGroup<CarePlanNoun>.self,
            RecordGroup<GoalNoun>.self, RecordGroup<CouncilNoun>.self,
            Add.self, Show.self, List.self, Edit.self, Delete.self, Status.self, Connect.self, Sync.self, Rejected.self, Discard.self, Retry.self,
            Conflicts.self, Resolve.self,
            History.self, SchemaCommand.self, Due.self, Key.self, ConsoleCommand.self,
            Debug.self,
        ]
    )
}

/// Where the profile lives; every command takes it.
struct HomeOptions: ParsableArguments {
    @Option(name: .customLong("home"), help: ArgumentHelp(
        "Profile folder (default: $VELD_HOME, else $XDG_DATA_HOME/veld, else ~/.local/share/veld).",
        valueName: "dir"))
    var path: String?

    var url: URL { VeldHome.resolve(explicit: path, environment: ProcessInfo.processInfo.environment) }

    /// The profile folder as the command line gives it (`--home DIR` or `--home=DIR`),
    /// for what is decided before the arguments are parsed (a command's help).
    static var fromCommandLine: URL {
        let arguments = CommandLine.arguments
        var explicit: String?
        for (index, argument) in arguments.enumerated() {
            if argument == "--home", index + 1 < arguments.count { explicit = arguments[index + 1] }
            if argument.hasPrefix("--home=") { explicit = String(argument.dropFirst("--home=".count)) }
        }
        return VeldHome.resolve(explicit: explicit, environment: ProcessInfo.processInfo.environment)
    }

    /// Opens the profile with its key: the key file, or the passphrase it asks for.
    func openStore() throws -> LocalStore { try LocalStore.open(home: url, keys: CLIKeys.existing(home: url)) }
}

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create this device's profile: a local database and a new replica id.",
        discussion: """
            With --server and --token-file the user, role and scopes come from the server's
            view of the token; --role is for a profile that stays offline for now.
            """)

    @OptionGroup var home: HomeOptions

    @Option(help: "Your user name, recorded as the author of your edits.")
    var user: String

    @Option(help: "Your role when offline: visitor, council, carer, office or admin (the token decides once a server is set).")
    var role: Role?

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: ArgumentHelp("Protect the profile with a passphrase ($VELD_PASSPHRASE, else asked twice) instead of a key file.",
                             discussion: "Use it on a laptop: a key file beside the database protects only copies of the database."))
    var passphrase = false

    @OptionGroup var cost: KeyCostOption

    func validate() throws {
        if user.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--user must not be empty")
        }
        try connection.validate(required: false)
    }

    func run() async throws {
        var identity: DeviceIdentity?
        let target = try connection.read()
        if let target {
            identity = try await TokenCheck.identity(target, profile: nil, pending: 0)
            if let identity, let role, role != identity.role {
                throw ValidationError("this token is for the \(identity.role.rawValue) role, not \(role.rawValue); leave out --role (the token decides)")
            }
            if let identity, identity.user != user {
                throw ValidationError("this token belongs to \(identity.user), not \(user); use --user \(identity.user) or ask the office for your own token")
            }
        }
        let store = try LocalStore.initialise(home: home.url, user: user, role: identity?.role ?? role ?? .visitor,
                                              keys: CLIKeys.new(home: home.url, passphrase: passphrase, cost: cost.cost, rotating: false))
        if let target { try store.connect(server: target.server, token: target.token, serverCA: target.serverCA) }
        if let identity { try store.adopt(identity) }
        let profile = try store.profile()
        print("Initialised Veld for \(profile.user) (\(profile.role.rawValue)) in \(home.url.path)")
        print("Replica id: \(profile.replicaID)")
        let key = try store.keyStatus().reference
        if key.kind == KeyReference.keyFile {
            print("Encrypted with the key in \(CLIKeys.keyFile(home: home.url).file.path); keep a copy apart from the database.")
        } else {
            print("Encrypted under your passphrase: without it this profile cannot be read.")
        }
        if let identity { print("Scopes: \(identity.scopes.joined(separator: ", ")) (from the server)") }
        if let target { print("Syncs with \(target.server.absoluteString); run `veld sync` when online.") }
    }
}

extension Role: ExpressibleByArgument {}
