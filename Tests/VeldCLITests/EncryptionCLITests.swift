import Foundation
import Testing
import VeldCore
import VeldProtocol
import VeldTestSupport

/// Encryption at rest through the `veld` binary: a note's text is nowhere in the
/// database, WAL or journal, after a clean close and after SIGKILL; `veld key rotate`
/// killed at any moment leaves the profile whole; a wrong passphrase is a clear error.
@Suite struct EncryptionCLITests {
    static let files = ["veld.sqlite", "veld.sqlite-wal", "veld.sqlite-shm", "veld.sqlite-journal"]

    /// The profile's database files whose bytes contain `text`.
    static func holding(_ text: String, in home: URL) -> [String] {
        files.filter { name in
            (try? Data(contentsOf: home.appendingPathComponent(name)))?.range(of: Data(text.utf8)) != nil
        }
    }

    /// Runs `veld debug write-loop` with `phrase` until it has acknowledged `lines` changes,
    /// then kills it with SIGKILL; returns the ids it acknowledged.
    static func writeAndKill(home: URL, phrase: String, lines: Int) throws -> Set<String> {
        let process = try Subprocess(try CrashTests.binary(),
                                     ["debug", "write-loop", "--count", "100000", "--phrase", phrase, "--home", home.path],
                                     stdout: .pipe)
        let output = process.stdout!
        let collector = CrashTests.Collector()
        output.readabilityHandler = { handle in collector.append(handle.availableData) }
        let deadline = Date().addingTimeInterval(20)
        while collector.lineCount < lines && process.isRunning && Date() < deadline { usleep(2_000) }
        process.send(SIGKILL)
        let ended = process.wait()
        output.readabilityHandler = nil
        collector.append(output.readDataToEndOfFile())
        #expect(ended == .signalled(SIGKILL), "the writer ended before it was killed (\(ended))")
        return Set(collector.completeLines.compactMap { $0.split(separator: " ").first.map(String.init) })
    }

    @Test func aNotesTextIsNowhereInTheFilesAfterACleanCloseOrAKill() async throws {
        let cli = try CLI()
        try await cli.ok("init", "--user", "anna")
        let kept = "Kamer-\(UUID().uuidString.prefix(8))-mevrouw-Jansen"
        try await cli.ok("debug", "write-loop", "--count", "12", "--phrase", kept)
        #expect(Self.holding(kept, in: cli.home) == [])

        let killed = "Valpartij-\(UUID().uuidString.prefix(8))-meneer-Bakker"
        let acknowledged = try Self.writeAndKill(home: cli.home, phrase: killed, lines: 40)
        #expect(acknowledged.count >= 40)
        // Killed mid-write: the WAL was never checkpointed, and it is still there.
        #expect(FileManager.default.fileExists(atPath: cli.home.appendingPathComponent("veld.sqlite-wal").path))
        #expect(Self.holding(killed, in: cli.home) == [])
        #expect(Self.holding(kept, in: cli.home) == [])
        // The scan reads what is there: plaintext columns are found.
        #expect(!Self.holding("loc-zonnehof", in: cli.home).isEmpty)

        // Nothing acknowledged is lost, and it reads back.
        let store = try LocalStore.open(home: cli.home)
        let texts = Dictionary(uniqueKeysWithValues: try store.records().map { ($0.id, $0.value(of: "summary")) })
        for id in acknowledged { #expect(texts[id]??.description.contains(killed) == true) }
        #expect(texts.values.filter { $0?.description.contains(kept) == true }.count == 12)
    }

    @Test func aRotationKilledAtAnyMomentLeavesTheProfileWhole() async throws {
        let cli = try CLI()
        try await cli.ok("init", "--user", "anna")
        try await cli.ok("debug", "write-loop", "--count", "1500", "--phrase", "Rondgang")
        let records = try LocalStore.open(home: cli.home).records()
        var generation = try LocalStore.open(home: cli.home).keyStatus().generation
        for round in 0..<5 {
            let process = try Subprocess(try CrashTests.binary(), ["key", "rotate", "--home", cli.home.path])
            usleep(UInt32(20_000 + round * 45_000))
            process.send(SIGKILL)
            process.wait()
            let store = try LocalStore.open(home: cli.home)
            #expect(try store.integrityProblems() == [])
            #expect(try store.records() == records, "round \(round): the records changed")
            let now = try store.keyStatus().generation
            #expect(now == generation || now == generation + 1, "round \(round)")
            generation = now
        }
        try await cli.ok("key", "rotate")
        let store = try LocalStore.open(home: cli.home)
        #expect(try store.keyStatus().generation == generation + 1)
        #expect(try store.records() == records)
    }

    @Test func aPassphraseProfileSaysWhatItNeeds() async throws {
        let cli = try CLI()
        let phrase = ["VELD_PASSPHRASE": "drie losse woorden"]
        try await cli.ok(["init", "--user", "anna", "--passphrase", "--kdf-cost", "14"], environment: phrase)
        #expect(!FileManager.default.fileExists(atPath: cli.home.appendingPathComponent("veld.key").path))
        let id = try await cli.add(["visit", "add", "--location", "loc-zonnehof", "--date", "2026-11-20", "--kind", "werkbezoek",
                                    "--summary", "Rondgang met mevrouw Visser"], environment: phrase)
        let wrong = try await cli.run(["show", id], environment: ["VELD_PASSPHRASE": "drie losse woord"])
        #expect(wrong.exitCode == 1)
        #expect(wrong.errorLines.count == 1 && wrong.stderr.contains("passphrase does not open"), "\(wrong)")
        #expect(!wrong.stderr.contains("Usage"))
        #expect(try await cli.ok(["show", id], environment: phrase).stdout.contains("mevrouw Visser"))
        let status = try await cli.ok(["key", "status"], environment: phrase)
        #expect(status.stdout.contains("passphrase (scrypt, N=2^14"))
        // To a key file: the passphrase is no longer asked for.
        try await cli.ok(["key", "rotate", "--key-file"], environment: phrase)
        #expect(try await cli.ok("show", id).stdout.contains("mevrouw Visser"))
        #expect(Self.holding("Visser", in: cli.home) == [])
    }
}
