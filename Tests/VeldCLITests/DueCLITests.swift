import Foundation
import Testing
import VeldProtocol

/// `veld due` through the binary, offline: the built-in rules on records made with
/// `veld add`, counted from a given day.
@Suite struct DueCLITests {
    @Test func dueListsWhatIsLateFirstAndFiltersByPeriod() async throws {
        let cli = try CLI()
        try await cli.initialise(user: "anna", role: "carer")
        let wlz = try await cli.add(["add", "carePlan", "--scope", "loc-zonnehof", "clientCode=ZH-0042", "law=Wlz", "careStart=2026-10-01",
                                     "status=concept"])
        let wmo = try await cli.add(["add", "carePlan", "--scope", "loc-zonnehof", "clientCode=ZH-0043", "law=Wmo",
                                     "financier=Gemeente Ede", "careStart=2026-11-02", "status=concept"])
        let melding = try await cli.add(["add", "melding", "--scope", "loc-zonnehof", "title=Tillift defect", "kind=fout",
                                         "raisedOn=2026-11-20", "status=gemeld"])
        // Nothing due for a plan already discussed since its start.
        _ = try await cli.add(["add", "carePlan", "--scope", "loc-zonnehof", "clientCode=ZH-0044", "law=Wlz", "careStart=2026-10-01",
                               "lastDiscussedAt=2026-10-20", "status=besproken"])

        let table = try await cli.ok("due", "--as-of", "2026-11-26")
        let lines = table.stdoutLines
        #expect(lines.allSatisfy { $0.count <= 100 }, "\(table)")
        // 6 weeks from 1 October is 12 November: 14 days late; the melding is due 5 working days after the 20th.
        let rows = lines.dropFirst().prefix { !$0.hasSuffix("(as of 2026-11-26).") }
        #expect(rows.count == 4, "\(table)")
        #expect(rows.first?.hasPrefix("2026-11-12  14d   \(wlz.prefix(8))") == true, "\(table)")
        #expect(rows.contains { $0.hasPrefix("2026-11-27        \(melding.prefix(8))") }, "\(table)")
        // The plan discussed on 20 October is evaluated twice a year: six months on.
        #expect(rows.last?.hasPrefix("no term set") == true && rows.contains { $0.hasPrefix("2027-04-20") && $0.contains("evalueren") }, "\(table)")
        #expect(rows.contains { $0.hasPrefix("no term set") && $0.contains(wmo.prefix(8)) }, "\(table)")
        #expect(lines.contains("4 items, 1 late (as of 2026-11-26)."), "\(table)")
        #expect(table.stdout.contains("wlz-zorgplanbespreking: Zorgplanbespreking binnen 6 weken"), "\(table)")
        #expect(table.stdout.contains("E: Besluit langdurige zorg"), "\(table)")

        let json = try await cli.json("due", "--as-of", "2026-11-26", "--json")
        let items = try #require(json.array)
        #expect(items.count == 4)
        #expect(items.first?["rule"]?.string == "wlz-zorgplanbespreking" && items.first?["daysLate"]?.number == 14)
        #expect(items.first?["remind"]?.array?.compactMap(\.string) == ["carer", "office"])

        let soon = try await cli.json("due", "--as-of", "2026-11-26", "--within", "0d", "--json")
        // What is late, and what has no deadline to filter on.
        #expect(soon.array?.compactMap { $0["rule"]?.string } == ["wlz-zorgplanbespreking", "gemeente-zorgplanbespreking"], "\(soon)")
        let late = try await cli.json("due", "--as-of", "2026-11-26", "--overdue", "--json")
        #expect(late.array?.compactMap { $0["record"]?.string } == [wlz])

        try await cli.ok("edit", wlz, "lastDiscussedAt=2026-11-25")
        let after = try await cli.json("due", "--as-of", "2026-11-26", "--json")
        // Discussed: the first bespreking is done, the half-yearly evaluation counts from it.
        #expect(after.array?.first { $0["record"]?.string == wlz }?["rule"]?.string == "wlz-zorgplanevaluatie")
        #expect(after.array?.first { $0["record"]?.string == wlz }?["due"]?.string == "2027-05-25")

        try await cli.fails(["due", "--within", "fortnight"], mentioning: ["--within", "14d"])
        try await cli.fails(["due", "--as-of", "2026-02-30"], mentioning: ["--as-of", "YYYY-MM-DD"])
    }
}
