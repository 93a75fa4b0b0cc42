import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// One line per request at `info` (method, path, status, milliseconds, with the request id
/// the logger carries), and the request id on every answer (`Veld-Request-Id`), so a user
/// can quote it and the office can find the line. No header, query value or body is logged,
/// nor a path that matched no endpoint.
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    static var header: HTTPField.Name { HTTPField.Name("Veld-Request-Id")! }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        var response = try await next(request, context)
        response.headers[Self.header] = context.id
        let elapsed = ContinuousClock.now - started
        ServerMetrics.request(route: context.endpointPath, method: request.method.rawValue, status: response.status.code, duration: elapsed)
        let millis = Double(elapsed.components.seconds) * 1_000 + Double(elapsed.components.attoseconds) / 1e15
        // A matched route's path holds at most a record's id; a path that matched none is
        // whatever a client sent (a token pasted by mistake, a name): not logged.
        let path = context.endpointPath == nil || response.status == .notFound ? "(no such endpoint)" : request.uri.path
        context.logger.info("request", metadata: [
            "method": .string(ServerMetrics.methods.contains(request.method.rawValue) ? request.method.rawValue : "other"),
            "path": .string(path),
            "status": .stringConvertible(response.status.code), "ms": .string(String(format: "%.1f", millis)),
        ])
        return response
    }
}
