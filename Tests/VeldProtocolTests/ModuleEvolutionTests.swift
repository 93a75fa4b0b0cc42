import Foundation
import PropertyBased
import Testing
import VeldProtocol
import VeldTestSupport

/// Module evolution: for generated sequences of changes to a generated module, a change is
/// accepted exactly when it breaks nothing a device in the field may hold or have written
/// offline. "Breaks" is judged here independently of the rules in ModuleEvolution.swift:
/// by witnesses (records every role could create under the old version, field by field
/// and value by value, in every kind of scope) that the new version must still accept
/// and permit, and by the kind an old device reads each field as.
@Suite struct ModuleEvolutionTests {
    /// A record and what a role wrote of it (all of it, creating it, or one field of a
    /// record someone else made): its fields, scope, and the type each reference points at.
    struct Witness {
        var type: String
        var scope: String
        var fields: [String: FieldValue]
        var role: Role
        var written: Set<String>
        var targets: [String: String]
    }

    static let someID = "6f1c2b1e-5a0d-4c7e-9b1f-3d2a1c0b9e8f"

    static func candidates(_ field: FieldSchema) -> [(FieldValue, target: String?)] {
        switch field.kind {
        case .text: return [(.string("tekst"), nil)]
        case .date: return [(.string("2026-01-31"), nil)]
        case .bool: return [(.bool(true), nil)]
        case .choice(let values): return values.map { (.string($0), nil) }
        case .choices(let values): return values.map { (.strings([$0]), nil) }
        case .reference(let type): return [(.string(someID), type)]
        }
    }

    /// Whether `schema` accepts the witness's record and lets its role write what it wrote.
    static func admits(_ schema: RecordSchema?, _ witness: Witness) -> Bool {
        guard let schema, schema.type == witness.type, schema.readers.contains(witness.role) else { return false }
        var state = RecordState(id: someID, type: witness.type, scope: witness.scope)
        state.edit(witness.fields, replica: "r-1", author: "anna", time: Date(timeIntervalSince1970: 1_700_000_000))
        guard schema.validate(state).isEmpty,
              schema.validateChanges(witness.fields.filter { witness.written.contains($0.key) }, role: witness.role,
                                     recordID: someID).isEmpty else { return false }
        for (name, target) in witness.targets {
            guard case .reference(let type)? = schema.field(name)?.kind, type == target else { return false }
        }
        // The role may also replace what it wrote (a value restricted later would not be its own).
        return witness.fields.allSatisfy { name, value in
            !witness.written.contains(name) || (schema.field(name)?.permits(witness.role, toReplace: value) ?? false)
        }
    }

    /// Every witness `schema` admits: per role and scope, a record with the required fields
    /// that the role creates, and each field with each candidate value that it writes alone
    /// (beside required fields someone else wrote) or creates the record with.
    static func witnesses(of schema: RecordSchema) -> [Witness] {
        var result: [Witness] = []
        for role in Role.allCases {
            var required: [String: FieldValue] = [:], targets: [String: String] = [:]
            for field in schema.requiredFields {
                let options = candidates(field)
                guard let pick = options.first(where: { field.permits(role, toWrite: $0.0) }) ?? options.first else { continue }
                required[field.name] = pick.0
                if let target = pick.target { targets[field.name] = target }
            }
            for scope in ["loc-zonnehof", "org-bezinn"] {
                let base = Witness(type: schema.type, scope: scope, fields: required, role: role, written: Set(required.keys),
                                   targets: targets)
                result.append(base)
                for field in schema.fields {
                    for (value, target) in candidates(field) {
                        var witness = base
                        witness.fields[field.name] = value
                        witness.targets[field.name] = target
                        if target == nil { witness.targets.removeValue(forKey: field.name) }
                        result.append(witness)  // created with it
                        witness.written = [field.name]
                        result.append(witness)  // written alone
                    }
                }
            }
        }
        return result.filter { admits(schema, $0) }
    }

    /// What an old device reads a field as: its stored kind and, for a reference, its target.
    static func reading(_ kind: FieldKind) -> String {
        switch kind {
        case .text: return "text"
        case .date: return "date"
        case .bool: return "bool"
        case .choice: return "choice"
        case .choices: return "choices"
        case .reference(let type): return "reference:" + type
        }
    }

