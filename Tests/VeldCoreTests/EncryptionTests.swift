import Crypto
import Foundation
import GRDB
import PropertyBased
import Testing
@testable import VeldCore
import VeldProtocol
import VeldTestSupport

/// Encryption at rest on the device: no field value and no secret reaches the database's
/// files; a wrong or missing key is a clear error, never a crash or an empty store; a
/// rotation reseals everything and a rotation cut short leaves the old key or the new one.
@Suite struct EncryptionTests {
    /// A cheap scrypt for tests (the real cost is 2^17; what it costs is in BENCHMARKS.md).
    static let cheap = PassphraseKeyStore.Cost(logN: 10, r: 8, p: 1)

    static func passphrase(_ home: URL, _ phrase: String) -> PassphraseKeyStore {
        PassphraseKeyStore(home: home, cost: cheap) { phrase }
    }

    static func kind(of body: () throws -> Any) -> LocalStoreError.Kind? {
        do {
            _ = try body()
            return nil
        } catch let error as LocalStoreError {
            return error.kind
        } catch {
            return nil
        }
    }

    /// Fills a store with every kind of sealed value, each carrying a phrase of its own:
    /// records (a visit note's summary and observations), a change the server refused (its
    /// detail), a discarded change, a change moved to the discard log by a scope removal,
    /// and the sync settings (the token). Returns the phrases.
    static func fill(_ store: LocalStore, words: [String]) throws -> [String] {
        let phrases = words.enumerated().map { "\($0.element)-\($0.offset)-\(UUID().uuidString.prefix(8))" }
        var ids: [String] = []
        for (index, phrase) in phrases.enumerated() {
            var fields = TemporaryHome.visitFields
            fields["summary"] = .string("Bezoek \(phrase)")
            fields["observations"] = .string(String(repeating: "\(phrase) zat in de huiskamer. ", count: index % 3 + 1))
            ids.append(try store.create(type: "visitNote", scope: index % 2 == 0 ? "loc-zonnehof" : "loc-de-linde", fields: fields).id)
        }
        try store.connect(server: URL(string: "https://sync.example.invalid")!, token: "tok_secret_\(phrases[0])")
        let pushed = try store.pendingStates([ids[0]])
        try store.park(pushed, problem: Problem(type: .invalidRecord, status: 422, detail: "refused: \(phrases[0])"),
                       replica: try store.profile().replicaID)
        if ids.count > 1 { _ = try store.discard(id: ids[1], serverState: nil) }
        let identity = { (scopes: [String]) in DeviceIdentity(token: "tok_1", user: "anna", role: .carer, scopes: scopes, replica: nil) }
        _ = try store.adopt(identity(["loc-zonnehof", "loc-de-linde"]))
        _ = try store.adopt(identity(["loc-zonnehof"]))  // loc-de-linde's unsent changes go to the discard log
        return phrases
    }

    @Test func noFieldValueOrSecretReachesTheDatabaseFiles() async {
        let words = Gen.letterOrNumber.string(of: 6...12).array(of: 1...6)
        await checkProperty(count: 15, input: words) { (words: [String]) async throws in
            let home = try TemporaryHome()
            let store = try home.store()
            let phrases = try Self.fill(store, words: words)
            let before = try store.records(RecordQuery(includeDeleted: true))
            let discarded = try store.discardedChanges()
            // The store is open: the WAL holds what was written, not yet checkpointed.
            for phrase in phrases {
                #expect(try DatabaseFiles.containing(phrase, in: home.url).isEmpty, "\(phrase) is in the files")
            }
            #expect(try DatabaseFiles.containing("tok_secret", in: home.url).isEmpty)
            #expect(try DatabaseFiles.containing("sync.example.invalid", in: home.url).isEmpty)
            // The scan does see the files' content: the plaintext columns are there.
            #expect(try !DatabaseFiles.containing("loc-zonnehof", in: home.url).isEmpty)

            let reopened = try LocalStore.open(home: home.url)
            #expect(try reopened.records(RecordQuery(includeDeleted: true)) == before)
            #expect(try reopened.discardedChanges() == discarded)
            #expect(try reopened.syncSettings().token == "tok_secret_\(phrases[0])")
            #expect(try reopened.parked().first?.problem.detail == "refused: \(phrases[0])")
        }
    }

