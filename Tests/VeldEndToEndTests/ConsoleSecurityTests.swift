import Foundation
import Testing
import VeldCore
import VeldProtocol
import VeldTestSupport

/// The console's own defences, through the binary and `curl` (which sends exactly the
/// headers a test gives it): loopback only, the secret path on every request, its own host
/// name only, a restrictive Content-Security-Policy, every value escaped (in text and in
/// attributes), no change without the console's own origin, no read from another site's
/// page, no crash on a malformed form, and an edit that never writes what it did not change.
@Suite(.serialized) struct ConsoleSecurityTests {
    static let policy = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; "
        + "frame-ancestors 'none'; base-uri 'self'; connect-src 'self'"

    /// A running `veld console` on a profile of its own.
    final class RunningConsole: @unchecked Sendable {
        let home: TemporaryFolder
        let store: LocalStore
        let process: Subprocess
        let base: String
        let secret: String
        let port: Int

        init() throws {
            home = try TemporaryFolder("veld-console")
            store = try LocalStore.initialise(home: home.url, user: "olga", role: .office)
            process = try Subprocess(Binaries.cli, ["console", "--home", home.url.path, "--no-open"], stdout: .pipe)
            var buffer = Data()
            let deadline = Date().addingTimeInterval(30)
            var link: String?
            while link == nil, Date() < deadline {
                let chunk = process.stdout!.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                let text = String(decoding: buffer, as: UTF8.self)
                if let range = text.range(of: #"http://127\.0\.0\.1:[0-9]+/[0-9a-f]{64}/"#, options: .regularExpression) {
                    link = String(text[range])
                }
            }
            guard let link, let url = URL(string: link), let port = url.port else {
                process.send(SIGKILL)
                _ = process.wait()
                throw ServerProcess.ServerError(message: "veld console did not print its link: \(String(decoding: buffer, as: UTF8.self))")
            }
            self.port = port
            secret = url.pathComponents[1]
            base = "http://127.0.0.1:\(port)/\(secret)"
        }

        deinit {
            process.send(SIGTERM)
            _ = process.wait()
        }

        struct Answer {
            let status: Int
            let headers: [String: String]
            let body: String
        }

        /// One request through curl (no redirects followed), with exactly these headers, to
        /// `path` under the secret (or, with `secret: false`, as it is).
        func request(_ path: String, method: String = "GET", headers: [String] = [], secret: Bool = true, form: String? = nil) throws -> Answer {
            var arguments = ["-s", "-i", "--max-time", "20", "-X", method, "--path-as-is"]
            for header in headers { arguments += ["-H", header] }
            if let form { arguments += ["-H", "Content-Type: application/x-www-form-urlencoded", "--data-raw", form] }
            arguments.append(secret ? base + path : "http://127.0.0.1:\(port)" + path)
            let result = try Binaries.run(URL(fileURLWithPath: "/usr/bin/curl"), arguments)
            let text = result.stdout.replacingOccurrences(of: "\r\n", with: "\n")
            let split = text.range(of: "\n\n")
            let head = split.map { String(text[..<$0.lowerBound]) } ?? text
            let lines = head.split(separator: "\n")
            let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            return Answer(status: status, headers: headers, body: split.map { String(text[$0.upperBound...]) } ?? "")
        }
    }

