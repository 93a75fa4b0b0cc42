import Foundation
import Testing
import VeldProtocol
import VeldTestSupport

/// A type that exists only in an added module, through the binaries end to end: the
/// office adds the module, a device picks it up on its next sync, and every generic
/// command works for it, with the module's rules and one-line errors.
@Suite struct ModuleCLITests {
    @Test func aTypeFromAnAddedModuleWorksEverywhere() async throws {
        let server = try ServerProcess()
        let anna = try TemporaryFolder("veld-cli-anna")
        let office = try TemporaryFolder("veld-cli-office")
        func veld(_ home: TemporaryFolder, _ arguments: String..., stdin: String? = nil) throws -> Binaries.Result {
            try Binaries.run(Binaries.cli, arguments + ["--home", home.url.path], stdin: stdin)
        }
        func admin(_ arguments: String...) throws -> Binaries.Result {
            try Binaries.run(Binaries.server, ["schema"] + arguments + server.databaseArguments)
        }
        for (home, user, role, scope) in [(anna, "anna", Role.visitor, "loc-zonnehof"), (office, "olga", .office, "*")] {
            let token = try server.token(user: user, role: role, scopes: [scope])
            let made = try veld(home, "init", "--user", user, "--server", server.url!.absoluteString, "--token-file", "-", stdin: token)
            #expect(made.status == 0, "\(made.stderr)")
        }
        // Before the module: the type is unknown, and the error says how to get it.
        let early = try veld(anna, "add", "klacht", "--location", "loc-zonnehof", "subject=Koud eten")
        #expect(early.status != 0 && early.stderr.contains("unknown type 'klacht'") && early.stderr.contains("veld sync"))

        // The office adds it; list and show name it.
        let added = try admin("add", ExampleModules.klachtenURL.path)
        let setVersion = SchemaSet.builtIn.version + 1
        #expect(added.status == 0 && added.stdout.contains("Added klachten version 1") && added.stdout.contains("version \(setVersion)"), "\(added.stderr)")
        let listed = try admin("list")
        #expect(listed.stdout.contains("klachten") && listed.stdout.contains("klacht") && listed.stdout.contains("built in"))
        let shown = try admin("show", "klachten")
        #expect(try ModuleDocument.parse(Data(shown.stdout.utf8)) == ModuleDocument.parse(try ExampleModules.klachten()))
        // A breaking next version: refused with the reason and the way out, nothing stored.
        var breaking = try ModuleDocument.parse(try ExampleModules.klachten())
        breaking.version = 2
        breaking.types[0].fields.removeAll { $0.name == "outcome" }
        let file = server.folder.url.appendingPathComponent("klachten-2.json")
        try StableJSON.encode(breaking, pretty: true).write(to: file)
        let refused = try admin("add", file.path)
        #expect(refused.status != 0 && refused.stderr.contains("field outcome is removed") && refused.stderr.contains("\"deprecated\": true")
                && refused.stderr.contains("Nothing was stored"), "\(refused.stderr)")
        #expect(try admin("list", "--json").stdout.contains("\"version\" : \(setVersion)"))

        // The device picks it up on its next sync.
        let sync = try veld(anna, "sync")
        #expect(sync.status == 0 && sync.stdout.contains("Received module set version \(setVersion)"), "\(sync.stdout) \(sync.stderr)")
        let schema = try veld(anna, "schema")
        #expect(schema.stdout.contains("Module set version \(setVersion), received") && schema.stdout.contains("klacht"))
        let fields = try veld(anna, "schema", "klacht")
        #expect(fields.stdout.contains("module klachten version 1") && fields.stdout.contains("receivedOn")
                && fields.stdout.contains("afgehandeld: office, admin"))
        let help = try veld(anna, "add", "--help")
        #expect(help.stdout.contains("klacht (klacht): receivedOn*, subject*, channel, status*, outcome"), "\(help.stdout)")

        // Capture, with the module's checks and the same one-line errors as any type.
        let bad = try veld(anna, "add", "klacht", "--location", "loc-zonnehof", "receivedOn=gisteren", "subject=Koud eten", "status=ontvangen")
        #expect(bad.status != 0 && bad.stderr.contains("field receivedOn") && bad.stderr.contains("module klachten"), "\(bad.stderr)")
        let closing = try veld(anna, "add", "klacht", "--location", "loc-zonnehof", "receivedOn=2026-11-20", "subject=Koud eten", "status=afgehandeld")
        #expect(closing.status != 0 && closing.stderr.contains("may not set 'afgehandeld'") && closing.stderr.contains("module klachten"))
        let made = try veld(anna, "add", "klacht", "--location", "loc-zonnehof", "receivedOn=2026-11-20", "subject=Koud eten",
                            "status=ontvangen", "channel=mondeling", "--json")
        #expect(made.status == 0, "\(made.stderr)")
        let id = try #require(try JSONSerialization.jsonObject(with: Data(made.stdout.utf8)) as? [String: Any])["id"] as? String
        let anID = try #require(id)
        #expect(try veld(anna, "list", "--type", "klacht").stdout.contains("Koud eten"))
        #expect(try veld(anna, "list", "klacht").stdout == veld(anna, "list", "--type", "klacht").stdout)
        #expect(try veld(anna, "sync").stdout.contains("pushed 1"))

        // The office receives it and closes it: the module gave the office that decision.
        #expect(try veld(office, "sync").status == 0)
        let show = try veld(office, "show", String(anID.prefix(8)))
        #expect(show.stdout.contains("klacht \(anID)") && show.stdout.contains("Koud eten") && !show.stdout.contains("newer module"))
        let closed = try veld(office, "edit", String(anID.prefix(8)), "status=afgehandeld", "outcome=Warmhoudkarren besteld")
        #expect(closed.status == 0, "\(closed.stderr)")
        #expect(try veld(office, "sync").stdout.contains("pushed 1"))
        #expect(try veld(anna, "sync").status == 0)
        #expect(try veld(anna, "show", String(anID.prefix(8))).stdout.contains("Warmhoudkarren besteld"))
        // A visitor cannot take the office's decision back.
        let undo = try veld(anna, "edit", String(anID.prefix(8)), "status=ontvangen")
        #expect(undo.status != 0 && undo.stderr.contains("afgehandeld"), "\(undo.stderr)")

        // A conflict in a module's field is settled with a typed value, as for a built-in type.
        #expect(try veld(anna, "edit", String(anID.prefix(8)), "subject=Koud eten op afdeling 2").status == 0)
        #expect(try veld(office, "edit", String(anID.prefix(8)), "subject=Koude maaltijden").status == 0)
        #expect(try veld(anna, "sync").status == 0)
        #expect(try veld(office, "sync").stdout.contains("new conflicts 1"))
        let typo = try veld(office, "resolve", String(anID.prefix(8)), "--field", "channel", "--value", "per duif")
        #expect(typo.status != 0, "\(typo.stdout)")
        let resolved = try veld(office, "resolve", String(anID.prefix(8)), "--field", "subject", "--value", "Koude maaltijden op afdeling 2")
        #expect(resolved.status == 0 && resolved.stdout.contains("Resolved subject of klacht"), "\(resolved.stdout) \(resolved.stderr)")
        #expect(try veld(office, "show", String(anID.prefix(8))).stdout.contains("Koude maaltijden op afdeling 2"))
    }
}
