import ArgumentParser
import Foundation
import VeldProtocol
import VeldServer

/// `veld-server audit`: the access log (NEN 7513), filtered; `--verify` checks its hash
/// chain, `--prune` removes what is past the retention.
struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Who read or changed which client records, when, from which device (the access log).",
        discussion: """
            Every request that reads or writes client data is logged, refused ones too. Filters combine; \
            without any, the newest entries are shown.

              veld-server audit --record 46beb50a                    who read or changed this record
              veld-server audit --client-code ZH-0042                every record of this client
              veld-server audit --user anna --since 2026-11-01 --json
              veld-server audit --verify                             check that nothing was changed or deleted
              veld-server audit --prune --retain 5y                  remove entries older than 5 years
            """)

    @OptionGroup var database: DatabaseOptions
    @Option(name: .customLong("record"), parsing: .singleValue,
            help: ArgumentHelp("A record id, or its first 8 or more characters (repeatable).", valueName: "id"))
    var records: [String] = []
    @Option(help: ArgumentHelp("A client's code: its care plans and their goals.", valueName: "code")) var clientCode: String?
    @Option(help: "Entries of this user.") var user: String?
    @Option(help: ArgumentHelp("Entries of this device: a token id (tok_…) or a replica (r-…).", valueName: "device")) var device: String?
    @Option(help: ArgumentHelp("pull, push, history, record, access, report, prune, erase or purge.", valueName: "action")) var action: AccessAction?
    @Option(help: ArgumentHelp("From this day (YYYY-MM-DD, UTC) or time (YYYY-MM-DDTHH:MM:SSZ) on.", valueName: "date")) var since: String?
    @Option(help: ArgumentHelp("Before this day or time.", valueName: "date")) var until: String?
    @Flag(help: "Refused requests only.") var refused = false
    @Option(help: "At most this many entries, the newest.") var limit = 1_000
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Print CSV: one row per record named (for a spreadsheet).") var csv = false
    @Flag(help: "Check the hash chain: that no entry was deleted or changed outside Veld.") var verify = false
    @Option(help: ArgumentHelp("With --verify: entry SEQ must still have HASH (from an earlier --verify kept elsewhere).",
                               valueName: "seq:hash"))
    var anchor: String?
    @Flag(help: "Remove the entries older than the retention, and log that it was done.") var prune = false
    @Option(help: ArgumentHelp("With --prune: how long entries are kept, in years (5y) or days (1825d).", valueName: "duration"))
    var retain: Retention = Retention(years: 5)

    func validate() throws {
        if json && csv { throw ValidationError("give --json or --csv, not both") }
        if verify && prune { throw ValidationError("give --verify or --prune, not both") }
        if anchor != nil && !verify { throw ValidationError("--anchor goes with --verify") }
        if !(1...100_000).contains(limit) { throw ValidationError("--limit must be from 1 to 100000") }
        for record in records where !Self.isRecordPrefix(record) {
            throw ValidationError("'\(record)' is not a record id; give the id (veld show prints it) or its first 8 or more characters")
        }
        _ = try Self.date(since, "--since")
        _ = try Self.date(until, "--until")
    }

    static func isRecordPrefix(_ text: String) -> Bool {
        (8...36).contains(text.count) && text.allSatisfy { $0.isHexDigit || $0 == "-" } && (text.count < 36 || RecordIDs.isValid(text.lowercased()))
    }

    static func date(_ text: String?, _ option: String) throws -> Date? {
        guard let text else { return nil }
        if let time = InternetTime.parse(text) { return time }
        if CalendarDate.isValid(text), let day = InternetTime.parse(text + "T00:00:00Z") { return day }
        throw ValidationError("\(option) \(text) is not a day (YYYY-MM-DD) or a time (YYYY-MM-DDTHH:MM:SSZ)")
    }

    func run() async throws {
        let storage = try await database.open()
        if verify { return try await runVerify(storage) }
        if prune { return try await runPrune(storage) }
        var ids: [String]? = records.isEmpty ? nil : records.map { $0.lowercased() }
        if let clientCode {
            let children = ClientRecords.planChildren(in: try await ModuleSets.published(storage).set)
            let found = try await storage.recordIDs(clientCode: clientCode, children: children)
            if found.isEmpty {
                FileHandle.standardError.write(Data("no care plan has (or had) client code \(clientCode)\n".utf8))
            }
            ids = (ids ?? []) + found
        }
        let query = AccessQuery(recordIDs: ids, user: user, device: device, action: action, since: try Self.date(since, "--since"),
                                until: try Self.date(until, "--until"), refusedOnly: refused, limit: limit)
        let entries = try await storage.accessEntries(query)
        if json {
            print(String(decoding: try StableJSON.encode(entries, pretty: true), as: UTF8.self))
        } else if csv {
            print(Self.csv(entries))
        } else {
            print(Self.table(entries, focus: ids))
            if entries.count == limit { print("(the newest \(limit); --limit shows more)") }
        }
    }

    static func table(_ entries: [AccessEntry], focus: [String]?) -> String {
        var lines = ["SEQ      AT                    USER         ROLE     TOKEN         ACTION   OUTCOME                   RECORDS"]
        for entry in entries {
            let outcome = entry.refused ? "\(entry.status) \(entry.problem ?? "")" : "ok"
            let named = focus.map { ids in entry.records.filter { record in ids.contains { record.id.hasPrefix($0) } } } ?? []
            let records = named.isEmpty
                ? "\(entry.records.count)" + ([.prune, .erase, .purge].contains(entry.action) ? " (\(entry.detail))" : "")
                : named.map { "\($0.id.prefix(8)) \($0.effect)" }.joined(separator: ", ")
            lines.append([String(entry.seq).padding(toLength: 8, withPad: " ", startingAt: 0),
                          InternetTime.format(entry.at).padding(toLength: 21, withPad: " ", startingAt: 0),
                          String((entry.user ?? "-").prefix(12)).padding(toLength: 12, withPad: " ", startingAt: 0),
                          (entry.role ?? "-").padding(toLength: 8, withPad: " ", startingAt: 0),
                          (entry.tokenID ?? "-").padding(toLength: 13, withPad: " ", startingAt: 0),
                          entry.action.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0),
                          String(outcome.prefix(25)).padding(toLength: 25, withPad: " ", startingAt: 0),
                          records].joined(separator: " "))
        }
        lines.append("\(entries.count) entr\(entries.count == 1 ? "y" : "ies").")
        return lines.joined(separator: "\n")
    }

    static func csv(_ entries: [AccessEntry]) -> String {
        func cell(_ text: String?) -> String {
            let text = text ?? ""
            // Quoted when it must be; a leading = + - @ could be read as a formula.
            let guarded = text.first.map { "=+-@".contains($0) } == true ? "'" + text : text
            return guarded.contains { ",\"\n\r".contains($0) } || guarded != text
                ? "\"" + guarded.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : guarded
        }
        var lines = ["seq,at,user,role,token,replica,action,status,problem,record,type,scope,effect"]
        for entry in entries {
            let head = [String(entry.seq), InternetTime.format(entry.at), entry.user, entry.role, entry.tokenID, entry.replica,
                        entry.action.rawValue, String(entry.status), entry.problem].map(cell)
            let rows = entry.records.isEmpty ? [["", "", "", ""]] : entry.records.map { [$0.id, $0.type, $0.scope, $0.effect] }
            for row in rows { lines.append((head + row.map(cell)).joined(separator: ",")) }
        }
        return lines.joined(separator: "\n")
    }

    func runVerify(_ storage: any SyncStorage) async throws {
        var verifier = AccessChain.Verifier()
        // The head first: entries a running server appends meanwhile come after it and
        // are left for the next check.
        let head = try await storage.accessLogHead()
        var after: Int64 = 0
        var anchorFound = false
        let expected = try anchor.map(Self.parseAnchor)
        var lastReport = Date()
        while true {
            let page = try await storage.accessLogPage(after: after, limit: 2_000)
            guard let last = page.last else { break }
            for (entry, indexed) in page where entry.seq <= head.seq {
                verifier.check(entry, indexed: indexed)
                if let expected, entry.seq == expected.seq {
                    anchorFound = true
                    if entry.hash != expected.hash {
                        throw ExitMessage("entry \(entry.seq) no longer has the hash it had (\(expected.hash.prefix(16))…): the log was rewritten. " + Self.incident)
                    }
                }
            }
            after = last.entry.seq
            if after >= head.seq { break }
            if Date().timeIntervalSince(lastReport) > 2 {
                FileHandle.standardError.write(Data("checked \(verifier.checked) entries…\n".utf8))
                lastReport = Date()
            }
        }
        verifier.finish(head: head)
        if let expected, !anchorFound {
            let start = verifier.first?.seq ?? 0
            if expected.seq >= start {
                throw ExitMessage("entry \(expected.seq) is gone (the log ends at \(verifier.last?.seq ?? 0)): entries were deleted. " + Self.incident)
            }
            // Pruned: only a prune that removed exactly up to the anchor can vouch for it.
            // Anything else could be a rewrite with a forged prune, so it is not accepted.
            guard let prune = verifier.prunes.first(where: { $0.through == expected.seq }) else {
                throw ExitMessage("entry \(expected.seq) was pruned, so this anchor cannot be checked; take a new anchor (the Head line) after each prune")
            }
            guard prune.lastHash == expected.hash else {
                throw ExitMessage("entry \(expected.seq) no longer has the hash it had (\(expected.hash.prefix(16))…), says the prune that removed it: the log was rewritten. " + Self.incident)
            }
        }
        guard verifier.problems.isEmpty else {
            throw ExitMessage((["the access log has been tampered with:"] + verifier.problems.map { "  " + $0 } + [Self.incident])
                .joined(separator: "\n"))
        }
        guard let first = verifier.first, let last = verifier.last else {
            print("The access log is empty.")
            return
        }
        print("The access log is intact: \(verifier.checked) entries, \(first.seq) to \(last.seq).")
        print("Head: \(last.seq):\(last.hash)")
        print("Keep the head line somewhere else: `veld-server audit --verify --anchor SEQ:HASH` then shows whether the log was rewritten since.")
    }

    /// What to do when the log was changed outside Veld.
    static let incident = "Treat this as a security incident: leave the database as it is, tell the privacy officer, and compare it with a backup from before."

    static func parseAnchor(_ text: String) throws -> (seq: Int64, hash: String) {
        let parts = text.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let seq = Int64(parts[0]), seq > 0, parts[1].count == 64, parts[1].allSatisfy(\.isHexDigit) else {
            throw ValidationError("--anchor must be SEQ:HASH as `audit --verify` printed it (the hash has 64 hex digits)")
        }
        return (seq, parts[1].lowercased())
    }

    func runPrune(_ storage: any SyncStorage) async throws {
        let now = Date()
        let before = now.addingTimeInterval(-retain.seconds)
        let result = try await storage.pruneAccessLog(before: before, at: now, by: Self.operator())
        if result.removed == 0 {
            print("Nothing to prune: no entry is older than \(retain) (before \(InternetTime.format(before))).")
        } else {
            print("Removed \(result.removed) entr\(result.removed == 1 ? "y" : "ies") older than \(retain) (before \(InternetTime.format(before)));"
                  + " entry \(result.entry?.seq ?? 0) records it.")
        }
    }
}

