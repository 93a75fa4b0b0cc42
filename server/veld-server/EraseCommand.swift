import ArgumentParser
import Foundation
import VeldProtocol
import VeldServer

/// `veld-server erase`: a client's records and their history removed from the server
/// (AVG art. 17, or the retention period), devices told to drop them, the access log told
/// who did it and why.
struct Erase: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Erase a client's records and their history (a request under AVG art. 17, or past the retention).",
        discussion: """
            The client's care plans (by client code) and their goals are removed with every past state; \
            each leaves a tombstone, so every device that holds them removes them on its next sync, \
            unsent changes included. The access log records who erased what and why, never the content. \
            This cannot be undone.

              veld-server erase --client-code ZH-0042 --reason "verzoek cliënt, brief 2026-11-30"
              veld-server erase --expired --retain 20y --dry-run     what is past the WGBO's 20 years
            """)

    @OptionGroup var database: DatabaseOptions
    @Option(help: ArgumentHelp("The client whose records go.", valueName: "code")) var clientCode: String?
    @Flag(help: "Erase every care plan (with its goals) not changed within the retention.") var expired = false
    @Option(help: ArgumentHelp("With --expired: how long records are kept, in years (20y, the WGBO's default) or days.",
                               valueName: "duration"))
    var retain: Retention = Retention(years: 20)
    @Option(help: ArgumentHelp("Why (a request's reference, the retention rule); kept in the access log.", valueName: "text"))
    var reason: String?
    @Flag(help: "Show what would be erased, and erase nothing.") var dryRun = false

    func validate() throws {
        if (clientCode == nil) == !expired { throw ValidationError("give --client-code CODE or --expired") }
        if let reason, reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw ValidationError("--reason must say why (a request's reference, say)")
        }
        if clientCode != nil, reason == nil, !dryRun {
            throw ValidationError("give --reason: the access log keeps why a client's records were erased")
        }
    }

    func run() async throws {
        let storage = try await database.open()
        let now = Date()
        // The records that belong to a plan, by the module set in force (a module's own
        // client-bound types go with the plan).
        let children = ClientRecords.planChildren(in: try await ModuleSets.published(storage).set)
        var ids: [String]
        var what: String
        if let clientCode {
            // Plans whose code is this one now: a plan whose code was corrected away from
            // it belongs to another client, and is only named.
            let plans = try await storage.carePlans(children: children)
            let current = plans.filter { $0.clientCodes.contains(clientCode) }
            ids = current.flatMap(\.recordIDs)
            let formerly = Set(try await storage.recordIDs(clientCode: clientCode, children: children)).subtracting(ids)
            let formerPlans = plans.filter { formerly.contains($0.planID) }.map(\.planID)
            if !formerPlans.isEmpty {
                FileHandle.standardError.write(Data(("not erased: care plan(s) \(formerPlans.joined(separator: ", ")) had client code \(clientCode) once "
                    + "and have another now; erase them by their current code if they are this client's\n").utf8))
            }
            what = "client \(clientCode)"
        } else {
            let cutoff = now.addingTimeInterval(-retain.seconds)
            let groups = try await storage.carePlans(children: children).filter { $0.lastChange < cutoff }
            ids = groups.flatMap(\.recordIDs)
            what = "\(groups.count) care plan(s) not changed since \(InternetTime.format(cutoff)) (retention \(retain))"
        }
        if ids.isEmpty {
            print(clientCode.map { "No care plan has client code \($0); nothing erased." } ?? "Nothing is past the retention; nothing erased.")
            return
        }
        if dryRun {
            print("Would erase \(ids.count) record(s) of \(what), with their history:")
            for id in ids { print("  \(id)") }
            return
        }
        let entry = Erasure.entry(at: now, by: Audit.operator(), reason: reason ?? "retention \(retain) passed", clientCode: clientCode)
        let result = try await storage.erase(recordIDs: ids, at: now, entry: entry)
        guard !result.records.isEmpty else {
            print("The records of \(what) were erased before; nothing erased.")
            return
        }
        let types = Dictionary(grouping: result.records, by: \.type).map { "\($0.value.count) \($0.key)" }.sorted().joined(separator: ", ")
        print("Erased \(result.records.count) record(s) of \(what) (\(types)) and \(result.historyRows) history row(s)"
              + (result.entry.map { "; access-log entry \($0.seq) records it" } ?? "") + ".")
        print("Devices remove them on their next sync.")
    }
}
