import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import VeldCore
import VeldProtocol

/// The console's routes: each reads the profile, or makes one local edit, through the
/// client core's public interface, as a phone app would.
struct ConsoleHandlers: Sendable {
    let console: Console
    let flashes = Flashes()
    let syncRuns = SyncRuns()

    var store: LocalStore { console.store }
    /// Where the pages are: `/SECRET/`.
    var base: String { "/\(console.secret)/" }

    /// The routes, on the group under the secret path.
    func add(to router: RouterGroup<BasicRequestContext>) {
        router.get("/") { request, _ in try inbox(request) }
        router.get("/records") { request, _ in try records(request) }
        router.get("/records/:id") { request, context in try await record(request, id: context.parameters.get("id") ?? "") }
        router.post("/records/:id/resolve") { request, context in try await resolve(request, id: context.parameters.get("id") ?? "") }
        router.post("/records/:id/deletion") { request, context in try await deletion(request, id: context.parameters.get("id") ?? "") }
        router.post("/sync") { request, _ in try await sync(request) }
        router.post("/sync/start") { request, _ in try await startSync(request) }
        router.get("/sync/progress") { request, _ in try syncProgress(request) }
        router.get("/records/:id/access") { request, context in try await access(request, id: context.parameters.get("id") ?? "") }
        router.get("/new") { request, _ in try newMenu(request) }
        router.get("/new/:type") { request, context in try newForm(request, type: context.parameters.get("type") ?? "") }
        router.post("/new/:type") { request, context in try await create(request, type: context.parameters.get("type") ?? "") }
        router.get("/records/:id/edit") { request, context in try editForm(request, id: context.parameters.get("id") ?? "") }
        router.post("/records/:id/edit") { request, context in try await saveEdit(request, id: context.parameters.get("id") ?? "") }
        router.get("/due") { request, _ in try due(request) }
        router.get("/devices") { request, _ in try await devices(request) }
        router.get("/rejected") { request, _ in try rejected(request) }
        router.post("/records/:id/retry") { request, context in try await retry(request, id: context.parameters.get("id") ?? "") }
        router.post("/records/:id/discard") { request, context in try await discard(request, id: context.parameters.get("id") ?? "") }
        router.get("/language/:language") { _, context in
            let language = Language(rawValue: context.parameters.get("language") ?? "") ?? .nl
            var response = Response(status: .seeOther)
            response.headers[.location] = base
            response.headers[.setCookie] = "lang=\(language.rawValue); Path=\(base); SameSite=Strict"
            return response
        }
        router.get("/static/console.css") { _, _ in Self.asset(ConsoleAssets.css, type: "text/css; charset=utf-8") }
        router.get("/static/console.js") { _, _ in Self.asset(ConsoleAssets.js, type: "text/javascript; charset=utf-8") }
    }

    // MARK: Pages

    func context(_ request: Request) throws -> (ConsoleText, ConsolePages, ConsolePages.Frame) {
        let text = ConsoleText(language: Language.from(cookie: request.cookies["lang"]?.value))
        let profile = try store.profile()
        let flash = request.uri.queryParameters["flash"].flatMap { flashes.take(String($0)) }
        let outbox = try store.outbox()
        // The page's path after the secret, for the navigation.
        let path = "/" + request.uri.path.dropFirst(base.count).split(separator: "/").joined(separator: "/")
        let frame = ConsolePages.Frame(user: profile.user, role: profile.role.rawValue,
                                       pending: outbox.filter { !$0.isParked }.count, parked: outbox.filter(\.isParked).count,
                                       flash: flash?.message, flashIsError: flash?.isError ?? false, path: path)
        return (text, ConsolePages(text: text, schemas: try store.schemaSet(), base: base), frame)
    }

    func inbox(_ request: Request) throws -> Response {
        let (text, pages, frame) = try context(request)
        let query = request.uri.queryParameters
        let filter = ConsolePages.InboxFilter(scope: Self.nonEmpty(query["scope"]), type: Self.nonEmpty(query["type"]),
                                              olderThanDays: query["days"].flatMap { Int(String($0)) }.map { max(0, min($0, 3_650)) })
        let all = try store.conflicts()
        let now = console.clock()
        let shown = all.filter { conflict in
            (filter.scope == nil || conflict.scope == filter.scope) && (filter.type == nil || conflict.type == filter.type)
                && (filter.olderThanDays.map { now.timeIntervalSince(conflict.since) >= Double($0) * 86_400 } ?? true)
        }
        let content = pages.inbox(shown, filter: filter, scopes: Set(all.map(\.scope)).sorted(), types: Set(all.map(\.type)).sorted(), now: now)
        return Self.page(pages.layout(text.inbox, frame, content))
    }

