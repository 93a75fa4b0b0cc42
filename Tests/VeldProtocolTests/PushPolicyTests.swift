import Foundation
import Testing
import VeldProtocol

/// The policy's rules that need no storage, on hand-made states.
@Suite struct PushPolicyTests {
    static let anna = Pusher(tokenID: "tok_anna", user: "Kees", role: .carer, scopes: ScopeFilter(["loc-a"]))
    static let time = Date(timeIntervalSince1970: 1_795_168_800)

    static func note(_ fields: [String: FieldValue] = [:], replica: String = "r-other", author: String = "Joost") -> RecordState {
        var state = RecordState(id: RecordIDs.make(), type: "visitNote", scope: "loc-a")
        state.edit(["visitedAt": .string("2026-11-20"), "visitor": .string("anna"), "kind": .string("werkbezoek"),
                    "summary": .string("Rondgang"), "status": .string("concept")].merging(fields) { $1 },
                   replica: replica, author: author, time: time)
        return state
    }

    static func decide(_ records: [RecordState], stored: [String: RecordState] = [:], now: Date? = nil) throws(Problem) -> PushPolicy.Outcome {
        let checked = try PushPolicy.check(PushRequest(replica: "r-anna", batch: UUID().uuidString.lowercased(), records: records), by: anna, in: .builtIn)
        return try PushPolicy.decide(checked, fingerprint: "f", inputs: PushPolicy.Inputs(now: now, stored: stored))
    }

    /// An author that only looks like the token's user (K as U+212A, the Kelvin sign) is
    /// another author: names are compared byte by byte.
    @Test func authorsAreComparedByTheirBytes() throws {
        var state = Self.note(replica: "r-anna", author: "\u{212A}ees")
        #expect("\u{212A}ees" == "Kees", "Swift's == takes these as equal; the policy must not")
        #expect { try Self.decide([state]) } throws: { ($0 as? Problem)?.type == "urn:veld:problem:forged-author" }
        state = Self.note(replica: "r-anna", author: "Kees")
        #expect(throws: Never.self) { try Self.decide([state]) }
    }

    /// A known dot resent with canonically equivalent but other bytes is a clash.
    @Test func aKnownDotWithOtherBytesIsAClash() throws {
        let stored = Self.note(["summary": .string("Caf\u{E9}")])
        var fields = stored.fields
        fields["summary"] = stored.entries(of: "summary").map { var entry = $0; entry.value = .string("Cafe\u{301}"); return entry }
        let resent = RecordState(id: stored.id, type: stored.type, scope: stored.scope, context: stored.context, fields: fields)
        #expect { try Self.decide([resent], stored: [stored.id: stored]) } throws: { ($0 as? Problem)?.type == "urn:veld:problem:dot-reused" }
    }

    @Test func newEntriesFromTheFarFutureAreRefused() throws {
        let later = Self.time.addingTimeInterval(PushPolicy.maxClockSkew + 60)
        var state = RecordState(id: RecordIDs.make(), type: "visitNote", scope: "loc-a")
        state.edit(["visitedAt": .string("2026-11-20"), "visitor": .string("anna"), "kind": .string("werkbezoek"),
                    "summary": .string("Rondgang"), "status": .string("concept")], replica: "r-anna", author: "Kees", time: later)
        #expect { try Self.decide([state], now: Self.time) } throws: { ($0 as? Problem)?.detail.contains("more than a day after") == true }
        #expect(throws: Never.self) { try Self.decide([state], now: later) }
    }

    /// A push whose merge would take a record past the size limit is refused, so stored
    /// records stay within it; one already beyond it (written before the limit) may still
    /// be pushed back with edits that do not make it larger.
    @Test func theSizeLimitCountsWhatAPushAdds() throws {
        let text = String(repeating: "x", count: 900_000)
        var stored = Self.note()
        var branches: [RecordState] = []
        for (index, field) in ["observations", "followUp", "summary", "visitor", "observations"].enumerated() {
            var branch = stored
            branch.edit([field: .string(text + "\(index)")], replica: "r-\(index)", author: "Joost", time: Self.time)
            branches.append(branch)
        }
        for branch in branches { stored = try stored.merged(with: branch) }
        #expect(stored.valueBytes > SyncLimits.maxRecordValueBytes)
        var pushedBack = stored
        pushedBack.edit(["councilInvolved": .bool(true)], replica: "r-anna", author: "Kees", time: Self.time)
        #expect(throws: Never.self) { try Self.decide([pushedBack], stored: [stored.id: stored]) }
        var grown = stored
        grown.edit(["followUp": .string(text + "9")], replica: "r-anna", author: "Kees", time: Self.time)
        #expect(throws: Never.self, "replacing a value by one as large does not grow it") { try Self.decide([grown], stored: [stored.id: stored]) }
        var bigger = stored
        bigger.edit(["followUp": .string(text + text.prefix(50_000))], replica: "r-anna", author: "Kees", time: Self.time)
        #expect { try Self.decide([bigger], stored: [stored.id: stored]) } throws: { ($0 as? Problem)?.detail.contains("would hold") == true }

        // A push that leaves others' large values unseen and adds large ones beside them,
        // each state within the limit, would make the merge exceed it: refused.
        let others = Self.note(["observations": .string(text), "followUp": .string(text), "summary": .string(text), "visitor": .string(text)])
        var beside = RecordState(id: others.id, type: others.type, scope: others.scope)
        beside.edit(["visitedAt": .string("2026-11-20"), "visitor": .string(text), "kind": .string("werkbezoek"), "summary": .string(text),
                     "status": .string("concept"), "observations": .string(text), "followUp": .string(text)],
                    replica: "r-anna", author: "Kees", time: Self.time)
        #expect { try Self.decide([beside], stored: [others.id: others]) } throws: { ($0 as? Problem)?.detail.contains("would hold") == true }
    }

    @Test func aContextNamingTooManyReplicasIsRefused() {
        let state = Self.note(replica: "r-anna", author: "Kees")
        var counters = state.context.counters
        for index in 0..<PushPolicy.maxContextReplicas { counters["r-\(index)"] = 1 }
        let inflated = RecordState(id: state.id, type: state.type, scope: state.scope, context: VersionVector(counters), fields: state.fields)
        #expect { try Self.decide([inflated]) } throws: { ($0 as? Problem)?.detail.contains("names 1001 replicas") == true }
    }

    /// However many problems a batch has, the answer lists at most a hundred and counts
    /// the rest.
    @Test func anAnswerListsAHundredProblemsAndCountsTheRest() {
        let records = (0..<300).map { _ in
            var state = RecordState(id: RecordIDs.make(), type: "visitNote", scope: "loc-b")
            state.edit(["visitedAt": .string("2026-11-20"), "visitor": .string("anna"), "kind": .string("werkbezoek"),
                        "summary": .string("Rondgang"), "status": .string("concept")], replica: "r-anna", author: "Kees", time: Self.time)
            return state
        }
        #expect { try Self.decide(records) } throws: { error in
            guard let problem = error as? Problem else { return false }
            return problem.records?.count == 100 && problem.detail.contains("and 297 more")
        }
    }
}
