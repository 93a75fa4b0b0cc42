import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import VeldCore
import VeldProtocol

/// The access log of one record (office), and the sync that tells its progress.
extension ConsoleHandlers {
    /// Who read or changed a record on the server, from its access log: a page of its own,
    /// because reading the log is itself logged (the record page does not read it on every view).
    func access(_ request: Request, id: String) async throws -> Response {
        let (text, pages, frame) = try context(request)
        let id = id.lowercased()
        guard RecordIDs.isValid(id), let state = try? store.record(id) else {
            return Self.page(pages.layout(text.records, frame, pages.message(text.records, text.notFound)), status: .notFound)
        }
        let answer: Result<RecordAccess, any Error>
        do {
            let fetch = console.access
            answer = .success(try await Self.within(seconds: 5) { try await fetch(id) })
        } catch {
            answer = .failure(error)
        }
        let title = ConsolePages.title(of: state, schema: try store.schemaSet().named(state.type))
        return Self.page(pages.layout(text.accessLog, frame, pages.access(answer, state: state, title: title)))
    }

    /// Starts a sync in the background (or joins the one under way) for the page's script,
    /// which then asks `sync/progress` how it goes: `{"run": N}`.
    func startSync(_ request: Request) async throws -> Response {
        let text = ConsoleText(language: Language.from(cookie: request.cookies["lang"]?.value))
        let run = syncRuns.start(console.sync, text: text, flashes: flashes)
        return try Self.json(SyncAnswer(run: run.number))
    }

    /// How run N goes: `{"running": true, "text": "Ontvangen: 400 records"}` while it runs,
    /// `{"running": false, "location": "…?flash=…"}` once it is done (the page to show).
    func syncProgress(_ request: Request) throws -> Response {
        let text = ConsoleText(language: Language.from(cookie: request.cookies["lang"]?.value))
        guard let number = request.uri.queryParameters["run"].flatMap({ Int(String($0)) }), let state = syncRuns.state(of: number) else {
            return try Self.json(SyncAnswer(running: false, location: base), status: .notFound)
        }
        switch state {
        case .running(let progress):
            return try Self.json(SyncAnswer(running: true, text: progress.map(text.progress) ?? text.syncStarting))
        case .done(let flash):
            return try Self.json(SyncAnswer(running: false, location: base + "?flash=" + flash))
        }
    }

    /// What the page's script reads about a sync; absent members are left out.
    struct SyncAnswer: Encodable {
        var run: Int?
        var running: Bool?
        var text: String?
        var location: String?
    }

    static func json(_ answer: SyncAnswer, status: HTTPResponse.Status = .ok) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: try StableJSON.encode(answer))))
    }
}

/// The console's syncs: one at a time, started by a page's script (or a plain form post,
/// which waits for it), each with a number the page asks about. The last few finished
/// ones are kept, each with the message to show once.
final class SyncRuns: @unchecked Sendable {
    enum State: Sendable {
        case running(SyncProgress?)
        /// The flash that says how it ended.
        case done(String)
    }

    struct Run: Sendable {
        let number: Int
        let task: Task<String, Never>
    }

    private let lock = NSLock()
    private var current: Run?
    private var progress: SyncProgress?
    private var finished: [Int: String] = [:]
    private var count = 0

    /// The sync under way, or a new one.
    func start(_ sync: @escaping @Sendable (@escaping @Sendable (SyncProgress) -> Void) async throws -> SyncReport,
               text: ConsoleText, flashes: Flashes) -> Run {
        lock.withLock {
            if let current { return current }
            count += 1
            let number = count
            progress = nil
            let task = Task<String, Never> {
                let flash: String
                do {
                    let report = try await sync { event in self.note(event) }
                    if let refused = report.pushRefused {
                        flash = flashes.add("\(text.syncFailed): \(refused.detail)", isError: true)
                    } else {
                        var message = "\(text.syncDone): " + text.pushedPulled(report.pushed, report.pulled, report.newConflicts)
                        if report.parked > 0 { message += " " + text.setAside(report.parked) }
                        flash = flashes.add(message, isError: false)
                    }
                } catch {
                    flash = flashes.add("\(text.syncFailed): \(error)", isError: true)
                }
                self.finish(number, flash: flash)
                return flash
            }
            let run = Run(number: number, task: task)
            current = run
            return run
        }
    }

    private func note(_ event: SyncProgress) {
        lock.withLock { progress = event }
    }

    private func finish(_ number: Int, flash: String) {
        lock.withLock {
            if finished.count >= 20, let oldest = finished.keys.min() { finished.removeValue(forKey: oldest) }
            finished[number] = flash
            if current?.number == number { current = nil }
        }
    }

    func state(of number: Int) -> State? {
        lock.withLock {
            if current?.number == number { return .running(progress) }
            return finished[number].map(State.done)
        }
    }
}

extension ConsolePages {
    func access(_ answer: Result<RecordAccess, any Error>, state: RecordState, title: String) -> HTML {
        let heading: HTML = """
            <p><a href="records/\(HTML.component(state.id))">\(text.backToRecord)</a></p>
            <h1>\(text.accessLog): \(title)</h1>
            <p class="meta"><code>\(state.id)</code></p>
            <p>\(text.accessIntro)</p>
            """
        guard case .success(let log) = answer else {
            return "\(heading)<p class=\"empty\" id=\"access-unavailable\">\(text.accessUnavailable)</p>"
        }
        let rows: [HTML] = log.entries.map { entry in
            let outcome = entry.status < 400 ? "\(entry.status)" : "\(entry.status) \(entry.problem ?? "")"
            return """
                <tr\(entry.status >= 400 ? HTML(trusted: " class=\"conflict\"") : .empty)><td><time datetime="\(InternetTime.format(entry.at))">\(Self.dateTime(entry.at))</time></td>
                <td>\(entry.user ?? "—")</td><td>\(entry.role ?? "—")</td><td>\(text.action(entry.action))</td><td>\(text.effect(entry.effect))</td>
                <td>\(outcome)</td><td><code>\(entry.token ?? "—")</code></td><td><code>\(entry.replica ?? "—")</code></td></tr>
                """
        }
        let more: HTML = log.more ? "<p class=\"meta\" id=\"access-more\">\(text.accessMore(state.id))</p>" : .empty
        return """
            \(heading)
            <div class="scroll"><table class="list" id="access"><thead><tr><th scope="col">\(text.when)</th><th scope="col">\(text.user)</th>
            <th scope="col">\(text.role)</th><th scope="col">\(text.actionColumn)</th><th scope="col">\(text.effectColumn)</th>
            <th scope="col">\(text.outcome)</th><th scope="col">Token</th><th scope="col">\(text.deviceColumn)</th></tr></thead><tbody>\(rows)</tbody></table></div>
            \(more)
            """
    }
}
