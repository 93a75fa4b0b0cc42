import Foundation
import VeldProtocol

/// What a sync did.
public struct SyncReport: Hashable, Sendable {
    /// Records pushed and acknowledged by the server.
    public var pushed = 0
    /// Records received that were new here or changed a local state.
    public var pulled = 0
    /// Records that gained a conflict from what was pulled.
    public var newConflicts = 0
    /// Records whose outbox entry stays because they were edited during the sync.
    public var editedDuringSync = 0
    /// Records the server refused in this sync, now set aside (`veld rejected`).
    public var parked = 0
    /// Records removed because the office erased them (`veld-server erase`).
    public var erased = 0
    /// What this device removed on the office's word in this sync: a wipe, or the records
    /// of scopes its token no longer holds.
    public var purged: [PurgeReceipt] = []
    /// True when the office revoked this device with `--wipe`: it was wiped (now or
    /// before) and can no longer sync.
    public var wiped = false
    /// Why pushing stopped early, when the server refused a batch as a whole (its token,
    /// its replica): the pull still ran, the outbox waits.
    public var pushRefused: Problem?
    /// True when the server was restored from a backup since the last sync (a new epoch):
    /// this sync sent back what it lacked.
    public var serverRestored = false
    /// Records sent back to a restored server in this sync.
    public var recovered = 0
    /// The version of a module set received in this sync (nil: the kept one is current).
    public var newSchemaSet: Int?
    /// Why the server's module set was not taken (the kept one stays in force).
    public var schemaSetProblem: String?
}

/// Where a running sync is, for a progress line.
public enum SyncProgress: Sendable {
    case pushing(done: Int, total: Int)
    case pulling(received: Int)
    case retrying(attempt: Int, after: TimeInterval, reason: String)
    /// Another sync of this profile holds the lock; this one waits for it.
    case waitingForOtherSync
}

/// How often and how patiently to retry a request that failed for a reason that may pass
/// (connection errors, 5xx). Refusals (4xx) are never retried.
public struct RetryPolicy: Sendable {
    public var attempts: Int
    public var initialDelay: TimeInterval
    public var maximumDelay: TimeInterval

    public init(attempts: Int = 5, initialDelay: TimeInterval = 0.5, maximumDelay: TimeInterval = 8) {
        self.attempts = attempts
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
    }

    /// Exponential backoff with jitter (between half and all of the doubled delay).
    public func delay(afterAttempt attempt: Int) -> TimeInterval {
        let base = min(maximumDelay, initialDelay * pow(2, Double(attempt - 1)))
        return base / 2 + Double.random(in: 0...(base / 2))
    }
}

/// Push the outbox, then pull until the server has nothing more: `veld sync`.
///
/// Nothing acknowledged is lost wherever a sync is interrupted: an outbox entry is
/// cleared only after the server acknowledged that exact state (and not if the record
/// was edited meanwhile), and each pulled page is merged together with the cursor that
/// follows it, in one transaction. Running `sync()` again completes what was cut off.
///
/// ```swift
/// let engine = SyncEngine(store: store, transport: HTTPTransport(server: url, token: token))
/// let report = try await engine.sync()
/// ```
public struct SyncEngine: Sendable {
    let store: LocalStore
    let transport: any SyncTransport
    let retry: RetryPolicy
    let batchSize: Int
    let pageSize: Int
    /// Push batches with the server at once (1: one after another).
    let batchesInFlight: Int
    let sleep: @Sendable (TimeInterval) async throws -> Void
    let progress: @Sendable (SyncProgress) -> Void

    public init(store: LocalStore, transport: any SyncTransport, retry: RetryPolicy = RetryPolicy(),
                batchSize: Int = SyncLimits.pushBatchSize, pageSize: Int = SyncLimits.defaultPullLimit, batchesInFlight: Int = 2,
                sleep: @escaping @Sendable (TimeInterval) async throws -> Void = { try await Task.sleep(nanoseconds: UInt64($0 * 1e9)) },
                progress: @escaping @Sendable (SyncProgress) -> Void = { _ in }) {
        self.store = store
        self.transport = transport
        self.retry = retry
        self.batchSize = max(1, batchSize)
        self.pageSize = max(1, min(pageSize, SyncLimits.maxPullLimit))
        self.batchesInFlight = max(1, batchesInFlight)
        self.sleep = sleep
        self.progress = progress
    }

