import Foundation
import Testing
import VeldProtocol
import PropertyBased
import VeldTestSupport

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

    /// A field holds at most one entry per replica (its later edit supersedes its earlier
    /// one): two are refused before anything is judged, in a field of any position.
    @Test func twoEntriesOfOneReplicaInAFieldAreRefused() throws {
        for field in ["kind", "summary", "visitor"] {
            let state = Self.note(replica: "r-anna", author: "Kees")
            var fields = state.fields
            let first = try #require(state.entries(of: field).first)
            let second = FieldEntry(value: first.value, dot: Dot(replica: "r-anna", counter: 2), author: "Kees", time: Self.time)
            fields[field] = [first, second]
            let doubled = RecordState(id: state.id, type: state.type, scope: state.scope,
                                      context: VersionVector(["r-anna": 2]), fields: fields)
            #expect { try Self.decide([doubled]) } throws: { error in
                guard let problem = error as? Problem else { return false }
                return problem.type == "urn:veld:problem:invalid-record" && problem.detail.contains("two entries of replica r-anna")
            }
            #expect(throws: Never.self) { try Self.decide([state]) }
        }
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

/// A bulletin is the office's from its first field to its deletion (veld-core 3 lists only
/// the office among its deleters): for generated bulletins, a carer's delete, restore or
/// edit is refused whatever else it carries, the office's is accepted, and the carer's
/// acknowledgement of it is accepted.
@Suite struct BulletinPolicyTests {
    static let office = Pusher(tokenID: "tok_olga", user: "olga", role: .office, scopes: .all)
    static let time = PushPolicyTests.time

    static func decide(_ records: [RecordState], by pusher: Pusher, replica: String,
                       stored: [String: RecordState]) throws(Problem) -> PushPolicy.Outcome {
        let checked = try PushPolicy.check(PushRequest(replica: replica, batch: UUID().uuidString.lowercased(), records: records),
                                           by: pusher, in: .builtIn)
        return try PushPolicy.decide(checked, fingerprint: "f", inputs: PushPolicy.Inputs(now: time, stored: stored))
    }

    @Test func onlyTheOfficeChangesOrDeletesABulletin() async {
        let topics = Schemas.bulletin.field("topic")?.offeredValues ?? []
        await checkProperty(count: 120, input: Gen.int(in: 0...10_000), Gen.int(in: 0...5)) { (code: Int, action: Int) async throws in
            var bulletin = RecordState(id: RecordIDs.make(), type: "bulletin", scope: code % 2 == 0 ? "loc-a" : "org-a")
            var fields: [String: FieldValue] = ["title": .string("Bericht \(code)"), "topic": .string(topics[code % topics.count]),
                                                "publishedOn": .string("2026-11-23"), "status": .string("verzonden")]
            if code % 3 == 0 { fields["body"] = .string("Tekst \(code)") }
            if code % 5 == 0 { fields["acknowledgeBy"] = .string("2026-12-07") }
            bulletin.edit(fields, replica: "r-olga", author: "olga", time: Self.time)
            if code % 7 == 0 {  // deleted and restored by the office before
                bulletin.delete(allFields: Schemas.bulletin.fieldNames, replica: "r-olga", author: "olga", time: Self.time)
                bulletin.edit([RecordState.deletedField: .bool(false)], replica: "r-olga", author: "olga", time: Self.time)
            }
            let stored = [bulletin.id: bulletin]
            let carer = Pusher(tokenID: "tok_anna", user: "Kees", role: .carer, scopes: ScopeFilter([bulletin.scope]))
            var attempt = bulletin
            switch action {
            case 0: attempt.delete(allFields: Schemas.bulletin.reassertedByDelete(of: bulletin, role: .carer),
                                   replica: "r-anna", author: "Kees", time: Self.time)
            case 1: attempt.edit([RecordState.deletedField: .bool(true)], replica: "r-anna", author: "Kees", time: Self.time)
            case 2: attempt.edit(["status": .string("ingetrokken")], replica: "r-anna", author: "Kees", time: Self.time)
            case 3: attempt.edit(["body": .null], replica: "r-anna", author: "Kees", time: Self.time)
            case 4: attempt.edit(["title": .string("Ander bericht"), RecordState.deletedField: .bool(true)],
                                 replica: "r-anna", author: "Kees", time: Self.time)
            default: attempt.edit(["acknowledgeBy": .string("2027-01-01")], replica: "r-anna", author: "Kees", time: Self.time)
            }
            #expect(throws: Problem.self) { try Self.decide([attempt], by: carer, replica: "r-anna", stored: stored) }
            do {
                _ = try Self.decide([attempt], by: carer, replica: "r-anna", stored: stored)
            } catch let problem as Problem {
                #expect(problem.type == "urn:veld:problem:field-forbidden", "\(problem)")
            }

            // The office may do each of these; its delete keeps the fields as they were.
            var byOffice = bulletin
            if action < 2 {
                byOffice.delete(allFields: Schemas.bulletin.reassertedByDelete(of: bulletin, role: .office),
                                replica: "r-olga", author: "olga", time: Self.time)
            } else {
                byOffice.edit(["status": .string("ingetrokken")], replica: "r-olga", author: "olga", time: Self.time)
            }
            #expect(throws: Never.self) { try Self.decide([byOffice], by: Self.office, replica: "r-olga", stored: stored) }

            // The carer's acknowledgement of it, in a location, is theirs to make.
            var acknowledgement = RecordState(id: RecordIDs.make(), type: "acknowledgement", scope: "loc-a")
            acknowledgement.edit(["bulletin": .string(bulletin.id), "acknowledgedOn": .string("2026-11-24"),
                                  "acknowledgedBy": .string("team A"), "attendedMeeting": .bool(code % 2 == 0)],
                                 replica: "r-anna", author: "Kees", time: Self.time)
            let onLocation = Pusher(tokenID: "tok_anna", user: "Kees", role: .carer, scopes: ScopeFilter(["loc-a"]))
            #expect(throws: Never.self) { try Self.decide([acknowledgement], by: onLocation, replica: "r-anna", stored: [:]) }
        }
    }
}
