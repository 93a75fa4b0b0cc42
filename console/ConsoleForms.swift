import Foundation
import VeldCore
import VeldProtocol

/// Forms generated from the module set in force: for every type the role may write, each
/// field it may write, required ones marked, choices as choices, dates as dates, long text
/// as text areas, references as the records this device holds. The values go through the
/// client core's own parsing and checks (`create(type:scope:input:)`), so a message reads
/// exactly as the CLI's.
extension ConsolePages {
    /// The types this role may create: it reads them and writes their required fields.
    static func creatableTypes(_ schemas: SchemaSet, role: Role) -> [RecordSchema] {
        schemas.schemas.filter { schema in
            !schema.deprecated && schemas.mayRead(schema.type, as: role)
                && schema.requiredFields.allSatisfy { $0.writers.contains(role) }
                && schema.fields.contains { $0.writers.contains(role) && $0.name != RecordState.deletedField }
        }
    }

    func newRecordMenu(role: Role) -> HTML {
        let items: [HTML] = Self.creatableTypes(schemas, role: role).map { schema in
            "<li><a href=\"new/\(HTML.component(schema.type))\">\(schema.noun)</a> <span class=\"meta\">\(schema.summary)</span></li>"
        }
        return "<h1>\(text.newRecord)</h1><ul class=\"menu\">\(items)</ul>"
    }

