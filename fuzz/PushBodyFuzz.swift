// A libFuzzer target over the push body reader and the whole push policy, built straight
// from VeldProtocol's sources (it has no dependencies): see scripts/fuzz.sh.
//
// Each input is a push body, as a device would POST it. It goes through the strict reader,
// `PushPolicy.check` and `PushPolicy.decide` against one stored care plan the office has
// approved (anna, a visitor of loc-a, pushing). A crash, a trap or a broken invariant of
// an accepted push is a finding.
import Foundation

let stored: RecordState = {
    var plan = RecordState(id: "0b6f3f4e-8a1d-4c62-9f0e-5d2b7a9c1e11", type: "carePlan", scope: "loc-a")
    let time = Date(timeIntervalSince1970: 1_795_168_800)
    plan.edit(["clientCode": .string("C-1"), "financing": .string("Wlz"), "careStart": .string("2026-10-01"),
               "status": .string("besproken")], replica: "r-anna", author: "anna", time: time)
    plan.edit(["approvedBy": .string("olga"), "status": .string("vastgesteld")], replica: "r-office", author: "olga", time: time)
    return plan
}()
let pusher = Pusher(tokenID: "tok_fuzz", user: "anna", role: .visitor, scopes: ScopeFilter(["loc-a"]))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    guard let read = try? RecordStateJSON.readPush(data), read.invalid.isEmpty,
          let checked = try? PushPolicy.check(read.request, by: pusher, in: .builtIn),
          case .write(let plan)? = try? PushPolicy.decide(checked, fingerprint: "f",
                                                          inputs: PushPolicy.Inputs(stored: [stored.id: stored])) else { return 0 }
    for write in plan.writes {
        let after = write.state
        precondition(Schemas.validate(after).isEmpty, "an accepted state does not fit its schema")
        precondition(pusher.scopes.contains(after.scope), "an accepted state outside the pusher's scopes")
        let before = after.id == stored.id ? stored : RecordState(id: after.id, type: after.type, scope: after.scope)
        for (field, entries) in after.fields {
            for entry in entries where !before.context.contains(entry.dot) {
                precondition(entry.dot.replica == read.request.replica && entry.author == "anna", "a new entry is not the pusher's")
            }
            precondition(Set(entries.map(\.dot.replica)).count == entries.count, "two entries of one replica in \(field)")
            let kept = Set(entries.map(\.dot))
            let removed = before.entries(of: field).filter { !kept.contains($0.dot) }
            let fresh = entries.filter { !before.context.contains($0.dot) }
            precondition(removed.isEmpty || !fresh.isEmpty, "\(field) lost a stored value without a new edit")
        }
        if after.id == stored.id {
            precondition(after.entries(of: "approvedBy") == stored.entries(of: "approvedBy"), "the office's approval changed")
            precondition(after.entries(of: "status").contains { $0.value == .string("vastgesteld") }, "the office's vastgesteld is gone")
        }
    }
    return 0
}
