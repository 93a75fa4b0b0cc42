import Foundation
import PropertyBased
import Testing
import VeldProtocol
import VeldTestSupport

/// The built-in deadline rules on generated records, against a reference calculation
/// written here from DOMAIN-DETAIL.md's rule table (with Foundation's calendar for weeks
/// and months, and the days off listed by hand), and the rule format's checks.
@Suite struct DueRuleTests {
    static let rules = SchemaSet.builtIn.rules
    static let time = Date(timeIntervalSince1970: 1_795_168_800)

    static func day(_ number: Int) -> String { CivilDate(dayNumber: number).description }

    /// A care plan from generated codes: law, start, last bespreking, status, financier;
    /// sometimes two concurrent values of `law` (a conflict).
    static func plan(_ c: [Int]) -> RecordState {
        var plan = RecordState(id: String(format: "00000000-0000-4000-8000-%012d", c[0] % 1_000_000), type: "carePlan", scope: "loc-a")
        let laws = ["Wlz", "Wmo", "Jeugdwet", "Zvw", "particulier"]
        let start = CivilDate("2024-01-01")!.dayNumber + c[1] % 1_300
        var fields: [String: FieldValue] = ["clientCode": .string("ZH-0042"), "law": .string(laws[c[2] % laws.count]),
                                            "careStart": .string(day(start)),
                                            "status": .string(["concept", "besproken", "vastgesteld", "afgesproken"][c[3] % 4]),
                                            "financier": .string(["Gemeente Utrecht", "Gemeente Ede", "Zorgkantoor Noord"][c[4] % 3])]
        if c[5] % 3 != 0 { fields["lastDiscussedAt"] = .string(day(start - 30 + c[5] % 200)) }
        if c[6] % 4 == 0 { fields["nextEvaluationDue"] = .string(day(start + c[6] % 400)) }
        plan.edit(fields, replica: "r-anna", author: "anna", time: time)
        if c[7] % 5 == 0 {
            // Another device set the law at the same time: a conflict, shown by the later time.
            var other = RecordState(id: plan.id, type: "carePlan", scope: "loc-a")
            other.edit(["law": .string(laws[(c[2] + 1) % laws.count])], replica: "r-bram", author: "bram", time: time.addingTimeInterval(60))
            plan = (try? plan.merged(with: other)) ?? plan
        }
        return plan
    }

    static let gregorian: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    static func adding(_ component: Calendar.Component, _ n: Int, to text: String) -> String {
        let date = CivilDate(text)!
        let start = gregorian.date(from: DateComponents(year: date.year, month: date.month, day: date.day))!
        let parts = gregorian.dateComponents([.year, .month, .day], from: gregorian.date(byAdding: component, value: n, to: start)!)
        return CivilDate(year: parts.year!, month: parts.month!, day: parts.day!)!.description
    }

    /// What DOMAIN-DETAIL (b) rows 1–4 say for one plan: (rule, due or nil for "no term
    /// set", state).
    static func expected(_ plan: RecordState, today: String) -> [String: (due: String?, state: String)] {
        func text(_ field: String) -> String? { if case .string(let v)? = plan.value(of: field) { v } else { nil } }
        var items: [String: (due: String?, state: String)] = [:]
        func state(_ due: String) -> String { today > due ? "overdue" : "open" }
        let law = text("law")!, start = text("careStart")!, discussed = text("lastDiscussedAt")
        let doneSinceStart = discussed.map { $0 >= start } ?? false
        if law == "Wlz" {
            if !doneSinceStart { let due = adding(.day, 42, to: start); items["wlz-zorgplanbespreking"] = (due, state(due)) }
            if let discussed { let due = adding(.month, 6, to: discussed); items["wlz-zorgplanevaluatie"] = (due, state(due)) }
        }
        if (law == "Wmo" || law == "Jeugdwet") && !doneSinceStart { items["gemeente-zorgplanbespreking"] = (nil, "noTerm") }
        if law == "Zvw" && text("status") != "concept" {
            if let due = text("nextEvaluationDue") { items["zvw-volgende-evaluatie"] = (due, state(due)) } else { items["zvw-volgende-evaluatie"] = (nil, "noDate") }
        }
        return items
    }

    @Test func carePlanDeadlinesAreTheRuleTables() async {
        await checkProperty(count: 600, input: Gen.int(in: 0...1_000_000).array(of: 8...8), Gen.int(in: 0...1_500)) { codes, offset in
            let plan = Self.plan(codes)
            let today = CivilDate(dayNumber: CivilDate("2024-01-01")!.dayNumber + offset)
            let items = DueRules.evaluate(Self.rules, records: [plan], today: today)
            let expected = Self.expected(plan, today: today.description)
            #expect(Set(items.map(\.rule)) == Set(expected.keys), "\(plan.currentValues) on \(today)")
            for item in items {
                guard let want = expected[item.rule] else { continue }
                #expect(item.due?.description == want.due && item.state.rawValue == want.state, "\(item.rule): \(item) vs \(want)")
                #expect(item.daysLate == (item.due.map { max(0, today.dayNumber - $0.dayNumber) } ?? 0))
                #expect(item.conflicted == (plan.conflicts["law"] != nil ? ["law"] : []))
                #expect(item.remind == Self.rules.first { $0.id == item.rule }?.remind)
            }
            // Soonest first, the items without a deadline last.
            let dated = items.prefix { $0.due != nil }
            #expect(dated.map(\.due) == dated.map(\.due).sorted { $0! < $1! })
            #expect(items.dropFirst(dated.count).allSatisfy { $0.due == nil })
        }
    }

