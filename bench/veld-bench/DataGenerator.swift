import Foundation
import VeldProtocol

/// SplitMix64: a tiny seeded generator, so every run (and every process of a run) makes
/// the same records.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < p }
    mutating func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }
}

/// Realistic records of the four types, with Dutch text, spread over 50 scopes (45
/// locations, 5 organisations). Record `i` is a pure function of the seed and `i`, so a
/// child process can rebuild any record (or its id) without being sent it.
///
/// Records come in blocks of 20 in one scope: 7 visit notes, 4 council inputs (one in the
/// organisation's scope), 4 care plans and 5 goals that point at those care plans.
struct DataGenerator: Sendable {
    static let blockSize = 20
    let seed: UInt64

    init(seed: UInt64 = 0x5645_4C44) { self.seed = seed }

    static let locationNames = ["zonnehof", "de-linde", "het-anker", "de-bongerd", "rozenhof", "de-wingerd", "vijverhof",
                                "de-es", "berkenhof", "de-meander", "het-baken", "de-horst", "eikenburg", "de-kroon", "lindenhof"]
    static let towns = ["ede", "zwolle", "tiel"]
    static let locations: [String] = towns.flatMap { town in locationNames.map { "loc-\($0)-\(town)" } }
    static let organisations = ["org-bezinn", "org-zorggroep-noord", "org-zorgkantoor-gelderland", "org-zorgkantoor-ijssel", "org-stichting-samen"]
    static let scopes = locations + organisations

    static func replica(_ n: Int) -> String {
        var random = SeededRandom(seed: 0x5245_504C ^ UInt64(n))
        return "r-" + (0..<3).map { _ in String(format: "%08x", UInt32(truncatingIfNeeded: random.next())) }.joined()
    }

    static let people = ["Anna de Vries", "Pieter Jansen", "Fatima el Amrani", "Joost Bakker", "Marieke Visser", "Sanne Mulder",
                         "Henk de Boer", "Esra Yilmaz", "Willem Smit", "Noor Hendriks", "Kees van Dijk", "Lotte Peters"]

    let baseTime = Date(timeIntervalSince1970: 1_767_254_400)  // 2026-01-01T08:00:00Z

    func id(_ i: Int) -> String {
        var random = SeededRandom(seed: seed &+ 0x1D00 &+ UInt64(i) &* 0x9E37_79B9)
        let a = random.next(), b = random.next()
        let hex = String(format: "%016llx%016llx", a, b)
        let c = Array(hex)
        return "\(String(c[0..<8]))-\(String(c[8..<12]))-4\(String(c[13..<16]))-a\(String(c[17..<20]))-\(String(c[20..<32]))"
    }

    func type(_ i: Int) -> String {
        switch i % Self.blockSize {
        case 0..<7: return "visitNote"
        case 7..<11: return "councilInput"
        case 11..<15: return "carePlan"
        default: return "carePlanGoal"
        }
    }

    func scope(_ i: Int) -> String {
        let block = i / Self.blockSize
        if i % Self.blockSize == 10 { return Self.organisations[block % Self.organisations.count] }
        return Self.locations[block % Self.locations.count]
    }

    /// The person who uses device `n` (each device has one user, as the server checks).
    static func author(ofReplica n: Int) -> String { people[n % people.count] }

    /// Record `i` as its creator made it, sometimes edited once more by another device.
    func record(_ i: Int) -> RecordState { stages(i).last!.state }

    /// Record `i` after each device's edit, with that device's replica number: the
    /// creator's, then (for 3 in 10 records) another device's.
    func stages(_ i: Int) -> [(replica: Int, state: RecordState)] {
        var random = SeededRandom(seed: seed ^ (UInt64(i) &* 0x2545_F491_4F6C_DD1D))
        let block = i / Self.blockSize
        let creator = block % 10
        var state = RecordState(id: id(i), type: type(i), scope: scope(i))
        let time = baseTime.addingTimeInterval(Double(i * 7))
        state.edit(fields(i, &random), replica: Self.replica(creator), author: Self.author(ofReplica: creator), time: time)
        var stages = [(creator, state)]
        if random.chance(0.3) {
            let editor = 10 + block % 7
            state.edit(laterEdit(type(i), &random), replica: Self.replica(editor), author: Self.author(ofReplica: editor),
                       time: time.addingTimeInterval(86_400))
            stages.append((editor, state))
        }
        return stages
    }

