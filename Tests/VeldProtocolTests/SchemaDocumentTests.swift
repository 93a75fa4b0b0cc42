import Foundation
import Testing
import VeldProtocol

/// `protocol/schemas.json` and the schema tables in `protocol/SPEC.md` are the schemas in
/// `Schemas.swift`, exactly. `VELD_WRITE_SCHEMAS=1 swift test --filter SchemaDocumentTests`
/// writes both anew after a schema change.
@Suite struct SchemaDocumentTests {
    static let protocolFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("protocol")
    static let begin = "<!-- schemas:begin (generated from Schemas.swift; see SchemaDocumentTests) -->\n"
    static let end = "<!-- schemas:end -->"

    @Test func schemasJSONIsTheSchemas() throws {
        let url = Self.protocolFolder.appendingPathComponent("schemas.json")
        let expected = String(decoding: try StableJSON.encode(SchemaDocument.current, pretty: true), as: UTF8.self) + "\n"
        if ProcessInfo.processInfo.environment["VELD_WRITE_SCHEMAS"] == "1" { try expected.write(to: url, atomically: true, encoding: .utf8) }
        let stored = try String(contentsOf: url, encoding: .utf8)
        #expect(stored == expected, "protocol/schemas.json is out of date; run VELD_WRITE_SCHEMAS=1 swift test --filter SchemaDocumentTests")
        #expect(try StableJSON.decode(SchemaDocument.self, from: Data(stored.utf8)) == SchemaDocument.current)
    }

    @Test func specTablesAreTheSchemas() throws {
        let url = Self.protocolFolder.appendingPathComponent("SPEC.md")
        var spec = try String(contentsOf: url, encoding: .utf8)
        let start = try #require(spec.range(of: Self.begin), "SPEC.md lacks the schema marker")
        let stop = try #require(spec.range(of: Self.end, range: start.upperBound..<spec.endIndex))
        let expected = SchemaDocument.current.markdown
        if ProcessInfo.processInfo.environment["VELD_WRITE_SCHEMAS"] == "1" {
            spec.replaceSubrange(start.upperBound..<stop.lowerBound, with: expected)
            try spec.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        #expect(String(spec[start.upperBound..<stop.lowerBound]) == expected,
                "the schema tables in SPEC.md are out of date; run VELD_WRITE_SCHEMAS=1 swift test --filter SchemaDocumentTests")
    }
}
