import Foundation
import HTTPTypes
import Logging
import Hummingbird
import VeldProtocol

/// Finds the device token of a request (`Authorization: Bearer …`) and refuses requests
/// without a valid, unrevoked one with 401.
struct TokenAuthenticator: RouterMiddleware {
    typealias Context = VeldRequestContext
    static let deviceHeader = HTTPField.Name(DeviceHealth.headerName)!
    let storage: any SyncStorage
    let clock: @Sendable () -> Date

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw Problem(type: .unauthenticated, status: 401,
                          detail: "no device token; send Authorization: Bearer TOKEN (the office issues tokens with `veld-server token create`)")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw Problem(type: .unauthenticated, status: 401, detail: "the Authorization header must be `Bearer TOKEN`")
        }
        guard let token = try await storage.token(hash: TokenSecret.hash(String(parts[1]))) else {
            throw Problem(type: .unauthenticated, status: 401,
                          detail: "this device token is not known to the server; check it or ask the office for a new one")
        }
        if token.wipeRequestedAt != nil {
            // A lost device: its data goes on this contact. Its receipt is the one request
            // the token may still make.
            if request.method == .post, context.endpointPath == "/v1/receipts" {
                var context = context
                context.token = token
                context.logger[metadataKey: "token"] = .string(token.id)
                return try await next(request, context)
            }
            try await logRefusal(request, token: token, context: context, problem: .wipeRequested)
            throw Problem(type: .wipeRequested, status: 401,
                          detail: "the office revoked this device (\(token.id)) and asked for its data to be erased: erase every record, outbox entry and discarded change, then report it with POST /v1/receipts (kind wipe)")
        }
        if token.revokedAt != nil {
            try await logRefusal(request, token: token, context: context)
            throw Problem(type: .unauthenticated, status: 401,
                          detail: "this device token (\(token.id)) has been revoked; ask the office for a new one")
        }
        if let expiresAt = token.expiresAt, expiresAt <= clock() {
            try await logRefusal(request, token: token, context: context)
            throw Problem(type: .unauthenticated, status: 401,
                          detail: "this device token (\(token.id)) expired on \(InternetTime.format(expiresAt)); ask the office for a new secret (`veld-server token rotate \(token.id)`) and give it to `veld connect --token-file`")
        }
        var context = context
        context.token = token
        context.logger[metadataKey: "token"] = .string(token.id)
        // How the device is doing (SPEC.md, "Device health"); a header that does not parse is
        // left out, never a reason to refuse the device its sync.
        if let value = request.headers[Self.deviceHeader] {
            if let health = DeviceHealth(header: value) {
                storage.noteDeviceHealth(token: token.id, health: health, at: clock())
            } else {
                context.logger.debug("a Veld-Device header that does not parse was left out")
            }
        }
        return try await next(request, context)
    }

    /// A revoked or expired token is someone the office knows: its attempt to read or
    /// write client data goes into the access log. (An unknown token names nobody; the
    /// server's own log has it at debug.)
    private func logRefusal(_ request: Request, token: DeviceToken, context: Context,
                            problem: Problem.Kind = .unauthenticated) async throws {
        guard let action = AccessAction(method: request.method, route: context.endpointPath) else { return }
        do {
            try await storage.appendAccess([AccessDraft(at: clock(), action: action, status: 401, problem: problem.rawValue, token: token)])
        } catch {
            context.logger.warning("a refused \(action.rawValue) could not be written to the access log: \(error)")
        }
    }
}
