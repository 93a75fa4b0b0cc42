import Foundation
import PropertyBased
import Testing
import VeldTestSupport
import VeldProtocol
import VeldServer

/// What every `SyncStorage` backend must do, independent of the backend: each check takes
/// a factory of fresh, migrated, empty stores. SQLite runs it in `SQLiteStorageTests`; a
/// PostgreSQL store runs the very same cases with its own factory:
///
/// ```swift
/// @Test(arguments: StorageContract.allCases)
/// func postgres(_ check: StorageContract) async throws { try await check.run(makePostgresStore) }
/// ```
///
/// Positions are compared only by order, never by value, except where the contract says
/// that a refused batch consumes no position.
enum StorageContract: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case migrateIsRepeatable
    case refusedBatchStoresNothing
    case replayIsIdempotent
    case changeLogOrder
    case pagingWalksEveryRecordOnce
    case scopeFiltering
    case replicaBinding
    case tokens
    case tokenRotationAndScopes
    case generatedBatchesConverge
    case historyKeepsEveryAcceptedChange
    case changedFieldsAfterACursor
    case stateAsOfADate
    case deviceCursors
    case concurrentPushesAnswerAlone
    case honestHistoriesAreAccepted
    case generatedAttacksStoreNothing
    case pullPagesAreBoundedByBytes
    case accessLogChainsConcurrentWrites
    case accessLogQueries
    case accessLogPrune
    case clientCodeFindsPlansAndGoals
    case erasureLeavesTombstonesOnly
    case receiptsAreRecordedOnce
    case receiptConfirmationsReachOnlyTheirToken
    case modulesAreAddedOneAtATime
    case anOlderReleasesBuiltInIsUpgraded
    case snapshotsAreTheHistoryAtT
    case snapshotsNeverChange
    case deviceHealthIsKept
    case epochsAndProofs

    var testDescription: String { rawValue }

    func run(_ make: StorageFactory) async throws {
        switch self {
        case .migrateIsRepeatable: try await Self.migrateIsRepeatable(make)
        case .refusedBatchStoresNothing: try await Self.refusedBatchStoresNothing(make)
        case .replayIsIdempotent: try await Self.replayIsIdempotent(make)
        case .changeLogOrder: try await Self.changeLogOrder(make)
        case .pagingWalksEveryRecordOnce: try await Self.pagingWalksEveryRecordOnce(make)
        case .scopeFiltering: try await Self.scopeFiltering(make)
        case .replicaBinding: try await Self.replicaBinding(make)
        case .tokens: try await Self.tokens(make)
        case .tokenRotationAndScopes: try await Self.tokenRotationAndScopes(make)
        case .generatedBatchesConverge: await Self.generatedBatchesConverge(make)
        case .historyKeepsEveryAcceptedChange: try await Self.historyKeepsEveryAcceptedChange(make)
        case .changedFieldsAfterACursor: try await Self.changedFieldsAfterACursor(make)
        case .stateAsOfADate: try await Self.stateAsOfADate(make)
        case .deviceCursors: try await Self.deviceCursors(make)
        case .concurrentPushesAnswerAlone: try await Self.concurrentPushesAnswerAlone(make)
        case .honestHistoriesAreAccepted: await Self.honestHistoriesAreAccepted(make)
        case .generatedAttacksStoreNothing: await Self.generatedAttacksStoreNothing(make)
        case .pullPagesAreBoundedByBytes: try await Self.pullPagesAreBoundedByBytes(make)
        case .accessLogChainsConcurrentWrites: try await Self.accessLogChainsConcurrentWrites(make)
        case .accessLogQueries: try await Self.accessLogQueries(make)
        case .accessLogPrune: try await Self.accessLogPrune(make)
        case .clientCodeFindsPlansAndGoals: try await Self.clientCodeFindsPlansAndGoals(make)
        case .erasureLeavesTombstonesOnly: try await Self.erasureLeavesTombstonesOnly(make)
        case .receiptsAreRecordedOnce: try await Self.receiptsAreRecordedOnce(make)
        case .receiptConfirmationsReachOnlyTheirToken: try await Self.receiptConfirmationsReachOnlyTheirToken(make)
        case .modulesAreAddedOneAtATime: try await Self.modulesAreAddedOneAtATime(make)
        case .anOlderReleasesBuiltInIsUpgraded: try await Self.anOlderReleasesBuiltInIsUpgraded(make)
        case .snapshotsAreTheHistoryAtT: await Self.snapshotsAreTheHistoryAtT(make)
        case .snapshotsNeverChange: try await Self.snapshotsNeverChange(make)
        case .deviceHealthIsKept: try await Self.deviceHealthIsKept(make)
        case .epochsAndProofs: try await Self.epochsAndProofs(make)
        }
    }

    // MARK: Modules

    /// A database that an older release served holds that release's `veld-core` (and an
    /// organisation's module beside it): this release's built-in is stored as its next
    /// version, kept beside the old one, the organisation's module stays in force, and
    /// what the old version accepted is still valid.
    static func anOlderReleasesBuiltInIsUpgraded(_ make: StorageFactory) async throws {
        let storage = try await make()
        let old = try ModuleDocument.parse(try ExampleModules.releasedVeldCore(2))
        try await storage.addModule(StoredModule(name: old.module, version: old.version,
                                                 document: String(decoding: try StableJSON.encode(old), as: UTF8.self),
                                                 addedAt: Fixture.time, addedBy: "release 0.2")) { _ in }
        _ = try await ModuleSets.add(try ExampleModules.klachten(), to: storage, by: "admin:a", at: Fixture.time)
        let before = try await ModuleSets.published(storage).set
        #expect(before.modules.map(\.version) == [2, 1])
        #expect(before.named("melding") == nil)
        try await ModuleSets.installBuiltIns(storage, at: Fixture.time)
        let stored = try await storage.storedModules()
        #expect(stored.filter { $0.name == "veld-core" }.map(\.version).sorted() == [2, Modules.builtIn[0].version])
        let after = try await ModuleSets.published(storage).set
        #expect(after.modules.map(\.module) == ["veld-core", "klachten"])
        #expect(after.modules.map(\.version) == [Modules.builtIn[0].version, 1])
        #expect(after.named("melding") != nil && after.named("klacht") != nil)
        #expect(after.version == before.version - 2 + Modules.builtIn[0].version)
        // A care plan as release 0.2 made them (financing, approvedBy) is valid under the new set.
        var plan = RecordState(id: RecordIDs.make(), type: "carePlan", scope: "loc-zonnehof")
        plan.edit(["clientCode": .string("ZH-0042"), "financing": .string("pgb"), "careStart": .string("2026-10-01"),
                   "status": .string("vastgesteld"), "approvedBy": .string("Directie")],
                  replica: "r-office", author: "office", time: Fixture.time)
        #expect(before.validate(plan) == [] && after.validate(plan) == [])
        // Installing again changes nothing.
        try await ModuleSets.installBuiltIns(storage, at: Fixture.time)
        #expect(try await storage.storedModules().count == stored.count)
    }

    /// A module change is checked against what is stored in its own transaction: a refused
    /// one stores nothing, and of concurrent changes that clash (two modules defining one
    /// type, two next versions of one module) exactly one is stored.
    static func modulesAreAddedOneAtATime(_ make: StorageFactory) async throws {
        let storage = try await make()
        #expect(try await storage.storedModules().isEmpty)
        #expect(try await ModuleSets.published(storage).set == SchemaSet.builtIn)
        // The release's built-ins go into the database once; the set is unchanged by it.
        try await ModuleSets.installBuiltIns(storage, at: Fixture.time)
        try await ModuleSets.installBuiltIns(storage, at: Fixture.time)
        #expect(try await storage.storedModules().map(\.name) == Modules.builtIn.map(\.module))
        #expect(try await ModuleSets.published(storage).set == SchemaSet.builtIn)
        let klachten = try ModuleDocument.parse(try ExampleModules.klachten())
        await #expect(throws: ModuleProblems.self) {
            var broken = klachten
            broken.types[0].fields[0].kind = "number"
            _ = try await ModuleSets.add(try StableJSON.encode(broken), to: storage, by: "admin:a", at: Fixture.time)
        }
        #expect(try await storage.storedModules().filter { $0.name != "veld-core" }.isEmpty)
        // Two modules that define the same type, at once.
        var twin = klachten
        twin.module = "klachten-bis"
        twin.types[0].noun = "klacht-bis"
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for document in [klachten, twin] {
                group.addTask {
                    guard let data = try? StableJSON.encode(document) else { return false }
                    return (try? await ModuleSets.add(data, to: storage, by: "admin:a", at: Fixture.time)) != nil
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 1)
        let stored = try await storage.storedModules().filter { $0.name != "veld-core" }
        #expect(stored.count == 1 && stored[0].version == 1)
        #expect(try await ModuleSets.published(storage).set.named("klacht") != nil)
        // The same document again: in force, nothing stored.
        guard case .alreadyInForce = try await ModuleSets.add(try StableJSON.encode(try ModuleDocument.parse(Data(stored[0].document.utf8))),
                                                             to: storage, by: "admin:b", at: Fixture.time) else {
            Issue.record("the same module was stored twice")
            return
        }
        // Two next versions at once: one is stored, the other no longer follows the version in force.
        let base = try StableJSON.decode(ModuleDocument.self, from: Data(stored[0].document.utf8))
        let nexts = (0..<2).map { index -> ModuleDocument in
            var next = base
            next.version = 2
            next.types[0].fields.append(ModuleDocument.Field(name: "extra\(index)", kind: "text", summary: "added by \(index)"))
            return next
        }
        let added = await withTaskGroup(of: Bool.self) { group in
            for next in nexts {
                group.addTask {
                    guard let data = try? StableJSON.encode(next) else { return false }
                    return (try? await ModuleSets.add(data, to: storage, by: "admin:c", at: Fixture.time)) != nil
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(added.filter { $0 }.count == 1)
        #expect(try await storage.storedModules().filter { $0.name != "veld-core" }.map(\.version) == [1, 2])
        let inForce = try #require(try await ModuleSets.published(storage).set.named("klacht"))
        #expect([inForce.field("extra0"), inForce.field("extra1")].compactMap { $0 }.count == 1)
    }

    // MARK: Schema

    static func migrateIsRepeatable(_ make: StorageFactory) async throws {
        let storage = try await make()
        let token = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
        let note = Records.visitNote(replica: "r-anna")
        try await storage.accept(Records.batch("r-anna", [note]), token: token)
        try await storage.migrate()
        #expect(try await storage.record(id: note.id) == note)
        #expect(try await storage.tokens().map(\.id) == [token.id])
    }

    // MARK: Atomic batches

    /// A batch that `validate` refuses leaves no trace: no record, no position, no
    /// remembered batch id, no token binding.
    /// Many devices pushing at once (the SQLite store commits them in groups): every push
    /// gets its own answer, a refused one stores nothing and does not disturb the others,
    /// and every acknowledged record is stored at its own position, none skipped.
    static func concurrentPushesAnswerAlone(_ make: StorageFactory) async throws {
        let storage = try await make()
        var devices: [IssuedToken] = []
        for index in 0..<12 { devices.append(try await storage.issueToken(user: "user\(index)", role: .carer, scopes: ["loc-a"])) }
        let outcomes = try await withThrowingTaskGroup(of: (Int, [String], PushResponse?).self) { group in
            for (index, device) in devices.enumerated() {
                group.addTask {
                    let replica = "r-\(index)"
                    let records = (0..<3).map { _ in Records.visitNote(replica: replica, author: "user\(index)") }
                    let request = Records.batch(replica, records)
                    do {
                        let response = try await storage.push(request, token: device.token, fingerprint: try Records.fingerprint(request),
                                                              at: Fixture.time(plus: index)) { _ in
                            if index % 4 == 3 { throw Refusal() }
                        }
                        return (index, records.map(\.id), response)
                    } catch is Refusal {
                        return (index, records.map(\.id), nil)
                    }
                }
            }
            var all: [(Int, [String], PushResponse?)] = []
            for try await outcome in group { all.append(outcome) }
            return all
        }
        #expect(outcomes.count == 12)
        let refused = outcomes.filter { $0.2 == nil }
        #expect(refused.map(\.0).sorted() == [3, 7, 11])
        let snapshot = try await storage.snapshot()
        let stored = Set(snapshot.rows.map(\.state.id))
        for (_, ids, response) in outcomes {
            if let response {
                #expect(response.results.map(\.id) == ids && response.results.allSatisfy(\.changed))
                #expect(Set(ids).isSubset(of: stored))
            } else {
                #expect(Set(ids).isDisjoint(with: stored))
            }
        }
        #expect(snapshot.rows.map(\.position) == Array(1...Int64(27)), "27 acknowledged records at positions 1…27")
    }

    static func refusedBatchStoresNothing(_ make: StorageFactory) async throws {
        let storage = try await make()
        let anna = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
        let bram = try await storage.issueToken(user: "bram", role: .carer, scopes: ["loc-a"])
        let first = Records.visitNote(replica: "r-anna")
        let accepted = try await storage.accept(Records.batch("r-anna", [first]), token: anna)
        let firstPosition = try #require(accepted.results.first?.position)
        let before = try await storage.snapshot()

        // Bram (not yet bound to a replica) sends a new record and a change to the stored one.
        let fresh = Records.visitNote(replica: "r-bram", author: "bram")
        let change = Records.edited(first, ["summary": .string("Rondgang tuin")], replica: "r-bram", author: "bram")
        let refused = Records.batch("r-bram", [fresh, change])
        let knownIDs = [first.id]
        await #expect(throws: Refusal.self) {
            try await storage.push(refused, token: bram.token, fingerprint: try Records.fingerprint(refused), at: Fixture.time(plus: 5)) { stored in
                // The validator sees the stored states of the batch's records, and only those.
                #expect(stored.keys.sorted() == knownIDs)
                #expect(stored[first.id] == first)
                throw Refusal()
            }
        }
        let after = try await storage.snapshot()
        #expect(after == before, "a refused batch changed the store")
        #expect(try await storage.record(id: fresh.id) == nil)
        #expect(try await storage.record(id: first.id) == first)
        let bramAfter = try #require(after.tokens.first { $0.id == bram.id })
        #expect(bramAfter.replica == nil, "a refused batch bound the token")
        #expect(bramAfter.lastPushAt == nil)

        // The batch id was not remembered and no position was consumed: the same batch,
        // now accepted, is applied in full, right after the last position.
        let replay = try await storage.accept(refused, token: bram, at: Fixture.time(plus: 6))
        #expect(replay.batch == refused.batch)
        #expect(replay.results.map(\.id) == [fresh.id, first.id])
        #expect(replay.results.allSatisfy { $0.changed })
        let positions = replay.results.compactMap(\.position)
        #expect(positions == [firstPosition + 1, firstPosition + 2],
                "a refused batch consumed change-log positions")
        #expect(try await storage.record(id: change.id) == change)
        #expect(try await storage.tokens().first { $0.id == bram.id }?.replica == "r-bram")
    }

    // MARK: Idempotent replay

    static func replayIsIdempotent(_ make: StorageFactory) async throws {
        let storage = try await make()
        let anna = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
        let notes = (0..<3).map { _ in Records.visitNote(replica: "r-anna") }
        let request = Records.batch("r-anna", notes)
        let fingerprint = try Records.fingerprint(request)
        let first = try await storage.push(request, token: anna.token, fingerprint: fingerprint, at: Fixture.time) { _ in }
        #expect(first.results.count == 3 && first.results.allSatisfy { $0.changed })
        let before = try await storage.snapshot()

        // Same id, same fingerprint: the same answer, nothing new in the change log.
        let again = try await storage.push(request, token: anna.token, fingerprint: fingerprint, at: Fixture.time(plus: 1)) { _ in }
        #expect(again == first)
        let after = try await storage.snapshot()
        #expect(after.rows == before.rows)
        let tail = try await storage.pull(scopes: .all, after: before.lastPosition, limit: 10, token: nil, at: Fixture.time)
        #expect(tail.records.isEmpty && !tail.more && tail.lastPosition == before.lastPosition)

        // Same id, other content: refused, and nothing of the other content is stored.
        let other = Records.batch("r-anna", [Records.visitNote(replica: "r-anna")], id: request.batch)
        let reused = await #expect(throws: Problem.self) {
            try await storage.push(other, token: anna.token, fingerprint: try Records.fingerprint(other), at: Fixture.time(plus: 2)) { _ in }
        }
        #expect(reused?.type == "urn:veld:problem:batch-reused")
        #expect(try await storage.record(id: other.records[0].id) == nil)
        #expect(try await storage.snapshot().rows == before.rows)

        // A batch id belongs to the device (the replica, bound to one active token) that
        // pushed it: another token can neither replay anna's answer nor reuse her batch id.
        let bram = try await storage.issueToken(user: "bram", role: .carer, scopes: ["loc-a"])
        let beforeBram = try await storage.snapshot()
        let borrowed = await #expect(throws: Problem.self) {
            try await storage.push(request, token: bram.token, fingerprint: fingerprint, at: Fixture.time(plus: 3)) { _ in }
        }
        #expect(borrowed?.type == "urn:veld:problem:replica-mismatch")
        let own = Records.batch("r-bram", [Records.visitNote(replica: "r-bram", author: "bram")], id: request.batch)
        let reusedByBram = await #expect(throws: Problem.self) {
            try await storage.push(own, token: bram.token, fingerprint: try Records.fingerprint(own), at: Fixture.time(plus: 3)) { _ in }
        }
        #expect(reusedByBram?.type == "urn:veld:problem:batch-reused")
        #expect(try await storage.snapshot() == beforeBram)
    }

    // MARK: Change log

    static func changeLogOrder(_ make: StorageFactory) async throws {
        let storage = try await make()
        let anna = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
        let a = Records.visitNote(replica: "r-anna")
        let b = Records.visitNote(replica: "r-anna")
        let c = Records.visitNote(replica: "r-anna")

        // Within a batch, positions follow the batch order; across batches, commit order.
        let one = try await storage.accept(Records.batch("r-anna", [a, b]), token: anna)
        let two = try await storage.accept(Records.batch("r-anna", [c]), token: anna)
        let pa = try #require(one.results[0].position)
        let pb = try #require(one.results[1].position)
        let pc = try #require(two.results[0].position)
        #expect(pa < pb && pb < pc)

        // A changes again: it moves to a new, later position, and appears once.
        let a2 = Records.edited(a, ["summary": .string("Tweede versie")], replica: "r-anna")
        let three = try await storage.accept(Records.batch("r-anna", [a2]), token: anna)
        let pa2 = try #require(three.results[0].position)
        #expect(three.results[0].changed && pa2 > pc)

        // Nothing new about B and A: no change, no position.
        let four = try await storage.accept(Records.batch("r-anna", [b, a2]), token: anna)
        #expect(four.results.map(\.changed) == [false, false])
        #expect(four.results.allSatisfy { $0.position == nil })

        // Two edits of a record since the last push travel as one state and one position.
        let c2 = Records.edited(c, ["summary": .string("Derde versie")], replica: "r-anna")
        let c3 = Records.edited(c2, ["observations": .string("Rustig")], replica: "r-anna")
        let five = try await storage.accept(Records.batch("r-anna", [c3]), token: anna)
        #expect(five.results.map(\.id) == [c.id])
        let pc3 = try #require(five.results.compactMap(\.position).max())
        #expect(pc3 > pa2)

        let log = try await storage.everything(pageSize: 1)
        #expect(log.records.map(\.id) == [b.id, a.id, c.id])
        #expect(log.positions == [pb, pa2, pc3])
        #expect(log.records == [b, a2, c3])
        #expect(zip(log.positions, log.positions.dropFirst()).allSatisfy { $0 < $1 })
    }

    // MARK: Paging

    static func pagingWalksEveryRecordOnce(_ make: StorageFactory) async throws {
        let storage = try await make()
        let anna = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
        var positions: [String: Int64] = [:]
        var pushed: [String] = []
        for size in [3, 1, 3] {
            let notes = (0..<size).map { _ in Records.visitNote(replica: "r-anna") }
            let response = try await storage.accept(Records.batch("r-anna", notes), token: anna)
            for result in response.results { positions[result.id] = result.position }
            pushed += notes.map(\.id)
        }

        for limit in [1, 2, 3, 6, 7, 8, 100] {
            var cursor: Int64 = 0
            var seen: [String] = []
            var pages = 0
            while true {
                let page = try await storage.pull(scopes: .all, after: cursor, limit: limit, token: nil, at: Fixture.time)
                pages += 1
                #expect(page.records.count <= limit)
                if let last = page.records.last {
                    #expect(page.lastPosition == positions[last.id], "lastPosition is the position of the page's last record")
                    #expect(page.lastPosition > cursor)
                } else {
                    #expect(page.lastPosition == cursor, "an empty page keeps the cursor")
                }
                seen += page.records.map(\.id)
                cursor = page.lastPosition
                if !page.more { break }
                #expect(page.records.count == limit, "a page that says more is full")
                try #require(pages <= 20, "paging does not end (limit \(limit))")
            }
            #expect(seen == pushed, "limit \(limit)")
            #expect(pages == max(1, (pushed.count + limit - 1) / limit), "limit \(limit)")
            let end = try await storage.pull(scopes: .all, after: cursor, limit: limit, token: nil, at: Fixture.time)
            #expect(end.records.isEmpty && !end.more && end.lastPosition == cursor)
        }
    }

    // MARK: Scopes

    static func scopeFiltering(_ make: StorageFactory) async throws {
        let storage = try await make()
        let office = try await storage.issueToken(user: "olga", role: .office, scopes: ["*"])
        var inA: [String] = []
        var inB: [String] = []
        var all: [String] = []
        for index in 0..<6 {
            let scope = index % 3 == 0 ? "loc-b" : "loc-a"
            let note = Records.visitNote(scope: scope, replica: "r-office", author: "olga")
            try await storage.accept(Records.batch("r-office", [note]), token: office)
            if scope == "loc-a" { inA.append(note.id) } else { inB.append(note.id) }
            all.append(note.id)
        }
        for pageSize in [1, 2, 100] {
            let onlyA = try await storage.everything(pageSize: pageSize, scopes: .only(["loc-a"]))
            #expect(onlyA.records.map(\.id) == inA, "page size \(pageSize)")
            #expect(onlyA.records.allSatisfy { $0.scope == "loc-a" })
            let onlyB = try await storage.everything(pageSize: pageSize, scopes: .only(["loc-b"]))
            #expect(onlyB.records.map(\.id) == inB, "page size \(pageSize)")
            #expect(try await storage.everything(pageSize: pageSize, scopes: .all).records.map(\.id) == all)
            #expect(try await storage.everything(pageSize: pageSize, scopes: .only(["loc-a", "loc-b"])).records.map(\.id) == all)
        }
        let none = try await storage.pull(scopes: .only([]), after: 0, limit: 100, token: nil, at: Fixture.time)
        #expect(none.records.isEmpty && !none.more)
        let elsewhere = try await storage.pull(scopes: .only(["loc-c"]), after: 0, limit: 100, token: nil, at: Fixture.time)
        #expect(elsewhere.records.isEmpty && !elsewhere.more)
    }

    // MARK: Replica binding

    static func replicaBinding(_ make: StorageFactory) async throws {
        let storage = try await make()
        let anna = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
        try await storage.accept(Records.batch("r-anna", [Records.visitNote(replica: "r-anna")]), token: anna,
                                 at: Fixture.time(plus: 30))
        let bound = try #require(try await storage.tokens().first { $0.id == anna.id })
        #expect(bound.replica == "r-anna")
        #expect(bound.lastPushAt == Fixture.time(plus: 30))
        let before = try await storage.snapshot()

        // The caller's copy of the token still says "unbound": the store checks its own.
        let other = Records.batch("r-other", [Records.visitNote(replica: "r-other")])
        let mismatch = await #expect(throws: Problem.self) {
            try await storage.accept(other, token: anna)
        }
        #expect(mismatch?.type == "urn:veld:problem:replica-mismatch")
        #expect(try await storage.snapshot() == before)
        #expect(try await storage.record(id: other.records[0].id) == nil)

        // Its own replica keeps working; another token may take the other replica.
        try await storage.accept(Records.batch("r-anna", [Records.visitNote(replica: "r-anna")]), token: anna)
        let second = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
        try await storage.accept(other, token: second)
        #expect(try await storage.record(id: other.records[0].id) == other.records[0])

        // A fresh token cannot take over a replica that an active token holds (it would
        // spend that device's dots)…
        let thief = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
        let beforeTheft = try await storage.snapshot()
        let taken = await #expect(throws: Problem.self) {
            try await storage.accept(Records.batch("r-anna", [Records.visitNote(replica: "r-anna")]), token: thief)
        }
        #expect(taken?.type == "urn:veld:problem:replica-mismatch")
        #expect(try await storage.snapshot() == beforeTheft)
        // …but a device whose old token was revoked keeps its replica under the new one.
        #expect(try await storage.revokeToken(id: anna.id, at: Fixture.time(plus: 40)))
        // Only to a token of the same user: a replica id is public (every dot names one).
        let stranger = try await storage.issueToken(user: "bram", role: .carer, scopes: ["loc-a"])
        let beforeStranger = try await storage.snapshot()
        let strangers = await #expect(throws: Problem.self) {
            try await storage.accept(Records.batch("r-anna", [Records.visitNote(replica: "r-anna", author: "bram")]), token: stranger)
        }
        #expect(strangers?.type == "urn:veld:problem:replica-mismatch" && strangers?.detail.contains("another user's device") == true)
        #expect(try await storage.snapshot() == beforeStranger)
        let renewed = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
        try await storage.accept(Records.batch("r-anna", [Records.visitNote(replica: "r-anna")]), token: renewed)
        #expect(try await storage.tokens().first { $0.id == renewed.id }?.replica == "r-anna")
    }

    // MARK: Tokens

    static func tokens(_ make: StorageFactory) async throws {
        let storage = try await make()
        #expect(try await storage.tokens().isEmpty)
        let anna = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a", "loc-b"])
        let olga = try await storage.issueToken(user: "olga", role: .office, scopes: ["*"])

        #expect(try await storage.token(hash: TokenSecret.hash(anna.secret)) == anna.token)
        #expect(try await storage.token(hash: TokenSecret.hash(olga.secret)) == olga.token)
        #expect(try await storage.token(hash: TokenSecret.hash(TokenSecret.make())) == nil)
        #expect(try await storage.token(hash: anna.secret) == nil, "the secret itself is not a hash")
        #expect(Set(try await storage.tokens()) == [anna.token, olga.token])

        // A pull with a token records when it last pulled.
        _ = try await storage.pull(scopes: anna.token.scopeFilter, after: 0, limit: 10, token: anna.token, at: Fixture.time(plus: 9))
        #expect(try await storage.token(hash: TokenSecret.hash(anna.secret))?.lastPullAt == Fixture.time(plus: 9))

        #expect(try await storage.revokeToken(id: anna.id, at: Fixture.time(plus: 10)) == true)
        #expect(try await storage.revokeToken(id: "tok_00000000", at: Fixture.time(plus: 10)) == false)
        let revoked = try #require(try await storage.token(hash: TokenSecret.hash(anna.secret)))
        #expect(revoked.revokedAt == Fixture.time(plus: 10))
        #expect(revoked.user == "anna" && revoked.scopes == ["loc-a", "loc-b"] && revoked.role == .carer)

        // Revoking again does not move the moment it was revoked.
        _ = try await storage.revokeToken(id: anna.id, at: Fixture.time(plus: 99))
        #expect(try await storage.token(hash: TokenSecret.hash(anna.secret))?.revokedAt == Fixture.time(plus: 10))
        let listed = try await storage.tokens()
        #expect(listed.count == 2)
        #expect(listed.first { $0.id == anna.id }?.revokedAt == Fixture.time(plus: 10))
        #expect(listed.first { $0.id == olga.id }?.revokedAt == nil)
    }

    /// A rotated token answers to its new secret only and keeps its binding; an expiry
    /// and new scopes are kept; a revoked token can be neither rotated nor changed.
    static func tokenRotationAndScopes(_ make: StorageFactory) async throws {
        let storage = try await make()
        let anna = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
        try await storage.accept(Records.batch("r-anna", [Records.visitNote(replica: "r-anna")]), token: anna)
        let secret = TokenSecret.make()
        let expiry = Fixture.time(plus: 90 * 86_400)
        #expect(try await storage.rotateToken(id: anna.id, hash: TokenSecret.hash(secret), at: Fixture.time(plus: 5), expiresAt: expiry))
        #expect(try await storage.token(hash: TokenSecret.hash(anna.secret)) == nil, "the old secret still works")
        let rotated = try #require(try await storage.token(hash: TokenSecret.hash(secret)))
        #expect(rotated.id == anna.id && rotated.replica == "r-anna" && rotated.scopes == ["loc-a"])
        #expect(rotated.expiresAt == expiry && rotated.secretIssuedAt == Fixture.time(plus: 5))
        #expect(rotated.isExpired(at: expiry) && !rotated.isExpired(at: Fixture.time(plus: 6)))
        // The device goes on with its replica under the new secret.
        let renewed = IssuedToken(secret: secret, token: rotated)
        try await storage.accept(Records.batch("r-anna", [Records.visitNote(replica: "r-anna")]), token: renewed)

        #expect(try await storage.updateTokenScopes(id: anna.id, scopes: ["loc-a", "loc-b"]))
        #expect(try await storage.token(hash: TokenSecret.hash(secret))?.scopes == ["loc-a", "loc-b"])
        #expect(try await storage.updateTokenScopes(id: "tok_00000000", scopes: ["loc-a"]) == false)

        #expect(try await storage.revokeToken(id: anna.id, at: Fixture.time(plus: 10)))
        #expect(try await storage.rotateToken(id: anna.id, hash: TokenSecret.hash(TokenSecret.make()), at: Fixture.time(plus: 11), expiresAt: nil) == false)
        #expect(try await storage.updateTokenScopes(id: anna.id, scopes: ["*"]) == false)
        #expect(try await storage.token(hash: TokenSecret.hash(secret))?.scopes == ["loc-a", "loc-b"])
    }

    // MARK: Generated batches

    /// 2–4 replicas edit a handful of records, push their changes in random order, pull
    /// each other's, replay old batches under the same id and resend old states under new
    /// ids. Afterwards the change log, read from 0 in small pages, holds every pushed
    /// record exactly once, each equal to the merge of everything pushed for it.
    static func generatedBatchesConverge(_ make: StorageFactory, count: Int = 40) async {
        await checkProperty(count: count, input: Gen.int(in: 2...4), Gen.int(in: 1...5),
                            Gen.int(in: 0...999_999).array(of: 1...40), Gen.int(in: 1...3)) { replicas, recordCount, codes, pageSize in
            let storage = try await make()
            var run = try await GeneratedRun(storage: storage, replicas: replicas, records: recordCount)
            for code in codes { try await run.apply(code) }
            try await run.flush()

            let log = try await storage.everything(pageSize: pageSize)
            let ids = log.records.map(\.id)
            #expect(Set(ids).count == ids.count, "a record appears twice in the change log")
            #expect(Set(ids) == Set(run.pushed.keys))
            #expect(zip(log.positions, log.positions.dropFirst()).allSatisfy { $0 < $1 })
            for record in log.records {
                let states = try #require(run.pushed[record.id])
                let expected = try states.dropFirst().reduce(states[0]) { try $0.merged(with: $1) }
                #expect(record == expected, "record \(record.id)")
                #expect(try await storage.record(id: record.id) == expected)
            }
        }
    }
}

