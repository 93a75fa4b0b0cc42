import ArgumentParser
import Foundation
import VeldProtocol
import VeldServer

/// `veld-server due`: the office's view of what is due, across the scopes it names, from
/// what the server holds. Reading the records is logged like any read of client data.
struct DueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "due",
        abstract: "What is due or overdue across scopes, soonest first, with who is reminded (the office's view).",
        discussion: """
            The same rules and the same evaluation as `veld due` on a device, on every record the server \
            holds in the scopes given ('*' for all). The records read are named in the access log \
            (action report), as any read of client data is.

              veld-server due --scope '*'
              veld-server due --scope loc-zonnehof --scope loc-de-linde --within 14d --json
            """)

    @OptionGroup var database: DatabaseOptions
    @Option(help: ArgumentHelp("A scope to include (repeat it), or '*' for every scope.", valueName: "scope"))
    var scope: [String] = []
    @Option(help: ArgumentHelp("Only what falls due within this many days (14d) or weeks (2w), and what is late.", valueName: "period"))
    var within: String?
    @Flag(help: "Only what is late.") var overdue = false
    @Option(name: .customLong("as-of"), help: ArgumentHelp("Count from this day instead of today (YYYY-MM-DD).", valueName: "date"))
    var asOf: String?
    @Flag(help: "Print a JSON array.") var json = false

    func validate() throws {
        if scope.isEmpty { throw ValidationError("give --scope '*' for every scope, or --scope SCOPE (repeatable)") }
        for name in scope where name != "*" && !Scopes.isValid(name) {
            throw ValidationError("'\(name)' is not a scope name (lowercase letters, digits and - . _, such as loc-zonnehof), or '*' for every scope")
        }
        if let within, DueTable.days(within) == nil {
            throw ValidationError("--within takes a number of days or weeks, e.g. 14d or 2w (at most 3660 days), not '\(within)'")
        }
        if let asOf, CivilDate(asOf) == nil { throw ValidationError("--as-of takes a date YYYY-MM-DD, not '\(asOf)'") }
    }

    func run() async throws {
        let storage = try await database.open()
        let set = try await ModuleSets.published(storage).set
        let filter: ScopeFilter = scope.contains("*") ? .all : .only(Set(scope))
        let now = Date()
        var records: [RecordState] = []
        var after: Int64 = 0
        for _ in 0..<1_000_000 {
            let page = try await storage.pull(scopes: filter, after: after, limit: 1_000, token: nil, at: now)
            records += page.records
            after = page.lastPosition
            if !page.more { break }
        }
        let today = asOf.flatMap(CivilDate.init) ?? CivilDate.today(at: now)
        var items = DueRules.evaluate(set.rules, records: records, today: today)
        items = DueTable.select(items, within: within.flatMap(DueTable.days), overdueOnly: overdue, today: today)
        // The records whose deadlines are shown are read: logged before anything is shown.
        var named: [AccessedRecord] = []
        var seen: Set<String> = []
        for item in items where seen.insert(item.record).inserted {
            named.append(AccessedRecord(id: item.record, type: item.type, scope: item.scope, effect: "read"))
        }
        var draft = AccessDraft(at: now, action: .report, token: nil,
                                detail: "due scopes=\(filter.names.joined(separator: ",")) items=\(items.count)", records: named)
        draft.user = Audit.operator()
        try await storage.appendAccess([draft])
        if json {
            print(String(decoding: try StableJSON.encode(items, pretty: true), as: UTF8.self))
        } else {
            print(DueTable.render(items, rules: set.rules, today: today))
        }
    }
}
