import ArgumentParser
import Foundation
import VeldCore
import VeldProtocol

struct Rejected: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the changes the server refused and set aside, with the reason and what to do.",
        discussion: """
            A refused change stays on this device and out of the pushes until it is fixed
            (`veld edit ID field=value`, then `veld sync`), retried unchanged once the office
            fixed the token (`veld retry ID`), or given up (`veld discard ID`).
            """)

    @OptionGroup var home: HomeOptions
    @Flag(help: "List the changes discarded so far instead (they are kept in the profile).") var discarded = false
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let store = try home.openStore()
        if discarded {
            let changes = try store.discardedChanges()
            if json {
                struct Output: Encodable {
                    let id, type: String; let discardedAt: Date; let state: RecordState; let problem: Problem?; let receipt: String?
                }
                print(String(decoding: try StableJSON.encode(changes.map {
                    Output(id: $0.recordID, type: $0.type, discardedAt: $0.discardedAt, state: $0.state, problem: $0.problem,
                           receipt: $0.receipt)
                }, pretty: true), as: UTF8.self))
                return
            }
            if changes.isEmpty { print("No discarded changes."); return }
            for change in changes {
                print("\(change.recordID)  \(change.type)  discarded \(RecordPrinter.format(change.discardedAt))"
                      + (change.receipt.map { "  (scope removed; kept until the office confirms receipt \($0))" } ?? ""))
            }
            return
        }
        let parked = try store.parked()
        if json {
            struct Output: Encodable { let id, type, problem, detail, advice: String; let reasons: [String]; let parkedAt: Date }
            print(String(decoding: try StableJSON.encode(parked.map {
                Output(id: $0.recordID, type: $0.type, problem: $0.problem.type, detail: $0.problem.detail, advice: $0.advice,
                       reasons: $0.reasons, parkedAt: $0.parkedAt)
            }, pretty: true), as: UTF8.self))
            return
        }
        if parked.isEmpty { print("No refused changes."); return }
        for record in parked {
            print("\(record.recordID)  \(record.type)  refused \(RecordPrinter.format(record.parkedAt)): \(record.problem.title)")
            for reason in record.reasons { print("    \(reason)") }
            print("    what to do: \(record.advice)")
        }
    }
}

struct Discard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Give up this device's change to a record: it goes back to the server's state.",
        discussion: """
            Asks the server for its state of the record (a record it never had is removed
            here). The discarded change is kept in the profile: `veld rejected --discarded`.
            """)

    @OptionGroup var home: HomeOptions
    @Argument(help: "The record's id (or a unique prefix of 4 or more characters).") var id: String
    @Flag(help: "Do not ask for confirmation.") var yes = false

    func run() async throws {
        let store = try home.openStore()
        let record = try store.record(id)
        guard try store.outbox().contains(where: { $0.recordID == record.id }) else {
            throw ValidationError("record \(record.id) has no change waiting to be synced; there is nothing to discard")
        }
        let settings = try store.syncSettings()
        guard settings.server != nil else {
            throw ValidationError("this profile has no server, so there is no server state to go back to; `veld connect` first")
        }
        let transport = try ProfileTransport.make(settings, store: store)
        if !yes {
            guard isatty(STDIN_FILENO) != 0 else {
                throw ValidationError("discarding needs a confirmation; run it in a terminal, or add --yes")
            }
            print("Discard this device's change to \(record.type) \(record.id) and go back to the server's state? [y/N] ", terminator: "")
            guard let answer = readLine(), ["y", "yes", "j", "ja"].contains(answer.lowercased()) else {
                print("Nothing was discarded.")
                return
            }
        }
        // Under the sync lock: no sync may change the record between the server's answer
        // and the discard.
        let (change, serverState) = try await store.withSyncLock(waiting: 60) { () async throws -> (DiscardedChange, RecordState?) in
            let serverState: RecordState?
            do {
                serverState = try await transport.record(id: record.id)
            } catch let error as SyncTransportError {
                throw ValidationError("\(error.description); nothing was discarded")
            }
            return (try store.discard(id: record.id, serverState: serverState), serverState)
        }
        print(serverState == nil
              ? "Discarded \(change.type) \(change.recordID): the server never had it, so it is gone from this device."
              : "Discarded this device's change to \(change.type) \(change.recordID); it now holds the server's state.")
        print("The discarded change is kept in the profile: `veld rejected --discarded`.")
    }
}

struct Retry: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Put a refused change back into the next sync unchanged (after the office fixed the token).")

    @OptionGroup var home: HomeOptions
    @Argument(help: "The record's id (or a unique prefix).") var ids: [String] = []
    @Flag(help: "Every refused change.") var all = false

    func validate() throws {
        if ids.isEmpty != all { throw ValidationError("give record ids or --all") }
    }

    func run() throws {
        let store = try home.openStore()
        let targets = all ? try store.parked().map(\.recordID) : ids
        var count = 0
        for id in targets {
            guard try store.retryParked(id: id) else { throw LocalStoreError(.notParked(id), home: store.home) }
            count += 1
        }
        print("\(count) change(s) go with the next `veld sync`.")
    }
}
