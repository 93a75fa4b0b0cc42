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

    func store(user: String = "anna", role: Role = .visitor) throws -> LocalStore {
        try LocalStore.initialise(home: url, user: user, role: role)
    }

    static let visitFields: [String: FieldValue] = [
        "visitedAt": .string("2026-11-20"), "visitor": .string("anna"), "kind": .string("werkbezoek"),
        "summary": .string("Rondgang huiskamer"), "status": .string("concept"),
    ]
}

struct InjectedFailure: Error {}
