import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import VeldCore
import VeldProtocol

struct Conflicts: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every field in conflict on this device, oldest first.",
        subcommands: [ListConflicts.self, ShowConflict.self], defaultSubcommand: ListConflicts.self)

    struct ListConflicts: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List fields in conflict, oldest first.")
        @OptionGroup var home: HomeOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let conflicts = try home.openStore().conflicts()
            if json {
                print(String(decoding: try StableJSON.encode(conflicts.map(ConflictView.init), pretty: true), as: UTF8.self))
                return
            }
            guard !conflicts.isEmpty else {
                print("No conflicts.")
                return
            }
            print("ID        TYPE         SCOPE            FIELD            VALUES  SINCE")
            for conflict in conflicts {
                print([String(conflict.recordID.prefix(8)).padding(9), conflict.type.padding(12),
                       String(conflict.scope.prefix(16)).padding(16), String(conflict.field.prefix(16)).padding(16),
                       (String(conflict.entries.count) + (conflict.deleteVersusEdit ? " del" : "")).padding(7),
                       RecordPrinter.format(conflict.since)].joined(separator: " "))
            }
            print("\(conflicts.count) field(s) in conflict. `veld conflicts show ID` compares the values; `veld resolve ID` settles them.")
        }
    }

    struct ShowConflict: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show", abstract: "Each value of a record's conflicting fields side by side: author, device, time, and a line diff for long text.")
        @OptionGroup var home: HomeOptions
        @Argument(help: "Record id or a unique prefix of it.") var id: String
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let state = try home.openStore().record(id)
            let conflicts = LocalStore.conflicts(of: state)
            if json {
                print(String(decoding: try StableJSON.encode(conflicts.map(ConflictView.init), pretty: true), as: UTF8.self))
                return
            }
            print("\(state.type) \(state.id)  scope \(state.scope)" + (state.isDeleted ? "  DELETED" : ""))
            guard !conflicts.isEmpty else {
                print("No field in conflict.")
                return
            }
            for conflict in conflicts {
                print("")
                print("\(conflict.field): \(conflict.entries.count) values" + (conflict.deleteVersusEdit
                    ? " (deleted on one device, edited on another: `veld resolve \(state.id.prefix(8)) --keep` or `--delete`)" : ""))
                for (index, entry) in conflict.entries.enumerated() {
                    print("  \(index + 1). \(entry.author) on \(entry.dot.replica), \(RecordPrinter.format(entry.time))" + (index == 0 ? "  (shown)" : ""))
                    for line in (entry.value.isNull ? "(empty)" : entry.value.description).split(separator: "\n", omittingEmptySubsequences: false) {
                        print("       \(line)")
                    }
                }
                let texts = conflict.entries.compactMap { entry -> String? in if case .string(let text) = entry.value { return text } else { return nil } }
                if texts.count == conflict.entries.count, texts.contains(where: { $0.contains("\n") }) {
                    for other in 1..<texts.count {
                        print("  diff 1 → \(other + 1):")
                        for line in LineDiff.lines(texts[0], texts[other]) { print("     \(line)") }
                    }
                }
            }
        }
    }
}

/// A conflict as JSON: the record, the field, and every value with who, where, when.
struct ConflictView: Encodable {
    struct Value: Encodable {
        let number: Int
        let value: FieldValue
        let author: String
        let replica: String
        let time: Date
    }

    let id: String, type: String, scope: String, field: String, deleteVersusEdit: Bool
    let values: [Value]

    init(_ conflict: FieldConflict) {
        id = conflict.recordID
        type = conflict.type
        scope = conflict.scope
        field = conflict.field
        deleteVersusEdit = conflict.deleteVersusEdit
        values = conflict.entries.enumerated().map {
            Value(number: $0.offset + 1, value: $0.element.value, author: $0.element.author, replica: $0.element.dot.replica, time: $0.element.time)
        }
    }
}