extension StorageContract {
    /// A page stops before the record that would take it past 8 MiB of states: three
    /// records of 3 MiB each come as two pages, whatever the limit.
    static func pullPagesAreBoundedByBytes(_ make: StorageFactory) async throws {
        let storage = try await make()
        let anna = try await storage.issueToken(user: "anna", role: .carer, scopes: ["loc-a"])
        let text = String(repeating: "Lange waarneming. ", count: (SyncLimits.maxValueBytes - 64) / 18)
        let notes = (0..<3).map { index in
            Records.visitNote(replica: "r-anna", changes: ["summary": .string("\(index) " + text), "observations": .string(text),
                                                           "followUp": .string(text)])
        }
        try await storage.accept(Records.batch("r-anna", notes), token: anna)
        let first = try await storage.pullEncoded(scopes: .all, after: 0, limit: 500, token: nil, at: Fixture.time)
        #expect(first.states.count == 2 && first.more)
        #expect(first.states.reduce(0) { $0 + $1.count } <= SyncLimits.maxPullPageBytes)
        let second = try await storage.pullEncoded(scopes: .all, after: first.lastPosition, limit: 500, token: nil, at: Fixture.time)
        #expect(second.states.count == 1 && !second.more)
        #expect(try await storage.everything().records.map(\.id) == notes.map(\.id))
    }

