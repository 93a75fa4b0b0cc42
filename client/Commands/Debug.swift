import ArgumentParser
import Foundation
import VeldCore
import VeldProtocol

/// Commands for testing Veld itself; hidden from `--help`.
struct Debug: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Commands for testing Veld itself.", shouldDisplay: false, subcommands: [WriteLoop.self])

    /// Creates and edits visit notes as fast as it can, printing each acknowledged
    /// (committed) change on its own line. A crash test kills it mid-write and checks
    /// that every printed change is in the database.
    struct WriteLoop: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "write-loop")

        @OptionGroup var home: HomeOptions
        @Option(help: "How many records to write.") var count = 1000
        @Option(help: "Text every note's summary and observations carry.") var phrase = "Rondgang"

        func run() throws {
            let store = try home.openStore()
            let observations = String(repeating: "Bewoners zitten in de huiskamer (\(phrase)). ", count: 30)
            for index in 0..<count {
                let state = try store.create(type: "visitNote", scope: "loc-zonnehof", fields: [
                    "visitedAt": .string("2026-11-20"), "visitor": .string("crash"), "kind": .string("werkbezoek"),
                    "summary": .string("\(phrase) \(index)"), "observations": .string(observations),
                    "status": .string("concept"),
                ])
                let edited = try store.edit(id: state.id, changes: ["summary": .string("\(phrase) \(index) en tuin")])
                FileHandle.standardOutput.write(Data("\(edited.id) \(edited.context[try store.profile().replicaID])\n".utf8))
            }
        }
    }
}