    /// Why `new` breaks something `old` let a device hold or write; nil when it does not.
    static func breakage(from old: ModuleDocument, to new: ModuleDocument) -> String? {
        let newSchemas = Dictionary(uniqueKeysWithValues: new.schemas.map { ($0.type, $0) })
        for schema in old.schemas {
            if let readers = newSchemas[schema.type]?.readers, let lost = schema.readers.subtracting(readers).first {
                return "the \(lost.rawValue) role could read \(schema.type) and no longer can"
            }
            if let refused = witnesses(of: schema).first(where: { !admits(newSchemas[schema.type], $0) }) {
                return "a record \(refused.role.rawValue) could write is refused: \(refused.fields) in \(refused.scope)"
            }
            for field in schema.fields {
                if let now = newSchemas[schema.type]?.field(field.name)?.kind, reading(now) != reading(field.kind) {
                    return "old devices read \(field.name) as \(reading(field.kind)), now \(reading(now))"
                }
            }
        }
        return nil
    }

    /// One change to `module` (version + 1), additive or not; the code picks which and where.
    static func change(_ module: ModuleDocument, _ code: Int, _ salt: Int) -> ModuleDocument {
        var module = module
        module.version += 1
        let typeIndex = salt % module.types.count
        var type = module.types[typeIndex]
        let fieldIndex = (salt / 7) % type.fields.count
        var field = type.fields[fieldIndex]
        let roles = Role.allCases.map(\.rawValue)
        let role = roles[(salt / 3) % roles.count]
        switch code % 24 {
        case 0: // a new type
            module.types.append(ModuleDocument.RecordType(
                type: "extra\(salt)", noun: "extra-\(salt)", summary: "a later type",
                scope: SchemaDocument.Scope(rule: "location"),
                fields: [ModuleDocument.Field(name: "title", kind: "text", required: true, summary: "a title")]))
            return module
        case 1: type.fields.append(ModuleDocument.Field(name: "later\(salt)", kind: "date", summary: "a later field"))
        case 2: type.fields.append(ModuleDocument.Field(name: "later\(salt)", kind: "text", required: true, summary: "a later required field"))
        case 3: if field.values != nil { field.values!.append("later \(salt)") } else { field.summary = "said otherwise" }
        case 4: // a value removed, or else a field
            if let values = field.values, values.count > 1 {
                field.values!.removeLast()
                field.restrictedValues = field.restrictedValues?.filter { $0.key != values.last }
                field.deprecatedValues = field.deprecatedValues?.filter { $0 != values.last }
            } else if type.fields.count > 1 {
                type.fields.remove(at: fieldIndex)
                module.types[typeIndex] = type
                return module
            }
        case 5: field.required = nil
        case 6: field.required = true
        case 7: field.writers = nil
        case 8: field.writers = [role]
        case 9: if let value = field.values?.first { field.restrictedValues = [value: [role]] } else { field.deprecated = true; field.required = nil }
        case 10: field.restrictedValues = nil
        case 11: field.deprecated = true; field.required = nil
        case 12: if let value = field.values?.first { field.deprecatedValues = [value] } else { field.summary = "in other words" }
        case 13: type.deprecated = true
        case 14: type.noun = "renamed-\(salt)"
        case 15: if field.kind == "text" { field.kind = "longText" } else if field.kind == "longText" { field.kind = "text" } else { field.summary = "unchanged kind" }
        case 16: // another kind
            let kinds = ["text", "date", "bool"]
            let kind = kinds[salt % kinds.count]
            if field.kind != kind && type.scope.field != field.name {
                field.kind = kind; field.values = nil; field.restrictedValues = nil; field.deprecatedValues = nil; field.references = nil
            }
        case 17: type.scope = SchemaDocument.Scope(rule: type.scope.rule == "location" ? "organisationOrLocation" : "location")
        case 18: if field.kind == "reference" { field.references = field.references == "carePlan" ? "visitNote" : "carePlan" } else { field.summary = "the same" }
        case 19: type.readers = Array(Set([role, "office"])).sorted()   // fewer readers, unless it had these only
        case 20: type.readers = nil                // every role
        case 21: type.deleters = Array(Set([role, "admin"])).sorted()   // fewer deleters, unless it had these only
        case 22: type.deleters = nil               // every reader
        default: // a type removed
            if module.types.count > 1 { module.types.remove(at: typeIndex); return module }
            type.summary = "kept"
        }
        type.fields[fieldIndex] = field
        module.types[typeIndex] = type
        return module
    }

    final class Tally: @unchecked Sendable {
        private let lock = NSLock()
        private var counts: [Bool: Int] = [:]
        func count(accepted: Bool) { lock.withLock { counts[accepted, default: 0] += 1 } }
        subscript(accepted accepted: Bool) -> Int { lock.withLock { counts[accepted] ?? 0 } }
    }

