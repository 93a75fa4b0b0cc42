import ArgumentParser
import Foundation
import VeldCore

/// Where the CLI finds a profile's key: the key file (`VELD_KEY_FILE`, else `veld.key`
/// in the profile folder) or a passphrase (`VELD_PASSPHRASE`, else asked on the terminal).
enum CLIKeys {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    static func keyFile(home: URL) -> KeyFileStore {
        if let path = environment["VELD_KEY_FILE"], !path.isEmpty { return KeyFileStore(file: URL(fileURLWithPath: path)) }
        return KeyFileStore(home: home)
    }

    /// The keys that open an existing profile: its reference says which is needed.
    static func existing(home: URL) -> StandardKeyStore {
        StandardKeyStore(keyFile: keyFile(home: home),
                         passphrase: PassphraseKeyStore(home: home) { try current() })
    }

    /// The keys for a new profile or a rotation: a new passphrase (from
    /// `VELD_NEW_PASSPHRASE`, else `VELD_PASSPHRASE` for a new profile, else asked twice),
    /// or a new key file.
    static func new(home: URL, passphrase: Bool, cost: PassphraseKeyStore.Cost, rotating: Bool) -> StandardKeyStore {
        StandardKeyStore(keyFile: keyFile(home: home),
                         passphrase: PassphraseKeyStore(home: home, cost: cost) { try fresh(rotating: rotating) },
                         protectWithPassphrase: passphrase)
    }

    static func current() throws -> String {
        if let phrase = environment["VELD_PASSPHRASE"], !phrase.isEmpty { return phrase }
        return try Terminal.ask("Passphrase for this Veld profile: ")
    }

    static func fresh(rotating: Bool) throws -> String {
        if let phrase = environment["VELD_NEW_PASSPHRASE"], !phrase.isEmpty { return phrase }
        if !rotating, let phrase = environment["VELD_PASSPHRASE"], !phrase.isEmpty { return phrase }
        let first = try Terminal.ask("New passphrase (\(PassphraseKeyStore.minimumLength) characters or more; a few unrelated words are best): ",
                                     variable: rotating ? "VELD_NEW_PASSPHRASE" : "VELD_PASSPHRASE")
        let again = try Terminal.ask("The same passphrase again: ", variable: rotating ? "VELD_NEW_PASSPHRASE" : "VELD_PASSPHRASE")
        guard first == again else { throw CLIFailure("the two passphrases differ; nothing was changed") }
        return first
    }
}

/// A failure said in one line, without the usage text a `ValidationError` adds.
struct CLIFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// What a passphrase's scrypt costs; hidden: for tests, which cannot wait for 2^17.
struct KeyCostOption: ParsableArguments {
    @Option(name: .customLong("kdf-cost"), help: .hidden) var logN: Int = PassphraseKeyStore.Cost.standard.logN

    func validate() throws {
        guard (14...20).contains(logN) else { throw ValidationError("--kdf-cost takes 14 to 20") }
    }

    var cost: PassphraseKeyStore.Cost { PassphraseKeyStore.Cost(logN: logN, r: 8, p: 1) }
}

struct Key: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "How this profile's data is encrypted, and a new key for it.",
        discussion: """
            Every record, discarded change and refusal, and the server, token and CA, are
            encrypted (AES-256-GCM) under the profile's data key. That key is kept in the
            database, itself encrypted by a key file (veld.key beside the database, or
            $VELD_KEY_FILE) or a passphrase ($VELD_PASSPHRASE, else asked). In plain text
            stay ids, type, scope, status, flags and dates: no free text.
            """,
        subcommands: [Status.self, Rotate.self])

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "How the profile is protected.")
        @OptionGroup var home: HomeOptions

        func run() throws {
            let status = try home.openStore().keyStatus()
            print("Encryption  AES-256-GCM, data key \(status.generation) since \(status.since.formatted(.iso8601))")
            print("Protected   by \(status.reference.summary)")
            if status.reference.kind == KeyReference.keyFile {
                print("Key file    \(CLIKeys.keyFile(home: home.url).file.path)")
            }
            print("Sealed      \(status.sealedValues) values")
        }
    }

    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a new data key and re-encrypt everything under it.",
            discussion: """
                Everything is re-encrypted in one transaction: if the command is stopped at
                any moment, the profile stays whole under the old key or the new one. By
                default the profile keeps its kind of protection with a new key; --passphrase
                moves it to a passphrase ($VELD_NEW_PASSPHRASE, else asked twice), --key-file
                to a new key file (and a passphrase is then no longer needed).
                """)
        @OptionGroup var home: HomeOptions
        @Flag(help: "Protect the profile with a new passphrase from now on.") var passphrase = false
        @Flag(help: "Protect the profile with a new key file from now on.") var keyFile = false
        @OptionGroup var cost: KeyCostOption

        func validate() throws {
            if passphrase && keyFile { throw ValidationError("choose --passphrase or --key-file, not both") }
        }

        func run() throws {
            let store = try home.openStore()
            let before = try store.keyStatus()
            let toPassphrase = passphrase || (!keyFile && before.reference.kind == KeyReference.passphrase)
            let keys = CLIKeys.new(home: home.url, passphrase: toPassphrase, cost: cost.cost, rotating: true)
            if before.sealedValues >= 10_000 { FileHandle.standardError.write(Data("Re-encrypting \(before.sealedValues) values…\n".utf8)) }
            let after = try store.rotateKey(using: keys)
            let oldFile = CLIKeys.keyFile(home: home.url).file
            if after.reference.kind != KeyReference.keyFile {
                // The old key file opens nothing any more; it goes so nobody mistakes it for
                // a key (only if it holds this profile's old key).
                CLIKeys.keyFile(home: home.url).retire(before.reference)
            }
            print("Re-encrypted \(after.sealedValues) values under data key \(after.generation), protected by \(after.reference.summary).")
            if after.reference.kind == KeyReference.keyFile {
                print("Key file: \(oldFile.path). Keep a copy apart from the database: without it the profile cannot be read.")
            }
        }
    }
}
