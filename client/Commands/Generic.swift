import ArgumentParser
import Foundation
import VeldCore
import VeldProtocol

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show one record of any type, marking fields in conflict.")

    @OptionGroup var home: HomeOptions
    @Argument(help: "Record id or a unique prefix of it.") var id: String
    @Flag(help: "Print JSON: id, type, scope, fields, conflicts.") var json = false

    func run() throws {
        let store = try home.openStore()
        try RecordPrinter.show(try store.record(id), schemas: try store.schemaSet(), json: json)
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List records of every type, or filtered by type, scope, status, conflicts.")

    @OptionGroup var home: HomeOptions
    @Argument(help: "Only this type (visitNote, carePlan, klacht, … or visit, careplan, …; `veld schema` lists them).")
    var typeName: String?
    @Option(help: "Only this type (the same as the argument).")
    var type: String?
    @Option(help: "Only this scope, e.g. loc-zonnehof.") var scope: String?
    @Option(help: "Only records with this status.") var status: String?
    @Flag(help: "Only records with a field in conflict.") var conflicts = false
    @Flag(help: "Include deleted records.") var deleted = false
    @Flag(help: "Print a JSON array.") var json = false

    func validate() throws {
        if let typeName, let type, typeName != type { throw ValidationError("give the type once: as an argument or with --type") }
    }

    func run() throws {
        let store = try home.openStore()
        let schemas = try store.schemaSet()
        let schema = try (typeName ?? type).map { try SchemaCommand.schema($0, in: schemas) }
        let query = RecordQuery(type: schema?.type, scope: scope, status: status, onlyConflicts: conflicts, includeDeleted: deleted)
        try RecordPrinter.list(try store.records(query), schema: schema, json: json)
    }
}

struct Add: ParsableCommand {
    /// Lists the types of the set this device keeps (read from the profile without its
    /// key; the built-in set before the first sync), so a module's type shows its fields.
    static var configuration: CommandConfiguration {
        let schemas = LocalStore.peekSchemaSet(home: HomeOptions.fromCommandLine) ?? .builtIn
        return CommandConfiguration(
            abstract: "Add a record of any type: veld add TYPE --scope SCOPE field=value ….",
            discussion: "Values are checked against the type's schema in the module set this device keeps "
                + "(set version \(schemas.version); `veld sync` fetches a newer one), as `veld edit` does. A type whose "
                + "scope comes from a parent (a goal) takes no --scope; give the parent's field instead.\n\n"
                + schemas.schemas.filter { !$0.deprecated }.map { schema in
                    "\(schema.type) (\(schema.noun)): " + schema.fields.filter { $0.name != RecordState.deletedField && !$0.deprecated }
                        .map { $0.required ? $0.name + "*" : $0.name }.joined(separator: ", ")
                }.joined(separator: "\n") + "\n(* required; `veld schema TYPE` says what each field holds)")
    }

    @OptionGroup var home: HomeOptions
    @Argument(help: "The type (visitNote, carePlan, …) or its short name (visit, careplan, …).") var type: String
    @Option(name: [.customLong("scope"), .customLong("location")],
            help: ArgumentHelp("Where the record belongs: loc-… (a location) or org-… (an organisation).", valueName: "scope"))
    var scope: String?
    @Argument(help: "field=value pairs; field=@FILE or field=@- reads long text.") var assignments: [String] = []
    @Flag(help: "Print the new record as JSON.") var json = false

    func validate() throws {
        try Assignments.checkSyntax(assignments)
    }

    func run() throws {
        let schema = try SchemaCommand.schema(type, in: try home.openStore().schemaSet())
        try AddRecord.run(home: home, schema: schema, scope: scope, input: try Assignments.parse(assignments), json: json)
    }
}

struct Edit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Edit fields of any record: veld edit <id> field=value [field=value …].",
        discussion: """
            Values are checked against the record's schema (`veld schema TYPE` lists the fields).
            An empty value (field=) clears the field. field=@FILE reads the value from a file,
            field=@- from standard input; start a value with @@ for a literal @.
            Editing a field in conflict replaces all its values: that resolves the conflict.
            """)

    @OptionGroup var home: HomeOptions
    @Argument(help: "Record id or a unique prefix of it.") var id: String
    @Argument(help: "field=value pairs.") var assignments: [String] = []

    func validate() throws {
        if assignments.isEmpty { throw ValidationError("nothing to change; give field=value pairs") }
        try Assignments.checkSyntax(assignments)
    }

    func run() throws {
        try EditRecord.run(home: home, id: id, assignments: assignments, expectedType: nil)
    }
}

