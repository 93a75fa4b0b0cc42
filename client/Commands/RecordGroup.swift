import ArgumentParser
import Foundation
import VeldCore
import VeldProtocol

/// One record type as seen from the command line: its schema, its `add` command, and the
/// columns of its table.
protocol RecordNoun {
    associatedtype Add: ParsableCommand
    static var schema: RecordSchema { get }
    static var columns: [TableColumn] { get }
}

/// `veld visit|careplan|goal|council …`: add, list, show, edit, delete for one type.
struct RecordGroup<Noun: RecordNoun>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: Noun.schema.noun,
            abstract: "Add, list, show, edit or delete \(Noun.schema.summary) (\(Noun.schema.type)).",
            subcommands: [Noun.Add.self, TypedList<Noun>.self, TypedShow<Noun>.self, TypedEdit<Noun>.self,
                          TypedDelete<Noun>.self]
        )
    }
}

struct TypedList<Noun: RecordNoun>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "list", abstract: "List \(Noun.schema.type) records as a table.")
    }

    @OptionGroup var home: HomeOptions
    @Option(help: "Only this scope, e.g. loc-zonnehof.") var scope: String?
    @Option(help: "Only records with this status.") var status: String?
    @Flag(help: "Only records with a field in conflict.") var conflicts = false
    @Flag(help: "Include deleted records.") var deleted = false
    @Flag(help: "Print a JSON array.") var json = false

    func run() throws {
        let query = RecordQuery(type: Noun.schema.type, scope: scope, status: status,
                                onlyConflicts: conflicts, includeDeleted: deleted)
        try RecordPrinter.list(try home.openStore().records(query), schema: Noun.schema, json: json)
    }
}

struct TypedShow<Noun: RecordNoun>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "show", abstract: "Show one \(Noun.schema.type), marking fields in conflict.")
    }

    @OptionGroup var home: HomeOptions
    @Argument(help: "Record id or a unique prefix of it.") var id: String
    @Flag(help: "Print JSON: id, type, scope, fields, conflicts.") var json = false

    func run() throws {
        let store = try home.openStore()
        let state = try store.record(id)
        guard state.type == Noun.schema.type else {
            throw LocalStoreError(.wrongType(id: state.id, expected: Noun.schema.type, actual: state.type), home: store.home)
        }
        try RecordPrinter.show(state, schemas: try store.schemaSet(), json: json)
    }
}

struct TypedEdit<Noun: RecordNoun>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "edit", abstract: "Edit fields of a \(Noun.schema.type): field=value ….",
                             discussion: "Fields: " + Noun.schema.fieldNames.joined(separator: ", ")
                                + ". An empty value clears a field; field=@FILE or field=@- reads long text.")
    }

    @OptionGroup var home: HomeOptions
    @Argument(help: "Record id or a unique prefix of it.") var id: String
    @Argument(help: "field=value pairs.") var assignments: [String] = []

    func validate() throws {
        if assignments.isEmpty { throw ValidationError("nothing to change; give field=value pairs") }
    }

    func run() throws {
        try EditRecord.run(home: home, id: id, assignments: assignments, expectedType: Noun.schema.type)
    }
}

struct TypedDelete<Noun: RecordNoun>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "delete", abstract: "Delete a \(Noun.schema.type).")
    }

    @OptionGroup var home: HomeOptions
    @Argument(help: "Record id or a unique prefix of it.") var id: String

    func run() throws {
        let store = try home.openStore()
        let state = try store.record(id)
        guard state.type == Noun.schema.type else {
            throw LocalStoreError(.wrongType(id: state.id, expected: Noun.schema.type, actual: state.type), home: store.home)
        }
        let deleted = try store.delete(id: state.id)
        print("Deleted \(deleted.type) \(deleted.id)")
    }
}

/// Shared end of every `add`: create the record from typed input, then say what was made.
enum AddRecord {
    static func run(home: HomeOptions, schema: RecordSchema, scope: String?, input: [String: String?], json: Bool) throws {
        let store = try home.openStore()
        let state = try store.create(type: schema.type, scope: scope, input: input.compactMapValues { $0 })
        if json {
            try RecordPrinter.show(state, json: true)
        } else {
            print("Added \(state.type) \(state.id)")
        }
    }
}
