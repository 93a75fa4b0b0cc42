import Foundation
import PropertyBased
import Testing
import VeldProtocol
import VeldServer
import VeldTestSupport

/// The access log's part of the storage contract (NEN 7513).
extension StorageContract {
    /// Every entry of the log, through `audit --verify`'s pages, checked as it does.
    static func verify(_ storage: any SyncStorage, pageSize: Int = 7) async throws -> AccessChain.Verifier {
        var verifier = AccessChain.Verifier()
        let head = try await storage.accessLogHead()
        var after: Int64 = 0
        for _ in 0..<100_000 {
            let page = try await storage.accessLogPage(after: after, limit: pageSize)
            guard let last = page.last else { break }
            for (entry, indexed) in page where entry.seq <= head.seq { verifier.check(entry, indexed: indexed) }
            after = last.entry.seq
            if after >= head.seq { break }
        }
        verifier.finish(head: head)
        return verifier
    }

    static func allEntries(_ storage: any SyncStorage) async throws -> [AccessEntry] {
        try await storage.accessEntries(AccessQuery(limit: 100_000))
    }

    /// Pushes (some refused by the storage's check) and pull entries appended at the same
    /// time from many tasks: one unbroken chain, 1…n without gaps; exactly one entry for
    /// each accepted push, naming its records as changed, none for a refused one; a replay
    /// is logged as a replay and changes nothing.
    static func accessLogChainsConcurrentWrites(_ make: StorageFactory) async throws {
        let storage = try await make()
        var devices: [IssuedToken] = []
        for index in 0..<8 { devices.append(try await storage.issueToken(user: "user\(index)", role: .carer, scopes: ["loc-a"])) }
        let pushed = try await withThrowingTaskGroup(of: (String, [String])?.self) { group in
            for (index, device) in devices.enumerated() {
                group.addTask {
                    let replica = "r-\(index)"
                    let records = (0..<2).map { _ in Records.visitNote(replica: replica, author: "user\(index)") }
                    let request = Records.batch(replica, records)
                    do {
                        _ = try await storage.push(request, token: device.token, fingerprint: try Records.fingerprint(request),
                                                   at: Fixture.time(plus: index)) { _ in
                            if index % 3 == 2 { throw Refusal() }
                        }
                        return (device.id, records.map(\.id))
                    } catch is Refusal {
                        return nil
                    }
                }
                group.addTask {
                    for round in 0..<3 {
                        try await storage.appendAccess([AccessDraft(at: Fixture.time(plus: round), action: .pull, token: device.token,
                                                                    detail: "round \(round)")])
                    }
                    return nil
                }
            }
            var all: [(String, [String])] = []
            for try await outcome in group { if let outcome { all.append(outcome) } }
            return all
        }
        #expect(pushed.count == 6, "pushes 2 and 5 are refused")
        let verifier = try await verify(storage)
        #expect(verifier.problems.isEmpty, "\(verifier.problems)")
        let entries = try await allEntries(storage)
        #expect(entries.map(\.seq) == Array(1...Int64(entries.count)))
        #expect(entries.count == 6 + 8 * 3)
        let pushes = entries.filter { $0.action == .push }
        #expect(Set(pushes.map(\.tokenID)) == Set(pushed.map(\.0)))
        for (token, ids) in pushed {
            let entry = try #require(pushes.first { $0.tokenID == token })
            #expect(entry.records.map(\.id) == ids && entry.records.allSatisfy { $0.effect == "changed" && $0.scope == "loc-a" })
            #expect(entry.status == 200 && entry.problem == nil && entry.replica != nil && entry.detail.hasPrefix("batch="))
        }

        // A replay answers as before and is logged as one, its records unchanged.
        let device = devices[0]
        let records = [Records.visitNote(replica: "r-0", author: "user0")]
        let request = Records.batch("r-0", records)
        try await storage.accept(request, token: device)
        try await storage.accept(request, token: device)
        let last = try await allEntries(storage).suffix(2)
        #expect(last.map(\.detail) == ["batch=\(request.batch)", "batch=\(request.batch) replay"])
        #expect(last.map { $0.records.map(\.effect) } == [["changed"], ["unchanged"]])
        #expect(try await verify(storage).problems.isEmpty)
    }