    /// One sync at a time per profile (a second one waits up to `lockWait` seconds): the
    /// identity from the server, the push (refused records set aside), then the pull,
    /// which runs whatever the push met short of losing the network.
    public func sync(lockWait: TimeInterval = 300) async throws -> SyncReport {
        try await store.withSyncLock(waiting: lockWait, sleep: sleep, onWait: { progress(.waitingForOtherSync) }) {
            do {
                return try await syncOnce()
            } catch SyncTransportError.rejected(let problem) where problem.is(.epochChanged) {
                // Restored while this sync ran: once more, from the new epoch.
                return try await syncOnce()
            }
        }
    }

    private func syncOnce() async throws -> SyncReport {
            try await sendPendingReceipts()
            var purged: [PurgeReceipt] = []
            var restored = false, deltas = false, pullDeltas = false
            do {
                let identity = try await refreshIdentity()
                if let receipt = identity.receipt { purged.append(receipt) }
                restored = identity.restored
                deltas = identity.deltas
                pullDeltas = identity.pullDeltas
            } catch SyncTransportError.rejected(let problem) where problem.is(.wipeRequested) {
                // A lost device: everything goes, then the receipt says so.
                var report = SyncReport()
                if let receipt = try store.wipe() { report.purged = [receipt] }
                report.wiped = true
                try await sendPendingReceipts()
                return report
            }
            if !purged.isEmpty { try await sendPendingReceipts() }
            let schemas = try await refreshSchemas()
            // What the role may not read (in the set now kept) leaves the device.
            if let receipt = try store.purgeUnreadableTypes() {
                purged.append(receipt)
                try await sendPendingReceipts()
            }
            // A restored server: first what it holds (from the start of its new change log),
            // which clears the recovery entries of records it holds whole; then the push sends
            // back the rest with their proven states.
            var early = MergeSummary()
            let waiting = try store.pendingRecovery()
            if restored || waiting > 0 { early = try await pull(deltas: pullDeltas) }
            let recovering = try store.pendingRecovery()
            var report = try await push(deltas: deltas)
            report.serverRestored = restored
            report.recovered = recovering - (try store.pendingRecovery())
            report.purged = purged
            (report.newSchemaSet, report.schemaSetProblem) = schemas
            let pulled = try await pull(deltas: pullDeltas)
            report.pulled = pulled.changed + early.changed
            report.newConflicts = pulled.newConflicts + early.newConflicts
            report.erased += pulled.erased + early.erased
            if report.pushRefused == nil { try store.recordSync(at: store.clock()) }
            return report
    }

    /// Takes user, role and scopes from the server (`GET /v1/me`); the records of scopes
    /// the token no longer holds leave the device (the receipt says what went). Takes the
    /// server's epoch too: `restored` when it is a new one (SPEC.md, "Server epochs").
    func refreshIdentity() async throws -> (receipt: PurgeReceipt?, restored: Bool, deltas: Bool, pullDeltas: Bool) {
        do {
            if let identity = try await withRetry({ try await transport.me() }) {
                let receipt = try store.adopt(identity)
                let restored = try identity.epoch.map { try store.adoptEpoch($0) } ?? false
                let features = identity.features ?? []
                return (receipt, restored, features.contains("deltas"), features.contains(PullDeltas.feature))
            }
        } catch SyncTransportError.rejected(let problem) where problem.status == 404 {
            // A server without /v1/me: keep what the profile has.
        }
        return (nil, false, false, false)
    }

