import Foundation
@testable import VeldCore
import VeldProtocol

/// A profile folder that exists for one test.
final class TemporaryHome {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("veld-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func store(user: String = "anna", role: Role = .carer) throws -> LocalStore {
        try LocalStore.initialise(home: url, user: user, role: role)
    }

    static let visitFields: [String: FieldValue] = [
        "visitedAt": .string("2026-11-20"), "visitor": .string("anna"), "kind": .string("werkbezoek"),
        "summary": .string("Rondgang huiskamer"), "status": .string("concept"),
    ]
}

struct InjectedFailure: Error {}

/// The files SQLite keeps for a profile's database, read as raw bytes.
enum DatabaseFiles {
    static let suffixes = ["", "-wal", "-shm", "-journal"]

    /// Those of the database's files (and the WAL, the shared memory, a journal) whose
    /// bytes contain `phrase`.
    static func containing(_ phrase: String, in home: URL) throws -> [String] {
        let needle = Data(phrase.utf8)
        return try suffixes.compactMap { suffix in
            let path = home.appendingPathComponent(LocalStore.databaseName).path + suffix
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            return try Data(contentsOf: URL(fileURLWithPath: path)).range(of: needle) == nil ? nil : suffix.isEmpty ? "database" : suffix
        }
    }
}
