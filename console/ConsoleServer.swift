import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import VeldCore
import VeldProtocol

/// `veld console`: a web front end of the user's own profile, on 127.0.0.1 only, like a
/// phone app would be: every change is an ordinary local edit of the client core that a
/// sync sends. Nothing here talks to the server except the sync and the server-only views
/// (a record's history and access log, the devices), which go through the profile's own
/// transport.
///
/// Security: it listens on loopback only; every page lives under a random secret path
/// (`/SECRET/…`, the link it prints), so nothing without the link reaches it (no cookie that
/// a browser would also send to other programs on another port of 127.0.0.1); every
/// request must name its own address as host (no DNS rebinding) and come from its own
/// pages (`Origin` on changes, `Sec-Fetch-Site` on everything); every answer carries a
/// Content-Security-Policy that allows only its own stylesheet and script, and every value
/// is escaped.
public struct Console: Sendable {
    public let store: LocalStore
    /// One sync of the profile, as `veld sync` runs it, telling its progress as it goes.
    public let sync: @Sendable (@escaping @Sendable (SyncProgress) -> Void) async throws -> SyncReport
    /// A record's history from the server (`GET /v1/records/{id}/history`).
    public let history: @Sendable (String) async throws -> RecordHistory
    /// The server's state of a record (`GET /v1/records/{id}`), for a discard; nil when it
    /// has none.
    public let serverRecord: @Sendable (String) async throws -> RecordState?
    /// Every active device as the server knows it (`GET /v1/devices`; the office's token).
    public let devices: @Sendable () async throws -> [DeviceReport]
    /// Who read or changed a record on the server (`GET /v1/records/{id}/access`; the
    /// office's token).
    public let access: @Sendable (String) async throws -> RecordAccess
    /// The secret path segment of every page; 32 random bytes in hex when not given.
    public let secret: String
    public let clock: @Sendable () -> Date

    public init(store: LocalStore, secret: String? = nil, clock: @escaping @Sendable () -> Date = { Date() },
                sync: @escaping @Sendable (@escaping @Sendable (SyncProgress) -> Void) async throws -> SyncReport,
                history: @escaping @Sendable (String) async throws -> RecordHistory,
                serverRecord: @escaping @Sendable (String) async throws -> RecordState?,
                devices: @escaping @Sendable () async throws -> [DeviceReport],
                access: @escaping @Sendable (String) async throws -> RecordAccess) {
        self.devices = devices
        self.access = access
        self.store = store
        self.sync = sync
        self.history = history
        self.serverRecord = serverRecord
        self.clock = clock
        self.secret = secret ?? (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    /// Serves until cancelled (SIGINT, SIGTERM). `onReady` gets the link to open, with the secret.
    public func run(port: Int = 0, logger: Logger = Logger(label: "veld-console"),
                    onReady: @escaping @Sendable (URL) async -> Void) async throws {
        let bound = BoundPort()
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ConsoleGuard(secret: secret, port: bound))
        let handlers = ConsoleHandlers(console: self)
        handlers.add(to: router.group(RouterPath(secret)))
        let app = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: port), serverName: "veld-console"),
            onServerRunning: { channel in
                let actual = channel.localAddress?.port ?? port
                bound.set(actual)
                await onReady(URL(string: "http://127.0.0.1:\(actual)/\(secret)/")!)
            },
            logger: logger)
        try await app.runService()
    }
}

/// The port the console listens on, known once it listens (port 0 picks a free one).
final class BoundPort: @unchecked Sendable {
    private let lock = NSLock()
    private var port = 0
    func set(_ value: Int) { lock.withLock { port = value } }
    var value: Int { lock.withLock { port } }
}

/// The checks every request passes, and the headers every answer carries.
struct ConsoleGuard: RouterMiddleware {
    typealias Context = BasicRequestContext
    let secret: String
    let port: BoundPort

    static let policy = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; "
        + "frame-ancestors 'none'; base-uri 'self'; connect-src 'self'"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await decide(request, context: context, next: next)
        } catch let error as any HTTPResponseError {
            response = Self.refusal(error.status, error.status.reasonPhrase)
        } catch {
            context.logger.error("console request failed: \(String(reflecting: error))")
            response = Self.refusal(.internalServerError, "Er ging iets mis / something went wrong: \(error)")
        }
        response.headers[.contentSecurityPolicy] = Self.policy
        response.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        // Not no-referrer: a browser then sends `Origin: null` with the console's own forms.
        response.headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
        response.headers[HTTPField.Name("Cross-Origin-Opener-Policy")!] = "same-origin"
        response.headers[HTTPField.Name("Cross-Origin-Resource-Policy")!] = "same-origin"
        response.headers[.cacheControl] = "no-store"
        return response
    }

    private func decide(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let port = port.value
        let hosts = ["127.0.0.1:\(port)", "localhost:\(port)"]
        // A page of another site that resolves its own name to 127.0.0.1 (DNS rebinding)
        // names that site as host.
        guard let host = request.head.authority, hosts.contains(host) else {
            return Self.refusal(.misdirectedRequest, "This console answers only at 127.0.0.1:\(port).")
        }
        // The first path segment is the secret: compared in constant time, whatever follows.
        let path = request.uri.path
        let segment = path.dropFirst().prefix { $0 != "/" }
        guard path.hasPrefix("/"), Self.same(String(segment), secret) else {
            return Self.refusal(.forbidden, ConsoleText(language: .nl).forbidden)
        }
        // Another site's page may not even read (time) a page of the console.
        if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!], site != "same-origin", site != "none" {
            return Self.refusal(.forbidden, ConsoleText(language: .nl).crossSite)
        }
        if request.method != .get && request.method != .head {
            // Only the console's own pages may change anything.
            let origins = hosts.map { "http://" + $0 }
            guard let origin = request.headers[.origin], origins.contains(origin),
                  (request.headers[HTTPField.Name("Sec-Fetch-Site")!] ?? "same-origin") == "same-origin" else {
                return Self.refusal(.forbidden, ConsoleText(language: .nl).crossSite)
            }
        }
        return try await next(request, context)
    }

    /// Compared in constant time.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    static func refusal(_ status: HTTPResponse.Status, _ message: String) -> Response {
        let page: HTML = "<!doctype html><html lang=\"nl\"><head><meta charset=\"utf-8\"><title>Veld</title></head><body><p>\(message)</p></body></html>"
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: page.description)))
    }
}