    func records(_ request: Request) throws -> Response {
        let (text, pages, frame) = try context(request)
        let query = request.uri.queryParameters
        let filter = ConsolePages.RecordFilter(type: Self.nonEmpty(query["type"]), scope: Self.nonEmpty(query["scope"]),
                                               status: Self.nonEmpty(query["status"]), onlyConflicts: query["conflicts"] == "1",
                                               onlyDue: query["due"] == "1", search: Self.nonEmpty(query["q"]))
        var recordQuery = RecordQuery()
        recordQuery.type = filter.type
        recordQuery.scope = filter.scope
        recordQuery.status = filter.status
        recordQuery.onlyConflicts = filter.onlyConflicts
        let everything = try store.records(RecordQuery())
        var shown = try store.records(recordQuery)
        // Full-text search over what this device holds (decrypted here, never sent).
        if let words = filter.search?.lowercased().split(whereSeparator: \.isWhitespace), !words.isEmpty {
            shown = shown.filter { state in
                let haystack = state.fields.values.flatMap { $0.map { ConsolePages.show($0.value) } }.joined(separator: " ").lowercased()
                    + " " + state.id
                return words.allSatisfy { haystack.contains($0) }
            }
        }
        // Due or overdue by the modules' rules (a term not set counts: the office sets it).
        if filter.onlyDue {
            let today = CivilDate.today()
            let due = Set(DueRules.evaluate(try store.schemaSet().rules, records: shown, today: today).map(\.record))
            shown = shown.filter { due.contains($0.id) }
        }
        let content = pages.recordList(Array(shown.prefix(500)), filter: filter, scopes: Set(everything.map(\.scope)).sorted(),
                                       types: Set(everything.map(\.type)).sorted())
        return Self.page(pages.layout(text.records, frame, content))
    }

    func record(_ request: Request, id: String) async throws -> Response {
        let (text, pages, frame) = try context(request)
        guard RecordIDs.isValid(id.lowercased()), let state = try? store.record(id.lowercased()) else {
            return Self.page(pages.layout(text.records, frame, pages.message(text.records, text.notFound)), status: .notFound)
        }
        // The server's history when it answers soon; the page says so when it does not.
        let history: Result<RecordHistory, any Error>
        do {
            let fetch = console.history
            history = .success(try await Self.within(seconds: 5) { try await fetch(state.id) })
        } catch {
            history = .failure(error)
        }
        return Self.page(pages.layout(ConsolePages.title(of: state, schema: try store.schemaSet().named(state.type)), frame,
                                      pages.record(state, history: history, showsAccess: frame.role == "office" || frame.role == "admin")))
    }

    // MARK: Changes

    func resolve(_ request: Request, id: String) async throws -> Response {
        let form = try await Self.form(request).mapValues { $0.first ?? "" }
        let text = ConsoleText(language: Language.from(cookie: request.cookies["lang"]?.value))
        let back = "/records/\(HTML.component(id))"
        guard RecordIDs.isValid(id), let state = try? store.record(id), let field = form["field"],
              let conflict = LocalStore.conflicts(of: state).first(where: { $0.field == field && !$0.deleteVersusEdit }),
              ConsolePages.seen(conflict) == form["seen"] else {
            return redirect(back, flash: text.changedMeanwhile, error: true)
        }
        let resolution: Resolution
        if let take = form["take"].flatMap(Int.init), conflict.entries.indices.contains(take) {
            resolution = .take(take)
        } else if let value = form["value"] {
            // A browser sends CR LF in a text area: the text as it was typed.
            resolution = .value(.string(value.replacingOccurrences(of: "\r\n", with: "\n")))
        } else {
            return redirect(back, flash: text.changedMeanwhile, error: true)
        }
        do {
            _ = try store.resolve(id: id, [field: resolution], expecting: [field: conflict.entries])
        } catch {
            return redirect(back, flash: "\(error)", error: true)
        }
        return redirect("/", flash: text.resolved)
    }