    /// Meldingen in working days (5, against the days off listed by hand) and bulletins
    /// done by an acknowledgement that points at them; deleted records count for nothing.
    @Test func workingDayTermsAndLinkedRecords() async {
        let off = Set(CalendarTests.daysOff.flatMap { year, days in days.map { CivilDate("\(year)-\($0)")! } })
        await checkProperty(count: 400, input: Gen.int(in: 0...1_000_000).array(of: 4...4)) { c in
            let raised = CivilDate(dayNumber: CivilDate("2024-01-01")!.dayNumber + c[0] % 1_350)
            var melding = RecordState(id: "10000000-0000-4000-8000-000000000001", type: "melding", scope: "loc-a")
            var fields: [String: FieldValue] = ["title": .string("Tillift defect"), "kind": .string("fout"), "raisedOn": .string(raised.description),
                                                "status": .string(["gemeld", "opgepakt", "afgehandeld"][c[1] % 3])]
            if c[2] % 3 == 0 { fields["acknowledgedOn"] = .string(raised.adding(days: 1).description) }
            melding.edit(fields, replica: "r-a", author: "anna", time: Self.time)
            var due = raised, left = 5
            while left > 0 {
                due = due.adding(days: 1)
                if due.weekday <= 5 && !off.contains(due) { left -= 1 }
            }
            let open = c[1] % 3 == 0 && c[2] % 3 != 0
            let items = DueRules.evaluate(Self.rules, records: [melding], today: raised.adding(days: c[3] % 20))
            #expect(items.map(\.rule) == (open ? ["melding-oppakken"] : []))
            if open { #expect(items.first?.due == due, "raised \(raised)") }

            var bulletin = RecordState(id: "20000000-0000-4000-8000-000000000002", type: "bulletin", scope: "loc-a")
            bulletin.edit(["title": .string("Nieuwe regels"), "topic": .string("beleid"), "publishedOn": .string(raised.description),
                           "status": .string("verzonden")], replica: "r-o", author: "olga", time: Self.time)
            var acknowledgement = RecordState(id: "30000000-0000-4000-8000-000000000003", type: "acknowledgement", scope: "loc-a")
            acknowledgement.edit(["bulletin": .string(bulletin.id), "acknowledgedOn": .string(raised.description), "acknowledgedBy": .string("anna")],
                                 replica: "r-a", author: "anna", time: Self.time)
            if c[2] % 2 == 0 { acknowledgement.edit([RecordState.deletedField: .bool(true)], replica: "r-a", author: "anna", time: Self.time) }
            let acknowledged = c[2] % 2 != 0
            let bulletins = DueRules.evaluate(Self.rules, records: [bulletin, acknowledgement], today: raised).filter { $0.type == "bulletin" }
            #expect(bulletins.map(\.rule) == (acknowledged ? [] : ["bericht-kennisname"]))
            if !acknowledged { #expect(bulletins.first?.due == WorkingCalendar.nl.adding(workingDays: 10, to: raised)) }
        }
    }

    /// A goal counts from its plan's bespreking (through the reference), a term per
    /// financier applies once the office sets it, and the first anchor with a date wins.
    @Test func referencesTermsPerValueAndAnchorsInOrder() throws {
        var plan = RecordState(id: "40000000-0000-4000-8000-000000000004", type: "carePlan", scope: "loc-a")
        plan.edit(["clientCode": .string("ZH-1"), "law": .string("Wmo"), "financier": .string("Gemeente Ede"), "careStart": .string("2026-03-02"),
                   "lastDiscussedAt": .string("2026-02-20"), "status": .string("concept")], replica: "r-a", author: "anna", time: Self.time)
        var goal = RecordState(id: "50000000-0000-4000-8000-000000000005", type: "carePlanGoal", scope: "loc-a")
        goal.edit(["carePlan": .string(plan.id), "domain": .string("wonen"), "goal": .string("zelf koken"), "status": .string("open")],
                  replica: "r-a", author: "anna", time: Self.time)
        let today = CivilDate("2026-03-10")!
        var items = DueRules.evaluate(Self.rules, records: [plan, goal], today: today)
        #expect(items.map(\.rule) == ["doel-evalueren", "gemeente-zorgplanbespreking"])
        #expect(items.first?.due == CivilDate("2026-03-06") && items.first?.state == .overdue && items.first?.daysLate == 4)
        #expect(items.last?.state == .noTerm && items.last?.due == nil)

        // The office sets Ede's term: a module change like any other.
        var rules = Self.rules
        let index = try #require(rules.firstIndex { $0.id == "gemeente-zorgplanbespreking" })
        rules[index].termBy?.terms["Gemeente Ede"] = .weeks(8)
        items = DueRules.evaluate(rules, records: [plan], today: today)
        #expect(items.map(\.due) == [CivilDate("2026-04-27")])
        #expect(items.first?.term == "8 weeks")

        var visit = RecordState(id: "60000000-0000-4000-8000-000000000006", type: "visitNote", scope: "loc-a")
        visit.edit(["visitedAt": .string("2026-04-20"), "visitor": .string("anna"), "kind": .string("werkbezoek"), "summary": .string("Rondgang"),
                    "status": .string("definitief"), "followUp": .string("Tillift laten keuren")], replica: "r-a", author: "anna", time: Self.time)
        // No followUpDue: 20 working days after the visit (Koningsdag, 5 mei and Hemelvaart skipped).
        #expect(DueRules.evaluate(Self.rules, records: [visit], today: today).map(\.due) == [CivilDate("2026-05-21")])
        visit.edit(["followUpDue": .string("2026-05-01")], replica: "r-a", author: "anna", time: Self.time)
        #expect(DueRules.evaluate(Self.rules, records: [visit], today: today).map(\.due) == [CivilDate("2026-05-01")])
        visit.edit(["followedUpOn": .string("2026-04-30")], replica: "r-a", author: "anna", time: Self.time)
        #expect(DueRules.evaluate(Self.rules, records: [visit], today: today).isEmpty)
    }

    /// Rules that do not fit the types are refused with a reason each.
    @Test func brokenRulesAreRefusedWithTheirReason() throws {
        func module(_ rule: String) -> Data {
            Data(#"""
            {"module": "test-rules", "version": 1, "summary": "rules",
             "types": [{"type": "testThing", "noun": "thing", "summary": "a thing", "scope": {"rule": "location"},
                        "fields": [{"name": "on", "kind": "date", "summary": "a day"},
                                   {"name": "state", "kind": "choice", "values": ["a", "b"], "summary": "a state"}]}],
             "rules": [\#(rule)]}
            """#.utf8)
        }
        let good = #"{"id": "thing-due", "type": "testThing", "title": "Due", "from": [{"field": "on"}], "term": {"days": 3}, "remind": ["office"], "source": "D: test"}"#
        let parsed = try ModuleDocument.parse(module(good))
        #expect(parsed.rules?.first?.term == .days(3))
        let broken: [(String, String)] = [
            (good.replacingOccurrences(of: #""field": "on""#, with: #""field": "state""#), "an anchor is a date field"),
            (good.replacingOccurrences(of: #""field": "on""#, with: #""field": "nothing""#), "has no field nothing"),
            (good.replacingOccurrences(of: #"{"days": 3}"#, with: #"{"days": 3, "weeks": 1}"#), "exactly one of days"),
            (good.replacingOccurrences(of: #"{"days": 3}"#, with: #"{"days": 99999}"#), "days from 0 to 3660"),
            (good.replacingOccurrences(of: #"["office"]"#, with: #"["boss"]"#), "no role boss"),
            (good.replacingOccurrences(of: #""D: test""#, with: #""test""#), "starts with its grade"),
            (good.replacingOccurrences(of: #""testThing""#, with: #""carePlan""#), "type carePlan is in no module"),
            (good.replacingOccurrences(of: #""remind""#, with: #""when": [{"field": "state", "isOneOf": ["c"]}], "remind""#), "c is not a value"),
            (good.replacingOccurrences(of: #""remind""#, with: #""done": [{"linkedBy": "testThing.state"}], "remind""#), "does not point at"),
            (good.replacingOccurrences(of: #""remind""#, with: #""dun": [], "remind""#), "unknown key \"dun\""),
            (good.replacingOccurrences(of: #"{"days": 3}"#, with: #"{"dayz": 3}"#), "unknown key \"dayz\""),
            ("\(good), \(good)", "listed twice"),
        ]
        for (rule, reason) in broken {
            #expect { try ModuleDocument.parse(module(rule)) } throws: { "\($0)".contains(reason) }
        }
    }

    @Test func everyBuiltInRuleReadsFieldsOfItsSet() {
        #expect(Self.rules.count >= 9)
        let fields = Set(SchemaSet.builtIn.schemas.flatMap { schema in schema.fields.map { "\(schema.type).\($0.name)" } })
        for rule in Self.rules { #expect(rule.fieldsRead.isSubset(of: fields), "\(rule.id): \(rule.fieldsRead.subtracting(fields))") }
    }
}
