import ArgumentParser
import Foundation
import VeldCore
import VeldNIOClient
import VeldProtocol

/// `--server`, `--token-file` and `--ca-file`, shared by `init` and `connect`.
struct ConnectionOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The sync server: https://HOST[:PORT] (plain http:// only to this machine).", valueName: "url"))
    var server: String?

    @Option(help: ArgumentHelp("A file holding this device's token from the office, or - to read it from standard input.",
                               valueName: "file"))
    var tokenFile: String?

    @Option(help: ArgumentHelp("Your organisation's own CA certificate (PEM): the server's certificate must chain to it.",
                               valueName: "ca.pem"))
    var caFile: String?

    /// Only to say why it is gone: a token on the command line is visible to every user of
    /// the machine (ps, /proc) and stays in the shell's history.
    @Option(help: .hidden) var token: String?

    struct Target {
        let server: URL
        let token: String
        let serverCA: String?
    }

    func validate(required: Bool) throws {
        if token != nil {
            throw ValidationError("a token is never taken on the command line (other users of this machine can read it there); put it in a file and give --token-file FILE, or pipe it in with --token-file -")
        }
        if required, server == nil || tokenFile == nil { throw ValidationError("give --server and --token-file") }
        if (server == nil) != (tokenFile == nil) { throw ValidationError("give --server and --token-file together") }
        if caFile != nil, server == nil { throw ValidationError("--ca-file goes with --server") }
        if let server { _ = try Self.address(server) }
    }

    /// The server, the token and the CA, read and checked; nil without --server.
    func read() throws -> Target? {
        guard let server, let tokenFile else { return nil }
        let url = try Self.address(server)
        let token = try Self.readToken(tokenFile)
        var serverCA: String?
        if let caFile {
            guard let data = FileManager.default.contents(atPath: caFile), data.count <= 1_048_576 else {
                throw ValidationError("cannot read the CA certificate \(caFile); give the PEM file your organisation's IT provided")
            }
            let pem = String(decoding: data, as: UTF8.self)
            do { _ = try NIOExchange.certificates(pem) } catch let invalid as NIOExchange.InvalidCA {
                throw ValidationError("\(caFile) is \(invalid.description)")
            }
            guard url.scheme?.lowercased() == "https" else { throw ValidationError("--ca-file is for an https:// server") }
            serverCA = pem
        }
        return Target(server: url, token: token, serverCA: serverCA)
    }

    static func address(_ text: String) throws -> URL {
        do { return try ServerAddress.parse(text) } catch let invalid as ServerAddress.Invalid {
            throw ValidationError(invalid.description)
        }
    }

    static func readToken(_ path: String) throws -> String {
        let data: Data
        if path == "-", isatty(STDIN_FILENO) != 0 {
            data = Data(Terminal.readSecret(prompt: "Token (not shown): ").utf8)
        } else if path == "-" {
            var read = Data()
            while read.count <= 4_096 {
                let chunk = FileHandle.standardInput.readData(ofLength: 4_097 - read.count)
                if chunk.isEmpty { break }
                read.append(chunk)
            }
            data = read
        } else {
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw ValidationError("cannot read the token file \(path)")
            }
            defer { try? handle.close() }
            // At most a little more than a token: /dev/zero or a wrong file is refused, not read whole.
            data = (try? handle.read(upToCount: 4_097)) ?? Data()
        }
        guard data.count <= 4_096 else { throw ValidationError("the token file holds more than a token; it should hold one line") }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else {
            throw ValidationError(path == "-" ? "no token on standard input" : "the token file \(path) is empty")
        }
        guard !token.contains(where: { $0.isNewline || $0.isWhitespace }), token.allSatisfy(\.isASCII) else {
            throw ValidationError("the token file should hold one token on one line, as `veld-server token create` printed it")
        }
        return token
    }
}

/// The transport for a profile: its server, its token, and its CA when it has one, over
/// SwiftNIO (URLSession on Linux cannot trust an organisation's own CA).
enum ProfileTransport {
    /// With `store`, every request says how this device is doing (`Veld-Device`).
    static func make(_ settings: SyncSettings, store: LocalStore? = nil) throws -> HTTPTransport {
        guard let server = settings.server, let token = settings.token else {
            throw ValidationError("this profile has no server yet; run `veld connect --server URL --token-file FILE`")
        }
        return try make(server: server, token: token, serverCA: settings.serverCA, store: store)
    }

    static func make(server: URL, token: String, serverCA: String?, timeout: TimeInterval = 60,
                     store: LocalStore? = nil) throws -> HTTPTransport {
        let exchange: NIOExchange
        do { exchange = try NIOExchange.shared(trusting: serverCA) } catch let invalid as NIOExchange.InvalidCA {
            throw ValidationError("the profile's CA certificate is \(invalid.description); run `veld connect` again with --ca-file")
        }
        var health: (@Sendable () -> DeviceHealth?)?
        var epoch: (@Sendable () -> String?)?
        if let store {
            health = store.healthReports()
            epoch = { try? store.knownEpoch() }
        }
        return HTTPTransport(server: server, token: token, timeout: timeout, exchange: exchange, health: health, epoch: epoch)
    }
}

enum Terminal {
    /// One line from standard input (a terminal) with echo off, so a secret never shows on screen.
    static func readSecret(prompt: String) -> String {
        FileHandle.standardError.write(Data(prompt.utf8))
        defer { FileHandle.standardError.write(Data("\n".utf8)) }
        return withoutEcho(STDIN_FILENO) { readLine(strippingNewline: true) ?? "" }
    }

    /// A secret asked for on the controlling terminal (`/dev/tty`), so standard input and
    /// output stay free for data; fails with what to set instead when there is none.
    static func ask(_ prompt: String, variable: String = "VELD_PASSPHRASE") throws -> String {
        let fd = open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            throw CLIFailure("this needs a passphrase and there is no terminal to ask on: set \(variable)")
        }
        defer { close(fd) }
        _ = prompt.withCString { write(fd, $0, strlen($0)) }
        defer { _ = write(fd, "\n", 1) }
        return withoutEcho(fd) {
            var bytes: [UInt8] = []
            var byte: UInt8 = 0
            while read(fd, &byte, 1) == 1, byte != 10, byte != 13, bytes.count < 4096 { bytes.append(byte) }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    private static func withoutEcho<T>(_ fd: Int32, _ body: () -> T) -> T {
        var saved = termios()
        let canHide = tcgetattr(fd, &saved) == 0
        if canHide {
            var hidden = saved
            hidden.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(fd, TCSANOW, &hidden)
        }
        defer { if canHide { tcsetattr(fd, TCSANOW, &saved) } }
        return body()
    }
}
