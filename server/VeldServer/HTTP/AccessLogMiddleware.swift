import Foundation
import Hummingbird
import Logging
import VeldProtocol

/// What a route tells the access log about its request: the records it read or was
/// asked for, and facts that hold no field value. A reference, so the route can fill it
/// in while the middleware holds it.
public final class AccessNotes: @unchecked Sendable {
    private let lock = NSLock()
    private var _records = CompactAccessRecords()
    private var _detail = ""
    private var _replica: String?
    private var _loggedByStorage = false

    var records: [AccessedRecord] {
        get { lock.withLock { _records.records ?? [] } }
        set { lock.withLock { _records = CompactAccessRecords(newValue) } }
    }
    /// The records, in the form the log keeps them (a pull page's, as it was read).
    var compactRecords: CompactAccessRecords {
        get { lock.withLock { _records } }
        set { lock.withLock { _records = newValue } }
    }
    var detail: String {
        get { lock.withLock { _detail } }
        set { lock.withLock { _detail = newValue } }
    }
    var replica: String? {
        get { lock.withLock { _replica } }
        set { lock.withLock { _replica = newValue } }
    }
    /// The storage wrote the entry in the request's own transaction (an accepted push).
    var loggedByStorage: Bool {
        get { lock.withLock { _loggedByStorage } }
        set { lock.withLock { _loggedByStorage = newValue } }
    }

    /// The records a refused request named, as far as they are well-formed: a refused
    /// push may carry anything, and the log takes no text a client made up.
    func name(_ states: [RecordState], knownTypes schemas: SchemaSet) {
        records = states.prefix(SyncLimits.maxBatchRecords).compactMap { state in
            guard RecordIDs.isValid(state.id) else { return nil }
            return AccessedRecord(id: state.id, type: schemas.named(state.type)?.type == state.type ? state.type : "",
                                  scope: Scopes.isValid(state.scope) ? state.scope : "", effect: "refused")
        }
    }
}

extension AccessAction {
    /// The action of an authenticated request, by the route the router matched (so
    /// however the path is written, `//v1/pull` or `/v1/pull/`, it is the same action), or
    /// nil for one that touches no client data (`GET /v1/me`).
    init?(method: HTTPRequest.Method, route: String?) {
        switch (method, route) {
        case (.get, "/v1/pull"): self = .pull
        case (.post, "/v1/push"): self = .push
        case (.get, "/v1/records/{id}/history"): self = .history
        case (.get, "/v1/records/{id}"): self = .record
        case (.get, "/v1/records/{id}/access"): self = .access
        default: return nil
        }
    }
}

/// Writes the access-log entry of every authenticated request that reads or writes client
/// data: after the route answered (a read is answered only once it is logged: if the
/// entry cannot be written the request fails with 503 and nothing is sent), or when the
/// route refused it (with the problem's status and type).
struct AccessLogMiddleware: RouterMiddleware {
    typealias Context = VeldRequestContext
    let storage: any SyncStorage
    let clock: @Sendable () -> Date

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let action = AccessAction(method: request.method, route: context.endpointPath) else { return try await next(request, context) }
        let notes = AccessNotes()
        var context = context
        context.access = notes
        let token = context.token
        do {
            let response = try await next(request, context)
            // A pull that read nothing, and a push the storage logged, need no entry here.
            if !notes.loggedByStorage, action != .pull || !notes.compactRecords.isEmpty {
                var draft = AccessDraft(at: clock(), action: action, token: token, replica: notes.replica,
                                        detail: notes.detail, compactRecords: notes.compactRecords)
                draft.prepare()
                try await storage.appendAccess([draft])
            }
            return response
        } catch {
            let refusal: (status: Int, type: String)?
            switch error {
            case let problem as Problem where problem.status < 500:
                refusal = (problem.status, String(problem.type.dropFirst("urn:veld:problem:".count)))
            case let error as any HTTPResponseError where error.status.code < 500:
                refusal = (error.status.code, error.status == .contentTooLarge ? Problem.Kind.tooLarge.rawValue : Problem.Kind.malformed.rawValue)
            default:
                refusal = nil
            }
            if let refusal {
                var records = notes.records
                // A refused request is filed under the replica the token is bound to: the one
                // a push claimed (maybe another device's) is only mentioned.
                var detail = notes.detail
                if let claimed = notes.replica, claimed != token?.replica {
                    detail += (detail.isEmpty ? "" : " ") + "claimed-replica=\(claimed)"
                }
                if let problem = error as? Problem {
                    // Records the refusal is about that the route had not named (a push's
                    // body read no further than the problem).
                    let known = Set(records.map(\.id))
                    for item in problem.records ?? [] where RecordIDs.isValid(item.id) && !known.contains(item.id) {
                        records.append(AccessedRecord(id: item.id, type: "", scope: "", effect: "refused"))
                    }
                }
                do {
                    try await storage.appendAccess([AccessDraft(at: clock(), action: action, status: refusal.status, problem: refusal.type,
                                                                token: token, replica: token?.replica, detail: detail, records: records)])
                } catch {
                    context.logger.warning("a refused \(action.rawValue) could not be written to the access log: \(error)")
                }
            }
            throw error
        }
    }
}
