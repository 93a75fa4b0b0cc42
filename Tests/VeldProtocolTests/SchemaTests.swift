import Foundation
import PropertyBased
import Testing
import VeldTestSupport
import VeldProtocol

@Suite struct SchemaTests {
    static let id = "0b6f3f4e-8a1d-4c62-9f0e-5d2b7a9c1e11"

    static func visit(_ extra: [String: FieldValue] = [:], scope: String = "loc-zonnehof") -> RecordState {
        var state = RecordState(id: id, type: "visitNote", scope: scope)
        let fields: [String: FieldValue] = [
            "visitedAt": .string("2026-11-20"), "visitor": .string("anna"), "kind": .string("werkbezoek"),
            "summary": .string("Rondgang"), "status": .string("concept"),
        ]
        state.edit(fields.merging(extra) { $1 }, replica: "r1", author: "anna", time: Date())
        return state
    }

    @Test func aCompleteVisitIsValid() {
        #expect(Schemas.validate(Self.visit(["themes": .strings(["veiligheid"]), "councilInvolved": .bool(true)])) == [])
    }

    @Test func problemsNameRecordFieldAndExpectation() throws {
        let errors = Schemas.validate(Self.visit(["kind": .string("feest"), "visitedAt": .string("2026-13-01"),
                                                  "themes": .string("veiligheid"), "nonsense": .bool(true)]))
        let byField = Dictionary(errors.map { ($0.field ?? "", $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byField["kind"]?.problem == .notAChoice("feest", allowed: ["werkbezoek", "kwaliteitsbezoek", "dialoog", "overig", "organisatiescan",
                                                                         "consultatie", "startbijeenkomst", "regiotafel",
                                                                         "bestuurlijk overleg", "gesprek cliëntenraad"]))
        // A retired value is still valid: records that hold it stay as they are.
        #expect(Schemas.validate(Self.visit(["kind": .string("zorgplanbespreking")])) == [])
        #expect(byField["visitedAt"]?.problem == .invalidDate("2026-13-01"))
        #expect(byField["themes"]?.problem == .wrongShape(expected: FieldKind.choices(Schemas.kwaliteitskaderThemes).description, got: "a string"))
        #expect(byField["nonsense"] != nil)
        let message = try #require(byField["kind"]).description
        #expect(message.contains(Self.id) && message.contains("kind") && message.contains("werkbezoek"))
    }

    @Test func requiredFieldsMustHaveAValue() {
        var state = Self.visit()
        state.edit(["summary": .null], replica: "r1", author: "anna", time: Date())
        #expect(Schemas.validate(state).map(\.field) == ["summary"])
        #expect(Schemas.validate(state).first?.problem == .missingRequired)
    }

    @Test(arguments: ["2026-11-20", "2024-02-29", "2000-02-29"])
    func validDates(_ date: String) { #expect(CalendarDate.isValid(date)) }

    @Test(arguments: ["2026-02-29", "1900-02-29", "2026-04-31", "2026-00-10", "20-11-2026", "2026-1-5", "2026-11-20T10:00", "", "２０２６-11-20"])
    func invalidDates(_ date: String) { #expect(!CalendarDate.isValid(date)) }

    @Test func scopesFollowTheType() {
        #expect(Schemas.visitNote.scopeProblem("loc-zonnehof") == nil)
        #expect(Schemas.visitNote.scopeProblem("org-bezinn") != nil)
        #expect(Schemas.councilInput.scopeProblem("org-bezinn") == nil)
        #expect(Schemas.visitNote.scopeProblem("Loc Zonnehof") != nil)
        #expect(Schemas.visitNote.scopeProblem("*") != nil)
        #expect(Schemas.validate(Self.visit(scope: "org-x")).first?.problem == .invalidScope("org-x", expected: "a location scope (loc-…)"))
    }

    @Test func officeDecisionsBelongToTheOffice() {
        let plan = Schemas.carePlan
        let id = Self.id
        #expect(plan.validateChanges(["approvedBy": .string("office")], role: .carer, recordID: id).first?.problem
                == .notPermitted(role: .carer, value: nil))
        #expect(plan.validateChanges(["status": .string("vastgesteld")], role: .council, recordID: id).first?.problem
                == .notPermitted(role: .council, value: "vastgesteld"))
        #expect(plan.validateChanges(["status": .string("besproken")], role: .carer, recordID: id) == [])
        for role in [Role.office, .admin] {
            #expect(plan.validateChanges(["status": .string("vastgesteld"), "approvedBy": .string("x")], role: role, recordID: id) == [])
        }
        #expect(Schemas.councilInput.validateChanges(["response": .string("Akkoord")], role: .carer, recordID: id).count == 1)
        #expect(Schemas.councilInput.validateChanges(["response": .string("Akkoord")], role: .office, recordID: id) == [])
        // The visitor finalises their own visit note.
        #expect(Schemas.visitNote.validateChanges(["status": .string("definitief")], role: .carer, recordID: id) == [])
    }

    @Test func clientCodesAreNeverBSNs() {
        var plan = RecordState(id: Self.id, type: "carePlan", scope: "loc-zonnehof")
        plan.edit(["clientCode": .string("111222333"), "financing": .string("Wlz"), "careStart": .string("2026-10-01"),
                   "status": .string("concept")], replica: "r1", author: "anna", time: Date())
        #expect(Schemas.validate(plan).first?.problem == .looksLikeBSN)
        plan.edit(["clientCode": .string("ZH-0042")], replica: "r1", author: "anna", time: Date())
        #expect(Schemas.validate(plan) == [])
    }

    /// Generated BSNs (nine digits passing the eleven-test) dressed up with separators,
    /// invisible characters and other digit scripts are all refused; text of invisible
    /// characters only is empty.
    @Test func aBSNIsRefusedHoweverItIsDressedUp() async {
        let dressing: [String] = [" ", ".", "-", "\u{200B}", "\u{200C}", "\u{200D}", "\u{2060}", "\u{FEFF}", "\u{00AD}", "\u{200E}", "\u{2011}"]
        await checkProperty(count: 300, input: Gen.int(in: 0...9).array(of: 8), Gen.int(in: 0...10).array(of: 9),
                            Gen.int(in: 0...2)) { firstEight, gaps, script in
            var weighted = 0
            for (index, digit) in firstEight.enumerated() { weighted += (9 - index) * digit }
            let last = weighted % 11
            guard last < 10 else { return }   // no ninth digit makes this one a BSN
            let digits = firstEight + [last]
            let zeros: [UInt32] = [0x30, 0xFF10, 0x0660]   // ASCII, full-width, Arabic-Indic
            var text = ""
            for (index, digit) in digits.enumerated() {
                text.unicodeScalars.append(Unicode.Scalar(zeros[script] + UInt32(digit))!)
                if gaps[index] < dressing.count, index < 8 { text += dressing[gaps[index]] }
            }
            let field = Schemas.carePlan.field("clientCode")!
            #expect(field.check(.string(text), recordID: Self.id, type: "carePlan").first?.problem == .looksLikeBSN,
                    "\(text.unicodeScalars.map { String($0.value, radix: 16) })")
        }
        let field = Schemas.carePlan.field("clientCode")!
        #expect(field.check(.string("\u{200B}\u{FEFF}"), recordID: Self.id, type: "carePlan").first?.problem == .emptyText)
        #expect(field.check(.string("ZH-0042"), recordID: Self.id, type: "carePlan") == [])
        #expect(field.check(.string("ZH-111222333"), recordID: Self.id, type: "carePlan") == [], "letters make it a code")
    }

    @Test func listsOfChoicesHaveNoRepeats() {
        #expect(Schemas.validate(Self.visit(["themes": .strings(["veiligheid", "veiligheid"])])).first?.problem == .repeatedChoice("veiligheid"))
    }

    @Test func unknownTypesAreRefused() {
        let state = RecordState(id: Self.id, type: "invoice", scope: "loc-zonnehof")
        #expect(Schemas.validate(state).first?.problem == .unknownType(known: Schemas.all.map(\.type)))
    }

    @Test func versionVectorComparisonIsConsistentWithJoin() async {
        let vectors = Gen.int(in: 0...3).array(of: 4).map { counts in
            VersionVector(Dictionary(uniqueKeysWithValues: counts.enumerated().map { ("r\($0.offset)", UInt64($0.element)) }))
        }
        await checkProperty(count: 300, input: vectors, vectors) { a, b in
            let joined = a.joined(with: b)
            #expect([.equal, .after].contains(joined.compare(a)))
            #expect([.equal, .after].contains(joined.compare(b)))
            switch a.compare(b) {
            case .equal: #expect(a == b && b.compare(a) == .equal)
            case .before: #expect(b.compare(a) == .after && joined == b)
            case .after: #expect(b.compare(a) == .before && joined == a)
            case .concurrent: #expect(b.compare(a) == .concurrent && joined != a && joined != b)
            }
        }
    }
}
