import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import VeldProtocol

/// `/v1/push`, `/v1/pull` and `/v1/health`.
struct SyncRoutes {
    let storage: any SyncStorage
    let clock: @Sendable () -> Date
    /// The module set in force, as this process last read it.
    let schemas: SchemaCache
    /// How long a request body may take to arrive in all (a body trickled a byte at a time
    /// would otherwise hold its connection open for ever: the idle timeout restarts on
    /// every byte).
    var bodyDeadline: Duration = .seconds(120)

    func add(to router: Router<VeldRequestContext>) {
        router.get("/v1/health") { request, _ in
            try JSONBody.response(HealthResponse(status: "ok", version: VeldServerInfo.version, protocolVersion: 1), for: request)
        }
        let authenticated = router.group("v1").add(middleware: TokenAuthenticator(storage: storage, clock: clock))
            .add(middleware: AccessLogMiddleware(storage: storage, clock: clock))
        authenticated.post("push") { request, context in try await push(request, context) }
        authenticated.get("pull") { request, context in try await pull(request, context) }
        authenticated.get("records/:id/history") { request, context in try await history(request, context) }
        authenticated.get("records/:id/access") { request, context in try await access(request, context) }
        authenticated.get("records/:id") { request, context in try await record(request, context) }
        authenticated.post("receipts") { request, context in try await receipt(request, context) }
        authenticated.get("schemas") { request, context in try await publishedSchemas(request, context) }
        authenticated.get("devices") { request, context in try await devices(request, context) }
        authenticated.get("me") { request, context in
            // The token as read for this request, binding included.
            let token = try context.requireToken()
            let confirmed = try await storage.confirmedReceipts(token: token.id, limit: 100)
            return try JSONBody.response(DeviceIdentity(token: token.id, user: token.user, role: token.role, scopes: token.scopes,
                                                        replica: token.replica, confirmedReceipts: confirmed.isEmpty ? nil : confirmed,
                                                        epoch: try await storage.identity().epoch, features: DeviceIdentity.serverFeatures),
                                         for: request)
        }
    }

    /// Every active device as the office sees it (office and admin tokens; an office token
    /// for some scopes sees the devices whose scopes are all among its own). No client data,
    /// so no access-log entry: `GET /v1/me`'s kind of answer, for each device.
    func devices(_ request: Request, _ context: VeldRequestContext) async throws -> Response {
        let token = try context.requireToken()
        guard token.role == .office || token.role == .admin else {
            throw Problem(type: .typeForbidden, status: 403,
                          detail: "the \(token.role.rawValue) role may not list devices; the office sees them (veld console, veld-server devices)")
        }
        let head = try await storage.headPosition()
        let visible = try await storage.tokens().filter { other in
            other.revokedAt == nil && (token.scopeFilter == .all || other.scopes.allSatisfy { token.mayAccess(scope: $0) } && !other.scopes.contains("*"))
        }
        let reports = DeviceStatus.judge(visible, now: clock(), staleAfter: 7 * 86_400, unsentAfter: 3 * 86_400).map { status in
            DeviceReport(token: status.token.id, user: status.token.user, role: status.token.role, replica: status.token.replica,
                         lastContact: status.lastContact, behind: status.token.lastCursor.map { head - $0 }, health: status.token.health,
                         stale: status.stale, unsentTooLong: status.unsentTooLong)
        }
        return try JSONBody.response(reports, for: request)
    }

    /// The server's current state of one record, for a device that sets its own change
    /// aside (`veld discard`). Scopes as for every read; unknown and unreadable look alike.
    func record(_ request: Request, _ context: VeldRequestContext) async throws -> Response {
        let token = try context.requireToken()
        let id = (context.parameters.get("id") ?? "").lowercased()
        if RecordIDs.isValid(id) { context.access?.records = [AccessedRecord(id: id, type: "", scope: "", effect: "refused")] }
        guard RecordIDs.isValid(id), let record = try await storage.record(id: id), token.mayAccess(scope: record.scope),
              try await schemas.mayRead(record.type, as: token.role) else {
            throw Problem(type: .notFound, status: 404, detail: "no record \(id) that this device may read; check the id (veld show ID)")
        }
        context.access?.records = [AccessedRecord(id: id, type: record.type, scope: record.scope, effect: "read")]
        return try JSONBody.response(record, for: request)
    }

