import ArgumentParser
import Foundation
import VeldCore
import VeldProtocol

@main
struct Veld: ParsableCommand {
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
            Show.self, List.self, Edit.self, Delete.self, Status.self, SchemaCommand.self, Debug.self,
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

    func openStore() throws -> LocalStore { try LocalStore.open(home: url) }
}

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create this device's profile: a local database and a new replica id.")

    @OptionGroup var home: HomeOptions

    @Option(help: "Your user name, recorded as the author of your edits.")
    var user: String

    @Option(help: "Your role: visitor, council, office or admin. Decides which fields you may write.")
    var role: Role = .visitor

    func validate() throws {
        if user.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--user must not be empty")
        }
    }

    func run() throws {
        let store = try LocalStore.initialise(home: home.url, user: user, role: role)
        let profile = try store.profile()
        print("Initialised Veld for \(profile.user) (\(profile.role.rawValue)) in \(home.url.path)")
        print("Replica id: \(profile.replicaID)")
    }
}

extension Role: ExpressibleByArgument {}