    /// Each filter of `veld-server audit`, alone and together, against the same filter
    /// applied to the whole log; the newest `limit` come oldest first.
    static func accessLogQueries(_ make: StorageFactory) async throws {
        let storage = try await make()
        let anna = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
        let olga = try await storage.issueToken(user: "olga", role: .office, scopes: ["*"])
        let ids = (0..<4).map { _ in RecordIDs.make() }
        var drafts: [AccessDraft] = []
        for step in 0..<24 {
            let token = step % 3 == 0 ? olga : anna
            let records = [ids[step % 4], ids[(step + 1) % 4]].map { AccessedRecord(id: $0, type: "visitNote", scope: "loc-a", effect: "read") }
            drafts.append(AccessDraft(at: Fixture.time(plus: step * 3_600), action: step % 2 == 0 ? .pull : .history,
                                      status: step % 5 == 4 ? 404 : 200, problem: step % 5 == 4 ? "not-found" : nil,
                                      token: token.token, replica: step % 3 == 0 ? "r-olga" : "r-anna", records: records))
        }
        try await storage.appendAccess(Array(drafts.prefix(10)))
        try await storage.appendAccess(Array(drafts.dropFirst(10)))
        let all = try await allEntries(storage)
        #expect(all.count == 24)
        let queries: [AccessQuery] = [
            AccessQuery(recordIDs: [ids[0]]),
            AccessQuery(recordIDs: [String(ids[1].prefix(8)), ids[2]]),
            AccessQuery(user: "anna"),
            AccessQuery(device: olga.id),
            AccessQuery(device: "r-anna"),
            AccessQuery(action: .history),
            AccessQuery(since: Fixture.time(plus: 5 * 3_600), until: Fixture.time(plus: 12 * 3_600)),
            AccessQuery(refusedOnly: true),
            AccessQuery(recordIDs: [ids[3]], user: "anna", action: .pull, since: Fixture.time(plus: 3_600)),
            AccessQuery(user: "nobody"),
            AccessQuery(recordIDs: []),
        ]
        for query in queries {
            let expected = all.filter(query.matches)
            #expect(try await storage.accessEntries(query) == expected, "\(query)")
        }
        var newest = AccessQuery(user: "anna")
        newest.limit = 3
        #expect(try await storage.accessEntries(newest) == Array(all.filter { $0.user == "anna" }.suffix(3)))
    }

    /// `audit --prune`: what is older goes, a prune entry says so (and is the only one
    /// naming the admin), and the rest still verifies; a prune with nothing to do writes
    /// nothing; a second prune chains on.
    static func accessLogPrune(_ make: StorageFactory) async throws {
        let storage = try await make()
        let anna = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
        let drafts = (0..<10).map { day in
            AccessDraft(at: Fixture.time(plus: day * 86_400), action: .pull, token: anna.token,
                        records: [AccessedRecord(id: RecordIDs.make(), type: "visitNote", scope: "loc-a", effect: "read")])
        }
        try await storage.appendAccess(drafts)
        let nothing = try await storage.pruneAccessLog(before: Fixture.time(plus: -1), at: Fixture.time(plus: 20 * 86_400), by: "admin:test")
        #expect(nothing.removed == 0 && nothing.entry == nil)
        #expect(try await allEntries(storage).count == 10)

        let first = try await storage.pruneAccessLog(before: Fixture.time(plus: 4 * 86_400), at: Fixture.time(plus: 20 * 86_400), by: "admin:test")
        #expect(first.removed == 4)
        let after = try await allEntries(storage)
        #expect(after.map(\.seq) == Array(5...11))
        let prune = try #require(after.last)
        #expect(prune.action == .prune && prune.user == "admin:test" && prune.tokenID == nil && prune == first.entry)
        #expect(prune.detail.contains("removed=4 through=4"))
        // The removed records are gone from the index too.
        #expect(try await storage.accessEntries(AccessQuery(recordIDs: [drafts[0].records[0].id])).isEmpty)
        #expect(try await verify(storage).problems.isEmpty)

        let second = try await storage.pruneAccessLog(before: Fixture.time(plus: 30 * 86_400), at: Fixture.time(plus: 40 * 86_400), by: "admin:test")
        #expect(second.removed == 7)
        let remaining = try await allEntries(storage)
        #expect(remaining.map(\.seq) == [12] && remaining.first?.previousHash == prune.hash, "\(remaining.map { ($0.seq, $0.detail) })")
        #expect(try await verify(storage).problems.isEmpty)
    }