    /// A small edit of one or two fields, as a person makes in the field.
    func laterEdit(_ type: String, _ random: inout SeededRandom) -> [String: FieldValue] {
        switch type {
        case "visitNote":
            return random.chance(0.5) ? ["followUp": .string(Dutch.sentences(1, &random))] : ["status": .string("definitief")]
        case "councilInput": return ["status": .string(random.pick(["in behandeling", "beantwoord"]))]
        case "carePlan": return ["agreements": .string(Dutch.sentences(2, &random)), "lastDiscussedAt": .string(Dutch.date(&random))]
        default: return ["evaluation": .string(Dutch.sentences(1, &random)), "evaluatedAt": .string(Dutch.date(&random))]
        }
    }

    /// A one-field edit of a text field, for capture, push and catch-up.
    func fieldEdit(_ type: String, _ random: inout SeededRandom) -> [String: FieldValue] {
        switch type {
        case "visitNote": return ["observations": .string(Dutch.sentences(2, &random))]
        case "councilInput": return ["body": .string(Dutch.sentences(2, &random))]
        case "carePlan": return ["riskAssessment": .string(Dutch.sentences(2, &random))]
        default: return ["actions": .string(Dutch.sentences(2, &random))]
        }
    }

    func fields(_ i: Int, _ random: inout SeededRandom) -> [String: FieldValue] {
        let slot = i % Self.blockSize
        switch type(i) {
        case "visitNote":
            var f: [String: FieldValue] = [
                "visitedAt": .string(Dutch.date(&random)),
                "visitor": .string(random.pick(Self.people)),
                "kind": .string(random.pick(["werkbezoek", "kwaliteitsbezoek", "dialoog", "organisatiescan", "overig"])),
                "summary": .string(random.pick(Dutch.summaries)),
                "observations": .string(Dutch.sentences(1 + Int(random.next() % 2), &random)),
                "themes": .strings(Array(Set((0..<(1 + Int(random.next() % 3))).map { _ in random.pick(Schemas.kwaliteitskaderThemes) }))
                    .sorted()),
                "participation": .strings([random.chance(0.4) ? random.pick(["cliëntenraad", "verwantenraad", "adviesgroep"]) : "geen"]),
                "status": .string("concept"),
            ]
            if random.chance(0.3) {
                f["followUp"] = .string(Dutch.sentences(1, &random))
                f["followUpDue"] = .string(Dutch.date(&random))
            }
            return f
        case "councilInput":
            return [
                "council": .string("Cliëntenraad " + random.pick(Self.locationNames).replacingOccurrences(of: "-", with: " ").capitalized),
                "kind": .string(random.pick(["adviesaanvraag", "advies", "ongevraagd advies", "signaal", "notulen", "voorstel"])),
                "topic": .string(random.pick(Dutch.topics)),
                "body": .string(Dutch.sentences(2 + Int(random.next() % 2), &random)),
                "receivedAt": .string(Dutch.date(&random)),
                "responseDue": .string(Dutch.date(&random)),
                "status": .string("open"),
            ]
        case "carePlan":
            return [
                "clientCode": .string("ZC-" + String(format: "%04d", Int(random.next() % 10_000)) + "-" + random.pick(["K", "M", "P", "T"])),
                "law": .string(random.pick(["Wlz", "Wlz", "Wlz", "Wmo", "Zvw", "Jeugdwet"])),
                "deliveryForm": .string(random.pick(["ZIN", "ZIN", "pgb", "vpt"])),
                "careStart": .string(Dutch.date(&random)),
                "participants": .strings(["cliënt", random.pick(["naasten", "mantelzorger", "wettelijk vertegenwoordiger"]), "professionals"]),
                "riskAssessment": .string(Dutch.sentences(1, &random)),
                "agreements": .string(Dutch.sentences(1 + Int(random.next() % 2), &random)),
                "status": .string(random.pick(["concept", "besproken"])),
            ]
        default:
            let block = i / Self.blockSize
            let plan = block * Self.blockSize + 11 + (slot - 15) % 4
            var f: [String: FieldValue] = [
                "carePlan": .string(id(plan)),
                "domain": .string(random.pick(["welzijn", "wonen", "gezondheid", "participatie", "zingeving", "mobiliteit"])),
                "goal": .string(random.pick(Dutch.goals)),
                "actions": .string(Dutch.sentences(1 + Int(random.next() % 2), &random)),
                "status": .string("open"),
            ]
            if random.chance(0.5) { f["evaluation"] = .string(Dutch.sentences(1, &random)) }
            return f
        }
    }
}

