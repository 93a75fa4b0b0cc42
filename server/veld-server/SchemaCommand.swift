import ArgumentParser
import Foundation
import VeldProtocol
import VeldServer

/// `veld-server schema list|show|add`: the module set devices receive at their next sync.
struct SchemaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "The module set in force: the record types devices may write, as published at GET /v1/schemas.",
        discussion: """
            A module is a JSON document that defines record types (protocol/SPEC.md, \
            "Modules"; protocol/module.schema.json). The built-in module veld-core ships \
            with Veld; an organisation adds its own, or a next version of one, with \
            `schema add`. Devices fetch the set on their next `veld sync`.
            """,
        subcommands: [List.self, Show.self, Add.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the modules in force: version, where from, and the types each defines.")
        @OptionGroup var database: DatabaseOptions
        @Flag(help: "Print JSON: the set exactly as GET /v1/schemas answers it, with its ETag.") var json = false

        func run() async throws {
            let storage = try await database.open()
            let stored = try await storage.storedModules()
            let published = try await SchemaCommand.published(storage)
            if json {
                struct Listing: Encodable { let etag: String; let set: SchemaSet }
                print(String(decoding: try StableJSON.encode(Listing(etag: published.etag, set: published.set), pretty: true), as: UTF8.self))
                return
            }
            print("Module set version \(published.set.version) (ETag \(published.etag)), \(published.set.schemas.count) types")
            print("MODULE               VERSION  FROM                             TYPES")
            for module in published.set.modules {
                let added = stored.last { $0.name == module.module && $0.version == module.version }
                // A release stores its built-in modules itself (serve, migrate): those are "built in".
                let from = added.flatMap { $0.addedBy.hasPrefix("release ") ? nil : "\($0.addedBy) \(InternetTime.format($0.addedAt))" } ?? "built in"
                let types = module.types.map { $0.type + ($0.deprecated == true ? " (deprecated)" : "") }
                // The types wrap within their column, so the table fits 100 columns.
                var lines: [String] = [], line = ""
                for (index, type) in types.enumerated() {
                    let item = type + (index < types.count - 1 ? "," : "")
                    if !line.isEmpty && line.count + 1 + item.count > 37 { lines.append(line); line = item } else { line += (line.isEmpty ? "" : " ") + item }
                }
                lines.append(line)
                print(module.module.padding(20) + " " + String(module.version).padding(8) + " " + from.padding(32) + " " + lines[0])
                for more in lines.dropFirst() { print(String(repeating: " ", count: 63) + more) }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print one module's document as it is in force: edit it and `schema add` it as its next version.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The module's name (`schema list` shows them).") var module: String

        func run() async throws {
            let published = try await SchemaCommand.published(try await database.open())
            guard let document = published.set.modules.first(where: { $0.module == module }) else {
                throw ExitMessage("no module \(module) in force; `veld-server schema list` lists them")
            }
            print(String(decoding: try StableJSON.encode(document, pretty: true), as: UTF8.self))
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a module, or the next version of one, after checking it cannot break a device in the field.",
            discussion: """
                Only additive changes are accepted: new types, new optional fields, new values, \
                a required field made optional, a role given more. Removing or retyping a field, \
                removing a value, changing a scope rule or taking a right away is refused with \
                the reason and what to do instead (usually: mark it "deprecated"). Devices on \
                an older set keep working and keep what they do not know intact.
                """)
        @OptionGroup var database: DatabaseOptions
        @Argument(help: ArgumentHelp("The module document (JSON), or - for standard input.", valueName: "file"))
        var file: String

        func run() async throws {
            let data = try SchemaCommand.read(file)
            let storage = try await database.open()
            let outcome: ModuleSets.Added
            do {
                outcome = try await ModuleSets.add(data, to: storage, by: Audit.operator(), at: Date())
            } catch let problems as ModuleProblems {
                throw ExitMessage("\(file): " + problems.description + "\nNothing was stored.")
            }
            switch outcome {
            case .added(let published):
                let module = try ModuleDocument.parse(data, alongside: published.set.modules)
                print("Added \(module.module) version \(module.version) (types: \(module.types.map(\.type).joined(separator: ", "))). "
                      + "The set in force is version \(published.set.version); devices receive it on their next sync.")
            case .alreadyInForce(let published):
                print("That exact document is in force already (set version \(published.set.version)); nothing was stored.")
            }
        }
    }

    /// This release's built-in modules into the database, or the reason they do not go.
    static func installBuiltIns(_ storage: any SyncStorage) async throws {
        do { try await ModuleSets.installBuiltIns(storage, at: Date()) } catch let problems as ModuleProblems {
            throw ExitMessage("this release's built-in modules do not fit the database's: \(problems)")
        }
    }

    /// The set in force, or the reason it cannot be formed.
    static func published(_ storage: any SyncStorage) async throws -> PublishedSchemas {
        do { return try await ModuleSets.published(storage) } catch let problems as ModuleProblems {
            throw ExitMessage("the stored modules do not form a set with this release's built-in modules: \(problems)")
        }
    }

    /// A module file (or standard input): at most 1 MiB, which is far more than any module needs.
    static func read(_ file: String) throws -> Data {
        let limit = 1 << 20
        let handle: FileHandle
        if file == "-" { handle = .standardInput } else {
            do { handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: file)) } catch {
                throw ExitMessage("cannot read \(file): \(error.localizedDescription)")
            }
        }
        let data = handle.readData(ofLength: limit + 1)
        guard data.count <= limit else { throw ExitMessage("\(file) is larger than 1 MiB; a module document is a few kilobytes") }
        return data
    }
}

private extension String {
    func padding(_ width: Int) -> String {
        count >= width ? String(prefix(width)) : padding(toLength: width, withPad: " ", startingAt: 0)
    }
}
