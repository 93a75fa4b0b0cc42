import ArgumentParser
import Foundation
import VeldProtocol
import VeldServer

/// `veld-server snapshot`: peildatum snapshots, frozen and immutable.
struct SnapshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Freeze the records as the server held them on a reference date (peildatum), list and compare them.",
        discussion: """
            A snapshot holds every record of the given scopes as the server held it at the end of \
            the --as-of day (Amsterdam time), rebuilt from the append-only history, and the late \
            arrivals: edits written in the field on or before that day that reached the server \
            after it. Snapshots never change; `show` also lists what arrived late since.

              veld-server snapshot create --as-of 2026-11-01 --name "najaar 2026" --scope '*'
              veld-server snapshot list
              veld-server snapshot show "najaar 2026"
              veld-server snapshot compare "voorjaar 2026" "najaar 2026"
            """,
        subcommands: [Create.self, List.self, Show.self, Compare.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Freeze a snapshot at a peildatum.")

        @OptionGroup var database: DatabaseOptions
        @Option(name: .customLong("as-of"), help: ArgumentHelp(
            "The peildatum (YYYY-MM-DD: the end of that day, Amsterdam time) or a moment (2026-11-01T12:00:00Z).", valueName: "date"))
        var asOf: String
        @Option(help: ArgumentHelp("The snapshot's name, unique (\"najaar 2026\").", valueName: "name"))
        var name: String
        @Option(help: ArgumentHelp("A scope to include (repeat it), or '*' for every scope (the default).", valueName: "scope"))
        var scope: [String] = []
        @Flag(help: "Print the snapshot as JSON.") var json = false

        func validate() throws {
            if SnapshotCommand.moment(asOf) == nil {
                throw ValidationError("--as-of takes a date YYYY-MM-DD or a moment YYYY-MM-DDTHH:MM:SSZ, not '\(asOf)'")
            }
            if !Snapshots.isValidName(name) { throw ValidationError("--name is one line of 1 to 80 characters") }
            try SnapshotCommand.validateScopes(scope)
        }

        func run() async throws {
            let storage = try await database.open()
            let filter: ScopeFilter = scope.isEmpty || scope.contains("*") ? .all : .only(Set(scope))
            let stderr = FileHandle.standardError
            let snapshot: Snapshot
            do {
                snapshot = try await Snapshots.create(in: storage, name: name, asOf: SnapshotCommand.moment(asOf)!, scopes: filter,
                                                      by: Audit.operator()) { done, total in
                    stderr.write(Data("snapshot: \(done) of \(total) records\n".utf8))
                }
            } catch let failure as Snapshots.Failure {
                throw ValidationError(failure.description)
            }
            if json {
                print(String(decoding: try StableJSON.encode(snapshot, pretty: true), as: UTF8.self))
            } else {
                print("Snapshot \(snapshot.id) \"\(snapshot.name)\": \(snapshot.records) record(s) as held at \(InternetTime.format(snapshot.asOf)), "
                      + "\(snapshot.lateArrivals) late arrival(s) frozen with it.")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The snapshots, oldest first (no client data).")

        @OptionGroup var database: DatabaseOptions
        @Flag(help: "Print a JSON array.") var json = false

        func run() async throws {
            let snapshots = try await database.open().snapshots()
            if json {
                print(String(decoding: try StableJSON.encode(snapshots, pretty: true), as: UTF8.self))
                return
            }
            guard !snapshots.isEmpty else {
                print("No snapshots yet (veld-server snapshot create --as-of DATE --name NAME).")
                return
            }
            print("\("name".padded(24)) \("as of".padded(20)) \("frozen".padded(20)) \("records".padded(8)) \("late".padded(5)) scopes")
            for s in snapshots {
                let line = "\(s.name.padded(24)) \(InternetTime.format(s.asOf).padded(20)) \(InternetTime.format(s.frozenAt).padded(20)) "
                    + "\(String(s.records).padded(8)) \(String(s.lateArrivals).padded(5)) \(s.scopes.joined(separator: ","))"
                print(line.count > 100 ? String(line.prefix(99)) + "…" : line)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A snapshot: what it holds and every late arrival (frozen with it, and received since).",
            discussion: "With --json, the frozen record states too. What it shows is logged in the access log.")

        @OptionGroup var database: DatabaseOptions
        @Argument(help: ArgumentHelp("The snapshot's name or id.", valueName: "name")) var name: String
        @Flag(help: "Print JSON: the snapshot, its records' states and the late arrivals.") var json = false

        func run() async throws {
            let storage = try await database.open()
            let snapshot = try await SnapshotCommand.find(name, in: storage)
            let late = try await Snapshots.allLateArrivals(snapshot, in: storage)
            let records = json ? try await storage.snapshotRecords(id: snapshot.id) : []
            let named = json ? records.map { AccessedRecord(id: $0.id, type: $0.type, scope: $0.scope, effect: "read") }
                : SnapshotCommand.distinct(late.map { AccessedRecord(id: $0.record, type: $0.type, scope: $0.scope, effect: "read") })
            try await SnapshotCommand.log(storage, "snapshot show id=\(snapshot.id) late=\(late.count)", named)
            if json {
                struct Shown: Encodable {
                    var snapshot: Snapshot
                    var records: [RecordState]
                    var lateArrivals: [LateArrival]
                }
                print(String(decoding: try StableJSON.encode(Shown(snapshot: snapshot, records: records, lateArrivals: late), pretty: true),
                             as: UTF8.self))
                return
            }
            print("Snapshot \(snapshot.id) \"\(snapshot.name)\" by \(snapshot.createdBy)")
            print("  as of    \(InternetTime.format(snapshot.asOf)) (what the server held then)")
            print("  frozen   \(InternetTime.format(snapshot.frozenAt))")
            print("  scopes   \(snapshot.scopes.joined(separator: ", "))")
            print("  records  \(snapshot.records)")
            let since = late.filter(\.afterFreezing).count
            print("  late     \(late.count - since) frozen with it, \(since) received since")
            guard !late.isEmpty else { return }
            print("")
            print("\("record".padded(9)) \("type".padded(13)) \("field".padded(16)) \("author".padded(10)) \("written".padded(20)) received")
            for arrival in late {
                let line = "\(String(arrival.record.prefix(8)).padded(9)) \(arrival.type.padded(13)) \(arrival.field.padded(16)) "
                    + "\(arrival.author.padded(10)) \(InternetTime.format(arrival.authoredAt).padded(20)) \(InternetTime.format(arrival.receivedAt))"
                    + (arrival.afterFreezing ? " since" : "")
                print(line.count > 100 ? String(line.prefix(99)) + "…" : line)
            }
        }
    }

    struct Compare: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What changed between two snapshots, field by field, and which changes arrived late.",
            discussion: """
                A change is late when the entry that made it was written on or before the earlier \
                snapshot's peildatum: it belongs to the earlier period but reached the server after \
                that snapshot's moment. What it shows is logged in the access log.
                """)

        @OptionGroup var database: DatabaseOptions
        @Argument(help: ArgumentHelp("The earlier snapshot's name or id.", valueName: "earlier")) var earlier: String
        @Argument(help: ArgumentHelp("The later snapshot's name or id.", valueName: "later")) var later: String
        @Flag(help: "Print a JSON array of changes.") var json = false

        func run() async throws {
            let storage = try await database.open()
            var a = try await SnapshotCommand.find(earlier, in: storage)
            var b = try await SnapshotCommand.find(later, in: storage)
            if a.asOf > b.asOf { swap(&a, &b) }
            let changes = Snapshots.compare(earlier: a, try await storage.snapshotRecords(id: a.id),
                                            later: b, try await storage.snapshotRecords(id: b.id))
            try await SnapshotCommand.log(storage, "snapshot compare ids=\(a.id),\(b.id) changes=\(changes.count)",
                                          SnapshotCommand.distinct(changes.map { AccessedRecord(id: $0.record, type: $0.type, scope: $0.scope, effect: "read") }))
            if json {
                print(String(decoding: try StableJSON.encode(changes, pretty: true), as: UTF8.self))
                return
            }
            print("From \"\(a.name)\" (\(InternetTime.format(a.asOf))) to \"\(b.name)\" (\(InternetTime.format(b.asOf))):")
            guard !changes.isEmpty else {
                print("nothing changed.")
                return
            }
            print("\("record".padded(9)) \("type".padded(13)) \("change".padded(8)) \("field".padded(16)) \("late".padded(5)) before → after")
            for change in changes {
                let values = change.kind == .changed ? "\(change.before ?? "") → \(change.after ?? "")" : ""
                let line = "\(String(change.record.prefix(8)).padded(9)) \(change.type.padded(13)) \(change.kind.rawValue.padded(8)) "
                    + "\((change.field ?? "").padded(16)) \((change.late ? "late" : "").padded(5)) "
                    + values.replacingOccurrences(of: "\n", with: " ")
                print(line.count > 100 ? String(line.prefix(99)) + "…" : line)
            }
            let late = changes.filter(\.late).count
            print("\(changes.count) change(s), \(late) arrived late (written on or before \(InternetTime.format(a.asOf))).")
        }
    }

    /// A date (the end of that day in Amsterdam) or an ISO 8601 moment.
    static func moment(_ text: String) -> Date? {
        if let day = CivilDate(text) { return Snapshots.endOfDay(day) }
        return InternetTime.parse(text)
    }

    static func validateScopes(_ scopes: [String]) throws {
        for name in scopes where name != "*" && !Scopes.isValid(name) {
            throw ValidationError("'\(name)' is not a scope name (lowercase letters, digits and - . _, such as loc-zonnehof), or '*' for every scope")
        }
    }

    static func find(_ name: String, in storage: any SyncStorage) async throws -> Snapshot {
        do { return try await Snapshots.named(name, in: storage) } catch let failure as Snapshots.Failure {
            throw ValidationError(failure.description)
        }
    }

    static func distinct(_ records: [AccessedRecord]) -> [AccessedRecord] {
        var seen: Set<String> = []
        return records.filter { seen.insert($0.id).inserted }
    }

    /// Logs the records a command shows before it shows them, as any read of client data.
    static func log(_ storage: any SyncStorage, _ detail: String, _ records: [AccessedRecord]) async throws {
        var draft = AccessDraft(at: Date(), action: .report, token: nil, detail: detail, records: records)
        draft.user = Audit.operator()
        try await storage.appendAccess([draft])
    }
}