    /// Every role sees only the history of records in its token's scopes. A record the
    /// caller may not read is answered like one that does not exist.
    func history(_ request: Request, _ context: VeldRequestContext) async throws -> Response {
        let token = try context.requireToken()
        let id = (context.parameters.get("id") ?? "").lowercased()
        let notFound = Problem(type: .notFound, status: 404,
                               detail: "no record \(id) that this device may read; check the id (veld show ID)")
        if RecordIDs.isValid(id) { context.access?.records = [AccessedRecord(id: id, type: "", scope: "", effect: "refused")] }
        guard RecordIDs.isValid(id), let record = try await storage.record(id: id) else { throw notFound }
        guard token.mayAccess(scope: record.scope), try await schemas.mayRead(record.type, as: token.role) else { throw notFound }
        let changes = try await storage.history(recordID: id)
        context.access?.records = [AccessedRecord(id: id, type: record.type, scope: record.scope, effect: "read")]
        context.access?.detail = "changes=\(changes.count)"
        return try JSONBody.response(RecordHistory(id: id, type: record.type, scope: record.scope, changes: changes), for: request)
    }

    /// Who read or changed a record on the server (the access log's entries that name it),
    /// newest first: office and admin tokens, for records in their scopes; a record they may
    /// not read is answered like one that does not exist. The read itself is logged.
    func access(_ request: Request, _ context: VeldRequestContext) async throws -> Response {
        let token = try context.requireToken()
        let id = (context.parameters.get("id") ?? "").lowercased()
        if RecordIDs.isValid(id) { context.access?.records = [AccessedRecord(id: id, type: "", scope: "", effect: "refused")] }
        guard token.role == .office || token.role == .admin else {
            throw Problem(type: .typeForbidden, status: 403,
                          detail: "the \(token.role.rawValue) role may not read the access log; the office does (veld console, veld-server audit)")
        }
        let limit = try Self.limit(request, default: 100, max: RecordAccessLimits.max)
        guard RecordIDs.isValid(id), let record = try await storage.record(id: id), token.mayAccess(scope: record.scope),
              try await schemas.mayRead(record.type, as: token.role) else {
            throw Problem(type: .notFound, status: 404, detail: "no record \(id) that this device may read; check the id (veld show ID)")
        }
        // The newest limit + 1, oldest first.
        let found = try await storage.accessEntries(AccessQuery(recordIDs: [id], limit: limit + 1))
        let entries = found.reversed().prefix(limit).map { entry in
            RecordAccess.Entry(seq: entry.seq, at: entry.at, action: entry.action.rawValue, status: entry.status, problem: entry.problem,
                               effect: entry.records.first { $0.id == id }?.effect ?? "", user: entry.user, role: entry.role,
                               token: entry.tokenID, replica: entry.replica)
        }
        context.access?.records = [AccessedRecord(id: id, type: record.type, scope: record.scope, effect: "read")]
        context.access?.detail = "entries=\(entries.count)"
        return try JSONBody.response(RecordAccess(id: id, entries: entries, more: found.count > limit), for: request)
    }

    /// The request's `limit` (digits only, 1 to `max`), or `defaultValue` when it names none.
    static func limit(_ request: Request, default defaultValue: Int, max: Int) throws -> Int {
        guard let text = request.uri.queryParameters["limit"].map(String.init) else { return defaultValue }
        guard let value = Int(text), (1...max).contains(value), text.utf8.allSatisfy({ (48...57).contains($0) }) else {
            throw Problem(type: .malformed, status: 400, detail: "limit must be a whole number from 1 to \(max), not '\(text)'")
        }
        return value
    }

