import ArgumentParser
import Foundation
import VeldConsole
import VeldCore
import VeldProtocol

struct ConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "Open this profile in the browser: the conflict inbox, records, and sync.",
        discussion: """
            Serves a web page on 127.0.0.1 only, at a free port, and opens it; the link it prints \
            holds a secret that only this session knows (share it with nobody; it ends with the \
            session). Everything you do \
            there is an ordinary change in this profile, sent by the next sync, so it works \
            offline too. Stop it with Ctrl-C.
            """)

    @OptionGroup var home: HomeOptions
    @Option(help: "The port on 127.0.0.1 (default: a free one).") var port = 0
    @Flag(help: "Do not open a browser; only print the link.") var noOpen = false

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be 0…65535 (0: a free one)") }
    }

    func run() async throws {
        let store = try home.openStore()
        let console = Console(
            store: store,
            sync: { progress in
                let settings = try store.syncSettings()
                let transport = try ProfileTransport.make(settings, store: store)
                return try await SyncEngine(store: store, transport: transport, progress: progress).sync(lockWait: 30)
            },
            history: { id in
                let transport = try ProfileTransport.make(try store.syncSettings(), store: store)
                return try await transport.history(of: id)
            },
            serverRecord: { id in
                let transport = try ProfileTransport.make(try store.syncSettings(), store: store)
                return try await transport.record(id: id)
            },
            devices: {
                let transport = try ProfileTransport.make(try store.syncSettings(), store: store)
                return try await transport.devices()
            },
            access: { id in
                let transport = try ProfileTransport.make(try store.syncSettings(), store: store)
                return try await transport.access(of: id)
            })
        let open = !noOpen
        try await console.run(port: port) { url in
            // One line, flushed at once, so a script (or a test) can read where it is.
            FileHandle.standardOutput.write(Data("veld console on \(url.absoluteString)\n".utf8))
            if open { Self.openBrowser(url) }
        }
    }

    /// `xdg-open` when there is one; the link is printed either way. The browser is given a
    /// file only this user can read that forwards to the link, so the secret never stands in a
    /// command line other users of the machine can list (`ps`); the file goes after a minute.
    static func openBrowser(_ url: URL) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("veld-console-\(UUID().uuidString.prefix(8))")
        let page = folder.appendingPathComponent("open.html")
        guard (try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])) != nil,
              FileManager.default.createFile(atPath: page.path, contents: Data("""
                  <!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=\(url.absoluteString)"><title>Veld</title>
                  """.utf8), attributes: [.posixPermissions: 0o600]) else { return }
        Task {
            try? await Task.sleep(nanoseconds: 60_000_000_000)
            try? FileManager.default.removeItem(at: folder)
        }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(directory)/xdg-open"
            guard FileManager.default.isExecutableFile(atPath: path) else { continue }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: path)
            process.arguments = [page.path]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try? process.run()
            return
        }
    }
}
