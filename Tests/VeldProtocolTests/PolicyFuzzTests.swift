import Foundation
import PropertyBased
import Testing
import VeldProtocol
import VeldTestSupport

/// The fuzz target's invariants as a generated-input property, in the ordinary test build
/// (the libFuzzer target is fuzz/PushBodyFuzz.swift, run by scripts/fuzz.sh): push bodies
/// made from an honest state and a new edit, mutated in meaning and byte by byte, go
/// through the strict reader and the whole policy. Nothing may crash, and whatever the
/// policy accepts must keep the invariants it exists for, checked here independently of
/// its code.
@Suite struct PolicyFuzzTests {
    static let pusher = Pusher(tokenID: "tok_fuzz", user: "anna", role: .carer, scopes: ScopeFilter(["loc-a"]))

    /// The stored plan (approved by the office) and anna's honest push of it.
    static func honest(_ code: Int) -> (stored: RecordState, pushed: RecordState) {
        var plan = RecordState(id: "0b6f3f4e-8a1d-4c62-9f0e-5d2b7a9c1e11", type: "carePlan", scope: "loc-a")
        let time = Date(timeIntervalSince1970: 1_795_168_800)
        plan.edit(["clientCode": .string("C-\(code % 97)"), "financing": .string("Wlz"), "careStart": .string("2026-10-01"),
                   "status": .string("besproken")], replica: "r-anna", author: "anna", time: time)
        plan.edit(["approvedBy": .string("olga"), "status": .string("vastgesteld")], replica: "r-office", author: "olga", time: time)
        var pushed = plan
        pushed.edit(["agreements": .string("Afspraak \(code)")], replica: "r-anna", author: "anna", time: time)
        return (plan, pushed)
    }

    static let pieces: [[UInt8]] = [
        Array("0".utf8), Array("\"r-office\"".utf8), Array("\"olga\"".utf8), Array("\"approvedBy\"".utf8), Array("[]".utf8),
        Array("null".utf8), Array("\"vastgesteld\"".utf8), Array(",".utf8), Array("{}".utf8), Array("9007199254740993".utf8),
        Array("\"loc-b\"".utf8), Array("\"r-anna\"".utf8), Array("3".utf8), [0xFF], Array("\\u0000".utf8),
    ]

    @Test func mutatedPushesNeverBreakThePolicysPromises() async {
        await checkProperty(count: 1_500, input: Gen.int(in: 0...1_000_000), Gen.int(in: 0...10_000_000).array(of: 1...4)) { code, mutations in
            let (stored, honest) = Self.honest(code)
            // Mutations of meaning first (what an attacker would try), then of bytes.
            var pushed = honest
            for mutation in mutations where mutation % 7 >= 3 {
                var fields = pushed.fields
                var context = pushed.context
                let names = fields.keys.sorted()
                let field = names[(mutation / 7) % names.count]
                switch mutation % 7 {
                case 3: fields[field] = nil
                case 4: fields[field] = fields[field]!.map { var entry = $0; entry.author = "olga"; return entry }
                case 5:
                    let dot = Dot(replica: "r-office", counter: context["r-office"] + 1)
                    context.include(dot)
                    fields[field] = [FieldEntry(value: fields[field]![0].value, dot: dot, author: "anna", time: fields[field]![0].time)]
                default:
                    let dot = context.advance("r-anna")
                    fields[["approvedBy", "status", field][mutation % 3]] = [FieldEntry(value: .string("besproken"), dot: dot, author: "anna",
                                                                                         time: fields[field]![0].time)]
                }
                pushed = RecordState(id: pushed.id, type: pushed.type, scope: pushed.scope, context: context, fields: fields)
            }
            var bytes = RecordStateJSON.encode(PushRequest(replica: "r-anna", batch: "6e7c2a58-3f5f-4cf5-9d53-0b9f1e8a2d11", records: [pushed]))
            for mutation in mutations where !bytes.isEmpty && mutation % 7 < 3 {
                let at = (mutation / 16) % bytes.count
                switch mutation % 3 {
                case 0: bytes.removeSubrange(at..<min(bytes.count, at + 1 + mutation % 8))
                case 1: bytes.insert(contentsOf: Self.pieces[(mutation / 3) % Self.pieces.count], at: at)
                default: bytes.replaceSubrange(at..<min(bytes.count, at + 1 + mutation % 5), with: Self.pieces[(mutation / 5) % Self.pieces.count])
                }
            }
            guard let read = try? RecordStateJSON.readPush(Data(bytes)), read.invalid.isEmpty,
                  let checked = try? PushPolicy.check(read.request, by: Self.pusher, in: .builtIn),
                  case .write(let plan)? = try? PushPolicy.decide(checked, fingerprint: "f", inputs: PushPolicy.Inputs(stored: [stored.id: stored]))
            else { return }
            for write in plan.writes {
                let after = write.state
                #expect(Schemas.validate(after).isEmpty, "an accepted state does not fit its schema")
                #expect(Self.pusher.scopes.contains(after.scope))
                let before = after.id == stored.id ? stored : RecordState(id: after.id, type: after.type, scope: after.scope)
                for (field, entries) in after.fields {
                    for entry in entries where !before.context.contains(entry.dot) {
                        #expect(entry.dot.replica == read.request.replica && entry.author == "anna", "a new entry is not the pusher's")
                        #expect(entry.dot.counter >= 1 && entry.dot.counter < 1 << 53)
                    }
                    let replicas = entries.map(\.dot.replica)
                    #expect(Set(replicas).count == replicas.count, "two entries of one replica in \(field)")
                }
                // What the office decided is still there, or replaced only by... nobody: anna
                // may not replace it.
                #expect(after.entries(of: "approvedBy") == stored.entries(of: "approvedBy") || after.id != stored.id,
                        "the office's approval changed")
                if after.id == stored.id {
                    #expect(after.entries(of: "status").contains { $0.value == .string("vastgesteld") }, "the office's vastgesteld is gone")
                    for (field, entries) in stored.fields {
                        let kept = Set(after.entries(of: field).map(\.dot))
                        let removed = entries.filter { !kept.contains($0.dot) }
                        let fresh = after.entries(of: field).filter { !stored.context.contains($0.dot) }
                        #expect(removed.isEmpty || !fresh.isEmpty, "\(field) lost a stored value without a new edit")
                    }
                }
            }
        }
    }
}