enum EditRecord {
    static func run(home: HomeOptions, id: String, assignments: [String], expectedType: String?) throws {
        let store = try home.openStore()
        let record = try store.record(id)
        if let expectedType, record.type != expectedType {
            throw LocalStoreError(.wrongType(id: record.id, expected: expectedType, actual: record.type), home: store.home)
        }
        let state = try store.edit(id: record.id, input: try Assignments.parse(assignments))
        print("Edited \(state.type) \(state.id)")
    }
}

struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete a record. The delete syncs like an edit; an edit made elsewhere meanwhile stays visible.")

    @OptionGroup var home: HomeOptions
    @Argument(help: "Record id or a unique prefix of it.") var id: String

    func run() throws {
        let store = try home.openStore()
        let state = try store.delete(id: try store.record(id).id)
        print("Deleted \(state.type) \(state.id)")
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show this device's profile, how many changes wait to be synced, and conflicts.")

    @OptionGroup var home: HomeOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let store = try home.openStore()
        try RecordPrinter.status(try store.status(), sync: try store.syncSettings(), home: store.home, json: json)
    }
}

struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema", abstract: "List the record types of the module set this device keeps, or the fields of one type.",
        discussion: """
            The set is the one the server sent at the last `veld sync` (a device offline for \
            weeks keeps working on it), or the set built into this release before the first sync. \
            Records of a type or with a field from a newer set are kept intact and shown as such.

            With --usage it lists, for every field, the deadline rules and report sections that \
            read it, and marks the fields nothing reads: data minimisation, made visible.
            """)

    @OptionGroup var home: HomeOptions
    @Argument(help: "A type (visitNote, carePlan, …) or its short name (visit, careplan, …).") var type: String?
    @Flag(help: "Print JSON: the set as the server sent it, or one type's fields.") var json = false
    @Flag(help: "For every field: which rules and reports use it; fields used by none are marked.") var usage = false

    /// The schema of `name` in `schemas`, or an error that lists the types there are.
    static func schema(_ name: String, in schemas: SchemaSet) throws -> RecordSchema {
        guard let schema = schemas.named(name) else {
            throw CLIFailure("unknown type '\(name)'; known types: " + schemas.schemas.map(\.type).joined(separator: ", ")
                             + " (`veld sync` fetches the server's newest module set)")
        }
        return schema
    }

    func run() throws {
        // Read without the profile's key: a module set is not client data.
        let kept = LocalStore.peekKeptSchemaSet(home: home.url) ?? KeptSchemaSet(set: .builtIn, etag: nil, receivedAt: nil)
        let schemas = kept.set
        if usage {
            let only = try type.map { try Self.schema($0, in: schemas).type }
            try Self.printUsage(FieldUsage.of(schemas).filter { only == nil || $0.type == only }, json: json)
            return
        }
        guard let type else {
            if json {
                print(String(decoding: try StableJSON.encode(schemas, pretty: true), as: UTF8.self))
                return
            }
            if let received = kept.receivedAt {
                print("Module set version \(schemas.version), received from the server \(ISO8601DateFormatter().string(from: received))")
            } else {
                print("Module set version \(schemas.version), built into this release (`veld sync` fetches the server's)")
            }
            for module in schemas.modules { print("  module \(module.module) version \(module.version): \(module.summary)") }
            for schema in schemas.schemas {
                print("\(schema.type.padding(13)) \(schema.noun.padding(9)) \(schema.summary)\(schema.deprecated ? " (deprecated)" : "")")
            }
            return
        }
        let schema = try Self.schema(type, in: schemas)
        if json {
            let document = schemas.module(defining: schema.type)?.types.first { $0.type == schema.type }
            print(String(decoding: try StableJSON.encode(document, pretty: true), as: UTF8.self))
            return
        }
        if let module = schemas.module(defining: schema.type) { print("\(schema.type): \(schema.summary) (module \(module.module) version \(module.version))") }
        for field in schema.fields {
            var notes: [String] = []
            if field.required { notes.append("required") }
            if field.deprecated { notes.append("deprecated") }
            if field.writers != Role.everyone {
                notes.append("written by " + Role.allCases.filter(field.writers.contains).map(\.rawValue).joined(separator: ", "))
            }
            for (value, roles) in field.restrictedValues.sorted(by: { $0.key < $1.key }) {
                notes.append("\(value): " + Role.allCases.filter(roles.contains).map(\.rawValue).joined(separator: ", "))
            }
            if !field.deprecatedValues.isEmpty { notes.append("no longer offered: " + field.deprecatedValues.sorted().joined(separator: ", ")) }
            let note = notes.isEmpty ? "" : " (" + notes.joined(separator: ", ") + ")"
            print("\(field.name.padding(16)) \(field.summary)\(note)")
            print("\("".padding(16)) \(field.kind)")
        }
    }
}