    /// The form for a new record of `schema` (or an edit of `editing`), with the values as
    /// typed and the problems of the last attempt.
    func form(_ schema: RecordSchema, role: Role, scopes: [String], values: [String: [String]], problems: [String],
              references: [String: [RecordState]], editing: RecordState? = nil) -> HTML {
        let fields = schema.fields.filter { $0.writers.contains(role) && $0.name != RecordState.deletedField && !$0.deprecated }
        let inputs: [HTML] = fields.map { field in
            let id = "input-\(field.name)"
            let given = values[field.name] ?? editing.flatMap { state in state.value(of: field.name).map { Self.inputText($0) } } ?? []
            let first = given.first ?? ""
            let marker: HTML = field.required ? " <abbr class=\"required\" title=\"\(text.required)\">*</abbr>" : .empty
            let help: HTML = field.summary.isEmpty ? .empty : "<span class=\"hint\" id=\"hint-\(field.name)\">\(field.summary)</span>"
            let described = field.summary.isEmpty ? HTML.empty : HTML(" aria-describedby=\"hint-\(field.name)\"")
            let required: HTML = field.required ? HTML(trusted: " aria-required=\"true\"") : .empty
            let control: HTML
            switch field.kind {
            case .text(long: true):
                control = "<textarea id=\"\(id)\" name=\"\(field.name)\" rows=\"5\"\(required)\(described)>\(first)</textarea>"
            case .text(long: false):
                control = "<input type=\"text\" id=\"\(id)\" name=\"\(field.name)\" value=\"\(first)\"\(required)\(described)>"
            case .date:
                control = "<input type=\"date\" id=\"\(id)\" name=\"\(field.name)\" value=\"\(first)\"\(required)\(described)>"
            case .bool:
                let yes = ["ja", "yes", "true", "1"].contains(first.lowercased())
                control = "<input type=\"checkbox\" id=\"\(id)\" name=\"\(field.name)\" value=\"ja\"\(yes ? HTML(trusted: " checked") : .empty)\(described)>"
            case .choice:
                // A value the record holds stays offered, even one the module has retired.
                let offered = field.offeredValues + (first.isEmpty || field.offeredValues.contains(first) ? [] : [first])
                let options: [HTML] = offered.map { option in
                    "<option value=\"\(option)\"\(option == first ? HTML(trusted: " selected") : .empty)>\(option)</option>"
                }
                control = "<select id=\"\(id)\" name=\"\(field.name)\"\(required)\(described)><option value=\"\"></option>\(options)</select>"
            case .choices:
                let chosen = Set(given.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } })
                let boxes: [HTML] = field.offeredValues.map { option in
                    "<label class=\"choice\"><input type=\"checkbox\" name=\"\(field.name)\" value=\"\(option)\"\(chosen.contains(option) ? HTML(trusted: " checked") : .empty)> \(option)</label>"
                }
                return "<fieldset class=\"field\"><legend>\(field.name)\(marker)</legend>\(help)\(boxes)</fieldset>"
            case .reference(let type):
                let held = references[type] ?? []
                var options: [HTML] = held.map { state in
                    "<option value=\"\(state.id)\"\(state.id == first ? HTML(trusted: " selected") : .empty)>\(Self.title(of: state, schema: schemas.named(type))) (\(state.scope))</option>"
                }
                // A record this device does not hold stays the value.
                if !first.isEmpty, !held.contains(where: { $0.id == first }) {
                    options.append("<option value=\"\(first)\" selected>\(first)</option>")
                }
                control = "<select id=\"\(id)\" name=\"\(field.name)\"\(required)\(described)><option value=\"\"></option>\(options)</select>"
            }
            // What the form showed, so a save changes only what the person changed, and not
            // what a sync changed meanwhile.
            let shown: HTML = editing == nil ? .empty
                : "<input type=\"hidden\" name=\"shown.\(field.name)\" value=\"\(Self.comparable(given.joined(separator: ", "), field.kind))\">"
            return "<div class=\"field\"><label for=\"\(id)\">\(field.name)\(marker)</label>\(help)\(control)\(shown)</div>"
        }
        var scopeInput: HTML = .empty
        if editing == nil, case .inheritedFrom = schema.scopeRule {} else if editing == nil {
            let chosen = values["scope"]?.first ?? scopes.first ?? ""
            let options: [HTML] = scopes.map { scope in
                "<option value=\"\(scope)\"\(scope == chosen ? HTML(trusted: " selected") : .empty)>\(scope)</option>"
            }
            scopeInput = scopes.isEmpty
                ? "<div class=\"field\"><label for=\"input-scope\">\(text.scope) <abbr class=\"required\" title=\"\(text.required)\">*</abbr></label><input type=\"text\" id=\"input-scope\" name=\"scope\" value=\"\(chosen)\" aria-required=\"true\"></div>"
                : "<div class=\"field\"><label for=\"input-scope\">\(text.scope) <abbr class=\"required\" title=\"\(text.required)\">*</abbr></label><select id=\"input-scope\" name=\"scope\">\(options)</select></div>"
        }
        let errors: HTML = problems.isEmpty ? .empty : """
            <div class="flash error" role="alert" id="problems"><p>\(text.notSaved)</p><ul>\(problems.map { "<li>\($0)</li>" as HTML })</ul></div>
            """
        let action = editing.map { "records/\(HTML.component($0.id))/edit" } ?? "new/\(HTML.component(schema.type))"
        return """
            <h1>\(editing == nil ? text.newRecord : text.edit): \(schema.noun)</h1>
            <p class="meta">\(schema.summary)</p><p class="meta">\(text.requiredNote)</p>
            \(errors)
            <form method="post" action="\(action)" class="record-form" novalidate>
            \(scopeInput)
            \(inputs)
            <button type="submit" id="save">\(text.save)</button>
            </form>
            """
    }

    /// A field's text in the form it is compared in: a list as its sorted items, a yes/no
    /// that is not set as no (an unticked box).
    static func comparable(_ text: String, _ kind: FieldKind) -> String {
        switch kind {
        case .choices: return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.sorted().joined(separator: ", ")
        case .bool: return text.isEmpty ? "nee" : text
        default: return text
        }
    }

    /// A stored value as a person would type it back.
    static func inputText(_ value: FieldValue) -> [String] {
        switch value {
        case .null: return [""]
        case .bool(let flag): return [flag ? "ja" : "nee"]
        case .string(let text): return [text]
        case .strings(let list): return list
        }
    }

    // MARK: Due and rejected

    func due(_ items: [DueItem], today: CivilDate) -> HTML {
        let rows: [HTML] = items.map { item in
            let state: String = switch item.state {
            case .overdue: text.overdue(item.daysLate)
            case .open: text.open
            case .noTerm: text.noTerm
            case .noDate: text.noDate
            }
            return """
                <tr class="\(item.state.rawValue)"><td><a href="records/\(HTML.component(item.record))">\(item.title)</a></td>
                <td>\(item.rule)</td><td>\(item.scope)</td><td>\(item.due.map(\.description) ?? "—")</td><td>\(state)</td>
                <td>\(item.remind.joined(separator: ", "))</td></tr>
                """
        }
        let table: HTML = rows.isEmpty ? "<p class=\"empty\">\(text.nothingDue)</p>" : """
            <div class="scroll"><table class="list" id="due"><thead><tr><th scope="col">Record</th><th scope="col">\(text.rule)</th><th scope="col">\(text.scope)</th>
            <th scope="col">\(text.dueOn)</th><th scope="col">\(text.status)</th><th scope="col">\(text.remind)</th></tr></thead><tbody>\(rows)</tbody></table></div>
            """
        return "<h1>\(text.dueTitle)</h1><p class=\"meta\">\(text.dueIntro(today.description))</p>\(table)"
    }

    func rejected(_ parked: [ParkedRecord]) -> HTML {
        let rows: [HTML] = parked.map { item in
            let id = HTML.component(item.recordID)
            return """
                <section class="conflict-card rejected" id="rejected-\(item.recordID)">
                <h2><a href="records/\(id)">\(schemas.named(item.type)?.noun ?? item.type) \(String(item.recordID.prefix(8)))</a></h2>
                <p>\(item.problem.detail)</p>
                <ul>\(item.reasons.map { "<li>\($0)</li>" as HTML })</ul>
                <p class="meta">\(item.advice)</p>
                <form method="post" action="records/\(id)/retry" class="inline"><button type="submit">\(text.retry)</button></form>
                <a class="button" href="records/\(id)/edit">\(text.fix)</a>
                <form method="post" action="records/\(id)/discard" class="inline"><button type="submit" class="danger" id="discard-\(item.recordID)">\(text.discard)</button></form>
                </section>
                """
        }
        let list: HTML = rows.isEmpty ? "<p class=\"empty\" id=\"nothing-rejected\">\(text.nothingRejected)</p>" : "\(rows)"
        return "<h1>\(text.rejectedTitle)</h1><p>\(text.rejectedIntro)</p>\(list)"
    }
}
