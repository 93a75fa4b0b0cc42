import Foundation
import HTTPTypes
import Hummingbird
import VeldCore
import VeldProtocol

/// Capture (new records, edits), what is due, and the records the server refused.
extension ConsoleHandlers {
    func newMenu(_ request: Request) throws -> Response {
        let (text, pages, frame) = try context(request)
        return Self.page(pages.layout(text.newRecord, frame, pages.newRecordMenu(role: try store.profile().role)))
    }

    /// The scopes a new record may go in: the token's, or (for `*`) those this device holds.
    func scopes() throws -> [String] {
        let granted = try store.identity()?.scopes ?? []
        if !granted.isEmpty, !granted.contains("*") { return granted.sorted() }
        return Set(try store.records(RecordQuery()).map(\.scope)).sorted()
    }

    func references(for schema: RecordSchema) throws -> [String: [RecordState]] {
        var found: [String: [RecordState]] = [:]
        for field in schema.fields {
            if case .reference(let type) = field.kind, found[type] == nil {
                var query = RecordQuery()
                query.type = type
                found[type] = try store.records(query)
            }
        }
        return found
    }

    func creatable(_ type: String) throws -> RecordSchema? {
        ConsolePages.creatableTypes(try store.schemaSet(), role: try store.profile().role).first { $0.type == type }
    }

    func newForm(_ request: Request, type: String) throws -> Response {
        let (text, pages, frame) = try context(request)
        guard let schema = try creatable(type) else {
            return Self.page(pages.layout(text.newRecord, frame, pages.message(text.newRecord, text.notFound)), status: .notFound)
        }
        let role = try store.profile().role
        return Self.page(pages.layout(text.newRecord, frame, pages.form(schema, role: role, scopes: try scopes(), values: [:], problems: [],
                                                                         references: try references(for: schema))))
    }

    func create(_ request: Request, type: String) async throws -> Response {
        let form = try await Self.form(request)
        let (text, pages, frame) = try context(request)
        guard let schema = try creatable(type) else {
            return Self.page(pages.layout(text.newRecord, frame, pages.message(text.newRecord, text.notFound)), status: .notFound)
        }
        let role = try store.profile().role
        let input = Self.input(form, schema: schema, role: role).filter { !$0.value.isEmpty }
        do {
            let scope: String? = if case .inheritedFrom = schema.scopeRule { nil } else { form["scope"]?.first }
            let state = try store.create(type: schema.type, scope: scope, input: input)
            return redirect("/records/\(HTML.component(state.id))", flash: text.saved)
        } catch {
            return Self.page(pages.layout(text.newRecord, frame,
                                          pages.form(schema, role: role, scopes: try scopes(), values: form, problems: Self.problems(error),
                                                     references: try references(for: schema))),
                             status: .unprocessableContent)
        }
    }

    func editForm(_ request: Request, id: String) throws -> Response {
        let (text, pages, frame) = try context(request)
        guard RecordIDs.isValid(id), let state = try? store.record(id), let schema = try store.schemaSet().named(state.type) else {
            return Self.page(pages.layout(text.records, frame, pages.message(text.records, text.notFound)), status: .notFound)
        }
        return Self.page(pages.layout(text.edit, frame, pages.form(schema, role: try store.profile().role, scopes: [], values: [:], problems: [],
                                                                    references: try references(for: schema), editing: state)))
    }

    /// Only the fields whose value the person changed become edits: a field left as it was
    /// keeps its entry (and whoever wrote it), as with `veld edit`.
    func saveEdit(_ request: Request, id: String) async throws -> Response {
        let form = try await Self.form(request)
        let (text, pages, frame) = try context(request)
        guard RecordIDs.isValid(id), let state = try? store.record(id), let schema = try store.schemaSet().named(state.type) else {
            return Self.page(pages.layout(text.records, frame, pages.message(text.records, text.notFound)), status: .notFound)
        }
        let role = try store.profile().role
        // Only what the person changed from what the form showed; refused when a sync changed
        // that field since the form was shown (nobody overwrites a value they did not see).
        var input: [String: String] = [:]
        for (name, typed) in Self.input(form, schema: schema, role: role) {
            guard let field = schema.field(name), let shown = form["shown.\(name)"]?.first else { continue }
            guard ConsolePages.comparable(typed, field.kind) != shown else { continue }
            let now = ConsolePages.comparable(state.value(of: name).map(ConsolePages.inputText)?.joined(separator: ", ") ?? "", field.kind)
            guard now == shown else {
                return Self.page(pages.layout(text.edit, frame,
                                              pages.form(schema, role: role, scopes: [], values: [:], problems: [text.changedMeanwhile],
                                                         references: try references(for: schema), editing: state)),
                                 status: .conflict)
            }
            input[name] = typed
        }
        guard !input.isEmpty else { return redirect("/records/\(HTML.component(id))", flash: text.saved) }
        do {
            _ = try store.edit(id: state.id, input: input)
            return redirect("/records/\(HTML.component(id))", flash: text.saved)
        } catch {
            return Self.page(pages.layout(text.edit, frame,
                                          pages.form(schema, role: role, scopes: [], values: form, problems: Self.problems(error),
                                                     references: try references(for: schema), editing: state)),
                             status: .unprocessableContent)
        }
    }

