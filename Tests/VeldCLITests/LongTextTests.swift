import Foundation
import Testing

/// Long text from standard input and from files: `--…-file -`, `--…-file PATH`,
/// `field=@PATH`, `field=@-`.
@Suite("Long text")
struct LongTextTests {
    /// Several lines, a blank line, leading and trailing spaces, a tab and non-ASCII.
    static let text = "Bewoners zitten in de huiskamer.\n\n  Mevrouw J. vraagt naar de tuin;\tde deur klemt.\nCliëntenraad: “graag opvolgen” ✓  "

    static func visitArguments(_ extra: String...) -> [String] {
        ["visit", "add", "--location", "loc-zonnehof", "--kind", "werkbezoek", "--date", "2026-11-20",
         "--summary", "Rondgang huiskamer"] + extra
    }

    @Test("--observations-file - reads standard input; one trailing newline is dropped")
    func optionFromStdin() async throws {
        let cli = try CLI()
        try await cli.initialise()
        let id = try await cli.add(Self.visitArguments("--observations-file", "-"), stdin: Data((Self.text + "\n").utf8))
        #expect(try await cli.show(id)["fields"]?["observations"] == .string(Self.text))

        // Only one newline goes; a second one is part of the text.
        let two = try await cli.add(Self.visitArguments("--observations-file", "-"), stdin: Data((Self.text + "\n\n").utf8))
        #expect(try await cli.show(two)["fields"]?["observations"] == .string(Self.text + "\n"))

        // Without a trailing newline nothing is dropped.
        let none = try await cli.add(Self.visitArguments("--observations-file", "-"), stdin: Data(Self.text.utf8))
        #expect(try await cli.show(none)["fields"]?["observations"] == .string(Self.text))
    }

    @Test("--observations-file PATH reads a file")
    func optionFromFile() async throws {
        let cli = try CLI()
        try await cli.initialise()
        let path = try cli.file("observations.txt", Self.text + "\n")
        let id = try await cli.add(Self.visitArguments("--observations-file", path, "--follow-up-file", path))
        let fields = try await cli.show(id)["fields"]
        #expect(fields?["observations"] == .string(Self.text))
        #expect(fields?["followUp"] == .string(Self.text))

        // The plain show prints every line, continuation lines indented under the first.
        let shown = try await cli.ok("show", id)
        let lines = shown.stdoutLines
        let first = try #require(lines.firstIndex { $0.hasPrefix("  observations") }, "\(shown)")
        let expected = Self.text.components(separatedBy: "\n")
        #expect(lines[first].hasSuffix(expected[0]), "\(shown)")
        for (offset, line) in expected.enumerated().dropFirst() {
            #expect(lines[first + offset] == String(repeating: " ", count: 19) + line, "\(shown)")
        }
    }

    @Test("the long-text file options of every type", arguments: [
        ("careplan", ["--location", "loc-zonnehof", "--client-code", "ZH-0042", "--law", "Wlz",
                      "--care-start", "2026-10-01"], ["--risk-assessment-file": "riskAssessment", "--agreements-file": "agreements"]),
        ("goal", ["--care-plan", "{careplan}", "--domain", "welzijn", "--goal", "Naar buiten"],
         ["--actions-file": "actions"]),
        ("council", ["--scope", "org-bezinn", "--council", "Cliëntenraad", "--kind", "notulen", "--topic", "Vergadering"],
         ["--body-file": "body"]),
    ])
    func otherTypes(noun: String, arguments: [String], options: [String: String]) async throws {
        let cli = try CLI()
        let fixture = try await Fixture.make(cli)
        for (option, field) in options {
            let id = try await cli.add([noun, "add"] + arguments.map(fixture.substitute) + [option, "-"],
                                       stdin: Data((Self.text + "\n").utf8))
            #expect(try await cli.show(id)["fields"]?[field] == .string(Self.text), "\(noun) \(option)")
            let path = try cli.file("\(field).txt", "Eén regel\n")
            let fromFile = try await cli.add([noun, "add"] + arguments.map(fixture.substitute) + [option, path])
            #expect(try await cli.show(fromFile)["fields"]?[field] == .string("Eén regel"), "\(noun) \(option)")
        }
    }

    @Test("edit field=@PATH reads a file")
    func editFromFile() async throws {
        let cli = try CLI()
        let fixture = try await Fixture.make(cli)
        let path = try cli.file("observations.txt", Self.text + "\n")
        try await cli.ok("edit", fixture.visit, "observations=@\(path)")
        #expect(try await cli.show(fixture.visit)["fields"]?["observations"] == .string(Self.text))

        let actions = try cli.file("actions.txt", "Elke ochtend wandelen.\nMet begeleiding.\n")
        try await cli.ok("goal", "edit", fixture.goal, "actions=@\(actions)")
        #expect(try await cli.show(fixture.goal)["fields"]?["actions"] == .string("Elke ochtend wandelen.\nMet begeleiding."))
    }