    /// `audit --client-code`: a client's care plans (by any value their clientCode had) and
    /// those plans' goals; nothing of another client; a code no plan has finds nothing.
    static func clientCodeFindsPlansAndGoals(_ make: StorageFactory) async throws {
        let storage = try await make()
        let olga = try await storage.issueToken(user: "olga", role: .office, scopes: ["*"])
        let plan = Records.carePlan(replica: "r-olga", author: "olga", changes: ["clientCode": .string("ZH-0042")])
        let other = Records.carePlan(replica: "r-olga", author: "olga", changes: ["clientCode": .string("ZH-0043")])
        var goal = RecordState(id: RecordIDs.make(), type: "carePlanGoal", scope: "loc-a")
        goal.edit(["carePlan": .string(plan.id), "domain": .string("wonen"), "goal": .string("zelf koken"), "status": .string("open")],
                  replica: "r-olga", author: "olga", time: Fixture.time)
        var otherGoal = RecordState(id: RecordIDs.make(), type: "carePlanGoal", scope: "loc-a")
        otherGoal.edit(["carePlan": .string(other.id), "domain": .string("wonen"), "goal": .string("ZH-0042 wandelen"), "status": .string("open")],
                       replica: "r-olga", author: "olga", time: Fixture.time)
        let note = Records.visitNote(replica: "r-olga", author: "olga", changes: ["summary": .string("over ZH-0042")])
        // A rapportage under the plan is the client's too.
        var report = RecordState(id: RecordIDs.make(), type: "careReport", scope: "loc-a")
        report.edit(["carePlan": .string(plan.id), "reportedOn": .string("2026-11-20"), "kind": .string("dagrapportage"),
                     "text": .string("Mevrouw sliep goed")], replica: "r-olga", author: "olga", time: Fixture.time)
        try await storage.accept(Records.batch("r-olga", [plan, other, goal, otherGoal, note, report]), token: olga)
        #expect(try await storage.recordIDs(clientCode: "ZH-0042") == [plan.id, goal.id, report.id].sorted())
        #expect(try await storage.carePlans().first { $0.planID == plan.id }?.goalIDs.sorted() == [goal.id, report.id].sorted())
        // Which types go with a plan is the caller's (the module set's) to say, not the storage's.
        let goalsOnly = ["carePlanGoal": "carePlan"]
        #expect(try await storage.recordIDs(clientCode: "ZH-0042", children: goalsOnly) == [plan.id, goal.id].sorted())
        #expect(try await storage.carePlans(children: goalsOnly).first { $0.planID == plan.id }?.goalIDs == [goal.id])
        #expect(try await storage.recordIDs(clientCode: "ZH-0042", children: [:]) == [plan.id])
        #expect(try await storage.recordIDs(clientCode: "ZH-004").isEmpty)
        #expect(try await storage.recordIDs(clientCode: "ZH-0044").isEmpty)
        // The code corrected: the plan is still found by the code it had.
        let corrected = Records.edited(plan, ["clientCode": .string("ZH-0044")], replica: "r-olga", author: "olga")
        try await storage.accept(Records.batch("r-olga", [corrected]), token: olga)
        #expect(try await storage.recordIDs(clientCode: "ZH-0042") == [plan.id, goal.id, report.id].sorted())
        #expect(try await storage.recordIDs(clientCode: "ZH-0044") == [plan.id, goal.id, report.id].sorted())
    }
}

/// How a test reaches the access log's tables by other means than Veld (sqlite3, psql).
struct AccessLogTables: Sendable {
    let log: String
    let index: String
    let recordColumn: String
    /// The table that keeps the head (seq and hash of the newest entry).
    let head: String
    let execute: @Sendable (String) async throws -> Void
}

