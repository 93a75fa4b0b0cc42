import Foundation
import PropertyBased
import Testing
import VeldProtocol
import VeldTestSupport

/// Modules as documents: the built-in module loads and is what the schemas are; generated
/// modules of valid parts load, with exactly their types; every generated breakage is
/// refused with a reason that names where it is, and nothing is loaded.
@Suite struct ModuleDocumentTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("protocol/modules")

    @Test func theBuiltInModuleIsTheSchemas() throws {
        let data = try Data(contentsOf: Self.folder.appendingPathComponent("veld-core.json"))
        let module = try ModuleDocument.parse(data)
        #expect(module.module == "veld-core" && module.version == 5)
        // Veld loads these bytes without the checks (once a process); they pass them here.
        #expect(Modules.builtIn == [module])
        #expect(try SchemaSet(modules: [module]).schemas == SchemaSet.builtIn.schemas)
        #expect(module.schemas == Schemas.all)
        #expect(Schemas.all.map(\.type) == ["visitNote", "melding", "councilInput", "participation", "carePlan",
                                             "carePlanGoal", "careReport", "ontwikkelplan", "bulletin", "acknowledgement"])
        #expect(Schemas.all.allSatisfy { $0.fieldNames.last == RecordState.deletedField })
        #expect(Schemas.carePlan.field("status")?.restrictedValues["vastgesteld"] == Role.officeOnly)
        #expect(Schemas.carePlan.field("status")?.deprecatedValues == ["vastgesteld"])
        #expect(Schemas.carePlan.field("financing")?.deprecated == true)
        #expect(Schemas.carePlan.field("reviewedBy")?.writers == Role.officeOnly)
        #expect(Schemas.carePlan.field("agreedWith")?.writers.contains(.carer) == true)
        #expect(Schemas.bulletin.fields.filter { $0.name != RecordState.deletedField }.allSatisfy { $0.writers == Role.officeOnly })
        #expect(Schemas.acknowledgement.field("bulletin")?.required == true)
        #expect(Schemas.melding.scopeRule == .location && Schemas.melding.readers.contains(.visitor))
        #expect(Schemas.carePlanGoal.scopeRule == .inheritedFrom(field: "carePlan"))
        #expect(Schemas.kwaliteitskaderThemes.count == 8)
    }

    static let kinds = ["text", "longText", "date", "choice", "choices", "bool", "reference"]

    /// A module `melding-N` with one type of generated fields, one per code.
    static func generated(_ codes: [Int], number: Int) -> ModuleDocument {
        var fields: [ModuleDocument.Field] = []
        for (index, code) in codes.enumerated() {
            let kind = kinds[code % kinds.count]
            var field = ModuleDocument.Field(name: "field\(index)", kind: kind, required: code % 3 == 0 ? true : nil,
                                             summary: "generated field \(index)")
            if kind == "choice" || kind == "choices" {
                field.values = (0...(code % 4)).map { "waarde \($0)" }
                if code % 5 == 0 { field.restrictedValues = ["waarde 0": ["office", "admin"]] }
            }
            if kind == "reference" { field.references = code % 2 == 0 ? "carePlan" : "melding\(number)" }
            if code % 7 == 0 { field.writers = ["office"] }
            fields.append(field)
        }
        let scope = SchemaDocument.Scope(rule: codes.first.map { $0 % 2 == 0 } == true ? "location" : "organisationOrLocation")
        return ModuleDocument(module: "melding-\(number)", version: 1 + number % 3, summary: "generated module \(number)",
                              types: [ModuleDocument.RecordType(type: "melding\(number)", noun: "melding-\(number)",
                                                                summary: "a generated type", scope: scope, fields: fields)])
    }

    @Test func generatedModulesOfValidPartsLoad() async {
        await checkProperty(count: 150, input: Gen.int(in: 0...1_000).array(of: 1...12), Gen.int(in: 0...99)) { (codes: [Int], number: Int) async throws in
            let module = Self.generated(codes, number: number)
            let data = try StableJSON.encode(module)
            let parsed = try ModuleDocument.parse(data, alongside: Modules.builtIn)
            #expect(parsed == module)
            let schema = try #require(parsed.schemas.first)
            #expect(schema.fieldNames == module.types[0].fields.map(\.name) + [RecordState.deletedField])
            for (field, source) in zip(schema.fields, module.types[0].fields) {
                #expect(field.required == (source.required ?? false))
                #expect(field.writers == (source.writers.map { Set($0.compactMap(Role.init(rawValue:))) } ?? Role.everyone))
            }
        }
    }

    /// One breakage of a valid module, and a word the refusal must contain.
    static func broken(_ module: ModuleDocument, _ code: Int) -> (ModuleDocument, String) {
        var module = module
        var field = module.types[0].fields[0]
        switch code % 16 {
        case 0: field.name = RecordState.deletedField; module.types[0].fields[0] = field; return (module, "deleted")
        case 1: module.types[0].fields.append(field); return (module, "listed twice")
        case 2: field.kind = "number"; module.types[0].fields[0] = field; return (module, "kind \"number\"")
        case 3: field.kind = "choice"; field.values = nil; field.references = nil; module.types[0].fields[0] = field; return (module, "lists its values")
        case 4: field.kind = "reference"; field.values = nil; field.restrictedValues = nil; field.references = "invoice"; module.types[0].fields[0] = field; return (module, "no module defines")
        case 5: field.writers = ["purchaser"]; module.types[0].fields[0] = field; return (module, "no role purchaser")
        case 6: field.kind = "choice"; field.references = nil; field.values = ["a"]; field.restrictedValues = ["b": ["office"]]; module.types[0].fields[0] = field; return (module, "not one of its values")
        case 7: module.types[0].scope = SchemaDocument.Scope(rule: "inheritedFrom", field: "nope"); return (module, "inheritedFrom")
        case 8: module.types[0].type = "Melding"; return (module, "camelCase")
        case 9: module.types[0].type = "carePlan"; return (module, "another module")
        case 10: module.types[0].noun = "visit"; return (module, "noun visit is taken")
        case 11: module.module = "Melding!"; return (module, "module name")
        case 12: module.version = 0; return (module, "count from 1")
        case 13: field.summary = "twee\nregels"; module.types[0].fields[0] = field; return (module, "one line")
        case 14: module.types = []; return (module, "at least one type")
        default: module.types[0].scope = SchemaDocument.Scope(rule: "ward"); return (module, "scope rule")
        }
    }

    @Test func everyGeneratedBreakageIsRefusedWithItsReason() async {
        await checkProperty(count: 200, input: Gen.int(in: 0...1_000).array(of: 1...8), Gen.int(in: 0...1_000)) { (codes: [Int], code: Int) async throws in
            let (module, reason) = Self.broken(Self.generated(codes, number: 7), code)
            do {
                _ = try ModuleDocument.parse(try StableJSON.encode(module), alongside: Modules.builtIn)
                Issue.record("a broken module loaded (breakage \(code % 16))")
            } catch let problems as ModuleProblems {
                #expect(problems.reasons.contains { $0.contains(reason) }, "breakage \(code % 16): \(problems.reasons)")
            }
        }
    }

    @Test func aTypeThatBelongsToAnotherIsReadOnlyByItsReaders() throws {
        // A note on a care plan, readable by every role, would tell visitors of the plan.
        var note = ModuleDocument.RecordType(
            type: "planNote", noun: "plan-note", summary: "a note on a care plan",
            scope: SchemaDocument.Scope(rule: "inheritedFrom", field: "carePlan"),
            fields: [ModuleDocument.Field(name: "carePlan", kind: "reference", required: true, references: "carePlan", summary: "the plan")])
        let module = ModuleDocument(module: "plan-notes", version: 1, summary: "notes on care plans", types: [note])
        #expect(module.problems(alongside: Modules.builtIn).contains { $0.contains("visitor role would read it but may not read the carePlan") })
        note.readers = ["carer", "office"]
        #expect(ModuleDocument(module: "plan-notes", version: 1, summary: "notes on care plans", types: [note]).problems(alongside: Modules.builtIn).isEmpty)
        // Versions are bounded, so a set's version never overflows.
        #expect(ModuleDocument(module: "plan-notes", version: Int.max, summary: "notes", types: [note]).problems().contains { $0.contains("1,000,000") })
    }

    @Test func unknownKeysAndOtherShapesAreRefusedNotIgnored() throws {
        var json = String(decoding: try StableJSON.encode(Self.generated([1, 2, 3], number: 1)), as: UTF8.self)
        json = json.replacingOccurrences(of: #""required":true"#, with: #""requried":true"#)
        json = json.replacingOccurrences(of: #""kind":"longText""#, with: #""kind":"longText","requried":true"#)
        #expect(throws: ModuleProblems.self) { try ModuleDocument.parse(Data(json.utf8)) }
        do { _ = try ModuleDocument.parse(Data(json.utf8)) } catch let problems as ModuleProblems {
            #expect(problems.reasons.contains { $0.contains("unknown key \"requried\"") && $0.contains("fields[") })
        }
        for text in ["", "[]", #"{"module":"x"}"#, "{not json"] {
            #expect(throws: ModuleProblems.self) { try ModuleDocument.parse(Data(text.utf8)) }
        }
    }
}