    @Test("NOUN edit field=@- reads standard input")
    func typedEditFromStdin() async throws {
        let cli = try CLI()
        let fixture = try await Fixture.make(cli)
        try await cli.ok(["visit", "edit", fixture.visit, "observations=@-"], stdin: Data((Self.text + "\n").utf8))
        #expect(try await cli.show(fixture.visit)["fields"]?["observations"] == .string(Self.text))
        try await cli.ok(["council", "edit", fixture.council, "body=@-"], stdin: Data("Advies:\nakkoord\n".utf8))
        #expect(try await cli.show(fixture.council)["fields"]?["body"] == .string("Advies:\nakkoord"))
    }

    @Test("veld edit field=@- reads standard input")
    func editFromStdin() async throws {
        let cli = try CLI()
        let fixture = try await Fixture.make(cli)
        // Standard input is read once, when the command runs (validate() reads nothing).
        try await cli.ok(["edit", fixture.visit, "observations=@-"], stdin: Data((Self.text + "\n").utf8))
        let observations = try await cli.show(fixture.visit)["fields"]?["observations"]
        #expect(observations == .string(Self.text))
    }

    @Test("a file with Windows line ends (CRLF)")
    func crlf() async throws {
        let cli = try CLI()
        let fixture = try await Fixture.make(cli)
        let path = try cli.file("summary.txt", "Rondgang tuin\r\n")
        try await cli.ok("edit", fixture.visit, "summary=@\(path)")
        // CRLF line ends become plain newlines, and the trailing one is dropped; a "\r"
        // left in a table would send a terminal's cursor back to the start of the line.
        let summary = try await cli.show(fixture.visit)["fields"]?["summary"]
        #expect(summary == .string("Rondgang tuin"))
        let table = try await cli.ok("visit", "list")
        #expect(!table.stdout.contains("\r"), "\(table)")
    }

    @Test("@@ starts a literal @")
    func literalAt() async throws {
        let cli = try CLI()
        let fixture = try await Fixture.make(cli)
        try await cli.ok("edit", fixture.visit, "summary=@@huiskamer", "followUp=mail @teamleider")
        let fields = try await cli.show(fixture.visit)["fields"]
        #expect(fields?["summary"] == .string("@huiskamer"))
        #expect(fields?["followUp"] == .string("mail @teamleider"))
    }

    @Test("giving both --observations and --observations-file is an error, and nothing is stored")
    func both() async throws {
        let cli = try CLI()
        _ = try await Fixture.make(cli)
        let path = try cli.file("observations.txt", "Tekst\n")
        let before = try await cli.snapshot()
        try await cli.fails(Self.visitArguments("--observations", "Tekst", "--observations-file", path),
                            mentioning: ["--observations", "--observations-file", "not both"])
        try await cli.fails(Self.visitArguments("--observations", "Tekst", "--observations-file", "-"),
                            mentioning: ["not both"], stdin: Data("Tekst\n".utf8))
        try await cli.fails(["council", "add", "--scope", "org-bezinn", "--council", "C", "--kind", "advies",
                             "--topic", "T", "--body", "x", "--body-file", path], mentioning: ["--body", "not both"])
        #expect(try await cli.snapshot() == before)
    }

    @Test("an unreadable or non-UTF-8 file is an error, and nothing is stored")
    func badFiles() async throws {
        let cli = try CLI()
        let fixture = try await Fixture.make(cli)
        let missing = cli.root.appendingPathComponent("missing.txt").path
        let latin1 = cli.root.appendingPathComponent("latin1.txt")
        try Data([0x43, 0x6C, 0x69, 0xEB, 0x6E, 0x74, 0xFF, 0x0A]).write(to: latin1)
        let before = try await cli.snapshot()
        try await cli.fails(Self.visitArguments("--observations-file", missing), mentioning: ["cannot read", missing])
        try await cli.fails(["edit", fixture.visit, "observations=@\(missing)"], mentioning: ["cannot read", missing])
        try await cli.fails(["visit", "edit", fixture.visit, "observations=@\(missing)"], mentioning: ["cannot read"])
        try await cli.fails(Self.visitArguments("--observations-file", latin1.path), mentioning: ["not UTF-8"])
        try await cli.fails(["edit", fixture.visit, "observations=@\(latin1.path)"], mentioning: ["not UTF-8"])
        #expect(try await cli.snapshot() == before)
    }
}
