import Foundation

extension ModuleDocument {
    /// Why this document cannot follow `old` (the version of the same module in force),
    /// one reason per entry with the additive change that would do instead; empty when it
    /// can. A device in the field may hold any record the old version accepted and may
    /// have written, offline, anything the old version let its role write: a change is
    /// accepted only when all of that stays valid and permitted. So types, fields and
    /// values are never removed (they are deprecated: hidden from forms, still stored),
    /// a field keeps its kind (`text` and `longText` differ only in how they are edited)
    /// and its reference, a type keeps its scope rule, nothing becomes required, and no
    /// role loses a field or a value it could write. Summaries, nouns and deprecations may
    /// change freely, and a type kept to locations may widen to organisations too.
    public func changeProblems(from old: ModuleDocument) -> [String] {
        var problems: [String] = []
        if version <= old.version {
            problems.append("version \(version): version \(old.version) of \(module) is in force; publish the change as version \(old.version + 1)")
        }
        for oldType in old.types {
            let at = "type \(oldType.type)"
            guard let type = types.first(where: { $0.type == oldType.type }) else {
                problems.append("\(at) is removed, but devices hold its records; keep it and mark it \"deprecated\": true (no longer offered, still stored)")
                continue
            }
            // Widening from locations to organisations too keeps every stored scope valid.
            let widened = oldType.scope.rule == "location" && type.scope.rule == "organisationOrLocation"
            if type.scope != oldType.scope && !widened {
                problems.append("\(at): its scope rule changes from \(oldType.scope.describe) to \(type.scope.describe), which would put stored records in the wrong scope; keep the rule, or define a new type with the new one")
            }
            let oldReaders = oldType.readerSet, readers = type.readerSet
            for role in Role.allCases where oldReaders.contains(role) && !readers.contains(role) {
                problems.append("\(at): the \(role.rawValue) role loses reading it, but its devices hold such records and may have written them offline; keep the role among its readers")
            }
            let oldDeleters = oldType.deleterSet, deleters = type.deleterSet
            for role in Role.allCases where oldDeleters.contains(role) && readers.contains(role) && !deleters.contains(role) {
                problems.append("\(at): the \(role.rawValue) role loses the right to delete its records, but its devices may hold deletes made offline; keep the role among its deleters")
            }
            for oldField in oldType.fields {
                let at = "\(at), field \(oldField.name)"
                guard let field = type.fields.first(where: { $0.name == oldField.name }) else {
                    problems.append("\(at) is removed, but records hold its values; keep it and mark it \"deprecated\": true (hidden from forms, still stored)")
                    continue
                }
                if oldField.wireKind != field.wireKind || oldField.references != field.references {
                    problems.append("\(at): its kind changes from \(oldField.describeKind) to \(field.describeKind), but devices read and write it as \(oldField.describeKind); add a new field of the new kind and deprecate this one")
                    continue
                }
                for value in oldField.values ?? [] where !(field.values ?? []).contains(value) {
                    problems.append("\(at): value \"\(value)\" is removed, but records may hold it; list it in \"deprecatedValues\" instead (no longer offered, still valid)")
                }
                if field.required == true, oldField.required != true {
                    problems.append("\(at) becomes required, but records without it are stored already; keep it optional (a form can still ask for it)")
                }
                let oldWriters = oldField.writerSet, writers = field.writerSet
                for role in Role.allCases where oldWriters.contains(role) && !writers.contains(role) {
                    problems.append("\(at): the \(role.rawValue) role loses the right to write it, but its devices may hold such edits made offline; keep the role among its writers (deprecate the field to stop offering it)")
                }
                for value in field.values ?? [] {
                    let before = oldField.roles(mayWrite: value), after = field.roles(mayWrite: value)
                    for role in Role.allCases where before.contains(role) && !after.contains(role) && writers.contains(role) {
                        problems.append("\(at): value \"\(value)\" becomes restricted to fewer roles (\(role.rawValue) loses it), but its devices may hold it set offline; keep who may set it")
                    }
                }
            }
            for field in type.fields where field.required == true && !oldType.fields.contains(where: { $0.name == field.name }) {
                problems.append("\(at), field \(field.name) is new and required, but records made before it lack it; add it as optional")
            }
        }
        return problems
    }
}

extension ModuleDocument.Field {
    /// The kind as stored and sent: `longText` is `text` edited in a larger box.
    var wireKind: String { kind == "longText" ? "text" : kind }

    var describeKind: String {
        kind == "reference" ? "reference to \(references ?? "?")" : kind
    }

    var writerSet: Set<Role> { writers.map { Set($0.compactMap(Role.init(rawValue:))) } ?? Role.everyone }

    /// The roles that may set `value` in this field.
    func roles(mayWrite value: String) -> Set<Role> {
        guard let restricted = restrictedValues?[value] else { return writerSet }
        return writerSet.intersection(restricted.compactMap(Role.init(rawValue:)))
    }
}

extension ModuleDocument.RecordType {
    var readerSet: Set<Role> { readers.map { Set($0.compactMap(Role.init(rawValue:))) } ?? Role.everyone }
    var deleterSet: Set<Role> { deleters.map { Set($0.compactMap(Role.init(rawValue:))) } ?? Role.everyone }
}

extension SchemaDocument.Scope {
    var describe: String { field.map { "\(rule) (\($0))" } ?? rule }
}

/// The module set in force: what a server publishes at `GET /v1/schemas` and what client
/// and server validate every record and every edit against. Its version is the sum of its
/// modules' versions, so every accepted change (a new module, or a module's next version)
/// raises it, and a device can say which set it works on.
///
/// ```swift
/// let set = try SchemaSet.builtIn.adding(melding)!   // nil: that exact module is in force
/// set.named("melding")?.field("title")
/// ```
public struct SchemaSet: Hashable, Sendable {
    public let modules: [ModuleDocument]
    /// Every type of every module, in module order.
    public let schemas: [RecordSchema]
    private let byName: [String: RecordSchema]

