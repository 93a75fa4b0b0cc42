import ArgumentParser
import Foundation
import VeldCore
import VeldProtocol

struct Connect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Point this profile at a sync server with the device token the office gave you.",
        discussion: """
            Asks the server which user, role and scopes the token has; the profile takes them
            from there. The token is read from a file or standard input (--token-file -), never
            from the command line, and kept in the profile (readable by you only).
            """)

    @OptionGroup var home: HomeOptions
    @OptionGroup var connection: ConnectionOptions

    func validate() throws { try connection.validate(required: true) }

    func run() async throws {
        let store = try home.openStore()
        let target = try connection.read()!
        let identity = try await TokenCheck.identity(target, profile: try store.profile(), pending: try store.outbox().count)
        try store.connect(server: target.server, token: target.token, serverCA: target.serverCA)
        if let identity { try store.adopt(identity) }
        print("This profile now syncs with \(target.server.absoluteString)" + (identity.map { " as \($0.user) (\($0.role.rawValue), scopes \($0.scopes.joined(separator: ", ")))" } ?? "") + ". Run `veld sync`.")
    }
}

/// What `init` and `connect` ask the server about a token before they keep it.
enum TokenCheck {
    /// The token's identity; nil (with a note) when the server cannot be reached, so a
    /// device can be set up offline and learn its role at the first sync.
    static func identity(_ target: ConnectionOptions.Target, profile: Profile?, pending: Int) async throws -> DeviceIdentity? {
        do {
            let transport = try ProfileTransport.make(server: target.server, token: target.token, serverCA: target.serverCA, timeout: 15)
            guard let identity = try await transport.me() else { return nil }
            if let profile, pending > 0, identity.user != profile.user {
                throw ValidationError("this token belongs to \(identity.user), but this profile holds \(pending) unsynced change(s) by \(profile.user); sync them with \(profile.user)'s token first, or use another profile (--home)")
            }
            return identity
        } catch SyncTransportError.rejected(let problem) {
            throw ValidationError("the server refused this token: \(problem.detail)")
        } catch let error as SyncTransportError where !error.isRetryable {
            // A certificate that is not trusted, an answer that is not Veld's: keep nothing.
            throw ValidationError("\(error.description); nothing was changed")
        } catch let error as SyncTransportError {
            FileHandle.standardError.write(Data("note: \(error.description); the role and scopes will be taken from the server at the first sync\n".utf8))
            return nil
        }
    }
}

struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Push the changes made here, then pull everyone else's. Safe to interrupt and run again.",
        discussion: """
            Changes the server refuses are set aside (see `veld rejected`) and the rest still
            syncs; the pull always runs. One sync runs at a time per profile: a second one
            waits (--wait). Exit status: 0 synced, 3 synced with changes set aside, 1 the
            server refused the sync as a whole or could not be reached.
            """)

    @OptionGroup var home: HomeOptions
    @Flag(help: "Print the summary as JSON.") var json = false
    @Flag(name: .shortAndLong, help: "No progress line.") var quiet = false
    @Option(help: "Records per push batch (smaller batches suit a poor connection).")
    var batchSize = SyncLimits.pushBatchSize
    @Option(help: "Seconds to wait when another sync of this profile is running.")
    var wait: Double = 300

    func validate() throws {
        guard (1...10_000).contains(batchSize) else { throw ValidationError("--batch-size must be 1…10000") }
        guard wait >= 0, wait <= 86_400 else { throw ValidationError("--wait must be 0…86400 seconds") }
    }

    func run() async throws {
        let store = try home.openStore()
        let settings = try store.syncSettings()
        let transport = try ProfileTransport.make(settings, store: store)
        let server = transport.server
        let progress = ProgressLine(enabled: !quiet && !json && isatty(STDERR_FILENO) != 0)
        let engine = SyncEngine(store: store, transport: transport,
                                batchSize: batchSize, progress: { event in progress.show(event) })
        let report: SyncReport
        do {
            report = try await engine.sync(lockWait: wait)
        } catch {
            progress.finish()
            throw error
        }
        progress.finish()
        if json {
            struct Output: Encodable {
                let pushed, pulled, newConflicts, editedDuringSync, rejected, erased: Int
                /// Left out when nothing was purged, and when the device was not wiped.
                let purged: [PurgeReceipt]?
                let wiped: Bool?
                let refusal: Problem?
                /// The version of a module set received in this sync; left out when none came.
                let schemaSet: Int?
                /// Records sent back to a server restored from a backup; left out when it was not.
                let recovered: Int?
            }
            let output = Output(pushed: report.pushed, pulled: report.pulled, newConflicts: report.newConflicts,
                                editedDuringSync: report.editedDuringSync, rejected: report.parked, erased: report.erased,
                                purged: report.purged.isEmpty ? nil : report.purged, wiped: report.wiped ? true : nil,
                                refusal: report.pushRefused, schemaSet: report.newSchemaSet,
                                recovered: report.serverRestored || report.recovered > 0 ? report.recovered : nil)
            if let problem = report.schemaSetProblem { FileHandle.standardError.write(Data("\(problem)\n".utf8)) }
            print(String(decoding: try StableJSON.encode(output, pretty: true), as: UTF8.self))
            if let code = Self.exitCode(report) { throw code }
            return
        }
        if report.wiped {
            let receipt = report.purged.first
            FileHandle.standardError.write(Data(("The office revoked this device and had its data erased"
                + (receipt.map { ": \($0.records) record(s) removed, \($0.unsent) change(s) that were not sent erased" } ?? " (done before)")
                + ". This profile can no longer sync; ask the office for a new token and `veld init` a new profile.\n").utf8))
            throw ExitCode(1)
        }
        for receipt in report.purged where receipt.kind == .types {
            print("This device's role may not read \((receipt.types ?? []).joined(separator: ", ")) records (the module set in force says so): \(receipt.records) record(s) removed"
                  + (receipt.unsent > 0 ? "; \(receipt.unsent) change(s) not yet sent are kept aside (`veld rejected --discarded`) and the office is told." : "."))
        }
        for receipt in report.purged where receipt.kind == .scopes {
            print("The office removed scope(s) \(receipt.scopes.joined(separator: ", ")) from this device: \(receipt.records) record(s) removed"
                  + (receipt.unsent > 0 ? "; \(receipt.unsent) change(s) not yet sent are kept aside (`veld rejected --discarded`) and the office is told." : "."))
        }
        if report.serverRestored || report.recovered > 0 {
            print("The server was restored from a backup: this device sent back \(report.recovered) record(s) it lacked, and pulled its records again.")
        }
        var line = "Synced with \(server.absoluteString): pushed \(report.pushed), pulled \(report.pulled), new conflicts \(report.newConflicts)."
        if report.newConflicts > 0 { line += " `veld conflicts` lists them." }
        print(line)
        if let version = report.newSchemaSet {
            print("Received module set version \(version) from the server; `veld schema` lists its types.")
        }
        if let problem = report.schemaSetProblem { FileHandle.standardError.write(Data("\(problem)\n".utf8)) }
        if report.erased > 0 {
            print("\(report.erased) record(s) were erased by the office (a client's request or the retention period) and are removed from this device.")
        }
        if report.editedDuringSync > 0 {
            print("\(report.editedDuringSync) record(s) were edited during the sync; they go with the next `veld sync`.")
        }
        if report.parked > 0 {
            FileHandle.standardError.write(Data("The server refused \(report.parked) change(s); they are set aside and the rest synced. `veld rejected` says why and what to do.\n".utf8))
        }
        if let refusal = report.pushRefused {
            FileHandle.standardError.write(Data("Nothing more was pushed: the server refused the sync (\(refusal.status)): \(refusal.detail)\n".utf8))
        }
        if let code = Self.exitCode(report) { throw code }
    }

    /// 1 when the server refused the push as a whole or the device was wiped, 3 when it
    /// set records aside.
    static func exitCode(_ report: SyncReport) -> ExitCode? {
        if report.pushRefused != nil || report.wiped { return ExitCode(1) }
        if report.parked > 0 { return ExitCode(3) }
        return nil
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
        case .waitingForOtherSync:
            text = "another veld sync of this profile is running; waiting for it"
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