    /// Fetches the module set in force when it changed (`GET /v1/schemas` with the kept
    /// ETag): the device keeps the last set it got, and checks its edits against it.
    /// Returns the version of a newly kept set, or why the server's was not taken.
    func refreshSchemas() async throws -> (version: Int?, problem: String?) {
        do {
            let etag = try store.schemaSetETag()
            switch try await withRetry({ try await transport.schemas(ifNoneMatch: etag) }) {
            case .set(let set, let etag):
                try store.keepSchemaSet(set, etag: etag, at: store.clock())
                return (set.version, nil)
            case .unchanged, .unsupported:
                return (nil, nil)
            }
        } catch SyncTransportError.rejected(let problem) where [404, 405].contains(problem.status) {
            return (nil, nil)  // a server from before modules were published: the built-in set stays
        } catch SyncTransportError.badResponse(let detail) {
            // A set this release cannot read (a newer format): the kept one stays, and the sync goes on.
            return (nil, "the server's module set was not taken (\(detail)); the set kept on this device stays in force")
        }
    }

    /// Sends the receipts that wait, oldest first; one the server refuses as malformed
    /// is dropped (sending it again would not change that), others wait for next time.
    func sendPendingReceipts() async throws {
        for receipt in try store.pendingReceipts() {
            do {
                try await withRetry { try await transport.sendReceipt(receipt) }
                try store.receiptSent(receipt.id)
            } catch SyncTransportError.rejected(let problem) where [404, 405].contains(problem.status) {
                // A server without receipts: they wait, and the sync goes on.
                return
            } catch SyncTransportError.rejected(let problem) where problem.status == 400 {
                try store.receiptSent(receipt.id)
            } catch SyncTransportError.rejected(let problem)
                where problem.is(.wipeRequested) && receipt.kind == .scopes {
                // The device is to be wiped: what a scope removal took is moot.
                try store.receiptSent(receipt.id)
            }
        }
    }

    /// Pushes what the outbox held when the push began, in batches, except changes set
    /// aside. When the server refuses records, exactly those are set aside with its
    /// problem and the rest of the batch goes again under a new batch id; a refusal of the
    /// batch as a whole (the token, the replica) stops the push and is reported.
    ///
    /// With `deltas` (a server that names the feature in `GET /v1/me`), a record the server
    /// already holds goes as only the fields changed since the state the server last served
    /// it (SPEC.md, "Deltas"); one the server turns out not to hold goes again whole.
    ///
    /// Two batches (`batchesInFlight`) are with the server at once, and a third is read from
    /// the store meanwhile: the device prepares a batch while the server stores the one
    /// before it (and the server may commit both in one transaction). Batches hold different
    /// records and the server takes a replica's batches in any order (SPEC.md, "How a client
    /// syncs"), so each is acknowledged, set aside or retried on its own, as its answer comes.
    public func push(deltas: Bool = false) async throws -> SyncReport {
        let replica = try store.profile().replicaID
        let queued = try store.outbox().filter { !$0.isParked }.map(\.recordID)
        var report = SyncReport()
        // Records pushed in this sync that are in the outbox again: edited meanwhile.
        func editedDuringSync() throws -> Int {
            try Set(store.outbox().filter { !$0.isParked }.map(\.recordID)).intersection(queued).count
        }
        var done = 0
        progress(.pushing(done: 0, total: queued.count))
        // A record edited while its batch is read goes in the state read; its outbox entry
        // then stays for the next sync, as for an edit during the push itself.
        let store = store
        func load(_ ids: [String]) -> Task<(states: [RecordState], bases: [String: RecordState]), any Error> {
            Task { (try store.pendingStates(ids), deltas ? try store.pushBases(ids) : [:]) }
        }
        let starts = Array(stride(from: 0, to: queued.count, by: batchSize))
        func batch(_ index: Int) -> [String] { Array(queued[starts[index]..<min(starts[index] + batchSize, queued.count)]) }
        var next = starts.isEmpty ? nil : load(batch(0))
        defer { next?.cancel() }
        var sending: [(count: Int, task: Task<BatchOutcome, any Error>)] = []
        // Takes the oldest batch's outcome into the report; false when the push must stop.
        func settleOldest() async throws -> Bool {
            let (count, task) = sending.removeFirst()
            let outcome: BatchOutcome
            do {
                outcome = try await task.value
            } catch {
                // Nothing is left running behind a push that failed.
                for other in sending { other.task.cancel(); _ = try? await other.task.value }
                sending = []
                throw error
            }
            report.pushed += outcome.pushed
            report.parked += outcome.parked
            report.erased += outcome.erased
            done += count
            progress(.pushing(done: done, total: queued.count))
            if let refused = outcome.refused, report.pushRefused == nil { report.pushRefused = refused }
            return outcome.refused == nil
        }
        var index = 0
        while let loading = next {
            let count = min(batchSize, queued.count - starts[index])
            let loaded = try await loading.value
            index += 1
            next = index < starts.count ? load(batch(index)) : nil
            let engine = self
            sending.append((count, Task { try await engine.pushBatch(loaded.states, bases: loaded.bases, replica: replica) }))
            if sending.count >= batchesInFlight, try await !settleOldest() { break }
        }
        while !sending.isEmpty { _ = try await settleOldest() }
        report.editedDuringSync = try editedDuringSync()
        return report
    }