    /// The modules that ship with Veld: what a device uses before its first sync.
    /// Formed without the checks of `init(modules:)`, which the module tests run on it.
    public static let builtIn = SchemaSet(checked: Modules.builtIn)

    /// A set of modules that fit together (names, types, nouns and references checked).
    public init(modules: [ModuleDocument]) throws(ModuleProblems) {
        var problems: [String] = []
        var names: Set<String> = []
        for module in modules {
            if !names.insert(module.module).inserted { problems.append("module \(module.module) is listed twice") }
            problems += module.problems(alongside: modules).map { "module \(module.module): \($0)" }
        }
        var ruleIDs: [String: String] = [:]
        for module in modules {
            for rule in module.rules ?? [] {
                if let other = ruleIDs[rule.id], other != module.module { problems.append("rule \(rule.id) is in modules \(other) and \(module.module)") }
                ruleIDs[rule.id] = module.module
            }
        }
        var reportIDs: [String: String] = [:]
        for module in modules {
            for id in (module.reports ?? []).compactMap(\.id) {
                if let other = reportIDs[id], other != module.module { problems.append("report \(id) is in modules \(other) and \(module.module)") }
                reportIDs[id] = module.module
            }
        }
        if !problems.isEmpty { throw ModuleProblems(problems) }
        self.init(checked: modules)
    }

    /// A set of modules already known to fit together.
    private init(checked modules: [ModuleDocument]) {
        self.modules = modules
        schemas = modules.flatMap(\.schemas)
        var byName: [String: RecordSchema] = [:]
        for schema in schemas { byName[schema.noun] = schema }
        for schema in schemas { byName[schema.type] = schema }  // a type wins over a noun
        self.byName = byName
    }

    public var version: Int { modules.reduce(0) { $0 + $1.version } }

    /// Every module's deadline rules, in module order.
    public var rules: [DueRule] { modules.flatMap { $0.rules ?? [] } }

    /// Every report of the set, each with the sections other modules add to it (in module
    /// order), in module order.
    public var reports: [ReportDefinition] {
        var reports = modules.flatMap { $0.reports ?? [] }.filter { $0.id != nil }
        for extra in modules.flatMap({ $0.reports ?? [] }) {
            guard let target = extra.extends, let index = reports.firstIndex(where: { $0.id == target }) else { continue }
            reports[index].sections += extra.sections
        }
        return reports
    }

    /// The report `id`, with the sections other modules add to it.
    public func report(_ id: String) -> ReportDefinition? { reports.first { $0.id == id } }

    /// The schema of `type` (`visitNote`), also found by its noun (`visit`).
    public func named(_ name: String) -> RecordSchema? { byName[name] }

    /// The types `role` may not read: what a pull, a history or a record answer never
    /// gives a token of that role.
    public func hiddenTypes(for role: Role) -> Set<String> {
        Set(schemas.filter { !$0.readers.contains(role) }.map(\.type))
    }

    /// Whether `role` may read records of `type` (a type in no module: yes, for the
    /// schema check of a push to refuse it with its own reason; a stored record is judged
    /// by ``mayReadStored(_:as:)``).
    public func mayRead(_ type: String, as role: Role) -> Bool {
        byName[type].map { $0.type != type || $0.readers.contains(role) } ?? true
    }

    /// Whether `role` may read a stored record of `type`: only of a type this set defines.
    public func mayReadStored(_ type: String, as role: Role) -> Bool {
        byName[type].map { $0.type == type && $0.readers.contains(role) } ?? false
    }

    /// The module that defines `type`.
    public func module(defining type: String) -> ModuleDocument? {
        modules.first { $0.types.contains { $0.type == type } }
    }

    /// Validates `state` against the schema of its type; `partial` for a delta, whose
    /// required fields may be among those it leaves out (checked once it is filled in).
    public func validate(_ state: RecordState, partial: Bool = false) -> [ValidationError] {
        guard let schema = byName[state.type], schema.type == state.type else {
            return [ValidationError(recordID: state.id, type: state.type, problem: .unknownType(known: schemas.map(\.type)))]
        }
        return schema.validate(state, partial: partial)
    }

    /// The set with `module` added, or replacing the version of it in force. Nil when that
    /// exact document is in force already. Refused with every reason (and the additive
    /// alternative) when it does not fit or would break a device in the field.
    public func adding(_ module: ModuleDocument) throws(ModuleProblems) -> SchemaSet? {
        var problems = module.problems(alongside: modules)
        var next = modules
        if let index = modules.firstIndex(where: { $0.module == module.module }) {
            if modules[index] == module { return nil }
            problems += module.changeProblems(from: modules[index])
            next[index] = module
        } else {
            next.append(module)
        }
        if !problems.isEmpty { throw ModuleProblems(problems) }
        return try SchemaSet(modules: next)
    }
}

/// `{"version": 3, "modules": [ … ]}`: each module exactly the document
/// `veld-server schema add` takes. Decoding checks that the modules fit together and that
/// the version is theirs.
extension SchemaSet: Codable {
    enum CodingKeys: String, CodingKey { case version, modules }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let version = try container.decode(Int.self, forKey: .version)
        let modules = try container.decode([ModuleDocument].self, forKey: .modules)
        try self.init(modules: modules)
        guard self.version == version else {
            throw DecodingError.dataCorruptedError(forKey: .version, in: container,
                                                   debugDescription: "version \(version) is not the sum of the modules' versions (\(self.version))")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(version, forKey: .version)
        try container.encode(modules, forKey: .modules)
    }
}
