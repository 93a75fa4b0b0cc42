import Foundation
import Testing
import VeldProtocol

/// The merge vectors in `protocol/vectors/`: two states and their expected merge, written
/// by hand so another implementation can check itself against the same files.
@Suite struct VectorTests {
    struct Vector: Decodable {
        let description: String
        let a: RecordState
        let b: RecordState
        let merged: RecordState
        let conflicts: [String]
        /// Where given: the value reads show for each field of `merged`.
        let shown: [String: FieldValue]?
    }

    static let folder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("protocol/vectors")

    static var files: [URL] {
        ((try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? [])
            .filter { $0.pathExtension == "json" }.sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    @Test func thereAreVectors() {
        #expect(Self.files.count >= 11)
    }

    @Test(arguments: files)
    func vectorHolds(_ file: URL) throws {
        let vector = try StableJSON.decode(Vector.self, from: Data(contentsOf: file))
        let ab = try vector.a.merged(with: vector.b)
        let ba = try vector.b.merged(with: vector.a)
        #expect(ab == vector.merged, "\(file.lastPathComponent): \(vector.description)")
        #expect(ba == vector.merged, "\(file.lastPathComponent) (b ⊔ a)")
        #expect(vector.merged.conflicts.keys.sorted() == vector.conflicts.sorted())
        for (field, value) in vector.shown ?? [:] {
            #expect(vector.merged.value(of: field) ?? .null == value, "\(file.lastPathComponent): shown \(field)")
        }
        // Every state in a vector is valid for its schema.
        for state in [vector.a, vector.b, vector.merged] {
            #expect(Schemas.validate(state).filter { $0.problem != .missingRequired } == [])
        }
    }
}