    /// What became of one batch: records acknowledged, set aside and erased, or the
    /// refusal of the batch as a whole that stops the push.
    struct BatchOutcome: Sendable {
        var pushed = 0
        var parked = 0
        var erased = 0
        var refused: Problem?
    }

    /// Sends one batch until each of its records is acknowledged or set aside, or the
    /// server refuses it as a whole.
    private func pushBatch(_ loadedStates: [RecordState], bases: [String: RecordState], replica: String) async throws -> BatchOutcome {
        var outcome = BatchOutcome()
        // A batch the server finds too large (413) goes again in halves, in order.
        var chunks = [loadedStates]
        // Records whose proven state the server did not take (its key is not the one
        // that made the proof): they go again without it.
        var unproven: Set<String> = []
        // Records whose delta the server could not fill in: they go whole.
        var whole: Set<String> = []
        while !chunks.isEmpty {
            var states = chunks.removeFirst()
            // Each round sets aside at least one record, or halves the batch: this ends.
            while !states.isEmpty {
                let recovery = try store.recovery(states.map(\.id))
                var records: [RecordState] = [], changes: [RecordState] = []
                for state in states {
                    if !whole.contains(state.id), let base = bases[state.id], let delta = RecordDelta.between(base, state) {
                        changes.append(delta)
                    } else {
                        records.append(state)
                    }
                }
                let request = PushRequest(replica: replica, batch: UUID().uuidString.lowercased(), records: records, deltas: changes,
                                          proven: recovery.proven.filter { !unproven.contains($0.state.id) },
                                          recovery: states.allSatisfy { recovery.recovering.contains($0.id) })
                do {
                    // The same batch id on every retry: if an answer was lost, the server replays it.
                    _ = try await withRetry { try await transport.push(request) }
                } catch SyncTransportError.rejected(let problem) where problem.is(.epochChanged) {
                    throw SyncTransportError.rejected(problem)
                } catch SyncTransportError.rejected(let problem) where problem.is(.invalidProof) || problem.is(.deltaWithoutBase) {
                    // What the batch sent besides whole states and the server did not take
                    // (a proven state, a delta): those records go again without it.
                    let proofs = problem.is(.invalidProof)
                    let sent = proofs ? request.proven.map(\.state.id) : changes.map(\.id)
                    let named = Set((problem.records ?? []).map(\.id)).intersection(sent)
                    guard !named.isEmpty else {
                        outcome.refused = problem
                        return outcome
                    }
                    if proofs { unproven.formUnion(named) } else { whole.formUnion(named) }
                    continue
                } catch SyncTransportError.rejected(let problem) where problem.status == 413 && states.count > 1 {
                    chunks.insert(contentsOf: [Array(states.prefix(states.count / 2)), Array(states.dropFirst(states.count / 2))], at: 0)
                    states = []
                    continue
                } catch SyncTransportError.rejected(let problem) {
                    let named = Set((problem.records ?? []).map(\.id)).intersection(states.map(\.id))
                    guard Self.isAboutRecords(problem), !named.isEmpty else {
                        outcome.refused = problem
                        return outcome
                    }
                    if problem.is(.erased) {
                        // Erased by the office: gone here too, unsent changes with them.
                        outcome.erased += try store.eraseLocally(Array(named))
                    } else {
                        try store.park(states.filter { named.contains($0.id) }, problem: problem, replica: replica)
                        outcome.parked += named.count
                    }
                    states.removeAll { named.contains($0.id) }
                    continue
                }
                try store.acknowledge(states, replica: replica)
                outcome.pushed += states.count
                break
            }
        }
        return outcome
    }