struct Resolve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Settle a conflict: take one of the values, write a merged one, or keep/delete a deleted-and-edited record.",
        discussion: """
            With --field and --take N (N as listed by `veld conflicts show`) or --value / --value-file,
            one field is settled. With --keep or --delete, a record deleted on one device and edited
            on another is kept (the edits win) or deleted. With none of these, Veld asks field by
            field (on a terminal, or from lines on standard input).
            The resolution is an ordinary edit that has seen every value: after `veld sync` it wins
            on every device. If someone edits the field again meanwhile, that shows as a new conflict.
            """)

    @OptionGroup var home: HomeOptions
    @Argument(help: "Record id or a unique prefix of it.") var id: String
    @Option(help: "The field to settle.") var field: String?
    @Option(help: "Keep value number N (1 is the value shown now).") var take: Int?
    @Option(help: "Write this value instead (a merged text, say).") var value: String?
    @Option(help: ArgumentHelp("Read the new value from a file (- for standard input).", valueName: "file")) var valueFile: String?
    @Flag(help: "Keep a record that was deleted on one device and edited on another.") var keep = false
    @Flag(help: "Delete it after all.") var delete = false

    func validate() throws {
        let choices = [take != nil, value != nil, valueFile != nil].filter { $0 }.count
        if choices > 1 { throw ValidationError("give one of --take, --value, --value-file") }
        if choices == 1 && field == nil { throw ValidationError("--take, --value and --value-file need --field") }
        if field != nil && choices == 0 { throw ValidationError("--field needs --take N, --value or --value-file") }
        if keep && delete { throw ValidationError("give --keep or --delete, not both") }
        if (keep || delete) && field != nil { throw ValidationError("--keep and --delete settle the whole record; leave out --field") }
        if let take, take < 1 { throw ValidationError("--take counts from 1") }
    }

    func run() throws {
        let store = try home.openStore()
        let state = try store.record(id)
        if keep || delete {
            let resolved = try store.resolveDeletion(id: state.id, keep: keep)
            print(keep ? "Kept \(resolved.type) \(resolved.id)." : "Deleted \(resolved.type) \(resolved.id).")
            return report(resolved)
        }
        if let field {
            let resolution: Resolution
            if let take {
                resolution = .take(take - 1)
            } else {
                let text = try LongText.either(value, file: valueFile, option: "value") ?? ""
                resolution = .value(try parse(text, field: field, state: state, store: store))
            }
            let resolved = try store.resolve(id: state.id, [field: resolution])
            print("Resolved \(field) of \(resolved.type) \(resolved.id).")
            return report(resolved)
        }
        try interactive(store, state)
    }

    /// A typed value read against the set this device keeps, so a type of an added module
    /// resolves like a built-in one.
    private func parse(_ text: String, field: String, state: RecordState, store: LocalStore) throws -> FieldValue {
        guard let schema = try store.schemaSet().named(state.type)?.field(field) else {
            throw LocalStoreError(.notInConflict(id: state.id, field: field), home: home.url)
        }
        return try FieldInput.parse(text, for: schema, recordID: state.id, type: state.type)
    }

    /// Field by field: prompts on standard output, answers from standard input.
    private func interactive(_ store: LocalStore, _ state: RecordState) throws {
        let conflicts = LocalStore.conflicts(of: state)
        guard !conflicts.isEmpty else {
            print("\(state.type) \(state.id) has no field in conflict.")
            return
        }
        if conflicts.contains(where: \.deleteVersusEdit) {
            print("\(state.type) \(state.id) was deleted on one device and edited on another.")
            switch ask("k to keep it (the edits win), d to delete it, s to skip: ", allowed: ["k", "d", "s"]) {
            case "k": report(try store.resolveDeletion(id: state.id, keep: true)); return
            case "d": report(try store.resolveDeletion(id: state.id, keep: false)); return
            default: break
            }
        }
        var resolutions: [String: Resolution] = [:]
        var seen: [String: [FieldEntry]] = [:]
        for conflict in conflicts where !conflict.deleteVersusEdit {
            print("\n\(conflict.field) has \(conflict.entries.count) values:")
            for (index, entry) in conflict.entries.enumerated() {
                let text = entry.value.isNull ? "(empty)" : entry.value.description.replacingOccurrences(of: "\n", with: " ⏎ ")
                print("  \(index + 1). \(text)\n     — \(entry.author) on \(entry.dot.replica), \(RecordPrinter.format(entry.time))")
            }
            let numbers = (1...conflict.entries.count).map(String.init)
            let answer = ask("Keep 1-\(conflict.entries.count), e to enter a new value, s to skip: ", allowed: numbers + ["e", "s"])
            seen[conflict.field] = conflict.entries
            if let number = Int(answer) {
                resolutions[conflict.field] = .take(number - 1)
            } else if answer == "e" {
                print("New value (one line): ", terminator: "")
                let line = readLine() ?? ""
                resolutions[conflict.field] = .value(try parse(line, field: conflict.field, state: state, store: store))
            }
        }
        guard !resolutions.isEmpty else {
            print("Nothing resolved.")
            return
        }
        let resolved = try store.resolve(id: state.id, resolutions, expecting: seen)
        print("Resolved \(resolutions.keys.sorted().joined(separator: ", ")) of \(resolved.type) \(resolved.id).")
        report(resolved)
    }

    private func ask(_ prompt: String, allowed: [String]) -> String {
        while true {
            print(prompt, terminator: "")
            guard let line = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() else { return "s" }
            if allowed.contains(line) { return line }
            print("Please answer one of: \(allowed.joined(separator: ", ")).")
        }
    }

    private func report(_ state: RecordState) {
        let left = LocalStore.conflicts(of: state).count
        print(left == 0 ? "No conflict left on this record; `veld sync` sends the resolution."
                        : "\(left) field(s) still in conflict; `veld conflicts show \(state.id.prefix(8))`.")
    }
}

struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Every change the server accepted for a record, oldest first: who, device, when, which fields, old → new.")
    @OptionGroup var home: HomeOptions
    @Argument(help: "Record id or a unique prefix of it.") var id: String
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let store = try home.openStore()
        let settings = try store.syncSettings()
        guard settings.server != nil else {
            throw ValidationError("the history lives on the server and this profile has none; run `veld connect --server URL --token-file FILE`")
        }
        let fullID = (try? store.record(id).id) ?? id.lowercased()
        let history = try await ProfileTransport.make(settings, store: store).history(of: fullID)
        if json {
            print(String(decoding: try StableJSON.encode(history, pretty: true), as: UTF8.self))
            return
        }
        print("\(history.type) \(history.id)  scope \(history.scope): \(history.changes.count) change(s)")
        for change in history.changes {
            print("\n\(RecordPrinter.format(change.receivedAt))  \(change.user) on \(change.replica) (token \(change.device)), position \(change.position)")
            for field in change.fields {
                let old = field.old.isEmpty ? "(none)" : field.old.map { Self.quote($0) }.joined(separator: " | ")
                let new = field.new.map { Self.quote($0.value) }.joined(separator: " | ")
                // The profile's author name, when it differs from the token's user.
                let authors = Set(field.new.map(\.author)).sorted().joined(separator: ", ")
                let beside = field.kept.isEmpty ? "" : "   CONFLICT beside " + field.kept.map { Self.quote($0) }.joined(separator: " | ")
                let from = field.old.isEmpty && !field.kept.isEmpty ? "" : "\(old) → "
                print("  \(field.field): \(from)\(new)" + (authors == change.user ? "" : "  [by \(authors)]") + beside)
            }
        }
    }

    static func quote(_ value: FieldValue) -> String {
        switch value {
        case .null: return "(empty)"
        case .string(let text):
            let flat = text.replacingOccurrences(of: "\n", with: " ⏎ ")
            return "\"" + (flat.count > 60 ? String(flat.prefix(59)) + "…" : flat) + "\""
        default: return value.description
        }
    }
}
