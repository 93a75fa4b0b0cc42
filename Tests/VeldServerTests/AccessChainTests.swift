import Foundation
import PropertyBased
import Testing
import VeldProtocol
import VeldServer
import VeldTestSupport

/// The access log's hash chain on generated entries: the hand-written canonical form is
/// byte for byte the stable JSON SPEC.md names (so another implementation can verify a
/// log), any one changed field changes the hash, and the verifier accepts an honest chain
/// and finds every single deletion or edit.
@Suite struct AccessChainTests {
    /// What SPEC.md says is hashed: the entry's stable JSON without `hash`.
    struct Reference: Encodable {
        let entry: AccessEntry
        enum Keys: String, CodingKey { case seq, at, action, status, problem, token, user, role, replica, detail, records, previousHash }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(entry.seq, forKey: .seq)
            try container.encode(entry.at, forKey: .at)
            try container.encode(entry.action, forKey: .action)
            try container.encode(entry.status, forKey: .status)
            try container.encodeIfPresent(entry.problem, forKey: .problem)
            try container.encodeIfPresent(entry.tokenID, forKey: .token)
            try container.encodeIfPresent(entry.user, forKey: .user)
            try container.encodeIfPresent(entry.role, forKey: .role)
            try container.encodeIfPresent(entry.replica, forKey: .replica)
            try container.encode(entry.detail, forKey: .detail)
            if entry.recordsForm == .list || entry.records.isEmpty {
                try container.encode(entry.records, forKey: .records)
            } else {
                try container.encode(Compact(entry.records), forKey: .records)
            }
            try container.encode(entry.previousHash, forKey: .previousHash)
        }
    }

    /// SPEC.md's compact form, written here apart from the server's code: each distinct
    /// (effect, scope, type) once in the order of first appearance, the ids in order, and
    /// each id's kind by its index. Distinct as code points (Swift's `==` on strings would
    /// take canonically equivalent ones for one).
    struct Compact: Codable, Equatable {
        struct Kind: Codable, Equatable {
            let effect: String
            let scope: String
            let type: String
            static func == (lhs: Kind, rhs: Kind) -> Bool {
                lhs.effect.unicodeScalars.elementsEqual(rhs.effect.unicodeScalars)
                    && lhs.scope.unicodeScalars.elementsEqual(rhs.scope.unicodeScalars)
                    && lhs.type.unicodeScalars.elementsEqual(rhs.type.unicodeScalars)
            }
        }
        let ids: [String]
        let kindOf: [Int]
        let kinds: [Kind]

        init(_ records: [AccessedRecord]) {
            var kinds: [Kind] = []
            var kindOf: [Int] = []
            for record in records {
                let kind = Kind(effect: record.effect, scope: record.scope, type: record.type)
                if let index = kinds.firstIndex(of: kind) {
                    kindOf.append(index)
                } else {
                    kindOf.append(kinds.count)
                    kinds.append(kind)
                }
            }
            ids = records.map(\.id)
            self.kindOf = kindOf
            self.kinds = kinds
        }
    }

    static let pieces = ["anna", "\"", "\\", "\n", "\u{1}", "é", "/", "tok_1", "ZH-0042", "", " ", "\u{7f}", "😀", "loc-a"]

    static func text(_ code: Int) -> String {
        (0..<(code % 4)).map { pieces[(code / (7 + $0)) % pieces.count] }.joined()
    }

    static func entry(_ codes: [Int], seq: Int64 = 1, previous: String = AccessChain.genesis) -> AccessEntry {
        let c = codes + Array(repeating: 0, count: max(0, 12 - codes.count))
        var draft = AccessDraft(at: Date(timeIntervalSince1970: 1_795_168_800 + Double(c[0] % 100_000)),
                                action: AccessAction.allCases[c[1] % AccessAction.allCases.count],
                                status: [200, 400, 401, 403, 404, 409, 422][c[2] % 7], problem: c[3] % 2 == 0 ? nil : text(c[3]),
                                token: nil, replica: c[4] % 3 == 0 ? nil : text(c[4]), detail: text(c[5]),
                                records: (0..<(c[6] % 4)).map { AccessedRecord(id: text(c[7] + $0), type: text(c[8] + $0), scope: text(c[9]), effect: text(c[10])) })
        draft.tokenID = c[11] % 2 == 0 ? nil : text(c[11])
        draft.user = c[11] % 3 == 0 ? nil : text(c[11] / 2)
        draft.role = c[11] % 5 == 0 ? nil : "office"
        var entry = draft.sealed(seq: seq, previousHash: previous)
        if c[6] % 4 != 0, (c[0] / 7) % 3 == 0 {
            // As a release before the compact form wrote it.
            entry.recordsForm = .list
            entry.hash = AccessChain.hash(of: entry)
        }
        return entry
    }

    @Test func theCanonicalFormIsTheStableJSON() async {
        await checkProperty(count: 300, input: Gen.int(in: 0...1_000_000).array(of: 12...12)) { (codes: [Int]) async throws in
            let entry = Self.entry(codes)
            #expect(AccessChain.canonical(entry) == Array(try StableJSON.encode(Reference(entry: entry))))
            #expect(AccessEntry.encode(records: entry.records, form: .list) == String(decoding: try StableJSON.encode(entry.records), as: UTF8.self))
            let compact = AccessEntry.encode(records: entry.records, form: .compact)
            #expect(compact == String(decoding: entry.records.isEmpty ? Data("[]".utf8) : try StableJSON.encode(Compact(entry.records)), as: UTF8.self))
            for form in [AccessRecordsForm.list, .compact] {
                let decoded = try AccessEntry.decode(records: AccessEntry.encode(records: entry.records, form: form))
                #expect(decoded.records == entry.records)
                #expect(decoded.form == (entry.records.isEmpty ? .compact : form))
            }
            // What `audit --json` shows reads back as the same entry, form included.
            #expect(try StableJSON.decode(AccessEntry.self, from: StableJSON.encode(entry)) == entry)
        }
    }

    /// A pull page's records: hundreds, of a few kinds, in runs and mixed, with kinds whose
    /// parts run together alike ("ab" + "c" and "a" + "bc"), and empty parts. The compact
    /// form names each kind once, in the order of first appearance, whichever way the
    /// server matches them.
    @Test func theCompactFormOfManyRecordsIsTheReferences() async {
        let parts = ["a", "ab", "bc", "c", "", "loc-a", "visitNote", "é", "e\u{301}", "read"]
        await checkProperty(count: 200, input: Gen.int(in: 0...1_000_000).array(of: 1...600)) { (codes: [Int]) async throws in
            let records = codes.enumerated().map { index, code in
                AccessedRecord(id: "r\(index)", type: parts[code % 4], scope: parts[(code / 4) % parts.count],
                               effect: parts[(code / 40) % 3 + 7])
            }
            let text = AccessEntry.encode(records: records, form: .compact)
            // As bytes: `==` on Strings would take canonically equivalent texts for one.
            #expect(Array(text.utf8) == Array(try StableJSON.encode(Compact(records))))
            #expect(try AccessEntry.decode(records: text).records.map(Self.scalars) == records.map(Self.scalars))
            var draft = AccessDraft(at: Date(timeIntervalSince1970: 1_795_168_800), action: .pull, token: nil, records: records)
            #expect(draft.records.map(Self.scalars) == records.map(Self.scalars))
            draft.prepare()
            let entry = draft.sealed(seq: 1, previousHash: AccessChain.genesis)
            #expect(entry.records.map(Self.scalars) == records.map(Self.scalars))
            #expect(entry.hash == AccessChain.hash(of: entry))
        }
    }

    /// A storage that appends an entry in SQL hashes the pieces around the chain head's
    /// hash and seq with them in between: that is the entry's hash, for any entry.
    @Test func theChainPiecesHashAsTheEntry() async {
        await checkProperty(count: 300, input: Gen.int(in: 0...1_000_000).array(of: 12...12)) { (codes: [Int]) async throws in
            let entry = Self.entry(codes, seq: Int64(codes[0] % 5_000 + 1), previous: TokenSecret.fingerprint(Array(String(codes[1]).utf8)))
            guard entry.recordsForm == .compact else { return }
            var draft = AccessDraft(at: entry.at, action: entry.action, status: entry.status, problem: entry.problem, token: nil,
                                    replica: entry.replica, detail: entry.detail, records: entry.records)
            draft.tokenID = entry.tokenID
            draft.user = entry.user
            draft.role = entry.role
            let pieces = draft.chainPieces()
            let joined = pieces.beforePrevious + entry.previousHash + pieces.beforeRecords + pieces.records + pieces.beforeSeq
                + String(entry.seq) + pieces.afterSeq
            #expect(Array(joined.utf8) == AccessChain.canonical(entry))
            #expect(TokenSecret.fingerprint(Array(joined.utf8)) == entry.hash)
        }
    }

    /// A record as its code points, so a test tells `é` from `e` and a combining accent.
    static func scalars(_ record: AccessedRecord) -> [[UInt32]] {
        [record.id, record.type, record.scope, record.effect].map { $0.unicodeScalars.map(\.value) }
    }

    /// SPEC.md's example entry has the hash SPEC.md gives (worked out there from the
    /// stable JSON alone, as another team would).
    @Test func theSpecExampleHashesAsTheSpecSays() throws {
        let json = #"""
            {"action":"pull","at":"2026-12-03T11:40:10Z","detail":"since=0 cursor=1 more=false",
             "hash":"df2c09899efa67b9cfa6e724ac9ac1703c90d3d7b58a2ac3e73d960f27394475",
             "previousHash":"0334b295587df2ccb380c23b0a8de647c44d6f55011f69b1d82fee97c8888629",
             "records":[{"effect":"read","id":"9688004f-5a3f-495a-bb60-8a2745f0c4b7","scope":"loc-a","type":"visitNote"},
                        {"effect":"read","id":"2b7e01c4-8d3a-4f6e-9c15-0a4d7e2f8b93","scope":"loc-a","type":"visitNote"}],
             "recordsForm":"compact",
             "replica":"r-9377419fd3c1b15ec762b43a","role":"visitor","seq":2,"status":200,"token":"tok_11fc710c","user":"anna"}
            """#
        let entry = try StableJSON.decode(AccessEntry.self, from: Data(json.utf8))
        #expect(entry.recordsForm == .compact)
        #expect(AccessChain.hash(of: entry) == entry.hash)
        var older = entry
        older.recordsForm = .list
        #expect(AccessChain.hash(of: older) != entry.hash)
    }

    /// Any one field changed (as an edit with sqlite3 would) gives another hash.
    @Test func everyFieldIsCoveredByTheHash() async {
        await checkProperty(count: 200, input: Gen.int(in: 0...1_000_000).array(of: 12...12), Gen.int(in: 0...14)) { codes, field in
            let entry = Self.entry(codes)
            var changed = entry
            switch field {
            case 0: changed.seq += 1
            case 1: changed.at = changed.at.addingTimeInterval(1)
            case 2: changed.action = changed.action == .pull ? .push : .pull
            case 3: changed.status += 1
            case 4: changed.problem = (changed.problem ?? "") + "x"
            case 5: changed.tokenID = (changed.tokenID ?? "") + "x"
            case 6: changed.user = (changed.user ?? "") + "x"
            case 7: changed.replica = (changed.replica ?? "") + "x"
            case 8: changed.detail += "x"
            case 9: changed.records.append(AccessedRecord(id: "x", type: "", scope: "", effect: "read"))
            case 10: changed.previousHash = String(repeating: "1", count: 64)
            case 11: changed.role = (changed.role ?? "") + "x"
            case 12 where !changed.records.isEmpty: changed.recordsForm = changed.recordsForm == .list ? .compact : .list
            default:
                // One record's type, scope or effect (a record is added when there is none).
                if changed.records.isEmpty { changed.records = [AccessedRecord(id: "x", type: "", scope: "", effect: "read")]; break }
                switch field % 3 {
                case 0: changed.records[0].type += "x"
                case 1: changed.records[0].scope += "x"
                default: changed.records[0].effect += "x"
                }
            }
            #expect(AccessChain.hash(of: changed) != entry.hash)
        }
    }

    /// An honest chain passes; deleting any one entry or changing any one entry's content
    /// (without recomputing every later hash) is found.
    @Test func theVerifierFindsEverySingleDeletionOrEdit() async {
        await checkProperty(count: 150, input: Gen.int(in: 0...1_000_000).array(of: 12...12), Gen.int(in: 2...9), Gen.int(in: 0...100)) { codes, count, pick in
            var chain: [AccessEntry] = []
            for seq in 1...Int64(count) {
                chain.append(Self.entry(codes.map { $0 &+ Int(seq) * 7_919 }, seq: seq, previous: chain.last?.hash ?? AccessChain.genesis))
            }
            func problems(_ entries: [AccessEntry], head: AccessEntry?) -> [String] {
                var verifier = AccessChain.Verifier()
                for entry in entries { verifier.check(entry, indexed: entry.recordIDs) }
                verifier.finish(head: (head?.seq ?? 0, head?.hash ?? AccessChain.genesis))
                return verifier.problems
            }
            #expect(problems(chain, head: chain.last).isEmpty)
            let index = pick % count
            var deleted = chain
            deleted.remove(at: index)
            #expect(!problems(deleted, head: chain.last).isEmpty, "deleting entry \(index + 1) of \(count) went unnoticed")
            var edited = chain
            edited[index].detail += " edited"
            #expect(!problems(edited, head: chain.last).isEmpty, "editing entry \(index + 1) went unnoticed")
            // Its hash recomputed too: the next entry (or the head) no longer follows.
            edited[index].hash = AccessChain.hash(of: edited[index])
            #expect(!problems(edited, head: chain.last).isEmpty, "a re-sealed edit of entry \(index + 1) went unnoticed")
        }
    }
}