    @Test func itListensOnLoopbackOnlyAndAsksForItsSecret() throws {
        let console = try RunningConsole()
        // Bound to 127.0.0.1 (0100007F in /proc/net/tcp), not to every address.
        // Read to the end (a /proc file says it is empty, and a busy machine has many sockets).
        let sockets = String(decoding: FileHandle(forReadingAtPath: "/proc/net/tcp")?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
        let sockets6 = String(decoding: FileHandle(forReadingAtPath: "/proc/net/tcp6")?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
        let port = String(format: "%04X", console.port)
        let listening = sockets.split(separator: "\n").filter { $0.contains(":\(port) ") && $0.contains(" 0A ") }
        #expect(!listening.isEmpty && listening.allSatisfy { $0.contains("0100007F:\(port)") }, "\(listening)")
        // Nor on IPv6.
        #expect(!sockets6.split(separator: "\n").contains { $0.contains(":\(port) ") && $0.contains(" 0A ") })

        // Without the secret path, or with another, nothing.
        #expect(try console.request("/", secret: false).status == 403)
        #expect(try console.request("/records", secret: false).status == 403)
        #expect(try console.request("/" + String(repeating: "0", count: 64) + "/", secret: false).status == 403)
        #expect(try console.request("/\(console.secret.prefix(63))/", secret: false).status == 403)
        #expect(try console.request("/static/console.css", secret: false).status == 403)
        let page = try console.request("/")
        #expect(page.status == 200)
        let policy = page.headers["content-security-policy"] ?? ""
        #expect(policy == Self.policy, "\(policy)")
        #expect(page.headers["x-frame-options"] == "DENY" && page.headers["x-content-type-options"] == "nosniff")
        #expect(page.headers["cache-control"] == "no-store")
        #expect(!page.body.contains("<script>") && page.body.contains(#"<script src="static/console.js" defer></script>"#))
        #expect(page.body.contains(#"<base href="/\#(console.secret)/">"#))
        // Another name for 127.0.0.1 (a page that rebinds its own name): refused.
        #expect(try console.request("/", headers: ["Host: console.invalid:\(console.port)"]).status == 421)
        #expect(try console.request("/", headers: ["Host: localhost:\(console.port)"]).status == 200)
        #expect(try console.request("/static/console.css").headers["content-type"]?.hasPrefix("text/css") == true)
        // Another site's page may not even read a page (nor time it).
        for site in ["same-site", "cross-site"] {
            let read = try console.request("/records?q=zorg", headers: ["Sec-Fetch-Site: \(site)"])
            #expect(read.status == 403 && read.headers["content-security-policy"] != nil, "\(site)")
        }
        #expect(try console.request("/records", headers: ["Sec-Fetch-Site: none"]).status == 200)
        // An answer the routes did not make (no such page) carries the same headers.
        let missing = try console.request("/no-such-page")
        #expect(missing.status == 404 && missing.headers["content-security-policy"] == ConsoleSecurityTests.policy)
    }

    @Test func valuesAreEscapedAndChangesNeedTheConsolesOwnOrigin() throws {
        let console = try RunningConsole()
        let store = console.store
        let first = try store.create(type: "visitNote", scope: "loc-zonnehof", fields: [
            "visitedAt": .string("2026-11-20"), "visitor": .string("olga"), "kind": .string("werkbezoek"),
            "summary": .string("<script>alert('x')</script> & \"quotes\""), "status": .string("concept"),
        ])
        _ = try store.edit(id: first.id, changes: ["summary": .string("<img src=x onerror=alert(1)> van olga")])
        // Bram's concurrent edit, as a pull would bring it: the summary is in conflict.
        var bram = first
        bram.edit(["summary": .string("Rondgang keuken <b>vet</b>")], replica: "r-bram", author: "bram", time: Date())
        _ = try store.merge(remote: [bram])
        let conflict = try #require(LocalStore.conflicts(of: try store.record(first.id)).first { $0.field == "summary" })
        let seen = conflict.entries.map { "\($0.dot.replica):\($0.dot.counter)" }.joined(separator: ",")

        let page = try console.request("/records/\(first.id)")
        #expect(page.status == 200)
        #expect(page.body.contains("&lt;img src=x onerror=alert(1)&gt; van olga"))
        #expect(page.body.contains("Rondgang keuken &lt;b&gt;vet&lt;/b&gt;"))
        #expect(!page.body.contains("<img") && !page.body.contains("<b>vet"))
        let inbox = try console.request("/")
        #expect(inbox.body.contains("summary") && inbox.body.contains(first.id))

        let form = "field=summary&take=1&seen=\(seen.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
        let path = "/records/\(first.id)/resolve"
        for headers in [["Origin: http://evil.invalid"], [], ["Origin: http://127.0.0.1:\(console.port)", "Sec-Fetch-Site: cross-site"],
                        ["Origin: null"]] {
            let refused = try console.request(path, method: "POST", headers: headers, form: form)
            #expect(refused.status == 403, "\(headers)")
            #expect(try store.record(first.id).hasConflicts, "a cross-site request changed the record (\(headers))")
        }
        #expect(try console.request("/sync", method: "POST", headers: ["Origin: http://evil.invalid"]).status == 403)
        // A stale choice (another value arrived since the page was shown) changes nothing.
        let stale = try console.request(path, method: "POST", headers: ["Origin: http://127.0.0.1:\(console.port)"],
                                        form: "field=summary&take=1&seen=r-bram%3A1")
        #expect(stale.status == 303 && (stale.headers["location"] ?? "").hasPrefix("/\(console.secret)/records/"))
        #expect(try store.record(first.id).hasConflicts)

        let accepted = try console.request(path, method: "POST", headers: ["Origin: http://127.0.0.1:\(console.port)"], form: form)
        #expect(accepted.status == 303 && (accepted.headers["location"] ?? "").hasPrefix("/\(console.secret)/?flash="), "\(accepted.status) \(accepted.body)")
        let settled = try store.record(first.id)
        #expect(!settled.hasConflicts && settled.value(of: "summary") == conflict.entries[1].value)
        #expect(try store.outbox().contains { $0.recordID == first.id })
    }

    /// Long texts in conflict show their word-level difference, escaped; the edit form puts
    /// values in attributes escaped; a malformed form body is refused, never a crash; an edit
    /// writes only the fields the person changed, and refuses to overwrite a value a sync
    /// brought after the form was shown.
    @Test func formsDiffsAndMalformedBodies() throws {
        let console = try RunningConsole()
        let store = console.store
        let origin = "Origin: http://127.0.0.1:\(console.port)"
        let long = "Bewoners zaten samen aan de koffie en er was muziek in de huiskamer; \"twee\" medewerkers <op> de groep & de tuin."
        let first = try store.create(type: "visitNote", scope: "loc-zonnehof", fields: [
            "visitedAt": .string("2026-11-20"), "visitor": .string("olga"), "kind": .string("werkbezoek"),
            "summary": .string("Rondgang \"><script>alert(1)</script>"), "status": .string("concept"), "observations": .string(long),
        ])
        _ = try store.edit(id: first.id, changes: ["observations": .string(long + " Daarna een wandeling.")])
        var bram = first
        bram.edit(["observations": .string(long.replacingOccurrences(of: "muziek", with: "<b>zang</b>"))], replica: "r-bram", author: "bram",
                  time: Date())
        _ = try store.merge(remote: [bram])
        let page = try console.request("/records/\(first.id)")
        #expect(page.body.contains("<del>") && page.body.contains("<ins>"), "no word-level difference shown")
        #expect(page.body.contains("&lt;b&gt;zang&lt;/b&gt;") && !page.body.contains("<b>zang"))

        let form = try console.request("/records/\(first.id)/edit")
        #expect(form.status == 200)
        #expect(form.body.contains(#"value="Rondgang &quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;""#), "attribute not escaped")
        #expect(!form.body.contains("\"><script>"))

        // Malformed bodies: refused or ignored, and the console goes on.
        for body in ["field=%ZZ&take=%&seen=%FF%FE", "%", "&&&==", String(repeating: "a=b&", count: 20_000)] {
            let answer = try console.request("/records/\(first.id)/resolve", method: "POST", headers: [origin], form: body)
            #expect([303, 413].contains(answer.status), "\(answer.status) for \(body.prefix(30))")
        }
        #expect(try console.request("/").status == 200)
        #expect(try store.record(first.id).hasConflicts)

        // The edit form as shown, then a sync changes the status: a save that changes only the
        // summary keeps the synced status; a save that changes the status is refused.
        let plain = try store.create(type: "visitNote", scope: "loc-zonnehof", fields: [
            "visitedAt": .string("2026-11-21"), "visitor": .string("olga"), "kind": .string("werkbezoek"),
            "summary": .string("Eerste versie"), "status": .string("concept"),
        ])
        let shownForm = try console.request("/records/\(plain.id)/edit").body
        var shown: [String: String] = [:]
        for match in shownForm.matches(of: #/name="shown\.([A-Za-z]+)" value="([^"]*)"/#) {
            shown[String(match.1)] = String(match.2).replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&amp;", with: "&")
        }
        #expect(shown["summary"] == "Eerste versie" && shown["status"] == "concept", "\(shown)")
        var synced = plain
        synced.edit(["status": .string("besproken")], replica: "r-bram", author: "bram", time: Date())
        _ = try store.merge(remote: [synced])
        func post(_ changes: [String: String]) throws -> RunningConsole.Answer {
            var fields = shown.merging(changes) { $1 }
            for (name, value) in shown { fields["shown.\(name)"] = value }
            let body = fields.map { "\($0.key.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)" }
                .joined(separator: "&")
            return try console.request("/records/\(plain.id)/edit", method: "POST", headers: [origin], form: body)
        }
        #expect(try post(["status": "afgesproken"]).status == 409)
        #expect(try store.record(plain.id).value(of: "status") == .string("besproken"))
        #expect(try post(["summary": "Tweede versie"]).status == 303)
        let saved = try store.record(plain.id)
        #expect(saved.value(of: "summary") == .string("Tweede versie") && saved.value(of: "status") == .string("besproken"))
        #expect(saved.entries(of: "kind").first?.dot.counter == 1, "an untouched field was written again")
    }

    /// The sync button's background sync: started only from the console's own pages, each
    /// run with a number the page asks about until it says where to go; the page it names
    /// shows how the sync ended. A run the console never started is a 404 that names the
    /// inbox. The record's access page says plainly when the server cannot answer.
    @Test func aBackgroundSyncSaysHowItEnds() throws {
        let console = try RunningConsole()
        let origin = "Origin: http://127.0.0.1:\(console.port)"
        #expect(try console.request("/sync/start", method: "POST").status == 403)
        #expect(try console.request("/sync/start", method: "POST", headers: ["Origin: http://console.invalid"]).status == 403)
        let started = try console.request("/sync/start", method: "POST", headers: [origin])
        #expect(started.status == 200 && started.headers["content-type"] == "application/json", "\(started)")
        let run = try #require(started.body.firstMatch(of: #/"run":([0-9]+)/#).map { String($0.1) })
        // This profile has no server: the run ends at once, with a message that says what to do.
        var location: String?
        let deadline = Date().addingTimeInterval(30)
        while location == nil, Date() < deadline {
            let progress = try console.request("/sync/progress?run=\(run)")
            #expect(progress.status == 200 && progress.headers["content-security-policy"] == Self.policy)
            location = progress.body.firstMatch(of: #/"location":"([^"]+)"/#).map { String($0.1) }
            if location == nil {
                #expect(progress.body.contains(#""running":true"#), "\(progress.body)")
                Thread.sleep(forTimeInterval: 0.2)
            }
        }
        let target = try #require(location)
        #expect(target.hasPrefix("/\(console.secret)/?flash="), "\(target)")
        let shown = try console.request(String(target.dropFirst(console.secret.count + 1)))
        #expect(shown.body.contains("flash error") && shown.body.contains("Synchroniseren lukte niet") && shown.body.contains("veld connect"),
                "\(shown.body.prefix(2000))")
        // Shown once.
        #expect(!(try console.request(String(target.dropFirst(console.secret.count + 1))).body.contains("lukte niet")))
        let unknown = try console.request("/sync/progress?run=99")
        #expect(unknown.status == 404 && unknown.body.contains(#""running":false"#))
        // Without the script: the form's own post waits for the sync and shows the same.
        let plain = try console.request("/sync", method: "POST", headers: [origin], form: "")
        #expect(plain.status == 303 && plain.headers["location"]?.contains("?flash=") == true)

        let note = try console.store.create(type: "visitNote", scope: "loc-zonnehof", fields: [
            "visitedAt": .string("2026-11-20"), "visitor": .string("olga"), "kind": .string("werkbezoek"),
            "summary": .string("Rondgang"), "status": .string("concept"),
        ])
        let record = try console.request("/records/\(note.id)")
        #expect(record.body.contains(#"id="access-link""#), "an office profile's record page links its access log")
        let access = try console.request("/records/\(note.id)/access")
        #expect(access.status == 200 && access.body.contains(#"id="access-unavailable""#))
        #expect(try console.request("/records/\(UUID().uuidString.lowercased())/access").status == 404)
    }
}
