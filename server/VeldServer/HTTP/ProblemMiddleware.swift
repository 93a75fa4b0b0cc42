import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import VeldProtocol

/// Turns every error into an `application/problem+json` answer: Veld's own problems as
/// they are, Hummingbird's HTTP errors (404, 413, …) mapped to a problem, anything else a
/// logged 500 that says nothing internal.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            if problem.status >= 500 {
                context.logger.error("\(problem.detail)")
                problem.status == 503 ? ServerMetrics.storageError() : ServerMetrics.serverError()
            } else {
                ServerMetrics.refused(problem)
            }
            return Self.response(problem, requestID: context.id)
        } catch StorageError.unavailable(let detail) {
            context.logger.warning("storage unavailable: \(detail)")
            ServerMetrics.storageError()
            return Self.response(Problem(type: .unavailable, status: 503,
                                         detail: "the server's database is not reachable right now; try again in a moment"),
                                 requestID: context.id)
        } catch let error as HTTPParserError {
            // Broken framing (`Transfer-Encoding: xchunked`, an overflowing chunk size) met
            // while the body is read: the client's fault, and the connection cannot go on.
            context.logger.debug("malformed HTTP framing: \(error)")
            var response = Self.response(Problem(type: .malformed, status: 400,
                                                 detail: "the request's HTTP framing is invalid (\(error)); send a Content-Length or a valid chunked body"),
                                         requestID: context.id)
            response.headers[.connection] = "close"
            return response
        } catch let error as any HTTPResponseError {
            // Hummingbird's own errors: 404 for unknown paths, 413 from body collection, …
            let problem: Problem
            switch error.status {
            case .notFound:
                problem = Problem(type: .notFound, status: 404,
                                  detail: "no such endpoint: \(request.method) \(request.uri.path); see protocol/SPEC.md")
            case .contentTooLarge:
                problem = Problem(type: .tooLarge, status: 413,
                                  detail: "the body is larger than \(SyncLimits.maxBodyBytes / 1_048_576) MiB; send fewer records per batch")
            case .methodNotAllowed:
                problem = Problem(type: .notFound, status: 405, detail: "\(request.method) is not allowed on \(request.uri.path)")
            default:
                problem = Problem(type: error.status.code >= 500 ? .internal : .malformed, status: error.status.code,
                                  detail: (error as? HTTPError)?.body ?? error.status.reasonPhrase)
            }
            if problem.status >= 500 { ServerMetrics.serverError() } else { ServerMetrics.refused(problem) }
            return Self.response(problem, requestID: context.id)
        } catch {
            context.logger.error("request failed: \(String(reflecting: error))")
            ServerMetrics.serverError()
            return Self.response(Problem(type: .internal, status: 500,
                                         detail: "the server could not handle this request; it has been logged (request \(context.id)). Try again later."),
                                 requestID: context.id)
        }
    }

    static func response(_ problem: Problem, requestID: String? = nil) -> Response {
        var problem = problem
        if let requestID { problem.requestId = requestID }
        let data = (try? StableJSON.encode(problem)) ?? Data()
        var headers = HTTPFields()
        headers[.contentType] = "application/problem+json"
        if problem.status == 503 { headers[.retryAfter] = "5" }
        // The rest of a body that came too slowly is not waited for.
        if problem.status == 408 { headers[.connection] = "close" }
        return Response(status: HTTPResponse.Status(code: problem.status), headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
