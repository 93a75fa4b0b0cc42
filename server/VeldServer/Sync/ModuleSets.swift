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
        etag = "\"" + Hex.lowercase(SHA256.hash(data: json).prefix(12)) + "\""
    }
}

public enum ModuleSets {
    /// The set in force over what `storage` holds.
    public static func published(_ storage: any SyncStorage) async throws -> PublishedSchemas {
        try PublishedSchemas(set: inForce(try await storage.storedModules()))
    }

    /// Stores this release's built-in modules where the database lacks them or holds an
    /// older version (`serve` and `migrate` call it), so that every process on one database
    /// enforces the same set, whatever release it runs: the set in force is what the
    /// database holds. A release may do what an organisation's change may not (veld-core 2
    /// keeps care plans from visitors; devices remove what their role may no longer read).
    /// Fails, storing nothing, when the database holds another document under a built-in's
    /// version (an organisation's own change to a built-in module, meeting a release's).
    public static func installBuiltIns(_ storage: any SyncStorage, at date: Date) async throws {
        for builtIn in Modules.builtIn {
            let document = String(decoding: try StableJSON.encode(builtIn), as: UTF8.self)
            let stored = try await storage.storedModules().filter { $0.name == builtIn.module }
            if let same = stored.first(where: { $0.version == builtIn.version }) {
                let held = try StableJSON.decode(ModuleDocument.self, from: Data(same.document.utf8))
                guard held == builtIn else {
                    throw ModuleProblems(["the database holds another \(builtIn.module) version \(builtIn.version) than this release's; merge its changes into this release's module (veld-server schema show \(builtIn.module)) and add it as version \(builtIn.version + 1)"])
                }
                continue
            }
            guard stored.allSatisfy({ $0.version < builtIn.version }) else { continue }  // the database's is newer
            do {
                try await storage.addModule(StoredModule(name: builtIn.module, version: builtIn.version, document: document,
                                                         addedAt: date, addedBy: "release \(VeldServerInfo.version)")) { now in
                    // Another process may have stored it meanwhile; then there is nothing to do.
                    if now.contains(where: { $0.name == builtIn.module && $0.version >= builtIn.version }) { throw AlreadyInForce() }
                    // The release's module must still fit the organisation's added ones.
                    let others = try inForce(now).modules.filter { $0.module != builtIn.module }
                    _ = try SchemaSet(modules: [builtIn] + others)
                }
            } catch is AlreadyInForce {}
        }
    }

    /// The set in force: each module at the latest version the database holds, built-ins
    /// first in their order, then added modules in the order they were first added. A
    /// built-in the database does not hold yet (a storage never served, as in tests)
    /// counts as this release's version. Fails when the stored modules do not form a set:
    /// the server refuses to start, with the reasons.
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
        for builtIn in Modules.builtIn { modules.append(latest.removeValue(forKey: builtIn.module) ?? builtIn) }
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
///
/// It is read again at least every `maxAge`, and whenever a device says it holds another
/// set (the `Veld-Schemas` header of a pull, with the ETag it kept): a device that took a
/// set from another process is never answered by this one on an older set.
final class SchemaCache: @unchecked Sendable {
    private let storage: any SyncStorage
    private let maxAge: TimeInterval
    private let lock = NSLock()
    private var current: (set: PublishedSchemas, at: Date)?

    init(storage: any SyncStorage, maxAge: TimeInterval = 5) {
        self.storage = storage
        self.maxAge = maxAge
    }

    func inForce() async throws -> PublishedSchemas {
        if let current = lock.withLock({ current }), Date().timeIntervalSince(current.at) < maxAge { return current.set }
        return try await refresh()
    }

    /// The set in force, read again when `etag` (the set a device holds) is not this process's.
    func inForce(deviceHolds etag: String?) async throws -> PublishedSchemas {
        let cached = try await inForce()
        guard let etag, etag != cached.etag else { return cached }
        return try await refresh()
    }

    @discardableResult
    func refresh() async throws -> PublishedSchemas {
        let fresh = try await ModuleSets.published(storage)
        lock.withLock { current = (fresh, Date()) }
        return fresh
    }

    /// Whether `role` may read records of `type`. A set read earlier can only allow less:
    /// a refusal is checked again on a fresh read.
    /// A type this process does not know yet is read afresh first: it comes from a module
    /// added since, which may keep it from this role.
    func mayRead(_ type: String, as role: Role) async throws -> Bool {
        let set = try await inForce().set
        if set.mayReadStored(type, as: role) { return true }
        return try await refresh().set.mayReadStored(type, as: role)
    }

    /// A fresh read when it differs from `used`; nil when `used` is still in force.
    func refreshed(ifOlderThan used: PublishedSchemas) async throws -> PublishedSchemas? {
        let fresh = try await refresh()
        return fresh.etag == used.etag ? nil : fresh
    }
}