    @Test func aWrongOrMissingKeyIsAClearErrorNeverAnEmptyStore() throws {
        // A passphrase.
        let home = try TemporaryHome()
        let store = try LocalStore.initialise(home: home.url, user: "anna", role: .carer,
                                              keys: Self.passphrase(home.url, "paard batterij nietje"))
        let note = try store.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields)
        #expect(!FileManager.default.fileExists(atPath: home.url.appendingPathComponent(KeyFileStore.defaultName).path))
        guard case .wrongKey(let detail)? = Self.kind(of: { try LocalStore.open(home: home.url, keys: Self.passphrase(home.url, "paard batterij nietjes")) })
        else { Issue.record("a wrong passphrase opened the profile"); return }
        #expect(detail.contains("passphrase does not open"))
        guard case .keyUnavailable(let without)? = Self.kind(of: { try LocalStore.open(home: home.url) }) else {
            Issue.record("a passphrase profile opened without one"); return
        }
        #expect(without.contains("VELD_PASSPHRASE"))
        #expect(try LocalStore.open(home: home.url, keys: Self.passphrase(home.url, "paard batterij nietje")).record(note.id) == note)
        let short = try TemporaryHome()
        #expect(Self.kind(of: { try LocalStore.initialise(home: short.url, user: "b", role: .carer,
                                                           keys: Self.passphrase(short.url, "kort")) })
                .map { if case .keyUnavailable = $0 { true } else { false } } == true, "a short passphrase is refused")
        #expect(Self.kind(of: { try LocalStore.open(home: short.url) }) == .notInitialised, "and leaves no profile without a key")
        #expect(try LocalStore.initialise(home: short.url, user: "b", role: .carer, keys: Self.passphrase(short.url, "lang genoeg nu"))
            .keyStatus().reference.kind == KeyReference.passphrase)

        // A key file: missing, another profile's, readable by others.
        let files = try TemporaryHome()
        let filed = try files.store()
        let kept = try filed.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields)
        let keyFile = files.url.appendingPathComponent(KeyFileStore.defaultName)
        let original = try Data(contentsOf: keyFile)
        #expect(try FileManager.default.attributesOfItem(atPath: keyFile.path)[.posixPermissions] as? Int == 0o600)
        try FileManager.default.removeItem(at: keyFile)
        guard case .keyUnavailable(let missing)? = Self.kind(of: { try LocalStore.open(home: files.url) }) else {
            Issue.record("a profile opened without its key file"); return
        }
        #expect(missing.contains("is missing"))
        let other = try TemporaryHome()
        _ = try other.store()
        try FileManager.default.copyItem(at: other.url.appendingPathComponent(KeyFileStore.defaultName), to: keyFile)
        guard case .keyUnavailable(let another)? = Self.kind(of: { try LocalStore.open(home: files.url) }) else {
            Issue.record("another profile's key file opened this one"); return
        }
        #expect(another.contains("another key"))
        try FileManager.default.removeItem(at: keyFile)
        try original.write(to: keyFile)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: keyFile.path)
        guard case .keyUnavailable(let open)? = Self.kind(of: { try LocalStore.open(home: files.url) }) else {
            Issue.record("a key file others may read was used"); return
        }
        #expect(open.contains("chmod 600"))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyFile.path)
        #expect(try LocalStore.open(home: files.url).record(kept.id) == kept)

        // A key file with the right id and another key: the data key does not open.
        let forged = String(decoding: original, as: UTF8.self).split(separator: " ").prefix(3).joined(separator: " ")
            + " " + Data(repeating: 7, count: 32).base64EncodedString() + "\n"
        try FileManager.default.removeItem(at: keyFile)
        try KeyFileStore.writePrivately(Data(forged.utf8), to: keyFile, home: files.url)
        guard case .wrongKey? = Self.kind(of: { try LocalStore.open(home: files.url) }) else {
            Issue.record("a forged key file opened the profile"); return
        }
    }

    @Test func aValueMovedOrWrittenOutsideVeldIsRefusedNotShown() throws {
        let home = try TemporaryHome()
        let store = try home.store()
        let a = try store.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields)
        var otherFields = TemporaryHome.visitFields
        otherFields["summary"] = .string("Een ander bezoek")
        let b = try store.create(type: "visitNote", scope: "loc-zonnehof", fields: otherFields)
        // b's sealed state copied onto a: sealed for b, it does not open as a.
        try store.writer.write { db in
            try db.execute(sql: "UPDATE record SET sealedState = (SELECT sealedState FROM record WHERE id = ?) WHERE id = ?", arguments: [b.id, a.id])
        }
        guard case .unreadable(let moved)? = Self.kind(of: { try store.record(a.id) }) else {
            Issue.record("a state moved to another record was shown"); return
        }
        #expect(moved.contains("changed outside Veld"))
        #expect(try store.record(b.id) == b)
        // Plaintext written in: refused, not shown.
        try store.writer.write { db in
            try db.execute(sql: "UPDATE record SET sealedState = ? WHERE id = ?",
                           arguments: [String(decoding: try StableJSON.encode(a), as: UTF8.self), a.id])
        }
        guard case .unreadable(let plain)? = Self.kind(of: { try store.records() }) else {
            Issue.record("a plaintext state was shown"); return
        }
        #expect(plain.contains("not sealed"))
    }

    @Test func rotationResealsEverythingUnderANewKey() throws {
        let home = try TemporaryHome()
        let store = try home.store()
        let phrases = try Self.fill(store, words: ["rozen", "tulpen", "narcis"])
        let records = try store.records(RecordQuery(includeDeleted: true))
        let discarded = try store.discardedChanges(), parked = try store.parked(), settings = try store.syncSettings()
        let keyFile = home.url.appendingPathComponent(KeyFileStore.defaultName)
        let oldKey = try Data(contentsOf: keyFile)
        let first = try store.keyStatus()
        #expect(first.generation == 1 && first.reference.kind == KeyReference.keyFile)

        let seen = Locked<[Int]>([])
        let status = try store.rotateKey(using: KeyFileStore(home: home.url)) { done, _ in seen.withLock { $0.append(done) } }
        #expect(status.generation == 2 && status.reference.id != first.reference.id)
        #expect(status.sealedValues == first.sealedValues)
        #expect(seen.withLock { $0.last } == records.count)
        #expect(try Data(contentsOf: keyFile) != oldKey)
        #expect(try FileManager.default.contentsOfDirectory(atPath: home.url.path).filter { $0.contains(".next-") } == [])
        // Every sealed value is under generation 2.
        let generations = try store.writer.read { db in
            try Data.fetchAll(db, sql: """
                SELECT sealedState FROM record UNION ALL SELECT sealedState FROM discarded UNION ALL SELECT sealedProblem FROM discarded WHERE sealedProblem IS NOT NULL
                UNION ALL SELECT parkedProblem FROM outbox WHERE parkedProblem IS NOT NULL
                UNION ALL SELECT value FROM syncState WHERE key IN ('server', 'token', 'serverCA')
                """).map(DataKeys.generation(of:))
        }
        #expect(generations.count == first.sealedValues && Set(generations) == [2])
        for reopened in [store, try LocalStore.open(home: home.url)] {
            #expect(try reopened.records(RecordQuery(includeDeleted: true)) == records)
            #expect(try reopened.discardedChanges() == discarded && reopened.parked() == parked && reopened.syncSettings() == settings)
        }
        // The old key file opens nothing any more.
        try FileManager.default.removeItem(at: keyFile)
        try KeyFileStore.writePrivately(oldKey, to: keyFile, home: home.url)
        #expect(Self.kind(of: { try LocalStore.open(home: home.url) }).map { if case .keyUnavailable = $0 { true } else { false } } == true)
        try FileManager.default.removeItem(at: keyFile)
        #expect(Self.kind(of: { try LocalStore.open(home: home.url) }) != nil)

        // From no key file back to one is impossible without it; from the open store, to a
        // passphrase and back.
        let phrase = Self.passphrase(home.url, "lange zin met woorden")
        let locked = try store.rotateKey(using: phrase)
        #expect(locked.reference.kind == KeyReference.passphrase && locked.generation == 3)
        #expect(try LocalStore.open(home: home.url, keys: phrase).records(RecordQuery(includeDeleted: true)) == records)
        let unlocked = try store.rotateKey(using: KeyFileStore(home: home.url))
        #expect(unlocked.reference.kind == KeyReference.keyFile && unlocked.generation == 4)
        #expect(try LocalStore.open(home: home.url).records(RecordQuery(includeDeleted: true)) == records)
        for phrase in phrases { #expect(try DatabaseFiles.containing(phrase, in: home.url).isEmpty) }
    }

    /// A KeyStore that makes its keys in `inner` and then fails where it is told to: the
    /// process dying at that instant.
    struct Interrupted: KeyStore {
        let inner: KeyFileStore
        /// Also remove the new key before the profile commits to it.
        var loseKey = false
        func makeKey(replacing previous: KeyReference?) throws -> (SymmetricKey, KeyReference) {
            let made = try inner.makeKey(replacing: previous)
            if loseKey { inner.discard(made.1) }
            return made
        }
        func key(for reference: KeyReference) throws -> SymmetricKey { try inner.key(for: reference) }
        func isReady(_ reference: KeyReference) -> Bool { inner.isReady(reference) }
        func committed(_ reference: KeyReference, replacing previous: KeyReference?) throws { throw InjectedFailure() }
    }

    @Test func aRotationCutShortBetweenItsStepsCompletesOnTheNextOpen() throws {
        let home = try TemporaryHome()
        let store = try home.store()
        _ = try Self.fill(store, words: ["eik", "beuk"])
        let records = try store.records(RecordQuery(includeDeleted: true))
        // Committed to the database, the key file not yet in its place.
        #expect(throws: InjectedFailure.self) { try store.rotateKey(using: Interrupted(inner: KeyFileStore(home: home.url))) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: home.url.path).filter { $0.contains(".next-") }.count == 1)
        let reopened = try LocalStore.open(home: home.url)
        #expect(try reopened.keyStatus().generation == 2)
        #expect(try reopened.records(RecordQuery(includeDeleted: true)) == records)
        #expect(try FileManager.default.contentsOfDirectory(atPath: home.url.path).filter { $0.contains(".next-") } == [])
        #expect(try LocalStore.open(home: home.url).records(RecordQuery(includeDeleted: true)) == records)
    }

    @Test func aNewKeyLostBeforeTheCommitChangesNothing() throws {
        let home = try TemporaryHome()
        let store = try home.store()
        _ = try Self.fill(store, words: ["wilg"])
        let records = try store.records(RecordQuery(includeDeleted: true))
        guard case .keyUnavailable(let detail)? = Self.kind(of: {
            try store.rotateKey(using: Interrupted(inner: KeyFileStore(home: home.url), loseKey: true))
        }) else { Issue.record("a rotation committed to a key that was gone"); return }
        #expect(detail.contains("nothing was changed"))
        #expect(try store.keyStatus().generation == 1)
        #expect(try LocalStore.open(home: home.url).records(RecordQuery(includeDeleted: true)) == records)
        #expect(try store.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields).id.isEmpty == false)
    }

    @Test func aProcessThatMissedARotationIsRefusedNeverWritesUnderTheOldKey() throws {
        let home = try TemporaryHome()
        let first = try home.store()
        let note = try first.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields)
        let second = try LocalStore.open(home: home.url)  // another process, opened before the rotation
        try first.rotateKey(using: KeyFileStore(home: home.url))
        // The rotating store writes under the new key at once.
        let after = try first.edit(id: note.id, changes: ["summary": .string("Na de wissel")])
        for attempt in [{ _ = try second.edit(id: note.id, changes: ["summary": .string("Met de oude sleutel")]) },
                        { _ = try second.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields) },
                        { _ = try second.record(note.id) },
                        { try second.connect(server: URL(string: "https://sync.example.invalid")!, token: "tok_x") }] {
            #expect(Self.kind(of: attempt) == .keyChanged)
        }
        let reopened = try LocalStore.open(home: home.url)
        #expect(try reopened.records() == [after])
        #expect(try reopened.syncSettings().token == nil)
        #expect(try reopened.rotateKey(using: KeyFileStore(home: home.url)).generation == 3)
    }

    @Test func twoProfilesCannotShareOneKeyFile() throws {
        let shared = try TemporaryHome()
        let keyFile = KeyFileStore(file: shared.url.appendingPathComponent("shared.key"))
        let a = try TemporaryHome(), b = try TemporaryHome()
        let first = try LocalStore.initialise(home: a.url, user: "anna", role: .carer, keys: keyFile)
        let note = try first.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields)
        guard case .keyUnavailable(let detail)? = Self.kind(of: { try LocalStore.initialise(home: b.url, user: "bram", role: .carer, keys: keyFile) })
        else { Issue.record("a second profile took over the key file"); return }
        #expect(detail.contains("another profile's key"))
        #expect(Self.kind(of: { try LocalStore.open(home: b.url) }) == .notInitialised)
        // Nor may a passphrase profile move onto it.
        let phrase = try LocalStore.initialise(home: b.url, user: "bram", role: .carer, keys: Self.passphrase(b.url, "eigen zin voor bram"))
        #expect(Self.kind(of: { try phrase.rotateKey(using: keyFile) }).map { if case .keyUnavailable = $0 { true } else { false } } == true)
        #expect(try LocalStore.open(home: a.url, keys: keyFile).record(note.id) == note)
        #expect(try LocalStore.open(home: b.url, keys: Self.passphrase(b.url, "eigen zin voor bram")).keyStatus().generation == 1)
    }

    @Test func anOlderReleaseCannotWriteIntoAnEncryptedProfile() throws {
        let home = try TemporaryHome()
        let store = try home.store()
        _ = try store.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields)
        // What the release before encryption ran for every read and write of a record.
        #expect(throws: DatabaseError.self) { try store.writer.read { db in try Row.fetchAll(db, sql: "SELECT state FROM record") } }
        #expect(throws: DatabaseError.self) {
            try store.writer.write { db in
                try db.execute(sql: "INSERT INTO discarded (recordID, type, state, problem, discardedAt) VALUES ('x', 'visitNote', '{}', NULL, 0)")
            }
        }
    }

    @Test func passphrasesAreNormalisedAndTheirCostIsBounded() throws {
        let home = try TemporaryHome()
        let composed = "café aan de gracht", decomposed = "cafe\u{301} aan de gracht"
        #expect(Array(composed.utf8) != Array(decomposed.utf8))
        let store = try LocalStore.initialise(home: home.url, user: "anna", role: .carer, keys: Self.passphrase(home.url, composed))
        let note = try store.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields)
        #expect(try LocalStore.open(home: home.url, keys: Self.passphrase(home.url, decomposed)).record(note.id) == note)
        // A reference asking for 2 GiB is refused, not attempted.
        let greedy = KeyReference(kind: KeyReference.passphrase, id: "x", salt: Data(count: 16).base64EncodedString(), logN: 20, r: 16, p: 4)
        guard case .unreadable? = Self.kind(of: { try Self.passphrase(home.url, composed).key(for: greedy) }) else {
            Issue.record("an unbounded scrypt cost was attempted"); return
        }
        #expect(PassphraseKeyStore.Cost.standard.isBounded)
    }

    @Test func emptyValuesSealAndOpen() throws {
        let home = try TemporaryHome()
        let store = try home.store()
        try store.connect(server: URL(string: "https://sync.example.invalid")!, token: "", serverCA: "")
        #expect(try LocalStore.open(home: home.url).syncSettings().token == "")
        #expect(try LocalStore.open(home: home.url).syncSettings().serverCA == "")
    }
}
