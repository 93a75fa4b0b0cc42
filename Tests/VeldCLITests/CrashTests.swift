import Foundation
import Testing
import VeldCore
import VeldProtocol
import VeldTestSupport

/// A `veld` process killed with SIGKILL at a random moment while it writes: reopening
/// must find a consistent database that holds every change the process acknowledged.
@Suite struct CrashTests {
    static func binary() throws -> URL {
        if let override = ProcessInfo.processInfo.environment["VELD_BIN"] { return URL(fileURLWithPath: override) }
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let candidate = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("veld")
        return candidate
    }

    /// Lines a child process printed, collected as they arrive.
    final class Collector: @unchecked Sendable {
        private let lock = NSLock()
        private var data = Data()
        func append(_ chunk: Data) { lock.withLock { data.append(chunk) } }
        var completeLines: [String] {
            lock.withLock {
                let text = String(decoding: data, as: UTF8.self)
                var lines = text.components(separatedBy: "\n")
                lines.removeLast()  // the part after the last newline is not a whole line
                return lines
            }
        }
        var lineCount: Int { lock.withLock { data.reduce(0) { $0 + ($1 == 10 ? 1 : 0) } } }
    }

    @Test func killedMidWriteLosesNothingAcknowledged() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("veld-crash-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        let store = try LocalStore.initialise(home: home, user: "crash", role: .carer)
        let replica = try store.profile().replicaID
        var acknowledged: [(id: String, counter: UInt64)] = []

        for round in 0..<6 {
            let process = try Subprocess(try Self.binary(), ["debug", "write-loop", "--count", "100000", "--home", home.path],
                                         stdout: .pipe)
            let output = process.stdout!
            let collector = Collector()
            output.readabilityHandler = { handle in collector.append(handle.availableData) }
            // Let it write a while (at least a few changes), then kill it without warning.
            let target = 5 + (round * 37) % 60
            let deadline = Date().addingTimeInterval(20)
            while collector.lineCount < target && process.isRunning && Date() < deadline {
                usleep(2_000)
            }
            usleep(UInt32(1_000 * (round * 7 % 11)))
            process.send(SIGKILL)
            let ended = process.wait()
            output.readabilityHandler = nil
            collector.append(output.readDataToEndOfFile())
            #expect(ended == .signalled(SIGKILL), "round \(round): the writer ended before it was killed (\(ended))")
            for line in collector.completeLines {
                let parts = line.split(separator: " ")
                try #require(parts.count == 2, "unexpected line '\(line)'")
                acknowledged.append((String(parts[0]), UInt64(parts[1])!))
            }
        }

        #expect(acknowledged.count >= 6)
        let reopened = try LocalStore.open(home: home)
        #expect(try reopened.integrityProblems() == [])
        let records = try reopened.records()
        let outbox = Dictionary(uniqueKeysWithValues: try reopened.outbox().map { ($0.recordID, $0.counter) })
        // Every record and its outbox entry were written together.
        for record in records {
            #expect(outbox[record.id] == record.context[replica], "record \(record.id) and its outbox entry disagree")
            #expect(Schemas.validate(record) == [])
        }
        #expect(outbox.count == records.count)
        // Every acknowledged change is there.
        let byID = Dictionary(uniqueKeysWithValues: records.map { ($0.id, $0) })
        for change in acknowledged {
            let record = try #require(byID[change.id], "acknowledged record \(change.id) is missing")
            #expect(record.context[replica] >= change.counter)
            #expect(record.value(of: "summary")?.description.hasSuffix("en tuin") == true)
        }
    }
}