    /// What the form holds for the fields this role may write, as the CLI takes it: lists
    /// joined with commas, a check box as ja or nee.
    static func input(_ form: [String: [String]], schema: RecordSchema, role: Role) -> [String: String] {
        var input: [String: String] = [:]
        for field in schema.fields where field.writers.contains(role) && field.name != RecordState.deletedField && !field.deprecated {
            let given = form[field.name] ?? []
            switch field.kind {
            case .bool: input[field.name] = given.contains("ja") ? "ja" : "nee"
            case .choices: input[field.name] = given.joined(separator: ", ")
            default:
                guard let first = given.first else { continue }
                input[field.name] = first.replacingOccurrences(of: "\r\n", with: "\n")
            }
        }
        return input
    }

    /// The problems of a refused change, one per line, as the CLI prints them.
    static func problems(_ error: any Error) -> [String] {
        String(describing: error).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    // MARK: Due and rejected

    func due(_ request: Request) throws -> Response {
        let (text, pages, frame) = try context(request)
        let today = CivilDate.today()
        let items = DueTable.select(DueRules.evaluate(try store.schemaSet().rules, records: try store.records(RecordQuery()), today: today),
                                    within: nil, overdueOnly: false, today: today)
        return Self.page(pages.layout(text.dueTitle, frame, pages.due(items, today: today)))
    }

    func rejected(_ request: Request) throws -> Response {
        let (text, pages, frame) = try context(request)
        return Self.page(pages.layout(text.rejectedTitle, frame, pages.rejected(try store.parked())))
    }

    func retry(_ request: Request, id: String) async throws -> Response {
        let text = ConsoleText(language: Language.from(cookie: request.cookies["lang"]?.value))
        guard RecordIDs.isValid(id), (try? store.retryParked(id: id)) == true else {
            return redirect("/rejected", flash: text.notFound, error: true)
        }
        return redirect("/rejected", flash: text.retried)
    }

    /// Under the sync lock, as `veld discard`: no sync changes the record between the
    /// server's answer and the discard.
    func discard(_ request: Request, id: String) async throws -> Response {
        let text = ConsoleText(language: Language.from(cookie: request.cookies["lang"]?.value))
        guard RecordIDs.isValid(id), (try? store.record(id)) != nil, try store.outbox().contains(where: { $0.recordID == id }) else {
            return redirect("/rejected", flash: text.notFound, error: true)
        }
        let store = store, fetch = console.serverRecord
        do {
            _ = try await store.withSyncLock(waiting: 30) { () async throws -> DiscardedChange in
                try store.discard(id: id, serverState: try await fetch(id))
            }
        } catch {
            return redirect("/rejected", flash: "\(text.syncFailed): \(error)", error: true)
        }
        return redirect("/rejected", flash: text.discarded)
    }
}

extension ConsoleHandlers {
    /// The office's view of every device, from the server (its token decides what it sees).
    func devices(_ request: Request) async throws -> Response {
        let (text, pages, frame) = try context(request)
        let reports: Result<[DeviceReport], any Error>
        do {
            let fetch = console.devices
            reports = .success(try await Self.within(seconds: 5) { try await fetch() })
        } catch {
            reports = .failure(error)
        }
        return Self.page(pages.layout(text.devices, frame, pages.devices(reports, now: console.clock())))
    }
}

extension ConsolePages {
    func devices(_ reports: Result<[DeviceReport], any Error>, now: Date) -> HTML {
        guard case .success(let list) = reports else {
            return "<h1>\(text.devices)</h1><p class=\"empty\" id=\"devices-unavailable\">\(text.devicesUnavailable)</p>"
        }
        let rows: [HTML] = list.map { device in
            let contact = device.lastContact.map { "\(Self.dateTime($0)) (\(Self.age($0, now: now)))" } ?? text.never
            let unsent = device.health.map { health in
                health.outbox == 0 ? "0" : "\(health.outbox)" + (health.oldest.map { " · " + text.since + " " + Self.date($0) } ?? "")
            } ?? "—"
            var flags: [HTML] = []
            if device.unsentTooLong { flags.append("<span class=\"tag conflict\">\(text.unsentTooLong)</span>") }
            if device.stale { flags.append("<span class=\"tag\">\(text.stale)</span>") }
            return """
                <tr><td>\(device.user)</td><td>\(device.role.rawValue)</td><td>\(contact)</td><td>\(device.behind.map(String.init) ?? text.all)</td>
                <td>\(unsent)</td><td>\(device.health?.app ?? "—")</td><td>\(flags)</td><td><code>\(device.token)</code></td></tr>
                """
        }
        return """
            <h1>\(text.devices)</h1><p>\(text.devicesIntro)</p>
            <div class="scroll"><table class="list" id="devices"><thead><tr><th scope="col">\(text.user)</th><th scope="col">\(text.role)</th>
            <th scope="col">\(text.lastContact)</th><th scope="col">\(text.behind)</th><th scope="col">\(text.unsent)</th>
            <th scope="col">App</th><th scope="col"></th><th scope="col">Token</th></tr></thead><tbody>\(rows)</tbody></table></div>
            """
    }
}
