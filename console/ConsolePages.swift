import Foundation
import VeldCore
import VeldProtocol

/// The console's screens, rendered on the server as HTML. Every value from a record goes
/// through `HTML`'s escaping; the only script is `/static/console.js`, and the
/// Content-Security-Policy allows nothing else.
struct ConsolePages {
    let text: ConsoleText
    let schemas: SchemaSet
    /// Where the console's pages are: `/SECRET/`. Every link and form is relative to it.
    let base: String

    /// What every page shows around its content.
    struct Frame {
        var user: String
        var role: String
        var pending: Int
        var parked = 0
        var flash: String?
        var flashIsError = false
        var path: String
    }

    func layout(_ title: String, _ frame: Frame, _ content: HTML) -> HTML {
        let flash: HTML? = frame.flash.map { message in
            "<p class=\"flash\(frame.flashIsError ? " error" : "")\" role=\"status\">\(message)</p>"
        }
        let other = text.language == .nl ? "en" : "nl"
        return """
            <!doctype html>
            <html lang="\(text.language.rawValue)">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title) · Veld</title>
            <base href="\(base)">
            <link rel="stylesheet" href="static/console.css">
            <script src="static/console.js" defer></script>
            </head>
            <body>
            <header>
            <nav aria-label="Veld">
            <a class="brand" href="./">Veld</a>
            <a href="./"\(frame.path == "/" ? HTML(trusted: " aria-current=\"page\"") : .empty)>\(text.inbox)</a>
            <a href="records"\(frame.path.hasPrefix("/records") ? HTML(trusted: " aria-current=\"page\"") : .empty)>\(text.records)</a>
            <a href="new"\(frame.path.hasPrefix("/new") ? HTML(trusted: " aria-current=\"page\"") : .empty)>\(text.newRecord)</a>
            <a href="due"\(frame.path == "/due" ? HTML(trusted: " aria-current=\"page\"") : .empty)>\(text.due)</a>
            \(frame.role == "office" || frame.role == "admin" ? HTML("<a href=\"devices\"\(frame.path == "/devices" ? HTML(trusted: " aria-current=\"page\"") : .empty)>\(text.devices)</a>") : .empty)
            <a href="rejected" id="nav-rejected"\(frame.path == "/rejected" ? HTML(trusted: " aria-current=\"page\"") : .empty)>\(text.rejected)\(frame.parked > 0 ? HTML(" (\(frame.parked))") : .empty)</a>
            <a href="language/\(other)" lang="\(other)">\(text.otherLanguage)</a>
            </nav>
            <form method="post" action="sync" class="sync">
            <span id="pending">\(text.unsynced(frame.pending))</span>
            <button type="submit" id="sync-button">\(text.sync)</button>
            <span id="sync-progress" role="status" aria-live="polite"></span>
            </form>
            <p class="who">\(text.signedInAs) \(frame.user) (\(frame.role))</p>
            </header>
            <main id="main">
            \(flash)
            \(content)
            </main>
            </body>
            </html>
            """
    }

    // MARK: Inbox

    struct InboxFilter {
        var scope: String?
        var type: String?
        var olderThanDays: Int?
    }

    func inbox(_ conflicts: [FieldConflict], filter: InboxFilter, scopes: [String], types: [String], now: Date) -> HTML {
        let rows: [HTML] = conflicts.map { conflict in
            let label = schemas.named(conflict.type)?.noun ?? conflict.type
            let field = conflict.deleteVersusEdit ? text.deleted : conflict.field
            return """
                <tr>
                <td>\(label)</td><td>\(conflict.scope)</td><td>\(field)</td><td>\(conflict.entries.count)</td>
                <td><time datetime="\(InternetTime.format(conflict.since))">\(Self.date(conflict.since))</time> (\(Self.age(conflict.since, now: now)))</td>
                <td><a class="button" href="records/\(HTML.component(conflict.recordID))#field-\(conflict.field)">\(text.open)</a></td>
                </tr>
                """
        }
        let table: HTML = rows.isEmpty ? "<p class=\"empty\" id=\"no-conflicts\">\(text.noConflicts)</p>" : """
            <div class="scroll"><table class="list" id="conflicts">
            <thead><tr><th scope="col">\(text.type)</th><th scope="col">\(text.scope)</th><th scope="col">\(text.field)</th><th scope="col">\(text.values)</th><th scope="col">\(text.waiting)</th><th scope="col"><span class="hidden">\(text.open)</span></th></tr></thead>
            <tbody>\(rows)</tbody>
            </table></div>
            """
        return """
            <h1>\(text.inbox)</h1>
            <p>\(text.inboxIntro)</p>
            <form method="get" action="./" class="filters">
            \(select("scope", text.scope, scopes, filter.scope))
            \(select("type", text.type, types, filter.type))
            <label>\(text.olderThan) <input type="number" name="days" min="0" max="3650" value="\(filter.olderThanDays.map(String.init) ?? "")"></label>
            <button type="submit">\(text.filter)</button>
            </form>
            \(table)
            """
    }

