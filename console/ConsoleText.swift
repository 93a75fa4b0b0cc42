import Foundation
import VeldCore

/// The console's own words, Dutch first (its users are Dutch care staff), English beside.
/// Values from records are never translated; field and type names come from the modules.
enum Language: String, Sendable, CaseIterable {
    case nl, en

    /// The language a request asks for: the `lang` cookie, else Dutch.
    static func from(cookie: String?) -> Language { cookie.flatMap(Language.init(rawValue:)) ?? .nl }
}

struct ConsoleText: Sendable {
    let language: Language

    private func pick(_ nl: String, _ en: String) -> String { language == .nl ? nl : en }

    var title: String { "Veld" }
    var inbox: String { pick("Conflicten", "Conflicts") }
    var records: String { pick("Records", "Records") }
    var sync: String { pick("Synchroniseren", "Sync") }
    var otherLanguage: String { pick("English", "Nederlands") }
    func unsynced(_ count: Int) -> String {
        count == 0 ? pick("Alles is gesynchroniseerd", "Everything is synced")
            : pick("\(count) wijziging(en) nog niet gesynchroniseerd", "\(count) change(s) not yet synced")
    }
    var inboxIntro: String {
        pick("Velden die twee mensen tegelijk anders hebben ingevuld, de oudste eerst. Kies per veld welke waarde blijft, of voeg ze samen.",
             "Fields that two people filled in differently at the same time, oldest first. Choose per field which value stays, or merge them.")
    }
    var noConflicts: String { pick("Geen conflicten: er is niets te beslissen.", "No conflicts: nothing to decide.") }
    var type: String { pick("Soort", "Type") }
    var scope: String { pick("Locatie", "Scope") }
    var field: String { pick("Veld", "Field") }
    var values: String { pick("Waarden", "Values") }
    var waiting: String { pick("Wacht sinds", "Waiting since") }
    var all: String { pick("alle", "all") }
    var olderThan: String { pick("Ouder dan (dagen)", "Older than (days)") }
    var filter: String { pick("Filteren", "Filter") }
    var open: String { pick("Openen", "Open") }
    var search: String { pick("Zoeken", "Search") }
    var status: String { pick("Status", "Status") }
    var onlyConflicts: String { pick("Alleen met conflict", "Only with a conflict") }
    var onlyDue: String { pick("Alleen met iets te doen", "Only with something due") }
    var noRecords: String { pick("Geen records gevonden.", "No records found.") }
    var updated: String { pick("Laatst gewijzigd", "Last changed") }
    var inConflict: String { pick("in conflict", "in conflict") }
    var deleted: String { pick("verwijderd", "deleted") }
    var by: String { pick("door", "by") }
    var device: String { pick("apparaat", "device") }
    var at: String { pick("op", "at") }
    var keepThis: String { pick("Deze waarde houden", "Keep this value") }
    var mergeByHand: String { pick("Zelf samenvoegen", "Merge by hand") }
    var saveMerged: String { pick("Samengevoegde tekst opslaan", "Save the merged text") }
    var differences: String { pick("Verschil met de eerste waarde", "Difference from the first value") }
    var deleteVersusEdit: String {
        pick("Iemand heeft dit record verwijderd terwijl een ander het wijzigde.", "Someone deleted this record while someone else edited it.")
    }
    var keepRecord: String { pick("Record houden (met de wijzigingen)", "Keep the record (with the edits)") }
    var deleteRecord: String { pick("Record verwijderen", "Delete the record") }
    var fields: String { pick("Velden", "Fields") }
    var history: String { pick("Geschiedenis op de server", "History on the server") }
    var historyUnavailable: String {
        pick("De geschiedenis staat op de server en is nu niet bereikbaar (offline?). Alles hierboven staat op dit apparaat.",
             "The history is on the server, which cannot be reached now (offline?). Everything above is on this device.")
    }
    var noHistory: String { pick("Nog geen wijzigingen op de server.", "No changes on the server yet.") }
    var besides: String { pick("naast", "beside") }
    var recovered: String { pick("teruggezet na herstel", "sent back after a restore") }
    var resolved: String { pick("Opgelost. De keuze gaat mee met de volgende synchronisatie.", "Resolved. The choice goes with the next sync.") }
    var changedMeanwhile: String {
        pick("Dit record is intussen veranderd (een synchronisatie bracht een nieuwe waarde). Bekijk het opnieuw en kies dan.",
             "This record changed meanwhile (a sync brought another value). Look again, then choose.")
    }
    var syncDone: String { pick("Gesynchroniseerd", "Synced") }
    var syncFailed: String { pick("Synchroniseren lukte niet", "The sync did not succeed") }
    var notFound: String { pick("Dit record staat niet op dit apparaat.", "This record is not on this device.") }
    var forbidden: String {
        pick("Geen toegang: open de console via de link die `veld console` toonde.",
             "No access: open the console through the link `veld console` printed.")
    }
    var crossSite: String {
        pick("Geweigerd: deze wijziging kwam niet van de console zelf. Er is niets veranderd.",
             "Refused: this change did not come from the console itself. Nothing was changed.")
    }
    var back: String { pick("Terug naar de conflicten", "Back to the conflicts") }
    func pushedPulled(_ pushed: Int, _ pulled: Int, _ conflicts: Int) -> String {
        pick("\(pushed) verstuurd, \(pulled) ontvangen, \(conflicts) nieuwe conflict(en).",
             "\(pushed) sent, \(pulled) received, \(conflicts) new conflict(s).")
    }
    func setAside(_ count: Int) -> String {
        pick("\(count) wijziging(en) geweigerd door de server en apart gezet (`veld rejected`).",
             "\(count) change(s) refused by the server and set aside (`veld rejected`).")
    }
    var signedInAs: String { pick("Ingelogd als", "Signed in as") }
}