    /// Whether a refusal is about the records it names (set those aside) rather than the
    /// batch as a whole.
    static func isAboutRecords(_ problem: Problem) -> Bool {
        Problem.Kind.aboutRecords.contains(where: problem.is)
    }

    /// Pulls pages until the server says there is no more.
    ///
    /// While one page is merged into the store, the next is already being fetched (its
    /// cursor is known from the page in hand); each page still commits together with its
    /// own cursor, in order, so an interruption anywhere leaves a consistent store.
    ///
    /// With `deltas` (a server that names `pull-deltas`), records this device held where
    /// its last complete pull ended come as what changed after that; a page with a delta the
    /// device cannot fill in (SPEC.md, "Pull deltas") is asked for again whole, and pulling
    /// goes on from there.
    public func pull(deltas: Bool = false) async throws -> MergeSummary {
        var cursor = try store.syncSettings().cursor
        var total = MergeSummary()
        var received = 0
        // Deltas are made against where the last complete pull ended: every state this
        // device last pulled is the server's state there. Before a pull from the start (a
        // first sync, or again after a scope or role change) completes, all goes whole.
        let base = deltas && cursor != "0" ? try store.pullBase() : nil
        var next: Task<(page: PullResponse, encoded: [String]?), any Error>? = fetch(since: cursor, deltas: base)
        defer { next?.cancel() }
        /// Starts fetching the page after `page`, when there is one.
        func prefetch(after page: PullResponse) throws {
            guard page.more else { return }
            guard page.cursor != cursor else {
                throw SyncTransportError.badResponse("the server said there is more but did not move the cursor past \(cursor)")
            }
            next = fetch(since: page.cursor, deltas: base)
        }
        while let fetching = next {
            var (page, encoded) = try await fetching.value
            next = nil
            try prefetch(after: page)
            let summary: MergeSummary
            do {
                summary = try store.applyPulledPage(page, encoded: encoded)
            } catch is LocalStore.UnusableDelta {
                next?.cancel()
                next = nil
                (page, encoded) = try await fetch(since: cursor, deltas: nil).value
                guard page.deltas.isEmpty else { throw SyncTransportError.badResponse("the server sent deltas to a pull that did not ask") }
                try prefetch(after: page)
                summary = try store.applyPulledPage(page, encoded: encoded)
            }
            total.changed += summary.changed
            total.newConflicts += summary.newConflicts
            total.erased += summary.erased
            received += page.records.count + page.deltas.count
            progress(.pulling(received: received))
            cursor = page.cursor
        }
        if total.erased > 0 { store.compact() }
        return total
    }

    private func fetch(since cursor: String, deltas base: String?) -> Task<(page: PullResponse, encoded: [String]?), any Error> {
        let transport = transport, pageSize = pageSize
        let holding = try? store.schemaSetETag()
        return Task {
            try await withRetry { try await transport.pullEncoded(since: cursor, limit: pageSize, holding: holding ?? nil, deltas: base) }
        }
    }

    private func withRetry<T: Sendable>(_ operation: () async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await operation()
            } catch let error as SyncTransportError where error.isRetryable && attempt < retry.attempts {
                // As long as the server asks (Retry-After), within a minute; else backoff.
                let delay = error.retryAfter.map { min($0, 60) } ?? retry.delay(afterAttempt: attempt)
                progress(.retrying(attempt: attempt, after: delay, reason: error.description))
                try await sleep(delay)
                attempt += 1
            }
        }
    }
}