    @Test func acceptedChangesBreakNothingAndRefusedOnesWouldHave() async {
        let tally = Tally()
        await checkProperty(count: 120, input: Gen.int(in: 0...1_000).array(of: 1...8), Gen.int(in: 0...1_000).array(of: 1...6)) {
            (fields: [Int], steps: [Int]) async throws in
            let base = ModuleDocumentTests.generated(fields, number: 3)
            var set = try #require(try SchemaSet.builtIn.adding(base))
            var current = base
            for (index, step) in steps.enumerated() {
                let next = Self.change(current, step, step / 24 + index * 31)
                // Changes that are not well-formed modules are refused by the format rules;
                // only well-formed ones say anything about evolution.
                guard next.problems(alongside: set.modules).isEmpty else { continue }
                let broken = Self.breakage(from: current, to: next)
                var added: SchemaSet?
                let reasons = Self.refusal { added = try set.adding(next); return added }
                tally.count(accepted: reasons.isEmpty)
                if reasons.isEmpty {
                    #expect(broken == nil, "accepted, but \(broken ?? ""): change \(step % 22)")
                    set = try #require(added)
                    current = next
                    #expect(set.version == SchemaSet.builtIn.version + current.version)
                } else {
                    #expect(broken != nil, "refused, but nothing breaks (change \(step % 22)): \(reasons)")
                    // Each refusal says what to do instead.
                    #expect(reasons.allSatisfy { $0.contains(";") }, "\(reasons)")
                }
            }
        }
        // Both sides were exercised, many times.
        #expect(tally[accepted: true] > 50 && tally[accepted: false] > 50, "accepted \(tally[accepted: true]), refused \(tally[accepted: false])")
    }

    /// The reasons `body` was refused with (empty when it was not).
    /// Each released version of a built-in module (kept in `protocol/modules/released`) is
    /// followed by an additive change: the release's module passes the rules and the
    /// witnesses. (veld-core 2, which kept care plans from visitors, was not; its
    /// predecessor is not kept.)
    @Test func theBuiltInModuleIsAnAdditiveChangeOfEveryReleasedVersion() throws {
        let released = ModuleDocumentTests.folder.appendingPathComponent("released")
        let files = try FileManager.default.contentsOfDirectory(atPath: released.path).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files.contains("veld-core-2.json"))
        for file in files {
            let old = try ModuleDocument.parse(try Data(contentsOf: released.appendingPathComponent(file)))
            let current = try #require(Modules.builtIn.first { $0.module == old.module }, "\(file): no built-in \(old.module)")
            #expect("\(old.module)-\(old.version).json" == file)
            #expect(current.version > old.version, "\(file)")
            #expect(current.changeProblems(from: old) == [], "\(file)")
            #expect(Self.breakage(from: old, to: current) == nil, "\(file)")
            // A server holding the released version takes the release's as a change.
            #expect(try SchemaSet(modules: [old]).adding(current)?.version == current.version)
        }
    }

    static func refusal(_ body: () throws -> SchemaSet?) -> [String] {
        do { _ = try body() } catch { return (error as? ModuleProblems)?.reasons ?? ["\(error)"] }
        return []
    }

    @Test func aChangeNeedsTheNextVersionAndTheSameDocumentIsAlreadyInForce() throws {
        let base = ModuleDocumentTests.generated([1, 2, 3], number: 4)
        let set = try #require(try SchemaSet.builtIn.adding(base))
        #expect(try set.adding(base) == nil)
        var same = base
        same.types[0].summary = "another summary under the same version"
        let reasons = Self.refusal { try set.adding(same) }
        #expect(reasons.contains { $0.contains("publish the change as version \(base.version + 1)") }, "\(reasons)")
        same.version += 1
        let next = try #require(try set.adding(same))
        #expect(next.version == set.version + 1)
        #expect(next.named(base.types[0].type)?.summary == "another summary under the same version")
    }

    @Test func theSetDecodesOnlyWhatFitsAndItsOwnVersion() throws {
        let set = try #require(try SchemaSet.builtIn.adding(ModuleDocumentTests.generated([4, 5], number: 6)))
        let data = try StableJSON.encode(set)
        #expect(try StableJSON.decode(SchemaSet.self, from: data) == set)
        var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        object["version"] = set.version + 1
        let forged = try JSONSerialization.data(withJSONObject: object)
        #expect(throws: (any Error).self) { try StableJSON.decode(SchemaSet.self, from: forged) }
        // Two modules defining one type do not form a set.
        var twin = ModuleDocumentTests.generated([4, 5], number: 6)
        twin.module = "twin"
        #expect(!Self.refusal { try SchemaSet(modules: Modules.builtIn + [ModuleDocumentTests.generated([4, 5], number: 6), twin]) }.isEmpty)
    }
}