    /// A device reports what it removed: after a wipe (its token revoked with `--wipe`,
    /// the only request that token may still make) or a scope removal (an active token).
    func receipt(_ request: Request, _ context: VeldRequestContext) async throws -> Response {
        let token = try context.requireToken()
        let body = try await JSONBody.body(of: request, deadline: bodyDeadline)
        guard body.readableBytes <= 64 * 1024 else {
            throw Problem(type: .tooLarge, status: 413, detail: "a receipt is a few hundred bytes; this body is larger than 64 KiB")
        }
        let receipt: PurgeReceipt
        do { receipt = try StableJSON.decode(PurgeReceipt.self, from: Data(body.readableBytesView)) } catch {
            throw Problem(type: .malformed, status: 400,
                          detail: "the body must be a receipt: {\"id\":UUID,\"kind\":\"wipe\"|\"scopes\",\"scopes\":[…],\"records\":N,\"unsent\":N}")
        }
        if let problem = receipt.problem { throw Problem(type: .malformed, status: 400, detail: problem) }
        switch (receipt.kind, token.wipeRequestedAt != nil) {
        case (.wipe, false):
            throw Problem(type: .malformed, status: 400, detail: "this device was not asked to wipe; a wipe receipt is for a token revoked with --wipe (send a scopes receipt, or nothing)")
        case (.scopes, true), (.types, true):
            throw Problem(type: .wipeRequested, status: 401, detail: "this device is to be wiped; send a wipe receipt")
        default: break
        }
        if token.wipedAt != nil {
            // Reported already: the same receipt again is answered, a new one is not taken
            // (a wiped device has nothing more to report).
            guard try await storage.receipts().contains(where: { $0.receipt.id == receipt.id && $0.tokenID == token.id }) else {
                throw Problem(type: .malformed, status: 400, detail: "this device's wipe was reported already (\(token.id)); it has nothing more to send: stop syncing with this token")
            }
            return try JSONBody.response(ReceiptAnswer(id: receipt.id, recorded: false), for: request)
        }
        if receipt.kind == .types {
            for type in receipt.types ?? [] where try await schemas.mayRead(type, as: token.role) {
                throw Problem(type: .malformed, status: 400, detail: "this token's role (\(token.role.rawValue)) may read \(type); a types receipt names only types it may not read")
            }
        }
        if receipt.kind == .scopes, let held = receipt.scopes.first(where: { token.mayAccess(scope: $0) }) {
            throw Problem(type: .malformed, status: 400, detail: "scope \(held) is still in this token; a scopes receipt names only scopes it lost (compare with GET /v1/me)")
        }
        let recorded = try await storage.recordReceipt(receipt, token: token, at: clock())
        context.logger.info("receipt", metadata: ["kind": .string(receipt.kind.rawValue), "records": .stringConvertible(receipt.records)])
        return try JSONBody.response(ReceiptAnswer(id: receipt.id, recorded: recorded), for: request)
    }

    /// The header in which a device names the module set it holds (its ETag) on a pull.
    static let schemasHeader = HTTPField.Name("Veld-Schemas")!

    /// The module set in force, read fresh (a few rows), with a strong ETag: a device that
    /// sends the tag it kept gets a 304 and no body.
    func publishedSchemas(_ request: Request, _ context: VeldRequestContext) async throws -> Response {
        _ = try context.requireToken()
        let published = try await schemas.refresh()
        var headers = HTTPFields()
        headers[.eTag] = published.etag
        headers[.cacheControl] = "no-cache"
        let tags = request.headers[values: .ifNoneMatch].flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        if tags.contains(published.etag) || tags.contains("*") {
            return Response(status: .notModified, headers: headers)
        }
        var response = try JSONBody.response(json: ByteBuffer(bytes: published.json), for: request)
        response.headers[.eTag] = published.etag
        response.headers[.cacheControl] = "no-cache"
        return response
    }