extension StorageContract {
    /// Every kind of change made outside Veld is found by `--verify`: an entry edited, one
    /// deleted from the middle, the first one deleted, an index row removed (which would
    /// hide an entry from `audit --record`), and a whole entry inserted. Each starts from
    /// an intact log; `restore` undoes the change. An entry in the older list form (as
    /// releases before the compact form wrote them) verifies, is found by its record, and
    /// the chain goes on after it.
    static func tamperingIsDetected(_ storage: any SyncStorage, _ tables: AccessLogTables) async throws {
        let anna = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
        let ids = (0..<6).map { _ in RecordIDs.make() }
        func draft(_ index: Int) -> AccessDraft {
            AccessDraft(at: Fixture.time(plus: index), action: .pull, token: anna.token,
                        records: [AccessedRecord(id: ids[index], type: "visitNote", scope: "loc-a", effect: "read"),
                                  AccessedRecord(id: ids[index], type: "visitNote", scope: "loc-a", effect: "refused")])
        }
        try await storage.appendAccess((0..<5).map(draft))
        // Entry 5 rewritten as an older release wrote it: the list form, hashed as such.
        var older = try #require(try await allEntries(storage).first { $0.seq == 5 })
        #expect(older.recordsForm == .compact)
        older.recordsForm = .list
        older.hash = AccessChain.hash(of: older)
        let list = AccessEntry.encode(records: older.records, form: .list)
        try await tables.execute("UPDATE \(tables.log) SET records = '\(list)', hash = '\(older.hash)' WHERE seq = 5")
        try await tables.execute("UPDATE \(tables.head) SET hash = '\(older.hash)' WHERE id = 1")
        try await storage.appendAccess([draft(5)])
        #expect(try await verify(storage).problems.isEmpty)
        let found = try await storage.accessEntries(AccessQuery(recordIDs: [ids[4]]))
        #expect(found.map(\.seq) == [5] && found.first?.recordsForm == .list && found.first?.records == older.records)
        let newest = try await storage.accessEntries(AccessQuery(recordIDs: [ids[5]]))
        #expect(newest.map(\.seq) == [6] && newest.first?.recordsForm == .compact && newest.first?.previousHash == older.hash)
        #expect(newest.first?.records.map(\.effect) == ["read", "refused"])

        let compact = #"{"ids":["\#(ids[1])","\#(ids[1])"],"kindOf":[0,1],"kinds":[{"effect":"read","scope":"loc-a","type":"visitNote"},{"effect":"refused","scope":"loc-a","type":"visitNote"}]}"#
        let cases: [(change: String, restore: String, finds: String)] = [
            ("UPDATE \(tables.log) SET \"user\" = 'bram' WHERE seq = 3", "UPDATE \(tables.log) SET \"user\" = 'anna' WHERE seq = 3",
             "entry 3 was changed"),
            ("UPDATE \(tables.log) SET records = '[]' WHERE seq = 2",
             "UPDATE \(tables.log) SET records = '\(compact)' WHERE seq = 2",
             "entry 2 was changed"),
            // The same records in the other form: the hash covers the form.
            ("UPDATE \(tables.log) SET records = '\(AccessEntry.encode(records: older.records, form: .compact))' WHERE seq = 5",
             "UPDATE \(tables.log) SET records = '\(list)' WHERE seq = 5",
             "entry 5 was changed"),

            ("DELETE FROM \(tables.index) WHERE seq = 4", "INSERT INTO \(tables.index) (\(tables.recordColumn), seq) VALUES ('\(ids[3])', 4)",
             "record index of entry 4"),
        ]
        for (change, restore, finds) in cases {
            try await tables.execute(change)
            let problems = try await verify(storage).problems
            #expect(problems.contains { $0.contains(finds) }, "\(change): \(problems)")
            try await tables.execute(restore)
            #expect(try await verify(storage).problems.isEmpty, "after restoring \(change)")
        }
        // Compact records whose parts do not fit together are not read as anything.
        try await tables.execute("UPDATE \(tables.log) SET records = '{\"ids\":[\"\(ids[1])\"],\"kindOf\":[3],\"kinds\":[]}' WHERE seq = 2")
        await #expect { _ = try await verify(storage) } throws: { "\($0)".contains("do not fit together") }
        try await tables.execute("UPDATE \(tables.log) SET records = '\(compact)' WHERE seq = 2")
        #expect(try await verify(storage).problems.isEmpty)
        // Deletions cannot be undone here: one after another.
        try await tables.execute("DELETE FROM \(tables.log) WHERE seq = 6")
        #expect(try await verify(storage).problems.contains { $0.contains("newest entries (6…6) are missing") })
        try await tables.execute("DELETE FROM \(tables.log) WHERE seq = 3")
        #expect(try await verify(storage).problems.contains { $0.contains("entries 3…3 are missing") })
        try await tables.execute("DELETE FROM \(tables.log) WHERE seq <= 3")
        #expect(try await verify(storage).problems.contains { $0.contains("starts at entry 4") })
    }
}