/// Dutch sentences about care visits, assembled from parts so they vary.
enum Dutch {
    static let subjects = ["De bewoners", "Een mantelzorger", "De teamleider", "De cliëntenraad", "Het team van de huiskamer",
                           "De zorgcoördinator", "Een familielid", "De specialist ouderengeneeskunde", "De locatiemanager",
                           "Twee verzorgenden", "De activiteitenbegeleider", "Een vrijwilliger", "De wijkverpleegkundige",
                           "Het zorgkantoor", "De kwaliteitsverpleegkundige", "De cliënt"]
    static let verbs = ["vertelt dat", "merkt op dat", "geeft aan dat", "benadrukt dat", "maakt zich zorgen dat", "is tevreden dat",
                        "vraagt of", "stelt voor dat", "bevestigt dat", "ziet dat", "meldt dat"]
    static let clauses = [
        "de dagstructuur in de huiskamer beter aansluit bij de wensen van de bewoners",
        "het zorgplan binnen zes weken met de cliënt is besproken",
        "de personeelsbezetting in het weekend krap is",
        "er minder valincidenten zijn sinds de nieuwe sensoren",
        "de maaltijden vaker samen met bewoners worden bereid",
        "de medicatieverstrekking volgens protocol verloopt",
        "familie actief betrokken wordt bij de evaluatie van doelen",
        "de tuin toegankelijker is gemaakt voor rolstoelen",
        "nieuwe medewerkers een inwerkprogramma volgen",
        "de overdracht tussen diensten soms onvolledig is",
        "de cliëntenraad om advies is gevraagd over de verbouwing",
        "het rapportagesysteem trager is dan gewenst",
        "bewoners vaker buiten willen wandelen",
        "de vrijwilligers een vaste contactpersoon hebben gekregen",
        "de evaluatie van het zorgplan is uitgesteld",
        "er een afspraak is gemaakt over nachtelijke controles",
        "de nieuwe werkwijze rond onbegrepen gedrag goed werkt",
        "de Wlz-indicatie opnieuw moet worden aangevraagd",
        "het team leert van de meldingen van incidenten",
        "de zelfanalyse en het ontwikkelplan met het zorgkantoor zijn besproken",
        "de inzet van domotica zorgvuldig met de familie is afgestemd",
        "de cliënt zelf de regie wil houden over de dagbesteding",
    ]
    static let tails = ["", "", " tijdens de rondgang", " in het overleg van dinsdag", " volgens de laatste rapportage",
                        " bij de evaluatie", " na het gesprek met de familie", " in de huiskamer op de eerste verdieping"]
    static let summaries = ["Rondgang huiskamer en tuin", "Gesprek met het team over de overdracht", "Dialoog over de zelfanalyse",
                            "Kwaliteitsbezoek met de cliëntenraad", "Zorgplanbespreking met familie", "Werkbezoek nachtdienst",
                            "Evaluatie ontwikkelplan", "Bezoek nieuwe groepswoning"]
    static let topics = ["Verbouwing van de huiskamers", "Maaltijdvoorziening", "Personeelsbezetting in het weekend",
                         "Jaarplan kwaliteit", "Bezoekregeling", "Inzet van domotica", "Klachtenregeling", "Begroting welzijnsactiviteiten"]
    static let goals = ["Ik wil zelf mijn boodschappen blijven doen", "Ik wil elke dag even naar buiten",
                        "Ik wil 's nachts beter slapen", "Ik wil mijn kleinkinderen vaker zien", "Ik wil zelfstandig kunnen eten",
                        "Ik wil minder pijn hebben bij het lopen", "Ik wil meedoen met de zangmiddag"]

    static func sentence(_ random: inout SeededRandom) -> String {
        "\(random.pick(subjects)) \(random.pick(verbs)) \(random.pick(clauses))\(random.pick(tails))."
    }

    static func sentences(_ n: Int, _ random: inout SeededRandom) -> String {
        (0..<n).map { _ in sentence(&random) }.joined(separator: " ")
    }

    static func date(_ random: inout SeededRandom) -> String {
        String(format: "2026-%02d-%02d", 1 + Int(random.next() % 12), 1 + Int(random.next() % 28))
    }
}