    /// Reads the body strictly, runs the checks that need nothing stored, then lets the
    /// storage run the rest of the policy in its write transaction.
    func push(_ request: Request, _ context: VeldRequestContext) async throws -> Response {
        let token = try context.requireToken()
        let body = try await JSONBody.body(of: request, deadline: bodyDeadline)
        let push = try JSONBody.decodePush(from: body)
        let used = try await schemas.inForce()
        context.access?.name(push.allRecords, knownTypes: used.set)
        if ReplicaIDs.isValid(push.replica) { context.access?.replica = push.replica }
        if UUID(uuidString: push.batch) != nil { context.access?.detail = "batch=\(push.batch)" }
        // The binding as the token was read: refused before any record is looked at (the
        // storage checks it again in the transaction).
        if let bound = token.replica, ReplicaIDs.isValid(push.replica), bound != push.replica {
            throw PushPolicy.replicaMismatch(tokenID: token.id, bound: bound, pushed: push.replica)
        }
        // The fingerprint of the stable encoding, so a resend in other bytes (key order,
        // spaces, gzip) is still recognised as the same batch (protocol/SPEC.md § Replay).
        let fingerprint = TokenSecret.fingerprint(try StableJSON.encode(push))
        func apply(_ set: SchemaSet) async throws -> PushResponse {
            let checked = try PushPolicy.check(push, by: token.pusher, in: set,
                                               proofs: try await storage.identity().proofsAccepted(at: clock()))
            return try await storage.applyPush(checked, token: token, fingerprint: fingerprint, at: clock()) { _ in }
        }
        let response: PushResponse
        do {
            response = try await apply(used.set)
        } catch let problem as Problem where [403, 422].contains(problem.status) {
            // Refused by a set this process read earlier: another process (or `schema add`)
            // may have added what the batch uses. Judged again on the set in force now.
            guard let fresh = try await schemas.refreshed(ifOlderThan: used) else { throw problem }
            response = try await apply(fresh.set)
        }
        context.access?.loggedByStorage = true
        ServerMetrics.pushed(records: push.recordCount, changed: response.results.filter(\.changed).count,
                             inConflict: response.results.filter { $0.changed && $0.conflicts }.count)
        context.logger.info("push", metadata: [
            "replica": .string(push.replica), "batch": .string(push.batch), "records": .stringConvertible(push.recordCount),
            "changed": .stringConvertible(response.results.filter(\.changed).count),
        ])
        return try JSONBody.response(response, for: request)
    }

