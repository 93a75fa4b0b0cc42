import Foundation
import Hummingbird
import Logging
import NIOCore
import VeldProtocol

/// `/v1/push`, `/v1/pull` and `/v1/health`.
struct SyncRoutes {
    let storage: any SyncStorage
    let clock: @Sendable () -> Date

    func add(to router: Router<VeldRequestContext>) {
        router.get("/v1/health") { request, _ in
            try JSONBody.response(HealthResponse(status: "ok", version: VeldServerInfo.version, protocolVersion: 1), for: request)
        }
        let authenticated = router.group("v1").add(middleware: TokenAuthenticator(storage: storage))
        authenticated.post("push") { request, context in try await push(request, context) }
        authenticated.get("pull") { request, context in try await pull(request, context) }
        authenticated.get("records/:id/history") { request, context in try await history(request, context) }
    }

    /// Office and admin see every record's history; others only records in their scopes.
    /// A record the caller may not read is answered like one that does not exist.
    func history(_ request: Request, _ context: VeldRequestContext) async throws -> Response {
        let token = try context.requireToken()
        let id = (context.parameters.get("id") ?? "").lowercased()
        let notFound = Problem(type: .notFound, status: 404,
                               detail: "no record \(id) that this device may read; check the id (veld show ID)")
        guard RecordIDs.isValid(id), let record = try await storage.record(id: id) else { throw notFound }
        guard [.office, .admin].contains(token.role) || token.mayAccess(scope: record.scope) else { throw notFound }
        let changes = try await storage.history(recordID: id)
        return try JSONBody.response(RecordHistory(id: id, type: record.type, scope: record.scope, changes: changes), for: request)
    }

    func push(_ request: Request, _ context: VeldRequestContext) async throws -> Response {
        let token = try context.requireToken()
        let body = try await JSONBody.body(of: request)
        let push = try JSONBody.decode(PushRequest.self, from: body)
        guard !push.replica.isEmpty, push.replica.count <= 100 else {
            throw Problem(type: .malformed, status: 400, detail: "replica must be the device's replica id")
        }
        guard UUID(uuidString: push.batch) != nil else {
            throw Problem(type: .malformed, status: 400, detail: "batch must be a UUID made by the client for this batch")
        }
        guard push.records.count <= 10_000 else {
            throw Problem(type: .tooLarge, status: 413, detail: "a batch holds at most 10000 records; send \(push.records.count) in several batches")
        }
        if let bound = token.replica, bound != push.replica {
            throw replicaMismatch(bound: bound, token: token, pushed: push.replica)
        }
        // The fingerprint of the stable encoding, so a resend in other bytes (key order,
        // spaces, gzip) is still recognised as the same batch (protocol/SPEC.md § Replay).
        let fingerprint = TokenSecret.fingerprint(try StableJSON.encode(push))
        let validator = PushValidator(token: token, replica: push.replica)
        let records = push.records
        let check: @Sendable (MergedBatch) throws -> Void = { batch in try validator.validate(records, batch: batch) }
        do {
            let response = try await storage.applyPush(push, token: token, fingerprint: fingerprint, at: clock(), check: check)
            context.logger.info("push", metadata: [
                "replica": .string(push.replica), "batch": .string(push.batch), "records": .stringConvertible(push.records.count),
                "changed": .stringConvertible(response.results.filter(\.changed).count),
            ])
            return try JSONBody.response(response, for: request)
        } catch StorageError.batchReused(let batch) {
            throw Problem(type: .batchReused, status: 409,
                          detail: "batch \(batch) was already received with other content; use a new batch id for new content")
        } catch StorageError.replicaMismatch(let bound) {
            throw replicaMismatch(bound: bound, token: token, pushed: push.replica)
        }
    }

    func pull(_ request: Request, _ context: VeldRequestContext) async throws -> Response {
        let token = try context.requireToken()
        let query = request.uri.queryParameters
        let since: Int64
        if let text = query["since"].map(String.init), !text.isEmpty {
            guard let value = Int64(text), value >= 0 else {
                throw Problem(type: .malformed, status: 400, detail: "since must be a cursor this server returned (or 0 for the beginning), not '\(text)'")
            }
            since = value
        } else {
            since = 0
        }
        var limit = SyncLimits.defaultPullLimit
        if let text = query["limit"].map(String.init) {
            guard let value = Int(text), (1...SyncLimits.maxPullLimit).contains(value) else {
                throw Problem(type: .malformed, status: 400, detail: "limit must be a whole number from 1 to \(SyncLimits.maxPullLimit), not '\(text)'")
            }
            limit = value
        }
        let page = try await storage.pullEncoded(scopes: token.scopeFilter, after: since, limit: limit, token: token, at: clock())
        return try JSONBody.response(json: Self.pullBody(page), for: request)
    }

    /// The `PullResponse` of `page` in stable JSON, spliced from the stored states without
    /// decoding them: keys sorted (`cursor`, `more`, `records`), no spaces, the cursor a
    /// string of digits; byte for byte what `StableJSON.encode` makes of the decoded page.
    static func pullBody(_ page: EncodedPullPage) -> ByteBuffer {
        let head = #"{"cursor":""# + String(page.lastPosition) + #"","more":"# + (page.more ? "true" : "false") + #","records":["#
        var buffer = ByteBufferAllocator().buffer(capacity: head.utf8.count + page.states.reduce(2) { $0 + $1.utf8.count + 1 })
        buffer.writeString(head)
        for (index, state) in page.states.enumerated() {
            if index > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
            buffer.writeString(state)
        }
        buffer.writeString("]}")
        return buffer
    }

    private func replicaMismatch(bound: String, token: DeviceToken, pushed: String) -> Problem {
        Problem(type: .replicaMismatch, status: 403,
                detail: "token \(token.id) belongs to replica \(bound), not \(pushed); each device needs its own token (ask the office)")
    }
}

public enum VeldServerInfo {
    public static let version = "0.1.0"
}