    // MARK: The push policy, generated

    /// Generated honest histories (an office and 1–5 visitors creating, editing, deleting,
    /// pushing, pulling, replaying and resending, stale and duplicate deliveries included):
    /// the policy refuses nothing, and once everyone has synced every device holds what
    /// the server holds.
    static func honestHistoriesAreAccepted(_ make: StorageFactory, count: Int = 30) async {
        let deltas = Tally()
        defer { #expect(deltas.value > 0, "no honest history sent a delta") }
        await checkProperty(count: count, input: Gen.int(in: 2...6), Gen.int(in: 0...999_999).array(of: 10...60)) { devices, codes in
            let storage = try await make()
            var history = try await PolicyHistory(storage: storage, devices: devices)
            for code in codes { try await history.apply(code) }
            try await history.settle()
            #expect(history.refusals.isEmpty, "honest pushes refused: \(history.refusals.prefix(3))")
            deltas.add(history.deltasSent)
            for device in history.devices {
                for (id, state) in device.local {
                    #expect(try await storage.record(id: id) == state, "\(device.name) and the server disagree on \(id)")
                }
            }
        }
    }

    /// Attacks made from a settled honest history (omission of any field, forged and
    /// inflated dots, counter-0 dots, spoofed authors, floods, replica takeover, a goal
    /// escaping its scope, office decisions, reused dots): each is refused with the
    /// problem it deserves and leaves the store as it was. A goal pointing at a plan in
    /// another scope gets the same answer as one pointing at no plan at all.
    /// An attack's records as deltas against the states its device last pulled, or nil
    /// when one of them is new to the server, or leaves out a whole field (a delta that
    /// leaves a field out keeps the server's: that omission cannot be said as a delta).
    static func asDeltas(_ attempt: PolicyAttack.Attempt, history: PolicyHistory) -> PushRequest? {
        guard let device = history.devices.first(where: { $0.token.token.id == attempt.token.token.id }) else { return nil }
        var deltas: [RecordState] = []
        for state in attempt.request.records {
            guard let base = device.bases[state.id], base.fields.keys.allSatisfy({ state.fields[$0] != nil }) else { return nil }
            let fields = state.fields.filter { base.fields[$0.key] != $0.value }
            deltas.append(RecordState(id: state.id, type: state.type, scope: state.scope, context: state.context, fields: fields))
        }
        return PushRequest(replica: attempt.request.replica, batch: UUID().uuidString.lowercased(), records: [], deltas: deltas)
    }

    static func generatedAttacksStoreNothing(_ make: StorageFactory, count: Int = 30) async {
        let asDeltas = Tally()
        defer { #expect(asDeltas.value > 0, "no attack was tried as deltas") }
        await checkProperty(count: count, input: Gen.int(in: 2...5), Gen.int(in: 0...999_999).array(of: 10...50),
                            Gen.int(in: 0...999_999).array(of: 1...8)) { devices, codes, attacks in
            let storage = try await make()
            var history = try await PolicyHistory(storage: storage, devices: devices)
            for code in codes { try await history.apply(code) }
            try await history.settle()
            #expect(history.refusals.isEmpty, "honest pushes refused: \(history.refusals.prefix(3))")
            for code in attacks {
                let attack = PolicyAttack.allCases[code % PolicyAttack.allCases.count]
                guard let attempt = try await attack.attempt(in: history, code: code / PolicyAttack.allCases.count) else { continue }
                let before = try await storage.snapshot()
                do {
                    _ = try await storage.push(attempt.request, token: attempt.token.token,
                                               fingerprint: try Records.fingerprint(attempt.request), at: Fixture.time)
                    Issue.record("attack \(attack) was accepted")
                } catch let problem as Problem {
                    #expect(attempt.expected.contains(problem.type), "attack \(attack) got \(problem.type): \(problem.detail)")
                    if attack == .goalEscape, problem.status == 422 {
                        let ids = attempt.request.records.flatMap { record in
                            [record.id] + record.entries(of: "carePlan").compactMap { if case .string(let id) = $0.value { id } else { nil } }
                        }
                        let generic = ids.reduce(problem.detail) { $0.replacingOccurrences(of: $1, with: "ID") }
                        #expect(generic == "1 problem(s) in the batch, nothing was stored: carePlanGoal ID, field carePlan: ID is not a carePlan this device can read; push the carePlan first, or pick one in this device's scopes")
                    }
                }
                var after = try await storage.snapshot()
                #expect(after.rows == before.rows, "attack \(attack) changed the records")
                #expect(after.tokens.filter { $0.user != "dief" } == before.tokens.filter { $0.user != "dief" },
                        "attack \(attack) changed a token")
                // The same attack as deltas, against the states the attacker pulled: refused
                // the same way (a delta cannot forge, flood, reuse a dot, write an office
                // decision or escape a scope either).
                guard let delta = Self.asDeltas(attempt, history: history) else { continue }
                asDeltas.add(1)
                do {
                    _ = try await storage.push(delta, token: attempt.token.token, fingerprint: try Records.fingerprint(delta), at: Fixture.time)
                    Issue.record("attack \(attack) as deltas was accepted")
                } catch let problem as Problem {
                    #expect(attempt.expected.contains(problem.type), "attack \(attack) as deltas got \(problem.type): \(problem.detail)")
                }
                after = try await storage.snapshot()
                #expect(after.rows == before.rows, "attack \(attack) as deltas changed the records")
            }
        }
    }
}

/// The replicas of one generated run and what they pushed.
private struct GeneratedRun {
    struct Sent {
        let request: PushRequest
        let token: DeviceToken
        let fingerprint: String
        let response: PushResponse
    }

