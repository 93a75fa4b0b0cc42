import Foundation
@_spi(Benchmarks) import VeldCore
import VeldProtocol
import VeldServer

/// What encryption at rest on the device costs: capture into a sealed store and into one
/// that keeps its values unsealed (`LocalStore.initialiseWithoutEncryption`, for this
/// comparison only), the same edits interleaved; a first sync into each, the order
/// alternating; and, alone, the passphrase's scrypt and a key rotation.
enum EncryptionScenario {
    static func run(_ sizes: Sizes, _ report: Report) async throws {
        let scratch = try Scratch("encryption")
        defer { scratch.remove() }
        let generator = DataGenerator()
        let s = "encryption at rest (device)"

        // Capture, one transaction per edit: sealed and unsealed stores, edits interleaved.
        let sealed = try CaptureScenario.seededStore(scratch.path("sealed"), generator, sizes.captureRecords)
        let plain = try CaptureScenario.seededStore(scratch.path("plain"), generator, sizes.captureRecords, encrypted: false)
        var sealedRate: [Double] = [], plainRate: [Double] = [], captureRatio: [Double] = []
        var sealedBatched: [Double] = [], plainBatched: [Double] = [], batchedRatio: [Double] = []
        for rep in 0..<sizes.repetitions {
            let edits = (0..<sizes.captureEdits).map { n -> (String, [String: FieldValue]) in
                let i = n % sizes.captureRecords
                var random = SeededRandom(seed: UInt64(rep * 7_919 + n))
                return (generator.id(i), generator.fieldEdit(generator.type(i), &random))
            }
            var seconds: [Bool: Double] = [:]
            for encrypted in rep % 2 == 0 ? [true, false] : [false, true] {
                let store = encrypted ? sealed : plain
                seconds[encrypted] = try measure { for (id, changes) in edits { try store.edit(id: id, changes: changes) } }
            }
            sealedRate.append(Double(edits.count) / seconds[true]!)
            plainRate.append(Double(edits.count) / seconds[false]!)
            captureRatio.append(seconds[true]! / seconds[false]!)
            // Batched: the fsync shared by a batch, so the sealing shows more.
            let batch = edits.map { (id: $0.0, changes: $0.1) }
            for encrypted in rep % 2 == 0 ? [true, false] : [false, true] {
                let store = encrypted ? sealed : plain
                seconds[encrypted] = try measure {
                    for start in stride(from: 0, to: batch.count, by: sizes.captureBatch) {
                        try store.edit(Array(batch[start..<min(start + sizes.captureBatch, batch.count)]))
                    }
                }
            }
            sealedBatched.append(Double(edits.count) / seconds[true]!)
            plainBatched.append(Double(edits.count) / seconds[false]!)
            batchedRatio.append(seconds[true]! / seconds[false]!)
        }
        report.add(s, "capture, one transaction per edit: encrypted store", unit: "edits/s", values: sealedRate)
        report.add(s, "capture, one transaction per edit: unencrypted store", unit: "edits/s", values: plainRate)
        report.add(s, "time ratio capture encrypted / unencrypted (same run, interleaved)", unit: "×", values: captureRatio)
        report.add(s, "capture, \(sizes.captureBatch) edits per transaction: encrypted store", unit: "edits/s", values: sealedBatched)
        report.add(s, "capture, \(sizes.captureBatch) edits per transaction: unencrypted store", unit: "edits/s", values: plainBatched)
        report.add(s, "time ratio batched capture encrypted / unencrypted", unit: "×", values: batchedRatio)

        // First sync: one server, a new device each run, encrypted and not, alternating.
        let n = sizes.records
        let database = scratch.path("server.sqlite").path
        let token: String = try await {
            let storage = try SQLiteSyncStorage(path: database)
            try await storage.migrate()
            let token = try await ServerFixture.token(storage, user: "bench-office", role: .office, scopes: ["*"])
            _ = try await ServerFixture.preload(storage, generator, 0..<n)
            return token
        }()
        let server = try ServerFixture.serve(database: database)
        Cleanup.shared.add("encryption-server") { server.stop() }
        defer { server.stop(); Cleanup.shared.remove("encryption-server") }
        var syncSealed: [Double] = [], syncPlain: [Double] = [], syncRatio: [Double] = []
        for rep in 0..<sizes.repetitions {
            var seconds: [Bool: Double] = [:]
            for encrypted in rep % 2 == 0 ? [true, false] : [false, true] {
                let home = scratch.path("client-\(rep)-\(encrypted)")
                let command = encrypted ? "client-first-sync" : "client-first-sync-unencrypted"
                let result = try Binaries.child([command, home.path, server.url.absoluteString, token], as: ClientResult.self)
                guard result.records == n else { throw BenchError("first sync pulled \(result.records) records, expected \(n)") }
                seconds[encrypted] = result.seconds
                try? FileManager.default.removeItem(at: home)
            }
            syncSealed.append(Double(n) / seconds[true]!)
            syncPlain.append(Double(n) / seconds[false]!)
            syncRatio.append(seconds[true]! / seconds[false]!)
        }
        let size = n >= 1_000 ? "\(n / 1_000)k" : "\(n)"
        report.add(s, "first sync of \(size) records: encrypted store", unit: "records/s", values: syncSealed)
        report.add(s, "first sync of \(size) records: unencrypted store", unit: "records/s", values: syncPlain)
        report.add(s, "time ratio first sync encrypted / unencrypted (same run, alternating)", unit: "×", values: syncRatio)

        // A rotation of a store of n records (the last first sync's, made again).
        let rotated = scratch.path("rotate")
        let syncResult = try Binaries.child(["client-first-sync", rotated.path, server.url.absoluteString, token], as: ClientResult.self)
        let store = try LocalStore.open(home: rotated)
        var rotation: [Double] = []
        for _ in 0..<max(1, sizes.repetitions / 2) {
            let seconds = try measure { try store.rotateKey(using: KeyFileStore(home: rotated)) }
            rotation.append(Double(syncResult.records) / seconds)
        }
        report.add(s, "key rotation: records re-encrypted in one transaction", unit: "records/s", values: rotation)

        // The passphrase's derivation at the standard cost, as each command pays it.
        var derivation: [Double] = []
        let phrase = PassphraseKeyStore(home: scratch.path("kdf")) { "lange zin voor de meting" }
        let (_, reference) = try phrase.makeKey(replacing: nil)
        for _ in 0..<3 { derivation.append(try measure { _ = try phrase.key(for: reference) } * 1_000) }
        report.add(s, "scrypt N=2^17, r=8, p=1: deriving the key from a passphrase (each command)", unit: "ms", values: derivation)
        report.note("Encryption at rest: AES-256-GCM (BoringSSL) on every record state, discarded change, refusal and the server, token and CA, in the same transaction as the write. The unencrypted store exists for this comparison only.")
    }
}
