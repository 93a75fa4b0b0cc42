import Foundation
import VeldProtocol

/// `veld-bench`: the benchmark harness behind scripts/bench.sh and BENCHMARKS.md.
///
///   veld-bench run --size smoke|default|full [--markdown FILE] [--json FILE] [--only LIST]
///
/// The other subcommands are the child processes `run` starts (a client's first sync,
/// pull or push; the floor's server and client).
@main
struct VeldBench {
    static func main() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        let command = arguments.isEmpty ? "help" : arguments.removeFirst()
        do {
            switch command {
            case "run": try await run(arguments)
            case "client-first-sync":
                try await ClientCommands.firstSync(home: URL(fileURLWithPath: arguments[0]), server: URL(string: arguments[1])!, token: arguments[2])
            case "client-first-sync-health":
                try await ClientCommands.firstSync(home: URL(fileURLWithPath: arguments[0]), server: URL(string: arguments[1])!, token: arguments[2],
                                                   health: true)
            case "client-first-sync-unencrypted":
                try await ClientCommands.firstSync(home: URL(fileURLWithPath: arguments[0]), server: URL(string: arguments[1])!, token: arguments[2],
                                                   encrypted: false)
            case "client-pull": try await ClientCommands.pull(home: URL(fileURLWithPath: arguments[0]), deltas: arguments.dropFirst().first == "deltas")
            case "client-push":
                try await ClientCommands.push(home: URL(fileURLWithPath: arguments[0]), count: Int(arguments[1])!, round: Int(arguments[2])!,
                                              deltas: arguments.count > 3 && arguments[3].hasPrefix("deltas"),
                                              inFlight: arguments.count > 3 && arguments[3] == "deltas-serial" ? 1 : 2)
            case "floor-server": try await Floor.serve(pages: URL(fileURLWithPath: arguments[0]))
            case "floor-client":
                try await Floor.client(server: URL(string: arguments[0])!, pages: URL(fileURLWithPath: arguments[1]),
                                       home: URL(fileURLWithPath: arguments[2]))
            default:
                print("usage: veld-bench run --size smoke|default|full [--markdown BENCHMARKS.md] [--json FILE] [--only capture,sync,wire,load,merge,policy,access,encryption]")
                exit(command == "help" ? 0 : 2)
            }
        } catch {
            Cleanup.shared.runAll()
            FileHandle.standardError.write(Data("veld-bench \(command): \(error)\n".utf8))
            exit(1)
        }
    }

    static func run(_ arguments: [String]) async throws {
        var sizes = Sizes.standard
        var markdown: URL?
        var json: URL?
        var only: Set<String> = ["capture", "sync", "wire", "load", "merge", "policy", "access", "encryption"]
        var command = "bash scripts/bench.sh"
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--size":
                switch iterator.next() {
                case "smoke": sizes = .smoke; command = "bash scripts/bench.sh --smoke"
                case "full": sizes = .full; command = "bash scripts/bench.sh --full"
                case "default": sizes = .standard
                default: throw BenchError("--size is smoke, default or full")
                }
            case "--markdown": markdown = iterator.next().map { URL(fileURLWithPath: $0) }
            case "--json": json = iterator.next().map { URL(fileURLWithPath: $0) }
            case "--only": only = Set((iterator.next() ?? "").split(separator: ",").map(String.init))
            case "--load-seconds": sizes.loadSeconds = Double(iterator.next() ?? "") ?? sizes.loadSeconds
            case "--repetitions": sizes.repetitions = Int(iterator.next() ?? "") ?? sizes.repetitions
            default: throw BenchError("unknown option \(argument)")
            }
        }
        let signals = [SIGINT, SIGTERM].map { signalNumber -> any DispatchSourceSignal in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                Child.killAll()
                Cleanup.shared.runAll()
                FileHandle.standardError.write(Data("veld-bench: interrupted; servers and clusters stopped\n".utf8))
                exit(130)
            }
            source.resume()
            return source
        }
        defer { signals.forEach { $0.cancel() } }

        let report = Report(sizeName: sizes.name, command: command, repetitions: sizes.repetitions)
        log("sizes \(sizes.name); \(report.machine.line)")
        let repository = FileManager.default.currentDirectoryPath
        let python = ProcessInfo.processInfo.environment["VELD_BENCH_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
        let steps: [(String, () async throws -> Void)] = [
            ("capture", { try CaptureScenario.run(sizes, report) }),
            ("sync", { try await SyncScenario.run(sizes, report) }),
            ("wire", { try await WireScenario.run(sizes, report) }),
            ("load", { try await LoadScenario.run(sizes, report) }),
            ("merge", { try MergeScenario.run(sizes, report, python: python, script: repository + "/bench/pycrdt_merge.py") }),
            ("policy", { try PolicyScenario.run(sizes, report) }),
            ("access", { try await AccessLogScenario.run(sizes, report) }),
            ("encryption", { try await EncryptionScenario.run(sizes, report) }),
        ]
        for (name, step) in steps where only.contains(name) {
            log("== \(name)")
            let started = now()
            do {
                try await step()
            } catch {
                report.error("\(name): \(error)")
            }
            log("== \(name) took \(String(format: "%.1f", now() - started)) s")
        }
        Cleanup.shared.runAll()
        print("")
        print("Veld benchmarks, \(sizes.name) sizes; this machine: \(report.machine.line)")
        print("")
        print(report.markdownTable)
        for note in report.notes { print("- \(note)") }
        if let json { try report.writeJSON(to: json) }
        if let markdown, report.errors.isEmpty { try report.write(into: markdown) }
        if !report.errors.isEmpty {
            FileHandle.standardError.write(Data("veld-bench: \(report.errors.count) error(s):\n".utf8))
            for error in report.errors { FileHandle.standardError.write(Data("  - \(error)\n".utf8)) }
            exit(1)
        }
    }
}
