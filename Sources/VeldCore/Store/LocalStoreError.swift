import Foundation
import VeldProtocol

/// What went wrong in the local store, said so a person knows what to do.
public struct LocalStoreError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        case notInitialised
        case alreadyInitialised
        case invalid([ValidationError])
        case recordNotFound(String)
        case ambiguousID(String, matches: [String])
        case recordDeleted(String)
        case unreadable(String)
        case wrongType(id: String, expected: String, actual: String)
        case refusedState(String)
        case notInConflict(id: String, field: String)
        case conflictChanged(id: String, field: String)
        case noSuchValue(id: String, field: String, count: Int)
        /// The push policy (what the server will check) refuses this edit.
        case refusedByPolicy(String)
        /// The record has no change waiting that the server refused.
        case notParked(String)
        /// Another `veld sync` of this profile is running.
        case syncRunning(String)
        /// The key that opens the profile cannot be had (a missing key file, no passphrase).
        case keyUnavailable(String)
        /// The key given does not open the profile (a wrong passphrase, another key file).
        case wrongKey(String)
        /// Another process gave the profile a new key (`veld key rotate`) since this one opened it.
        case keyChanged
    }

    public let kind: Kind
    public let home: URL
    /// For an invalid edit: the module (and its version) that defines the type.
    public var module: String?

    public init(_ kind: Kind, home: URL, module: String? = nil) {
        self.kind = kind
        self.home = home
        self.module = module
    }

    public var description: String {
        switch kind {
        case .notInitialised:
            return "no Veld profile in \(home.path); run `veld init --user NAME` first (or pass --home DIR)"
        case .alreadyInitialised:
            return "a Veld profile already exists in \(home.path); use it, or pass --home DIR for another one"
        case .invalid(let errors):
            return errors.map(\.description).joined(separator: "; ") + (module.map { " (\($0))" } ?? "")
        case .recordNotFound(let id):
            return "no record \(id) on this device; `veld list` shows what is here"
        case .ambiguousID(let prefix, let matches):
            return "id prefix \(prefix) matches \(matches.count) records (\(matches.prefix(3).joined(separator: ", "))…); type more of the id"
        case .recordDeleted(let id):
            return "record \(id) is deleted; `veld show \(id)` shows what it held"
        case .unreadable(let detail):
            return "the local database in \(home.path) cannot be read: \(detail)"
        case .notInConflict(let id, let field):
            return "field \(field) of \(id) is not in conflict; `veld conflicts show \(id)` lists what is, `veld edit` changes a field"
        case .conflictChanged(let id, let field):
            return "the values of \(field) in \(id) changed since they were listed (a sync brought another); look again with `veld conflicts show \(id)`"
        case .noSuchValue(let id, let field, let count):
            return "field \(field) of \(id) has \(count) values; choose --take 1 to \(count)"
        case .refusedState(let detail):
            return "a received state was refused and nothing was stored: \(detail)"
        case .refusedByPolicy(let detail):
            return "the server would refuse this change, so nothing was saved: \(detail)"
        case .notParked(let id):
            return "record \(id) has no change the server refused; `veld rejected` lists those that have"
        case .syncRunning(let detail), .keyUnavailable(let detail):
            return detail
        case .wrongKey(let detail):
            return detail
        case .keyChanged:
            return "the profile in \(home.path) was given a new key (veld key rotate) while this command ran; nothing was saved, run it again"
        case .wrongType(let id, let expected, let actual):
            return "record \(id) is a \(actual), not a \(expected); use `veld show \(id)`"
        }
    }
}
