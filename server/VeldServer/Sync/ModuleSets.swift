import Crypto
import Foundation
import VeldProtocol

/// The module set a server publishes and enforces: the built-in modules and every module
/// added with `veld-server schema add`, each at its latest version (a built-in at the
/// newer of the release's version and the stored one).
public struct PublishedSchemas: Sendable {
    public var set: SchemaSet
    /// A strong ETag over the set's stable JSON: equal sets, equal tags, on every process.
    public var etag: String
    /// The set's stable JSON, as `GET /v1/schemas` answers it.
    public var json: Data

    init(set: SchemaSet) throws {
        self.set = set
        json = try StableJSON.encode(set)
        etag = "\"" + SHA256.hash(data: json).prefix(12).map { String(format: "%02x", $0) }.joined() + "\""
    }
}

public enum ModuleSets {
    /// The set in force over what `storage` holds.
    public static func published(_ storage: any SyncStorage) async throws -> PublishedSchemas {
        try PublishedSchemas(set: inForce(try await storage.storedModules()))
    }

    /// Built-ins first in their order, then added modules in the order they were first
    /// added; each at its latest version. Fails when the stored modules no longer fit the
    /// release's built-ins (a release whose module defines a type an added one defines
    /// too): the server refuses to start, with the reasons.
    public static func inForce(_ stored: [StoredModule]) throws -> SchemaSet {
        var latest: [String: ModuleDocument] = [:], order: [String] = []
        for module in stored {
            let document: ModuleDocument
            do { document = try StableJSON.decode(ModuleDocument.self, from: Data(module.document.utf8)) } catch {
                throw ModuleProblems(["stored module \(module.name) version \(module.version) does not decode: \(error)"])
            }
            if latest[module.name] == nil { order.append(module.name) }
            if (latest[module.name]?.version ?? 0) < document.version { latest[module.name] = document }
        }
        var modules: [ModuleDocument] = []
        for builtIn in Modules.builtIn {
            let stored = latest.removeValue(forKey: builtIn.module)
            modules.append(stored.map { $0.version > builtIn.version ? $0 : builtIn } ?? builtIn)
        }
        modules += order.compactMap { latest[$0] }
        return try SchemaSet(modules: modules)
    }

    /// What `veld-server schema add` did.
    public enum Added: Sendable {
        /// Stored: the set in force now.
        case added(PublishedSchemas)
        /// That exact document is in force already: nothing stored.
        case alreadyInForce(PublishedSchemas)
    }

    /// Adds `data` (a module document) to the set in force, refused with every reason
    /// (``ModuleProblems``) when it is malformed or would break a device in the field.
    public static func add(_ data: Data, to storage: any SyncStorage, by user: String, at date: Date) async throws -> Added {
        // Parsed alone first: unknown keys and broken names are refused before anything is read.
        let module = try ModuleDocument.parse(data)
        let document = String(decoding: try StableJSON.encode(module), as: UTF8.self)
        let outcome = Outcome()
        do {
            try await storage.addModule(StoredModule(name: module.module, version: module.version, document: document,
                                                     addedAt: date, addedBy: user)) { stored in
                let current = try inForce(stored)
                guard let next = try current.adding(module) else {
                    outcome.set(.alreadyInForce(try PublishedSchemas(set: current)))
                    throw AlreadyInForce()  // nothing to store
                }
                outcome.set(.added(try PublishedSchemas(set: next)))
            }
        } catch is AlreadyInForce {}
        guard let added = outcome.value else { throw ModuleProblems(["the module was not stored"]) }
        return added
    }

    private struct AlreadyInForce: Error {}

    private final class Outcome: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: Added?
        func set(_ value: Added) { lock.withLock { stored = value } }
        var value: Added? { lock.withLock { stored } }
    }
}

/// The set in force as this process last read it. Module changes only ever add, so a set
/// read earlier accepts less than the current one, never more: a push it refuses is judged
/// again after a fresh read (``refreshed(ifOlderThan:)``), and one it accepts is accepted.
final class SchemaCache: @unchecked Sendable {
    private let storage: any SyncStorage
    private let lock = NSLock()
    private var current: PublishedSchemas?

    init(storage: any SyncStorage) { self.storage = storage }

    func inForce() async throws -> PublishedSchemas {
        if let current = lock.withLock({ current }) { return current }
        return try await refresh()
    }

    @discardableResult
    func refresh() async throws -> PublishedSchemas {
        let fresh = try await ModuleSets.published(storage)
        lock.withLock { current = fresh }
        return fresh
    }

    /// Whether `role` may read records of `type`. A set read earlier can only allow less:
    /// a refusal is checked again on a fresh read.
    /// A type this process does not know yet is read afresh first: it comes from a module
    /// added since, which may keep it from this role.
    func mayRead(_ type: String, as role: Role) async throws -> Bool {
        let set = try await inForce().set
        if set.named(type)?.type == type, set.mayRead(type, as: role) { return true }
        return try await refresh().set.mayRead(type, as: role)
    }

    /// A fresh read when it differs from `used`; nil when `used` is still in force.
    func refreshed(ifOlderThan used: PublishedSchemas) async throws -> PublishedSchemas? {
        let fresh = try await refresh()
        return fresh.etag == used.etag ? nil : fresh
    }
}