extension AccessAction: ExpressibleByArgument {}

extension Audit {
    /// Who runs this command, for the access log: `admin:` and the account (the one
    /// behind sudo when there is one).
    static func `operator`() -> String {
        if let sudo = ProcessInfo.processInfo.environment["SUDO_USER"], !sudo.isEmpty { return "admin:" + sudo }
        if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name { return "admin:" + String(cString: name) }
        return "admin:uid-\(getuid())"
    }
}

/// How long access-log entries are kept: `5y` (365-day years) or `1825d`; 1 day to 100 years.
struct Retention: ExpressibleByArgument, CustomStringConvertible {
    let seconds: TimeInterval
    let description: String

    init(years: Int) {
        seconds = Double(years) * 365 * 86_400
        description = "\(years)y"
    }

    init?(argument: String) {
        let digits = argument.dropLast()
        guard let unit = argument.last, unit == "y" || unit == "d", !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              let count = Int(digits), count > 0, count <= (unit == "y" ? 100 : 36_500) else { return nil }
        seconds = Double(count) * (unit == "y" ? 365 : 1) * 86_400
        description = argument
    }

    static var defaultCompletionKind: CompletionKind { .default }
}

/// A message for the operator and a non-zero exit, without ArgumentParser's usage text.
struct ExitMessage: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
