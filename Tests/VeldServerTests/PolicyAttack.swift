import Foundation
import Testing
import VeldProtocol
import VeldServer

/// Attacks derived from a settled honest history: each one is built by a carer or a visitor from what
/// it has just pulled (so its context covers everything the server holds in its scope),
/// and each must be refused with nothing stored.
enum PolicyAttack: Int, CaseIterable, Sendable {
    /// The same state with one field left out (context unchanged), with or without a new
    /// edit of another field: erasure by omission.
    case omission
    /// A new entry under another replica's next dot.
    case forgedDot
    /// Another replica's counter raised in the context.
    case inflatedContext
    /// An entry under counter 0 of the office's replica (counts as seen by everyone).
    case counterZero
    /// A new edit of its own that names the office's user as author.
    case spoofedAuthor
    /// Many entries of its own replica in one field: a fake conflict.
    case flood
    /// A fresh token pushing under a replica another active token holds.
    case takeover
    /// A goal in its own scope pointing at a care plan it cannot read, or at none.
    case goalEscape
    /// A new edit of an office decision.
    case officeField
    /// A value changed under a dot the server already holds.
    case reusedDot

    struct Attempt {
        let request: PushRequest
        let token: IssuedToken
        /// The problem types that are a correct refusal.
        let expected: Set<String>
    }

    static func type(_ kind: Problem.Kind) -> String { "urn:veld:problem:" + kind.rawValue }

