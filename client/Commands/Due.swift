import ArgumentParser
import Foundation
import VeldCore
import VeldProtocol

/// `veld due`: what the module set's rules say is due or overdue among this device's
/// records, worked out offline from the local data.
struct Due: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What is due or overdue in your scopes, soonest first (offline, from this device's records).",
        discussion: """
            The deadlines come from the rules of the module set this device keeps (`veld schema` shows its \
            version); a term in working days skips weekends and the Dutch public holidays of the Algemene \
            termijnenwet. A rule whose term the office has not set yet (one per gemeente, say) is listed as \
            "no term set"; one that needs a date the record does not hold, as "no date set". A field in \
            conflict counts as its shown value and the item is marked with *.

              veld due                        everything open, the most overdue first
              veld due --within 14d           what falls due in the next 14 days, and what is late
              veld due --scope loc-zonnehof --json
            """)

    @OptionGroup var home: HomeOptions
    @Option(help: ArgumentHelp("Only what falls due within this many days (14d) or weeks (2w), and what is late.", valueName: "period"))
    var within: String?
    @Option(help: "Only this scope, e.g. loc-zonnehof.") var scope: String?
    @Flag(help: "Only what is late.") var overdue = false
    @Option(name: .customLong("as-of"), help: ArgumentHelp("Count from this day instead of today (YYYY-MM-DD, Amsterdam time).", valueName: "date"))
    var asOf: String?
    @Flag(help: "Print a JSON array.") var json = false

    func validate() throws {
        if let within, DueTable.days(within) == nil {
            throw ValidationError("--within takes a number of days or weeks, e.g. 14d or 2w (at most 3660 days), not '\(within)'")
        }
        if let asOf, CivilDate(asOf) == nil { throw ValidationError("--as-of takes a date YYYY-MM-DD, not '\(asOf)'") }
    }

    func run() throws {
        let store = try home.openStore()
        let set = try store.schemaSet()
        let today = asOf.flatMap(CivilDate.init) ?? CivilDate.today()
        var items = DueRules.evaluate(set.rules, records: try store.records(RecordQuery(scope: scope)), today: today)
        items = DueTable.select(items, within: within.flatMap(DueTable.days), overdueOnly: overdue, today: today)
        if json {
            print(String(decoding: try StableJSON.encode(items, pretty: true), as: UTF8.self))
            return
        }
        print(DueTable.render(items, rules: set.rules, today: today))
    }
}