extension ConsoleText {
    var newRecord: String { pick("Nieuw", "New") }
    var edit: String { pick("Wijzigen", "Edit") }
    var save: String { pick("Opslaan", "Save") }
    var required: String { pick("verplicht", "required") }
    var requiredNote: String { pick("Velden met * zijn verplicht.", "Fields marked * are required.") }
    var notSaved: String { pick("Niet opgeslagen:", "Not saved:") }
    var saved: String { pick("Opgeslagen. Het gaat mee met de volgende synchronisatie.", "Saved. It goes with the next sync.") }
    var dueTitle: String { pick("Wat moet er gebeuren", "What is due") }
    func dueIntro(_ today: String) -> String {
        pick("Volgens de regels van de modules, berekend op dit apparaat op \(today); het meest verlopen eerst.",
             "By the modules' rules, worked out on this device on \(today); the most overdue first.")
    }
    var nothingDue: String { pick("Er is niets te doen.", "Nothing is due.") }
    var rule: String { pick("Regel", "Rule") }
    var dueOn: String { pick("Uiterlijk", "Due") }
    var remind: String { pick("Wie", "Who") }
    func overdue(_ days: Int) -> String { pick("\(days) dag(en) te laat", "\(days) day(s) late") }
    var noTerm: String { pick("geen termijn ingesteld", "no term set") }
    var noDate: String { pick("geen datum ingevuld", "no date set") }
    var rejectedTitle: String { pick("Geweigerd door de server", "Refused by the server") }
    var rejectedIntro: String {
        pick("Wijzigingen die de server niet aannam, apart gezet; de rest is gewoon gesynchroniseerd. Herstel ze, probeer opnieuw, of laat ze los.",
             "Changes the server did not accept, set aside; the rest synced as usual. Fix them, try again, or let them go.")
    }
    var nothingRejected: String { pick("Niets geweigerd.", "Nothing refused.") }
    var retry: String { pick("Opnieuw proberen", "Try again") }
    var fix: String { pick("Herstellen", "Fix") }
    var discard: String { pick("Loslaten (terug naar de server)", "Discard (back to the server's)") }
    var discarded: String {
        pick("Losgelaten: het record is weer zoals op de server. De losgelaten wijziging blijft bewaard (`veld rejected --discarded`).",
             "Discarded: the record is as the server has it again. The discarded change is kept (`veld rejected --discarded`).")
    }
    var retried: String { pick("Gaat mee met de volgende synchronisatie.", "Goes with the next sync.") }
    var due: String { pick("Te doen", "Due") }
    var rejected: String { pick("Geweigerd", "Refused") }
}