    static let fields = ["summary", "observations", "followUp"]

    let storage: any SyncStorage
    let names: [String]
    let tokens: [IssuedToken]
    let recordIDs: [String]
    /// Each replica's current state of each record.
    var local: [[String: RecordState]]
    /// Records each replica edited since its last push.
    var dirty: [Set<String>]
    var sent: [[Sent]] = []
    /// Every state pushed for each record id (replays and resends included).
    var pushed: [String: [RecordState]] = [:]
    var highestPosition: Int64 = 0

    init(storage: any SyncStorage, replicas: Int, records: Int) async throws {
        self.storage = storage
        names = (0..<replicas).map { "r-\($0)" }
        var tokens: [IssuedToken] = []
        for index in 0..<replicas {
            tokens.append(try await storage.issueToken(user: "user\(index)", role: .carer, scopes: ["loc-a", "loc-b"]))
        }
        self.tokens = tokens
        let ids = (0..<records).map { _ in RecordIDs.make() }
        recordIDs = ids
        // Replica 0 creates every record (a valid visit note) and the others pulled it.
        let created = Dictionary(uniqueKeysWithValues: ids.enumerated().map { index, id in
            (id, Records.visitNote(id: id, scope: index % 2 == 0 ? "loc-a" : "loc-b", replica: "r-0", author: "user0"))
        })
        local = Array(repeating: created, count: replicas)
        dirty = Array(repeating: [], count: replicas)
        sent = Array(repeating: [], count: replicas)
        try await send(0, ids.map { created[$0]! })
    }