extension SchemaCommand {
    static func printUsage(_ usage: [FieldUsage], json: Bool) throws {
        if json {
            print(String(decoding: try StableJSON.encode(usage, pretty: true), as: UTF8.self))
            return
        }
        print("\("field".padding(34)) used by")
        for item in usage {
            var uses = item.rules.map { "rule \($0)" } + item.reports.map { "report \($0)" }
            if item.scope { uses.insert("the record's scope", at: 0) }
            let name = "\(item.type).\(item.field)" + (item.deprecated ? " (deprecated)" : "")
            let text = uses.isEmpty ? "- used by no rule or report" : uses.joined(separator: ", ")
            let lines = DueTable.wrap(text, width: 65)
            print("\(name.padding(34)) \(lines[0])")
            for line in lines.dropFirst() { print("\("".padding(34)) \(line.trimmingCharacters(in: .whitespaces))") }
        }
        let unused = usage.filter(\.unused).count
        print("")
        let notes = "\(unused) of \(usage.count) fields are used by no rule or report: ask of each whether it is needed, can be "
            + "checked, or is available elsewhere already. A municipality's mapping file adds its own columns "
            + "(veld-server report gemeente --mapping FILE)."
        for line in DueTable.wrap(notes) { print(line) }
    }
}

/// `field=value` pairs, with `@FILE` / `@-` for long text.
enum Assignments {
    /// Checks the shape only; reads no file and no standard input (that happens once, in
    /// `parse`, when the command runs).
    static func checkSyntax(_ pairs: [String]) throws {
        var seen: Set<String> = []
        for pair in pairs {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw ValidationError("'\(pair)' is not field=value; e.g. summary=\"Rondgang huiskamer\"")
            }
            let field = String(pair[..<equals])
            if !seen.insert(field).inserted { throw ValidationError("field \(field) is given twice") }
        }
        if pairs.filter({ $0.contains("=@-") && !$0.contains("=@@") }).count > 1 {
            throw ValidationError("only one field can be read from standard input (@-)")
        }
    }

    static func parse(_ pairs: [String]) throws -> [String: String] {
        try checkSyntax(pairs)
        var result: [String: String] = [:]
        for pair in pairs {
            let equals = pair.firstIndex(of: "=")!
            let field = String(pair[..<equals])
            var value = String(pair[pair.index(after: equals)...])
            if value.hasPrefix("@@") {
                value.removeFirst()
            } else if value.hasPrefix("@") {
                value = try LongText.read(String(value.dropFirst()))
            }
            result[field] = value
        }
        return result
    }
}

/// Long text from a file, or from standard input for `-`.
enum LongText {
    static func read(_ path: String) throws -> String {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: path) else {
                throw ValidationError("cannot read \(path); check the path (use - for standard input)")
            }
            data = contents
        }
        guard let decoded = String(data: data, encoding: .utf8) else {
            throw ValidationError("\(path == "-" ? "standard input" : path) is not UTF-8 text")
        }
        // Text written on Windows arrives with CRLF line ends; store plain newlines.
        let text = decoded.replacingOccurrences(of: "\r\n", with: "\n")
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }

    /// The value of a text option or of its `--…-file` twin; giving both is an error.
    static func either(_ text: String?, file: String?, option: String) throws -> String? {
        switch (text, file) {
        case (let text?, nil): return text
        case (nil, let file?): return try read(file)
        case (nil, nil): return nil
        case (.some, .some): throw ValidationError("give --\(option) or --\(option)-file, not both")
        }
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
