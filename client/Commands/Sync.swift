import ArgumentParser
import Foundation
import VeldCore
import VeldProtocol

struct Connect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Point this profile at a sync server with the device token the office gave you.")

    @OptionGroup var home: HomeOptions
    @Option(help: "The server's address, e.g. http://127.0.0.1:8080.") var server: String
    @Option(help: "This device's token (from `veld-server token create`).") var token: String

    func validate() throws { _ = try ServerAddress.parse(server) }

    func run() throws {
        let store = try home.openStore()
        try store.connect(server: try ServerAddress.parse(server), token: token)
        print("This profile now syncs with \(server). Run `veld sync`.")
    }
}

struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Push the changes made here, then pull everyone else's. Safe to interrupt and run again.")

    @OptionGroup var home: HomeOptions
    @Flag(help: "Print the summary as JSON.") var json = false
    @Flag(name: .shortAndLong, help: "No progress line.") var quiet = false
    @Option(help: "Records per push batch (smaller batches suit a poor connection).")
    var batchSize = SyncLimits.pushBatchSize

    func validate() throws {
        guard (1...10_000).contains(batchSize) else { throw ValidationError("--batch-size must be 1…10000") }
    }

    func run() async throws {
        let store = try home.openStore()
        let settings = try store.syncSettings()
        guard let server = settings.server, let token = settings.token else {
            throw ValidationError("this profile has no server yet; run `veld connect --server URL --token TOKEN`")
        }
        let progress = ProgressLine(enabled: !quiet && !json && isatty(STDERR_FILENO) != 0)
        let engine = SyncEngine(store: store, transport: HTTPTransport(server: server, token: token),
                                batchSize: batchSize, progress: { event in progress.show(event) })
        let report: SyncReport
        do {
            report = try await engine.sync()
        } catch {
            progress.finish()
            throw error
        }
        progress.finish()
        if json {
            struct Output: Encodable { let pushed, pulled, newConflicts, editedDuringSync: Int }
            let output = Output(pushed: report.pushed, pulled: report.pulled, newConflicts: report.newConflicts,
                                editedDuringSync: report.editedDuringSync)
            print(String(decoding: try StableJSON.encode(output, pretty: true), as: UTF8.self))
            return
        }
        var line = "Synced with \(server.absoluteString): pushed \(report.pushed), pulled \(report.pulled), new conflicts \(report.newConflicts)."
        if report.newConflicts > 0 { line += " `veld conflicts` lists them." }
        print(line)
        if report.editedDuringSync > 0 {
            print("\(report.editedDuringSync) record(s) were edited during the sync; they go with the next `veld sync`.")
        }
    }
}

/// A progress line on a terminal's stderr, rewritten in place.
final class ProgressLine: @unchecked Sendable {
    private let enabled: Bool
    private let lock = NSLock()
    private var shown = false

    init(enabled: Bool) { self.enabled = enabled }

    func show(_ event: SyncProgress) {
        guard enabled else { return }
        let text: String
        switch event {
        case .pushing(let done, let total): text = "pushing \(done)/\(total) records"
        case .pulling(let received): text = "pulling: \(received) records received"
        case .retrying(let attempt, let after, let reason):
            text = "retry \(attempt) in \(String(format: "%.1f", after))s: \(reason)"
        }
        lock.withLock {
            FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8))
            shown = true
        }
    }

    func finish() {
        lock.withLock {
            if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            shown = false
        }
    }
}

enum ServerAddress {
    static func parse(_ text: String) throws -> URL {
        guard let url = URL(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw ValidationError("'\(text)' is not a server address; use e.g. http://127.0.0.1:8080")
        }
        return url
    }
}
