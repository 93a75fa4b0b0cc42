import Foundation
import Testing
import VeldTestSupport

/// Runs the `veld` binary against a fresh profile folder of its own.
///
/// Every instance makes a temporary folder holding the profile (`home`) and scratch files
/// (stdin, stdout, stderr, inputs); it is removed when the instance goes away. Tests run in
/// parallel, so nothing here is shared between instances.
///
/// ```swift
/// let cli = try CLI()
/// try await cli.ok("init", "--user", "anna")
/// let id = try await cli.add("visit", "add", "--location", "loc-zonnehof", …)
/// ```
final class CLI: Sendable {
    /// What one run of `veld` did.
    struct Result: Sendable, CustomStringConvertible {
        let arguments: [String]
        let exitCode: Int32
        let stdout: String
        let stderr: String

        var stdoutLines: [String] { Self.lines(stdout) }
        var stderrLines: [String] { Self.lines(stderr) }
        /// The lines on stderr that are the error itself (ArgumentParser may add usage lines).
        var errorLines: [String] { stderrLines.filter { $0.hasPrefix("Error:") } }

        var description: String {
            "veld \(arguments.joined(separator: " ")) → exit \(exitCode)\n--- stdout\n\(stdout)--- stderr\n\(stderr)"
        }

        static func lines(_ text: String) -> [String] {
            var lines = text.components(separatedBy: "\n")
            if lines.last == "" { lines.removeLast() }
            return lines
        }
    }

    /// The scratch folder; removed on deinit.
    let root: URL
    /// The profile folder passed to `veld` as `VELD_HOME`.
    let home: URL
    let binary: URL

