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
            try container.encode(entry.records, forKey: .records)
            try container.encode(entry.previousHash, forKey: .previousHash)
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
        return draft.sealed(seq: seq, previousHash: previous)
    }

    @Test func theCanonicalFormIsTheStableJSON() async {
        await checkProperty(count: 300, input: Gen.int(in: 0...1_000_000).array(of: 12...12)) { (codes: [Int]) async throws in
            let entry = Self.entry(codes)
            #expect(AccessChain.canonical(entry) == Array(try StableJSON.encode(Reference(entry: entry))))
            #expect(AccessEntry.encode(records: entry.records) == String(decoding: try StableJSON.encode(entry.records), as: UTF8.self))
            #expect(try AccessEntry.decode(records: AccessEntry.encode(records: entry.records)) == entry.records)
        }
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
