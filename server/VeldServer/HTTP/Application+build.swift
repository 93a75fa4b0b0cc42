import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdHTTP2
import HummingbirdTLS
import Logging
import NIOCore
import ServiceLifecycle
import VeldProtocol

/// Builds the Veld sync server on `storage`: the one builder that `veld-server serve` and
/// the tests share.
///
/// ```swift
/// let app = try buildApplication(storage: storage, host: "127.0.0.1", port: 0) { port in print(port) }
/// try await app.runService()
/// ```
///
/// With `tls` it speaks HTTPS, HTTP/2 or HTTP/1.1 as the client's ALPN asks; without, plain
/// HTTP/1.1 (which `veld-server serve` allows on loopback only).
public func buildApplication(
    storage: any SyncStorage,
    host: String = "127.0.0.1",
    port: Int = 8080,
    logger: Logger = Logger(label: "veld-server"),
    clock: @escaping @Sendable () -> Date = WallClock.now,
    idleTimeout: Duration = .seconds(30),
    bodyDeadline: Duration = .seconds(120),
    tls: ServerTLS? = nil,
    services: [any Service] = [],
    onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let router = Router(context: VeldRequestContext.self)
    // Outermost: every answer, problems too, carries the request id and is logged once.
    router.add(middleware: RequestLogMiddleware())
    router.add(middleware: EpochMiddleware(storage: storage))
    router.add(middleware: ProblemMiddleware())
    SyncRoutes(storage: storage, clock: clock, schemas: SchemaCache(storage: storage), bodyDeadline: bodyDeadline).add(to: router)
    // A connection that sends nothing for `idleTimeout` (also while its headers or body
    // are due) is closed, so half-open connections cannot pile up.
    // `Expect: 100-continue` is answered at once (curl waits a second for it otherwise).
    let http1 = HTTP1Channel.Configuration(additionalChannelHandlers: [ExpectContinueHandler()], idleTimeout: TimeAmount(idleTimeout))
    let server: HTTPServerBuilder = if let tls {
        try .http2Upgrade(tlsConfiguration: tls.configuration,
                          configuration: .init(idleTimeout: idleTimeout, streamConfiguration: http1))
    } else {
        .http1(configuration: http1)
    }
    return Application(
        router: router,
        server: server,
        configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "veld-server"),
        // First in the list, so it is shut down last: after the server has answered its
        // last request.
        services: [FlushOnShutdown(storage: storage)] + services,
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
        logger: logger
    )
}

/// Writes what the storage keeps in memory for a moment (each device's last pull) when the
/// server shuts down gracefully (SIGTERM, SIGINT).
struct FlushOnShutdown: Service {
    let storage: any SyncStorage

    func run() async throws {
        try? await gracefulShutdown()
        await storage.flushPendingWrites()
    }
}