    mutating func apply(_ code: Int) async throws {
        let actor = (code / 10) % names.count
        switch code % 10 {
        case 0...3:
            let id = recordIDs[(code / 100) % recordIDs.count]
            let mask = (code / 1_000) % 7 + 1
            var changes: [String: FieldValue] = [:]
            for (bit, field) in Self.fields.enumerated() where mask & (1 << bit) != 0 {
                changes[field] = .string("\(field) \(code)")
            }
            local[actor][id]!.edit(changes, replica: names[actor], author: "user\(actor)", time: Fixture.time(plus: code % 100))
            dirty[actor].insert(id)
        case 4, 5:
            try await pushDirty(actor)
        case 6:
            // Replay an earlier batch exactly: same id, same body.
            guard !sent[actor].isEmpty else { return }
            let old = sent[actor][(code / 100) % sent[actor].count]
            let replay = try await storage.push(old.request, token: old.token, fingerprint: old.fingerprint,
                                                at: Fixture.time(plus: 1)) { _ in }
            #expect(replay == old.response, "a replayed batch got another answer")
        case 7:
            // Resend old states under a new batch id (duplicate, reordered delivery): those
            // this replica has not edited since (a device never sends a state older than
            // its own latest edit; one sync at a time per profile sees to that).
            guard !sent[actor].isEmpty else { return }
            let old = sent[actor][(code / 100) % sent[actor].count]
            let name = names[actor]
            let current = old.request.records.reversed().filter { $0.context[name] == local[actor][$0.id]!.context[name] }
            guard !current.isEmpty else { return }
            try await send(actor, Array(current))
        default:
            try await pull(actor)
        }
    }