    func deletion(_ request: Request, id: String) async throws -> Response {
        let form = try await Self.form(request).mapValues { $0.first ?? "" }
        let text = ConsoleText(language: Language.from(cookie: request.cookies["lang"]?.value))
        let back = "/records/\(HTML.component(id))"
        guard RecordIDs.isValid(id), let state = try? store.record(id),
              let conflict = LocalStore.conflicts(of: state).first(where: \.deleteVersusEdit),
              ConsolePages.seen(conflict) == form["seen"], let keep = form["keep"], keep == "1" || keep == "0" else {
            return redirect(back, flash: text.changedMeanwhile, error: true)
        }
        do {
            _ = try store.resolveDeletion(id: id, keep: keep == "1")
        } catch {
            return redirect(back, flash: "\(error)", error: true)
        }
        return redirect("/", flash: text.resolved)
    }

    /// A sync for a page without its script: the answer waits for it (the script starts it
    /// in the background and shows its progress instead).
    func sync(_ request: Request) async throws -> Response {
        let text = ConsoleText(language: Language.from(cookie: request.cookies["lang"]?.value))
        let flash = await syncRuns.start(console.sync, text: text, flashes: flashes).task.value
        var response = Response(status: .seeOther)
        response.headers[.location] = base + "?flash=" + flash
        return response
    }

    // MARK: Helpers

    /// To `path` (a page's path after the secret, starting with `/`), with a message shown once.
    func redirect(_ path: String, flash: String, error: Bool = false) -> Response {
        let id = flashes.add(flash, isError: error)
        var response = Response(status: .seeOther)
        response.headers[.location] = base + path.dropFirst() + (path.contains("?") ? "&" : "?") + "flash=" + id
        return response
    }

    static func page(_ html: HTML, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: html.description)))
    }

    static func asset(_ bytes: [UInt8], type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func nonEmpty(_ value: Substring?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return String(value)
    }

    /// An `application/x-www-form-urlencoded` body (at most 1 MiB): each name's values in
    /// order. A part that does not decode (a stray `%`, bytes that are not UTF-8) is left out.
    static func form(_ request: Request) async throws -> [String: [String]] {
        let body = try await request.body.collect(upTo: 1 << 20)
        return parseForm(String(decoding: body.readableBytesView, as: UTF8.self))
    }

    static func parseForm(_ text: String) -> [String: [String]] {
        var values: [String: [String]] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String? { String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard let name = decode(parts[0]), let value = decode(parts.count > 1 ? parts[1] : "") else { continue }
            values[name, default: []].append(value)
        }
        return values
    }

    /// The operation's result, or `CancellationError` after `seconds`: the page does not wait
    /// for an operation that does not stop when cancelled (it finishes on its own).
    static func within<T: Sendable>(seconds: Double, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        let once = Once<T>()
        return try await withCheckedThrowingContinuation { continuation in
            once.set(continuation)
            let work = Task { once.finish(with: await Result(catching: operation)) }
            Task {
                try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
                work.cancel()
                once.finish(with: .failure(CancellationError()))
            }
        }
    }
}

/// A continuation resumed by whichever result comes first.
final class Once<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?
    private var early: Result<T, any Error>?

    func set(_ continuation: CheckedContinuation<T, any Error>) {
        let done: Result<T, any Error>? = lock.withLock {
            if let early { return early }
            self.continuation = continuation
            return nil
        }
        if let done { continuation.resume(with: done) }
    }

    func finish(with result: Result<T, any Error>) {
        let waiting: CheckedContinuation<T, any Error>? = lock.withLock {
            if let continuation {
                self.continuation = nil
                early = result
                return continuation
            }
            if early == nil { early = result }
            return nil
        }
        waiting?.resume(with: result)
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

/// Messages shown once after a change (the answer to a form is a redirect).
final class Flashes: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [String: (message: String, isError: Bool)] = [:]

    func add(_ message: String, isError: Bool) -> String {
        let id = UUID().uuidString.prefix(8).lowercased()
        lock.withLock {
            if messages.count > 100 { messages.removeAll() }
            messages[String(id)] = (message, isError)
        }
        return String(id)
    }

    func take(_ id: String) -> (message: String, isError: Bool)? {
        lock.withLock { messages.removeValue(forKey: id) }
    }
}

enum ConsoleAssets {
    static let css = PackageResources.console_css
    static let js = PackageResources.console_js
}