extension ConsoleText {
    var devices: String { pick("Apparaten", "Devices") }
    var devicesIntro: String {
        pick("Elk apparaat zoals de server het kent: eerst wie al lang niet-verstuurd werk heeft, dan wie lang niet van zich liet horen.",
             "Every device as the server knows it: first those with unsent work for long, then those not heard from for long.")
    }
    var devicesUnavailable: String {
        pick("De server is nu niet bereikbaar (offline?), of deze token mag geen apparaten zien.",
             "The server cannot be reached now (offline?), or this token may not list devices.")
    }
    var user: String { pick("Gebruiker", "User") }
    var role: String { pick("Rol", "Role") }
    var lastContact: String { pick("Laatst contact", "Last contact") }
    var behind: String { pick("Achter", "Behind") }
    var unsent: String { pick("Niet verstuurd", "Unsent") }
    var never: String { pick("nooit", "never") }
    var since: String { pick("sinds", "since") }
    var stale: String { pick("lang stil", "stale") }
    var unsentTooLong: String { pick("werk blijft liggen", "unsent too long") }

    // MARK: Sync progress and the access log

    var syncStarting: String { pick("Synchroniseren begint …", "Starting to sync …") }
    func progress(_ event: SyncProgress) -> String {
        switch event {
        case .pushing(let done, let total): return pick("Versturen: \(done) van \(total) records", "Sending: \(done) of \(total) records")
        case .pulling(let received): return pick("Ontvangen: \(received) records", "Receiving: \(received) records")
        case .retrying(let attempt, let after, _):
            let seconds = String(format: "%.0f", after.rounded(.up))
            return pick("Server niet bereikbaar; nieuwe poging \(attempt) over \(seconds) s", "Server not reachable; retry \(attempt) in \(seconds) s")
        case .waitingForOtherSync:
            return pick("Wacht op een andere synchronisatie van dit profiel", "Waiting for another sync of this profile")
        }
    }
    var accessLog: String { pick("Inzage", "Access log") }
    var whoAccessed: String { pick("Wie heeft dit record ingezien?", "Who accessed this record?") }
    var accessIntro: String {
        pick("Wie dit record op de server las of wijzigde, de nieuwste eerst, uit het toegangslogboek (NEN 7513). Ook dit inzien wordt gelogd.",
             "Who read or changed this record on the server, newest first, from the access log (NEN 7513). Viewing this is logged too.")
    }
    var accessUnavailable: String {
        pick("De server is nu niet bereikbaar (offline?), of deze token mag het toegangslogboek niet lezen (alleen kantoor en beheer).",
             "The server cannot be reached now (offline?), or this token may not read the access log (office and admin only).")
    }
    func accessMore(_ id: String) -> String {
        pick("Er zijn oudere regels; op de server toont `veld-server audit --record \(id.prefix(8))` ze allemaal.",
             "There are older entries; on the server `veld-server audit --record \(id.prefix(8))` lists them all.")
    }
    var when: String { pick("Wanneer", "When") }
    var deviceColumn: String { pick("Apparaat", "Device") }
    var backToRecord: String { pick("Terug naar het record", "Back to the record") }
    var actionColumn: String { pick("Handeling", "Action") }
    var effectColumn: String { pick("Gevolg", "Effect") }
    var outcome: String { pick("Uitkomst", "Outcome") }
    func action(_ name: String) -> String {
        switch name {
        case "pull": return pick("ophalen (sync)", "pull (sync)")
        case "push": return pick("versturen (sync)", "push (sync)")
        case "history": return pick("geschiedenis bekeken", "history viewed")
        case "record": return pick("record opgevraagd", "record fetched")
        case "access": return pick("inzage bekeken", "access log viewed")
        case "report": return pick("rapportage", "report")
        case "erase": return pick("gewist", "erased")
        default: return name
        }
    }
    func effect(_ name: String) -> String {
        switch name {
        case "read": return pick("gelezen", "read")
        case "changed": return pick("gewijzigd", "changed")
        case "unchanged": return pick("ongewijzigd", "unchanged")
        case "refused": return pick("geweigerd", "refused")
        case "erased": return pick("gewist", "erased")
        default: return name
        }
    }
}
