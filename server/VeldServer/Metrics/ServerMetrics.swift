import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import VeldProtocol

/// What the server counts and times (swift-metrics), exported by `veld-server serve` on
/// its own address at `/metrics` in Prometheus' text format. Without a metrics backend (the
/// tests in process) every call is a no-op. Labels hold route templates and problem types,
/// never an id, a token or a value.
public enum ServerMetrics {
    /// Every request: its route (`/v1/records/{id}`, or `unmatched`), method and status, and
    /// how long it took.
    /// The methods a label may name; anything else (HTTP/2 lets a client send any token) is
    /// `other`, so no client can make the server keep a series per request.
    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    static func request(route: String?, method: String, status: Int, duration: Duration) {
        // Routes are the router's templates (Hummingbird names what matched none `NotFound`).
        let route = route ?? "unmatched"
        let method = methods.contains(method) ? method : "other"
        Counter(label: "veld_http_requests_total", dimensions: [("route", route), ("method", method), ("status", String(status))])
            .increment()
        Timer(label: "veld_http_request_duration_seconds", dimensions: [("route", route)]).recordNanoseconds(
            duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    /// An accepted push: the records it changed, and how many of those hold a conflict after it.
    static func pushed(records: Int, changed: Int, inConflict: Int) {
        Counter(label: "veld_push_records_total").increment(by: records)
        Counter(label: "veld_records_merged_total").increment(by: changed)
        Counter(label: "veld_records_in_conflict_after_push_total").increment(by: inConflict)
    }

    static func pulled(records: Int) {
        Counter(label: "veld_pull_records_total").increment(by: records)
    }

    /// Of those, the records sent as pull deltas (SPEC.md, "Pull deltas").
    static func pulled(deltas: Int) {
        guard deltas > 0 else { return }
        Counter(label: "veld_pull_deltas_total").increment(by: deltas)
    }

    /// A refusal (4xx) by its problem type, `urn:veld:problem:` left off.
    static func refused(_ problem: Problem) {
        let kind = problem.type.hasPrefix("urn:veld:problem:") ? String(problem.type.dropFirst(17)) : "other"
        Counter(label: "veld_refusals_total", dimensions: [("problem", kind), ("status", String(problem.status))]).increment()
    }

    /// The database could not be reached (503).
    static func storageError() {
        Counter(label: "veld_storage_errors_total").increment()
    }

    /// A request the server failed (500).
    static func serverError() {
        Counter(label: "veld_server_errors_total").increment()
    }

    /// What is read when `/metrics` is asked: devices heard from in the last day, and the
    /// database's size in bytes.
    static func sample(_ storage: any SyncStorage, now: Date) async {
        if let tokens = try? await storage.tokens() {
            let active = tokens.filter { token in
                token.revokedAt == nil && [token.lastPushAt, token.lastPullAt, token.healthAt].compactMap { $0 }.contains { now.timeIntervalSince($0) < 86_400 }
            }.count
            Gauge(label: "veld_active_devices").record(active)
            Gauge(label: "veld_devices").record(tokens.filter { $0.revokedAt == nil }.count)
        }
        if let size = try? await storage.databaseSize() { Gauge(label: "veld_database_bytes").record(size) }
    }
}

/// The metrics endpoint: its own small HTTP server (`--metrics-address`, loopback by
/// default), so it never shares the public port. `GET /metrics` only.
public func buildMetricsApplication(registry: PrometheusCollectorRegistry, storage: any SyncStorage, host: String, port: Int,
                                    logger: Logger,
                                    onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }) -> some ApplicationProtocol {
    let router = Router()
    router.get("/metrics") { _, _ -> Response in
        await ServerMetrics.sample(storage, now: Date())
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
    }
    return Application(router: router, configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "veld-server-metrics"),
                       onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) }, logger: logger)
}