    init() throws {
        binary = try Self.locateBinary()
        root = FileManager.default.temporaryDirectory
            .appendingPathComponent("veld-cli-tests-\(UUID().uuidString.lowercased())", isDirectory: true)
        home = root.appendingPathComponent("home", isDirectory: true)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: root)
    }

    // MARK: Running

    /// Runs `veld arguments…` with `VELD_HOME` set to this instance's home (unless
    /// `environment` says otherwise) and `HOME`/`XDG_DATA_HOME` pointing inside the scratch
    /// folder, so no run can touch a real profile.
    @discardableResult
    func run(_ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:]) async throws -> Result {
        let tag = UUID().uuidString.lowercased()
        let inURL = root.appendingPathComponent("stdin-\(tag)")
        let outURL = root.appendingPathComponent("stdout-\(tag)")
        let errURL = root.appendingPathComponent("stderr-\(tag)")
        defer {
            for url in [inURL, outURL, errURL] { try? FileManager.default.removeItem(at: url) }
        }
        // Files rather than pipes: nothing to drain concurrently, so no pipe can fill up.
        guard FileManager.default.createFile(atPath: outURL.path, contents: nil),
              FileManager.default.createFile(atPath: errURL.path, contents: nil) else {
            throw CLIError("cannot create output files in \(root.path)")
        }
        let output = try FileHandle(forWritingTo: outURL)
        let errors = try FileHandle(forWritingTo: errURL)
        defer {
            try? output.close()
            try? errors.close()
        }
        var input: FileHandle?
        if let stdin {
            guard FileManager.default.createFile(atPath: inURL.path, contents: stdin) else {
                throw CLIError("cannot create \(inURL.path)")
            }
            input = try FileHandle(forReadingFrom: inURL)
        }
        defer { try? input?.close() }

        var env = ProcessInfo.processInfo.environment
        env["VELD_HOME"] = home.path
        env["HOME"] = root.appendingPathComponent("user").path
        env["XDG_DATA_HOME"] = root.appendingPathComponent("xdg").path
        env["COLUMNS"] = "100"
        for (key, value) in environment { env[key] = value }

        let child = try Subprocess(binary, arguments, environment: env, directory: root,
                                   stdin: input.map { .descriptor($0.fileDescriptor) } ?? .null,
                                   stdout: .descriptor(output.fileDescriptor), stderr: .descriptor(errors.fileDescriptor))
        let status = await child.terminated().code
        let stdoutData = (try? Data(contentsOf: outURL)) ?? Data()
        let stderrData = (try? Data(contentsOf: errURL)) ?? Data()
        return Result(arguments: arguments, exitCode: status,
                      stdout: String(decoding: stdoutData, as: UTF8.self),
                      stderr: String(decoding: stderrData, as: UTF8.self))
    }

    @discardableResult
    func run(_ arguments: String..., stdin: Data? = nil) async throws -> Result {
        try await run(arguments, stdin: stdin)
    }

    /// Runs and records an issue unless `veld` exits 0.
    @discardableResult
    func ok(_ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:],
            sourceLocation: SourceLocation = #_sourceLocation) async throws -> Result {
        let result = try await run(arguments, stdin: stdin, environment: environment)
        #expect(result.exitCode == 0, "\(result)", sourceLocation: sourceLocation)
        return result
    }

    @discardableResult
    func ok(_ arguments: String..., stdin: Data? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws -> Result {
        try await ok(arguments, stdin: stdin, sourceLocation: sourceLocation)
    }

    /// Runs, expects failure, and checks the error: exit code not 0, nothing on stdout,
    /// exactly one `Error:` line on stderr, which contains every one of `mentions`.
    @discardableResult
    func fails(_ arguments: [String], mentioning mentions: [String], stdin: Data? = nil,
               sourceLocation: SourceLocation = #_sourceLocation) async throws -> Result {
        let result = try await run(arguments, stdin: stdin)
        #expect(result.exitCode != 0, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, "\(result)", sourceLocation: sourceLocation)
        let errorLines = result.errorLines
        #expect(errorLines.count == 1, "expected one Error: line\n\(result)", sourceLocation: sourceLocation)
        let error = errorLines.first ?? ""
        for mention in mentions {
            #expect(error.contains(mention), "error should mention \"\(mention)\"\n\(result)", sourceLocation: sourceLocation)
        }
        return result
    }

    /// Runs and parses stdout as JSON.
    func json(_ arguments: [String], stdin: Data? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws -> JSONValue {
        let result = try await ok(arguments, stdin: stdin, sourceLocation: sourceLocation)
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(result.stdout.utf8))
        } catch {
            Issue.record("stdout is not JSON (\(error))\n\(result)", sourceLocation: sourceLocation)
            throw error
        }
    }

    func json(_ arguments: String..., stdin: Data? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws -> JSONValue {
        try await json(arguments, stdin: stdin, sourceLocation: sourceLocation)
    }

    // MARK: Shortcuts

    /// `veld init --user NAME --role ROLE`.
    func initialise(user: String = "anna", role: String? = "carer", sourceLocation: SourceLocation = #_sourceLocation) async throws {
        var arguments = ["init", "--user", user]
        if let role { arguments += ["--role", role] }
        let result = try await ok(arguments, sourceLocation: sourceLocation)
        #expect(result.stdout.contains("Initialised Veld for \(user)"), "\(result)", sourceLocation: sourceLocation)
    }

    /// Runs an `add` command and returns the new record's id from "Added TYPE ID".
    func add(_ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:],
             sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let result = try await ok(arguments, stdin: stdin, environment: environment, sourceLocation: sourceLocation)
        let words = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ")
        guard words.count == 3, words[0] == "Added", let id = words.last, Self.isRecordID(String(id)) else {
            Issue.record("expected \"Added TYPE ID\"\n\(result)", sourceLocation: sourceLocation)
            throw CLIError("no id in output of veld \(arguments.joined(separator: " "))")
        }
        return String(id)
    }

    func add(_ arguments: String..., stdin: Data? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        try await add(arguments, stdin: stdin, sourceLocation: sourceLocation)
    }

    /// `veld show ID --json`.
    func show(_ id: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> JSONValue {
        try await json(["show", id, "--json"], sourceLocation: sourceLocation)
    }

    /// Everything the database holds as the CLI sees it: all records (deleted ones too)
    /// and the status. Used to check that a failed command changed nothing; the SQLite
    /// file's bytes may change (WAL) without its contents changing.
    func snapshot(sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let records = try await ok(["list", "--deleted", "--json"], sourceLocation: sourceLocation)
        let status = try await ok(["status", "--json"], sourceLocation: sourceLocation)
        return records.stdout + "\n" + status.stdout
    }

    /// Writes `contents` to a file in the scratch folder and returns its path.
    func file(_ name: String, _ contents: String) throws -> String {
        let url = root.appendingPathComponent(name)
        try Data(contents.utf8).write(to: url)
        return url.path
    }

    static func isRecordID(_ text: String) -> Bool {
        text.count == 36 && UUID(uuidString: text) != nil && text == text.lowercased()
    }

    // MARK: Finding the binary

    /// `$VELD_BIN`; else `veld` next to the running test bundle; else the package's
    /// `.build-cli/debug/veld` or `.build/debug/veld`.
    static func locateBinary(filePath: String = #filePath) throws -> URL {
        let fileManager = FileManager.default
        var candidates: [String] = []
        if let override = ProcessInfo.processInfo.environment["VELD_BIN"], !override.isEmpty {
            candidates.append(override)
        }
        if let exe = try? fileManager.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append(URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("veld").path)
        }
        // Tests/VeldCLITests/CLI.swift → package root.
        var folder = URL(fileURLWithPath: filePath).deletingLastPathComponent()
        while folder.path != "/" {
            if fileManager.fileExists(atPath: folder.appendingPathComponent("Package.swift").path) {
                candidates.append(folder.appendingPathComponent(".build-cli/debug/veld").path)
                candidates.append(folder.appendingPathComponent(".build/debug/veld").path)
                break
            }
            folder.deleteLastPathComponent()
        }
        for path in candidates {
            var isDirectory: ObjCBool = false
            if fileManager.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
               fileManager.isExecutableFile(atPath: path) {
                return URL(fileURLWithPath: path)
            }
        }
        throw CLIError("cannot find the veld binary; tried \(candidates.joined(separator: ", ")). Build it, or set VELD_BIN.")
    }
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Any JSON value, keeping its exact kind (a boolean is not a number).
enum JSONValue: Decodable, Equatable, Sendable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    var object: [String: JSONValue]? {
        if case .object(let object) = self { return object }
        return nil
    }

    var array: [JSONValue]? {
        if case .array(let array) = self { return array }
        return nil
    }

    var string: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    var bool: Bool? {
        if case .bool(let flag) = self { return flag }
        return nil
    }

    var number: Double? {
        if case .number(let number) = self { return number }
        return nil
    }

    var description: String {
        switch self {
        case .null: return "null"
        case .bool(let flag): return "\(flag)"
        case .number(let number): return "\(number)"
        case .string(let text): return "\"\(text)\""
        case .array(let items): return "[" + items.map(\.description).joined(separator: ", ") + "]"
        case .object(let object):
            return "{" + object.keys.sorted().map { "\"\($0)\": \(object[$0]!.description)" }.joined(separator: ", ") + "}"
        }
    }
}