// MARK: Erasure (AVG art. 17)

extension StorageContract {
    /// `erase`: the client's plan and its goal become tombstones at new positions, their
    /// history goes, reads answer as for a record that never was, a pull from before
    /// names them as erased (to readers of their scope only), a push of them is refused
    /// with 410 and stores nothing, and the access log says who erased what and why;
    /// everything else stays as it was.
    static func erasureLeavesTombstonesOnly(_ make: StorageFactory) async throws {
        let storage = try await make()
        let olga = try await storage.issueToken(user: "olga", role: .office, scopes: ["*"])
        let anna = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
        let bram = try await storage.issueToken(user: "bram", role: .carer, scopes: ["loc-b"])
        let plan = Records.carePlan(replica: "r-olga", author: "olga", changes: ["clientCode": .string("ZH-0042")])
        let other = Records.carePlan(replica: "r-olga", author: "olga", changes: ["clientCode": .string("ZH-0043")])
        var goal = RecordState(id: RecordIDs.make(), type: "carePlanGoal", scope: "loc-a")
        goal.edit(["carePlan": .string(plan.id), "domain": .string("wonen"), "goal": .string("zelf koken"), "status": .string("open")],
                  replica: "r-olga", author: "olga", time: Fixture.time)
        let note = Records.visitNote(replica: "r-olga", author: "olga")
        let elsewhere = Records.visitNote(scope: "loc-b", replica: "r-olga", author: "olga")
        try await storage.accept(Records.batch("r-olga", [plan, other, goal, note, elsewhere]), token: olga)
        let edited = Records.edited(plan, ["agreements": .string("Dochter belt")], replica: "r-olga", author: "olga")
        try await storage.accept(Records.batch("r-olga", [edited]), token: olga, at: Fixture.time(plus: 60))
        let before = try await storage.headPosition()
        #expect(try await storage.carePlans().map(\.planID).sorted() == [plan.id, other.id].sorted())
        #expect(try await storage.carePlans().first { $0.planID == plan.id }?.goalIDs == [goal.id])
        #expect(try await storage.carePlans().first { $0.planID == plan.id }?.lastChange == Fixture.time(plus: 60))

        let ids = try await storage.recordIDs(clientCode: "ZH-0042")
        let entry = Erasure.entry(at: Fixture.time(plus: 120), by: "admin:test", reason: "verzoek \"cliënt\"\nbrief", clientCode: "ZH-0042")
        let result = try await storage.erase(recordIDs: ids + [RecordIDs.make()], at: Fixture.time(plus: 120), entry: entry)
        #expect(result.records.map(\.id) == [plan.id, goal.id].sorted() && result.historyRows == 3)
        for id in [plan.id, goal.id] {
            #expect(try await storage.record(id: id) == nil)
            #expect(try await storage.history(recordID: id).isEmpty)
            #expect(try await storage.state(recordID: id, asOf: Fixture.time(plus: 1_000)) == nil)
        }
        #expect(try await storage.recordIDs(clientCode: "ZH-0042").isEmpty)
        #expect(try await storage.carePlans().map(\.planID) == [other.id])
        #expect(try await storage.headPosition() == before + 2)

        // Pulls: the tombstones after the cursor, to their scope's readers only.
        let fromStart = try await storage.pullEncoded(scopes: ScopeFilter(["loc-a"]), after: 0, limit: 100, token: anna.token, at: Fixture.time)
        #expect(Set(fromStart.erased) == [plan.id, goal.id])
        #expect(Set(try fromStart.states.map { try StableJSON.decode(RecordState.self, from: Data($0)).id }) == [other.id, note.id])
        let sinceBefore = try await storage.pullEncoded(scopes: ScopeFilter(["loc-a"]), after: before, limit: 100, token: anna.token, at: Fixture.time)
        #expect(Set(sinceBefore.erased) == [plan.id, goal.id] && sinceBefore.states.isEmpty)
        let paged = try await storage.pullEncoded(scopes: ScopeFilter(["loc-a"]), after: before, limit: 1, token: anna.token, at: Fixture.time)
        #expect(paged.erased.count == 1 && paged.more)
        let forB = try await storage.pullEncoded(scopes: ScopeFilter(["loc-b"]), after: 0, limit: 100, token: bram.token, at: Fixture.time)
        #expect(forB.erased.isEmpty && forB.states.count == 1)

        // A device that still holds the plan pushes it: refused, nothing stored.
        let vera = try await storage.issueToken(user: "vera", role: .visitor, scopes: ["loc-a"])
        let snapshot = try await storage.snapshot()
        let stale = Records.edited(edited, ["agreements": .string("Zoon komt")], replica: "r-olga", author: "olga", at: 200)
        do {
            try await storage.accept(Records.batch("r-olga", [stale, Records.visitNote(replica: "r-olga", author: "olga")]), token: olga)
            Issue.record("a push of an erased record was accepted")
        } catch let problem as Problem {
            #expect(problem.status == 410 && problem.type == "urn:veld:problem:record-erased")
            #expect(problem.records?.map(\.id) == [plan.id])
        }
        #expect(try await storage.snapshot() == snapshot)
        // A goal made offline for the erased plan: named (not its plan), so the device drops it.
        var orphan = RecordState(id: RecordIDs.make(), type: "carePlanGoal", scope: "loc-a")
        orphan.edit(["carePlan": .string(plan.id), "domain": .string("wonen"), "goal": .string("wandelen"), "status": .string("open")],
                    replica: "r-olga", author: "olga", time: Fixture.time)
        do {
            try await storage.accept(Records.batch("r-olga", [orphan]), token: olga)
            Issue.record("a goal of an erased plan was accepted")
        } catch let problem as Problem {
            #expect(problem.status == 410 && problem.records?.map(\.id) == [orphan.id] && problem.records?.first?.field == "carePlan")
        }
        #expect(try await storage.snapshot() == snapshot)
        // A token that could not read the plan learns nothing of it, erased or not: from
        // another scope (bram) or a role that may not read plans (vera), its id is "taken".
        for (token, replica) in [(bram, "r-bram"), (vera, "r-vera")] {
            let probe = Records.visitNote(id: plan.id, scope: token.token.scopes[0], replica: replica, author: token.token.user)
            do {
                try await storage.accept(Records.batch(replica, [probe]), token: token)
                Issue.record("a push over an erased record's id was accepted")
            } catch let problem as Problem {
                #expect(problem.status == 422 && problem.type == "urn:veld:problem:invalid-record" && problem.detail.contains("its id is taken"),
                        "\(problem.detail)")
                #expect(!problem.detail.contains("erased") && !problem.detail.contains("carePlan"))
            }
        }
        #expect(try await storage.snapshot() == snapshot)

