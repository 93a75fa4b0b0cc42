import Foundation
import HTTPTypes
import Hummingbird
import VeldProtocol

/// Names the server's epoch on every answer (`Veld-Epoch`), and refuses a push or a pull
/// from a device that names an older one with 409 `epoch-changed`: its cursor counts
/// positions of a change log the server no longer has, and its push may lean on what the
/// server lost (SPEC.md, "Server epochs"). A request that names no epoch (an older
/// client) is served as before.
struct EpochMiddleware<Context: RequestContext>: RouterMiddleware {
    let storage: any SyncStorage

    static var header: HTTPField.Name { HTTPField.Name(ServerEpoch.headerName)! }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let epoch = try await storage.identity().epoch
        var response: Response
        if let known = request.headers[Self.header], known != epoch,
           request.uri.path == "/v1/push" || request.uri.path == "/v1/pull" {
            let problem = ServerEpoch.changed(from: ServerEpoch.isValid(known) ? known : "another", to: epoch)
            ServerMetrics.refused(problem)
            response = ProblemMiddleware<Context>.response(problem, requestID: context.id)
        } else {
            response = try await next(request, context)
        }
        response.headers[Self.header] = epoch
        return response
    }
}
