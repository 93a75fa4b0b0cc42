import Foundation
import Testing
import VeldCore
import VeldProtocol
import VeldTestSupport

/// The console's own defences, through the binary and `curl` (which sends exactly the
/// headers a test gives it): loopback only, the secret on every request, its own host
/// name only, a restrictive Content-Security-Policy, every value escaped, and no change
/// without the console's own origin.
@Suite(.serialized) struct ConsoleSecurityTests {
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
                if let range = text.range(of: #"http://127\.0\.0\.1:[0-9]+/\?token=[0-9a-f]{64}"#, options: .regularExpression) {
                    link = String(text[range])
                }
            }
            guard let link, let url = URL(string: link), let port = url.port else {
                process.send(SIGKILL)
                _ = process.wait()
                throw ServerProcess.ServerError(message: "veld console did not print its link: \(String(decoding: buffer, as: UTF8.self))")
            }
            self.port = port
            base = "http://127.0.0.1:\(port)"
            secret = String(link[link.range(of: "token=")!.upperBound...])
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

        /// One request through curl (no redirects followed), with exactly these headers.
        func request(_ path: String, method: String = "GET", headers: [String] = [], cookie: Bool = true, form: String? = nil) throws -> Answer {
            var arguments = ["-s", "-i", "--max-time", "20", "-X", method]
            if cookie { arguments += ["-H", "Cookie: veld_console=\(secret)"] }
            for header in headers { arguments += ["-H", header] }
            if let form { arguments += ["-H", "Content-Type: application/x-www-form-urlencoded", "--data-raw", form] }
            arguments.append(base + path)
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
        let sockets = try String(contentsOfFile: "/proc/net/tcp", encoding: .utf8)
        let port = String(format: "%04X", console.port)
        let listening = sockets.split(separator: "\n").filter { $0.contains(":\(port) ") && $0.contains(" 0A ") }
        #expect(!listening.isEmpty && listening.allSatisfy { $0.contains("0100007F:\(port)") }, "\(listening)")

        #expect(try console.request("/", cookie: false).status == 403)
        #expect(try console.request("/?token=" + String(repeating: "0", count: 64), cookie: false).status == 403)
        #expect(try console.request("/records", headers: ["Cookie: veld_console=wrong"], cookie: false).status == 403)
        let entry = try console.request("/?token=\(console.secret)", cookie: false)
        #expect(entry.status == 303 && entry.headers["location"] == "/")
        let cookie = entry.headers["set-cookie"] ?? ""
        #expect(cookie.contains("veld_console=\(console.secret)") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "\(cookie)")

        let page = try console.request("/")
        #expect(page.status == 200)
        let policy = page.headers["content-security-policy"] ?? ""
        #expect(policy.contains("default-src 'none'") && policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'")
                && !policy.contains("unsafe"), "\(policy)")
        #expect(page.headers["x-frame-options"] == "DENY" && page.headers["x-content-type-options"] == "nosniff")
        #expect(page.headers["cache-control"] == "no-store")
        #expect(!page.body.contains("<script>") && page.body.contains(#"<script src="/static/console.js" defer></script>"#))
        // Another name for 127.0.0.1 (a page that rebinds its own name): refused.
        #expect(try console.request("/", headers: ["Host: console.invalid:\(console.port)"]).status == 421)
        #expect(try console.request("/static/console.css").headers["content-type"]?.hasPrefix("text/css") == true)
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
        #expect(stale.status == 303 && (stale.headers["location"] ?? "").hasPrefix("/records/"))
        #expect(try store.record(first.id).hasConflicts)

        let accepted = try console.request(path, method: "POST", headers: ["Origin: http://127.0.0.1:\(console.port)"], form: form)
        #expect(accepted.status == 303 && (accepted.headers["location"] ?? "").hasPrefix("/?flash="), "\(accepted.status) \(accepted.body)")
        let settled = try store.record(first.id)
        #expect(!settled.hasConflicts && settled.value(of: "summary") == conflict.entries[1].value)
        #expect(try store.outbox().contains { $0.recordID == first.id })
    }
}