        // The access log: one erase entry, naming the records, with the reason on one line.
        let erasures = try await storage.accessEntries(AccessQuery(action: .erase))
        #expect(erasures.count == 1 && erasures.first == result.entry)
        let logged = try #require(erasures.first)
        #expect(logged.user == "admin:test" && logged.tokenID == nil)
        #expect(logged.records.map(\.id) == [plan.id, goal.id].sorted() && logged.records.allSatisfy { $0.effect == "erased" })
        #expect(logged.detail == "client=ZH-0042 reason=\"verzoek 'cliënt' brief\" records=2 history=3")
        #expect(try await storage.accessEntries(AccessQuery(recordIDs: [goal.id])).map(\.action).contains(.erase))
        #expect(try await verify(storage).problems.isEmpty)

        // Again: nothing left to erase, nothing logged.
        let again = try await storage.erase(recordIDs: ids, at: Fixture.time(plus: 300), entry: entry)
        #expect(again.records.isEmpty && again.entry == nil)
        #expect(try await storage.accessEntries(AccessQuery(action: .erase)).count == 1)
    }
}

// MARK: Wipe and receipts

extension StorageContract {
    /// `token revoke --wipe` and receipts: the token is revoked with the wipe asked for
    /// (once: a second request keeps the first date), a receipt is recorded once with its
    /// purge entry, a wipe receipt marks the token wiped, and the tokens' other fields stay.
    static func receiptsAreRecordedOnce(_ make: StorageFactory) async throws {
        let storage = try await make()
        let anna = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a", "loc-b"])
        let bram = try await storage.issueToken(user: "bram", role: .carer, scopes: ["loc-a"])
        #expect(try await !storage.requestWipe(id: "tok_00000000", at: Fixture.time))
        let scopes = PurgeReceipt(kind: .scopes, scopes: ["loc-b"], records: 4, unsent: 1)
        #expect(try await storage.recordReceipt(scopes, token: anna.token, at: Fixture.time))
        #expect(try await !storage.recordReceipt(scopes, token: anna.token, at: Fixture.time(plus: 5)))
        #expect(try await storage.requestWipe(id: bram.id, at: Fixture.time(plus: 10)))
        #expect(try await storage.requestWipe(id: bram.id, at: Fixture.time(plus: 20)))
        var wiping = try #require(try await storage.tokens().first { $0.id == bram.id })
        #expect(wiping.revokedAt == Fixture.time(plus: 10) && wiping.wipeRequestedAt == Fixture.time(plus: 10) && wiping.wipedAt == nil)
        #expect(wiping.state(at: Fixture.time(plus: 30)) == "wipe pending")
        let wipe = PurgeReceipt(kind: .wipe, records: 7, unsent: 2)
        #expect(try await storage.recordReceipt(wipe, token: wiping, at: Fixture.time(plus: 40)))
        wiping = try #require(try await storage.tokens().first { $0.id == bram.id })
        #expect(wiping.wipedAt == Fixture.time(plus: 40) && wiping.user == "bram" && wiping.scopes == ["loc-a"])
        let stored = try await storage.receipts()
        #expect(stored.map(\.receipt) == [scopes, wipe] && stored.map(\.tokenID) == [anna.id, bram.id])
        #expect(stored.map(\.receivedAt) == [Fixture.time, Fixture.time(plus: 40)])
        let purges = try await storage.accessEntries(AccessQuery(action: .purge))
        #expect(purges.map(\.tokenID) == [anna.id, bram.id])
        #expect(purges.first?.detail == "scopes receipt=\(scopes.id) records=4 unsent=1 scopes=loc-b")
        #expect(try await verify(storage).problems.isEmpty)
        #expect(try await storage.tokens().first { $0.id == anna.id }?.wipeRequestedAt == nil)
    }