    /// The attack as a push, or nil when the history has nothing to attack this way.
    func attempt(in history: PolicyHistory, code: Int) async throws -> Attempt? {
        let visitors = history.devices.indices.filter { history.devices[$0].role != .office }
        guard !visitors.isEmpty else { return nil }
        let attacker = history.devices[visitors[code % visitors.count]]
        let office = history.devices[0]
        let targets = attacker.local.values.filter { !$0.fields.isEmpty }.sorted { $0.id < $1.id }
        let me = attacker.name
        func push(_ records: [RecordState], _ expected: Problem.Kind...) -> Attempt {
            // A record of a type the attacker's role may not read is refused for that, too.
            let hidden = records.contains { !SchemaSet.builtIn.mayRead($0.type, as: attacker.role) }
            return Attempt(request: Records.batch(me, records), token: attacker.token,
                           expected: Set((expected + (hidden ? [.typeForbidden] : [])).map(Self.type)))
        }
        func writableText(_ schema: RecordSchema) -> FieldSchema? {
            schema.fields.first { field in
                if case .text = field.kind, field.writers.contains(attacker.role), field.name != "clientCode" { return true }
                return false
            }
        }

        switch self {
        case .omission:
            guard !targets.isEmpty else { return nil }
            let base = targets[code % targets.count]
            let names = base.fields.keys.sorted()
            // Prefer an office decision when the record holds one.
            let decisions = names.filter { ["approvedBy", "response"].contains($0) || base.value(of: $0) == .string("vastgesteld") }
            let field = decisions.isEmpty ? names[(code / 7) % names.count] : decisions[code % decisions.count]
            var fields = base.fields
            fields[field] = nil
            var pushed = RecordState(id: base.id, type: base.type, scope: base.scope, context: base.context, fields: fields)
            if code % 2 == 1, let schema = Schemas.named(base.type), let other = writableText(schema), other.name != field {
                pushed.edit([other.name: .string("ook dit")], replica: me, author: attacker.user, time: Fixture.time)
            }
            let required = Schemas.named(base.type)?.field(field)?.required ?? false
            return required ? push([pushed], .invalidRecord, .entryOmitted) : push([pushed], .entryOmitted)

        case .forgedDot:
            guard let base = targets.first(where: { Schemas.named($0.type).flatMap(writableText) != nil }) ?? targets.first,
                  let field = Schemas.named(base.type).flatMap(writableText) else { return nil }
            let dot = Dot(replica: office.name, counter: base.context[office.name] + 1)
            var context = base.context
            context.include(dot)
            var fields = base.fields
            fields[field.name] = [FieldEntry(value: .string("vervalst"), dot: dot, author: office.user, time: Fixture.time)]
            return push([RecordState(id: base.id, type: base.type, scope: base.scope, context: context, fields: fields)], .forgedDot)

        case .inflatedContext:
            guard !targets.isEmpty else { return nil }
            let base = targets[code % targets.count]
            let others = base.context.counters.keys.filter { $0 != me }.sorted()
            let victim = others.isEmpty ? office.name : others[code % others.count]
            var counters = base.context.counters
            counters[victim, default: 0] += UInt64(1 + code % 1_000)
            return push([Records.withContext(base, counters)], .forgedDot)

        case .counterZero:
            guard !targets.isEmpty else { return nil }
            let base = targets[code % targets.count]
            let field = base.type == "carePlan" ? "approvedBy" : (Schemas.named(base.type).flatMap(writableText)?.name ?? "summary")
            var fields = base.fields
            fields[field, default: []].append(FieldEntry(value: .string("olga"), dot: Dot(replica: office.name, counter: 0),
                                                         author: office.user, time: Fixture.time))
            return push([RecordState(id: base.id, type: base.type, scope: base.scope, context: base.context, fields: fields)],
                        .invalidRecord)

        case .spoofedAuthor:
            var state = targets.first { Schemas.named($0.type).flatMap(writableText) != nil }
                ?? Records.visitNote(replica: me, author: attacker.user)
            guard let field = Schemas.named(state.type).flatMap(writableText) else { return nil }
            state.edit([field.name: .string("namens het kantoor")], replica: me, author: office.user, time: Fixture.time)
            return push([state], .forgedAuthor)

        case .flood:
            guard let base = targets.first(where: { Schemas.named($0.type).flatMap(writableText) != nil }),
                  let field = Schemas.named(base.type).flatMap(writableText) else { return nil }
            var context = base.context
            var entries = base.entries(of: field.name).filter { $0.dot.replica != me }
            for _ in 0..<(2 + code % 300) {
                let dot = context.advance(me)
                entries.append(FieldEntry(value: .string("conflict \(dot.counter)"), dot: dot, author: attacker.user, time: Fixture.time))
            }
            var fields = base.fields
            fields[field.name] = entries
            return push([RecordState(id: base.id, type: base.type, scope: base.scope, context: context, fields: fields)], .invalidRecord)

        case .takeover:
            let bound = history.devices.filter { !$0.sent.isEmpty }
            guard !bound.isEmpty else { return nil }
            let victim = bound[code % bound.count]
            let thief = try await history.storage.issueToken(user: "dief", role: .carer, scopes: ["loc-a"])
            let note = Records.visitNote(replica: victim.name, author: "dief")
            return Attempt(request: Records.batch(victim.name, [note]), token: thief, expected: [Self.type(.replicaMismatch)])

        case .goalEscape:
            // A plan in another scope if the office made one, else an id that names nothing:
            // the answer must not tell the two apart (checked in the contract case).
            let elsewhere = try await history.storage.everything(scopes: .only(["loc-b"])).records.filter { $0.type == "carePlan" }
            let planID = elsewhere.isEmpty || code % 3 == 0 ? RecordIDs.make() : elsewhere[code % elsewhere.count].id
            var goal = RecordState(id: RecordIDs.make(), type: "carePlanGoal", scope: code % 5 == 4 ? "loc-b" : "loc-a")
            goal.edit(["carePlan": .string(planID), "domain": .string("welzijn"), "goal": .string("Naar buiten"),
                       "status": .string("open")], replica: me, author: attacker.user, time: Fixture.time)
            return goal.scope == "loc-b" ? push([goal], .scopeForbidden) : push([goal], .invalidRecord)

        case .officeField:
            let plans = targets.filter { $0.type == "carePlan" }
            var plan = plans.isEmpty ? Records.carePlan(replica: me, author: attacker.user) : plans[code % plans.count]
            let change: [String: FieldValue] = code % 2 == 0 ? ["approvedBy": .string(attacker.user)] : ["status": .string("vastgesteld")]
            plan.edit(change, replica: me, author: attacker.user, time: Fixture.time)
            return push([plan], .fieldForbidden)

        case .reusedDot:
            guard !targets.isEmpty else { return nil }
            let base = targets[code % targets.count]
            let field = base.fields.keys.sorted()[(code / 3) % base.fields.count]
            guard let schema = Schemas.named(base.type)?.field(field) else { return nil }
            var entries = base.entries(of: field)
            let index = code % entries.count
            let replacement: FieldValue
            switch entries[index].value {
            case .bool(let flag): replacement = .bool(!flag)
            case .null: replacement = PolicyHistory.sample(schema, role: .office, code: code) ?? .bool(true)
            default: replacement = .null
            }
            entries[index].value = replacement
            var fields = base.fields
            fields[field] = entries
            return push([RecordState(id: base.id, type: base.type, scope: base.scope, context: base.context, fields: fields)],
                        .dotReused, .invalidRecord)
        }
    }
}