    func pull(_ request: Request, _ context: VeldRequestContext) async throws -> Response {
        let token = try context.requireToken()
        let query = request.uri.queryParameters
        /// A cursor exactly as the server wrote it: digits, no sign, no leading zero.
        func cursor(_ name: Substring) throws -> Int64? {
            guard let text = query[name].map(String.init), !text.isEmpty else { return nil }
            guard let value = Int64(text), value >= 0, String(value) == text else {
                throw Problem(type: .malformed, status: 400,
                              detail: "\(name) must be a cursor this server returned (or 0 for the beginning), not '\(text.prefix(40))'")
            }
            return value
        }
        let since = try cursor("since") ?? 0
        let limit = try Self.limit(request, default: SyncLimits.defaultPullLimit, max: SyncLimits.maxPullLimit)
        let deltas: Bool
        switch query["deltas"].map(String.init) {
        case nil, "0": deltas = false
        case "1": deltas = true
        case let other?:
            throw Problem(type: .malformed, status: 400, detail: "deltas must be 1 (records the device holds as only what changed) or 0, not '\(other.prefix(40))'")
        }
        // Where the device's last complete pull ended: what its deltas are made against.
        let base = try cursor("base") ?? since
        if base > since {
            throw Problem(type: .malformed, status: 400,
                          detail: "base must be where this device's last complete pull ended, at or before since (\(since)), not \(base); leave it out to have deltas made against since")
        }
        if since > 0, since > (try await storage.headPosition()) {
            throw Problem(type: .malformed, status: 400,
                          detail: "since \(since) is not a cursor this server returned (its change log is shorter); this device's cursor belongs to another server or database: pull again from 0 (veld connect resets it)")
        }
        // What the token's role may not read is skipped, like what its scopes do not hold. A
        // page with a type this process does not know comes from a module added since,
        // which may keep that type from this role: the set is read again and the page with it.
        func fetch(hiding hidden: Set<String>) async throws -> EncodedPullPage {
            try await storage.pullEncoded(scopes: token.scopeFilter, hiding: hidden, after: since, limit: limit, token: token, at: clock())
        }
        func unknownTypes(_ page: EncodedPullPage, _ set: SchemaSet) -> Set<String> {
            page.accessRecords.types.filter { set.named($0)?.type != $0 }
        }
        var used = try await schemas.inForce(deviceHolds: request.headers[Self.schemasHeader]).set
        var page = try await fetch(hiding: used.hiddenTypes(for: token.role))
        if !unknownTypes(page, used).isEmpty {
            used = try await schemas.refresh().set
            page = try await fetch(hiding: used.hiddenTypes(for: token.role))
            // A type that is still in no module is nobody's to read.
            let unknown = unknownTypes(page, used)
            if !unknown.isEmpty { page = try await fetch(hiding: used.hiddenTypes(for: token.role).union(unknown)) }
        }
        context.access?.compactRecords = page.accessRecords
        ServerMetrics.pulled(records: page.states.count)
        context.access?.detail = "since=\(since) cursor=\(page.lastPosition) more=\(page.more)"
        // A record the device held at `base` goes as what changed after it (SPEC.md, "Pull deltas").
        var split = PulledDeltas(whole: page)
        if deltas && base > 0 && !page.states.isEmpty {
            let ids = page.records.map(\.id)
            split = PulledDeltas(page, ids: ids, changed: try await storage.changedFields(ids: ids, after: base))
        }
        ServerMetrics.pulled(deltas: split.deltas.count)
        return try JSONBody.response(json: ByteBuffer(bytes: PullPages.body(encoded: split.states, deltas: split.deltas, digests: split.digests,
                                                                         erased: page.erased, cursor: String(page.lastPosition),
                                                                         more: page.more, proofs: split.proofs)),
                                     for: request)
    }
}

/// A pull page split into the states that go whole and the deltas (``PullDeltas``), with
/// the proofs in the order the page gives them: the whole states', then the deltas'.
struct PulledDeltas {
    var states: [[UInt8]] = []
    var deltas: [[UInt8]] = []
    var digests: [String] = []
    var proofs: [String] = []

    init(whole page: EncodedPullPage) {
        states = page.states
        proofs = page.proofs
    }

    /// Each state of `page` (its records' `ids`, in order) whose record has `changed` fields
    /// after the base, fewer than all of its fields, as a delta; the rest whole (also a state
    /// the delta cannot be cut from).
    init(_ page: EncodedPullPage, ids: [String], changed: [String: Set<String>]) {
        let proven = page.proofs.count == page.states.count
        var deltaProofs: [String] = []
        for (index, bytes) in page.states.enumerated() {
            // The stored JSON is the state's stable JSON: the delta is cut from it, and its
            // digest is the bytes' own.
            if index < ids.count, let fields = changed[ids[index]], fields.count > 0,
               let delta = PullDeltas.delta(encoded: bytes, changed: fields) {
                deltas.append(delta)
                digests.append(PullDeltas.digest(bytes))
                if proven { deltaProofs.append(page.proofs[index]) }
            } else {
                states.append(bytes)
                if proven { proofs.append(page.proofs[index]) }
            }
        }
        proofs += deltaProofs
    }
}

public enum VeldServerInfo {
    public static let version = "0.1.0"
}