    /// Generated: receipts of several tokens, a random subset confirmed (some twice, by
    /// another person): each token's confirmed list is exactly its own confirmed receipts,
    /// latest first, and a second confirmation keeps the first.
    static func receiptConfirmationsReachOnlyTheirToken(_ make: StorageFactory) async throws {
        let storage = try await make()
        var tokens: [DeviceToken] = []
        for user in ["anna", "bram", "carla"] {
            tokens.append(try await storage.issueToken(user: user, role: .carer, scopes: ["loc-a", "loc-b"]).token)
        }
        var generator = SeededGenerator(seed: 20261203)
        var confirmed: [String: [String]] = [:]  // token → ids, in confirmation order
        var by: [String: String] = [:]
        for step in 0..<40 {
            let token = tokens[Int.random(in: 0..<tokens.count, using: &generator)]
            let receipt = PurgeReceipt(kind: .scopes, scopes: ["loc-b"], records: 3, unsent: Int.random(in: 0...3, using: &generator))
            #expect(try await storage.recordReceipt(receipt, token: token, at: Fixture.time(plus: step)))
            if Bool.random(using: &generator) {
                let who = ["office-1", "office-2"][step % 2]
                let stored = try #require(try await storage.confirmReceipt(id: receipt.id, by: who, at: Fixture.time(plus: 1_000 + step)))
                #expect(stored.tokenID == token.id && stored.confirmedBy == who && stored.confirmedAt == Fixture.time(plus: 1_000 + step))
                confirmed[token.id, default: []].append(receipt.id)
                by[receipt.id] = who
                // Again, later, by someone else: the first confirmation stands.
                let again = try #require(try await storage.confirmReceipt(id: receipt.id, by: "office-3", at: Fixture.time(plus: 5_000)))
                #expect(again.confirmedBy == who && again.confirmedAt == Fixture.time(plus: 1_000 + step))
            }
        }
        #expect(try await storage.confirmReceipt(id: RecordIDs.make(), by: "office-1", at: Fixture.time) == nil)
        for token in tokens {
            let listed = try await storage.confirmedReceipts(token: token.id, limit: 100)
            #expect(listed == Array((confirmed[token.id] ?? []).reversed()), "\(token.user)")
            #expect(try await storage.confirmedReceipts(token: token.id, limit: 2) == Array(listed.prefix(2)))
        }
        for stored in try await storage.receipts() {
            #expect(stored.confirmedBy == by[stored.receipt.id])
        }
    }
}