    mutating func flush() async throws {
        for actor in names.indices { try await pushDirty(actor) }
    }

    private mutating func pushDirty(_ actor: Int) async throws {
        guard !dirty[actor].isEmpty else { return }
        try await send(actor, dirty[actor].sorted().map { local[actor][$0]! })
        dirty[actor] = []
    }

    private mutating func send(_ actor: Int, _ records: [RecordState]) async throws {
        let request = Records.batch(names[actor], records)
        let fingerprint = try Records.fingerprint(request)
        let response = try await storage.push(request, token: tokens[actor].token, fingerprint: fingerprint, at: Fixture.time) { _ in }
        #expect(response.results.map(\.id) == records.map(\.id))
        for result in response.results where result.changed {
            let position = try #require(result.position)
            #expect(position > highestPosition, "positions must increase in commit order")
            highestPosition = position
        }
        #expect(response.results.allSatisfy { $0.changed == ($0.position != nil) })
        sent[actor].append(Sent(request: request, token: tokens[actor].token, fingerprint: fingerprint, response: response))
        for record in records { pushed[record.id, default: []].append(record) }
    }

    private mutating func pull(_ actor: Int) async throws {
        for record in try await storage.everything(pageSize: 2).records {
            local[actor][record.id] = try local[actor][record.id]!.merged(with: record)
        }
    }
}

/// A count shared by the runs of a property.
final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var total = 0
    func add(_ amount: Int) { lock.withLock { total += amount } }
    var value: Int { lock.withLock { total } }
}