    func select(_ name: String, _ label: String, _ options: [String], _ chosen: String?) -> HTML {
        let items: [HTML] = options.map { option in
            "<option value=\"\(option)\"\(option == chosen ? HTML(trusted: " selected") : .empty)>\(option)</option>"
        }
        return "<label>\(label) <select name=\"\(name)\"><option value=\"\">\(text.all)</option>\(items)</select></label>"
    }

    // MARK: Records

    struct RecordFilter {
        var type: String?
        var scope: String?
        var status: String?
        var onlyConflicts = false
        var onlyDue = false
        var search: String?
    }

    func recordList(_ records: [RecordState], filter: RecordFilter, scopes: [String], types: [String]) -> HTML {
        let rows: [HTML] = records.map { state in
            let schema = schemas.named(state.type)
            let title = Self.title(of: state, schema: schema)
            let flags: HTML = "\(state.hasConflicts ? HTML(trusted: "<span class=\"tag conflict\">") : .empty)\(state.hasConflicts ? text.inConflict : "")\(state.hasConflicts ? HTML(trusted: "</span>") : .empty)\(state.isDeleted ? HTML(trusted: " <span class=\"tag\">") : .empty)\(state.isDeleted ? text.deleted : "")\(state.isDeleted ? HTML(trusted: "</span>") : .empty)"
            return """
                <tr><td><a href="records/\(HTML.component(state.id))">\(title)</a></td><td>\(schema?.noun ?? state.type)</td><td>\(state.scope)</td>
                <td>\(Self.show(state.value(of: "status") ?? .null))</td><td>\(flags)</td></tr>
                """
        }
        let table: HTML = rows.isEmpty ? "<p class=\"empty\">\(text.noRecords)</p>" : """
            <div class="scroll"><table class="list" id="records">
            <thead><tr><th scope="col">Record</th><th scope="col">\(text.type)</th><th scope="col">\(text.scope)</th><th scope="col">\(text.status)</th><th scope="col"></th></tr></thead>
            <tbody>\(rows)</tbody>
            </table></div>
            """
        return """
            <h1>\(text.records)</h1>
            <form method="get" action="records" class="filters">
            <label>\(text.search) <input type="search" name="q" value="\(filter.search ?? "")"></label>
            \(select("type", text.type, types, filter.type))
            \(select("scope", text.scope, scopes, filter.scope))
            <label>\(text.status) <input type="text" name="status" value="\(filter.status ?? "")" size="12"></label>
            <label><input type="checkbox" name="conflicts" value="1"\(filter.onlyConflicts ? HTML(trusted: " checked") : .empty)> \(text.onlyConflicts)</label>
            <label><input type="checkbox" name="due" value="1"\(filter.onlyDue ? HTML(trusted: " checked") : .empty)> \(text.onlyDue)</label>
            <button type="submit">\(text.filter)</button>
            </form>
            \(table)
            """
    }

    // MARK: One record

    func record(_ state: RecordState, history: Result<RecordHistory, any Error>?, showsAccess: Bool = false) -> HTML {
        let schema = schemas.named(state.type)
        let conflicts = LocalStore.conflicts(of: state)
        let names = (schema?.fieldNames ?? []) + state.fields.keys.filter { name in schema?.field(name) == nil && name != RecordState.deletedField }.sorted()
        let rows: [HTML] = names.compactMap { name in
            guard let value = state.value(of: name) else { return nil }
            let marked = conflicts.contains { $0.field == name }
            return "<tr\(marked ? HTML(trusted: " class=\"conflict\"") : .empty)><th scope=\"row\">\(name)</th><td>\(Self.show(value))</td></tr>"
        }
        let cards: [HTML] = conflicts.map { conflict($0, state: state, schema: schema) }
        return """
            <p><a href="./">\(text.back)</a></p>
            <h1>\(Self.title(of: state, schema: schema))</h1>
            <p class="meta">\(schema?.noun ?? state.type) · \(state.scope) · <code>\(state.id)</code> · <a href="records/\(HTML.component(state.id))/edit" id="edit-record">\(text.edit)</a>\(state.isDeleted ? HTML(trusted: " · <span class=\"tag\">") : .empty)\(state.isDeleted ? text.deleted : "")\(state.isDeleted ? HTML(trusted: "</span>") : .empty)</p>
            \(cards)
            <h2>\(text.fields)</h2>
            <table class="fields"><tbody>\(rows)</tbody></table>
            \(historySection(history))
            \(showsAccess ? HTML("<p><a href=\"records/\(HTML.component(state.id))/access\" id=\"access-link\">\(text.whoAccessed)</a></p>") : .empty)
            """
    }

    /// One field in conflict: its values side by side, with who wrote each, where and when,
    /// the word-level difference of long texts, and the ways to settle it.
    func conflict(_ conflict: FieldConflict, state: RecordState, schema: RecordSchema?) -> HTML {
        let seen = Self.seen(conflict)
        let action = "records/\(HTML.component(state.id))"
        if conflict.deleteVersusEdit {
            return """
                <section class="conflict-card" id="field-\(conflict.field)" aria-labelledby="title-\(conflict.field)">
                <h2 id="title-\(conflict.field)">\(text.deleteVersusEdit)</h2>
                <form method="post" action="\(action)/deletion"><input type="hidden" name="seen" value="\(seen)">
                <button type="submit" name="keep" value="1">\(text.keepRecord)</button>
                <button type="submit" name="keep" value="0" class="danger">\(text.deleteRecord)</button></form>
                </section>
                """
        }
        let first = Self.show(conflict.entries.first?.value ?? .null)
        let isLong: Bool = {
            if case .text(long: true)? = schema?.field(conflict.field)?.kind { return true }
            return conflict.entries.contains { Self.show($0.value).count > 80 }
        }()
        let columns: [HTML] = conflict.entries.enumerated().map { index, entry in
            let value = Self.show(entry.value)
            var difference: HTML = .empty
            if isLong, index > 0, let parts = WordDiff.parts(first, value) {
                let marked: [HTML] = parts.map { part in
                    switch part {
                    case .same(let words): return "\(words)"
                    case .removed(let words): return "<del>\(words)</del>"
                    case .added(let words): return "<ins>\(words)</ins>"
                    }
                }
                difference = "<details open><summary>\(text.differences)</summary><p class=\"diff\">\(marked)</p></details>"
            }
            return """
                <div class="value" data-index="\(index)">
                <p class="who">\(entry.author) · \(text.device) <code>\(entry.dot.replica)</code> · <time datetime="\(InternetTime.format(entry.time))">\(Self.dateTime(entry.time))</time></p>
                <blockquote class="text">\(value)</blockquote>
                \(difference)
                <form method="post" action="\(action)/resolve">
                <input type="hidden" name="field" value="\(conflict.field)"><input type="hidden" name="seen" value="\(seen)">
                <button type="submit" name="take" value="\(index)" id="keep-\(conflict.field)-\(index)">\(text.keepThis)</button>
                </form>
                </div>
                """
        }
        var merge: HTML = .empty
        if case .text? = schema?.field(conflict.field)?.kind {
            let joined = conflict.entries.map { Self.show($0.value) }.joined(separator: "\n\n")
            merge = """
                <details class="merge"><summary>\(text.mergeByHand)</summary>
                <form method="post" action="\(action)/resolve">
                <input type="hidden" name="field" value="\(conflict.field)"><input type="hidden" name="seen" value="\(seen)">
                <label for="merged-\(conflict.field)" class="hidden">\(text.mergeByHand)</label>
                <textarea id="merged-\(conflict.field)" name="value" rows="6">\(joined)</textarea>
                <button type="submit">\(text.saveMerged)</button>
                </form></details>
                """
        }
        return """
            <section class="conflict-card" id="field-\(conflict.field)" aria-labelledby="title-\(conflict.field)">
            <h2 id="title-\(conflict.field)">\(conflict.field)</h2>
            <div class="values">\(columns)</div>
            \(merge)
            </section>
            """
    }

    func historySection(_ history: Result<RecordHistory, any Error>?) -> HTML {
        guard let history else { return .empty }
        switch history {
        case .failure:
            return "<h2>\(text.history)</h2><p class=\"empty\" id=\"history-unavailable\">\(text.historyUnavailable)</p>"
        case .success(let record) where record.changes.isEmpty:
            return "<h2>\(text.history)</h2><p class=\"empty\">\(text.noHistory)</p>"
        case .success(let record):
            let items: [HTML] = record.changes.reversed().map { change in
                let fields: [HTML] = change.fields.map { field in
                    let old = field.old.map(Self.show).joined(separator: " | ")
                    let new = field.new.map { Self.show($0.value) }.joined(separator: " | ")
                    let kept = field.kept.map(Self.show).joined(separator: " | ")
                    // Values that stay beside the new one: from here on the field is in conflict.
                    let beside: HTML = kept.isEmpty ? .empty : " <span class=\"tag conflict\">\(text.besides) \(kept)</span>"
                    return "<li><strong>\(field.field)</strong>: \(old.isEmpty ? "—" : old) → \(new.isEmpty ? "—" : new)\(beside)</li>"
                }
                return """
                    <li><p class="who">\(change.user) · \(text.device) <code>\(change.device)</code> · <time datetime="\(InternetTime.format(change.receivedAt))">\(Self.dateTime(change.receivedAt))</time>\(change.recovered ? HTML(trusted: " · <span class=\"tag\">") : .empty)\(change.recovered ? text.recovered : "")\(change.recovered ? HTML(trusted: "</span>") : .empty)</p>
                    <ul>\(fields)</ul></li>
                    """
            }
            return "<h2>\(text.history)</h2><ol class=\"timeline\" id=\"history\" reversed>\(items)</ol>"
        }
    }

    func message(_ title: String, _ body: String) -> HTML {
        "<h1>\(title)</h1><p>\(body)</p>"
    }

    // MARK: Values

    /// What a person reads for a value.
    static func show(_ value: FieldValue) -> String {
        switch value {
        case .null: return "—"
        case .bool(let flag): return flag ? "ja" : "nee"
        case .string(let text): return text
        case .strings(let list): return list.joined(separator: ", ")
        }
    }

    /// A record's heading: the first text of a field that names it, else its type and id.
    static func title(of state: RecordState, schema: RecordSchema?) -> String {
        for name in ["title", "subject", "summary", "clientCode", "name"] {
            if case .string(let text)? = state.value(of: name), !text.isEmpty { return String(text.prefix(80)) }
        }
        return "\(schema?.noun ?? state.type) \(state.id.prefix(8))"
    }

    /// The values a resolution was chosen from, by their dots: a sync that changed them
    /// meanwhile makes the choice stale.
    static func seen(_ conflict: FieldConflict) -> String {
        conflict.entries.map { "\($0.dot.replica):\($0.dot.counter)" }.joined(separator: ",")
    }

    static func date(_ date: Date) -> String { String(InternetTime.format(date).prefix(10)) }

    static func dateTime(_ date: Date) -> String {
        let text = InternetTime.format(date)
        return String(text.prefix(10)) + " " + String(text.dropFirst(11).prefix(5)) + " UTC"
    }

    static func age(_ since: Date, now: Date) -> String {
        let days = Int(now.timeIntervalSince(since) / 86_400)
        return days <= 0 ? "< 1 d" : "\(days) d"
    }
}
