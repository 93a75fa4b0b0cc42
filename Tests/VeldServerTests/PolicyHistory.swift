import Foundation
import Testing
import VeldProtocol
import VeldServer

/// A generated history of honest devices (an office, carers and visitors) that create, edit,
/// delete, push, pull, replay and resend, driven by a list of codes, against a real
/// storage through the whole push policy. Every push of an honest device must be
/// accepted; the attacks in `PolicyAttack` are then made from what a device has pulled.
/// Every other push sends what it can as deltas (SPEC.md, "Deltas"), against the state the
/// device last pulled of each record.
struct PolicyHistory {
    struct Device {
        let name: String
        let user: String
        let role: Role
        let token: IssuedToken
        var local: [String: RecordState] = [:]
        var dirty: Set<String> = []
        var sent: [(request: PushRequest, fingerprint: String, response: PushResponse)] = []
        /// The server's state of each record as this device last pulled it: a delta's base.
        var bases: [String: RecordState] = [:]

        var scopes: ScopeFilter { token.token.scopeFilter }
    }

    let storage: any SyncStorage
    var devices: [Device]
    /// Problems an honest push got: each one is a failure of the policy.
    var refusals: [String] = []
    var clock = 0
    /// Deltas accepted: a run that sent none says nothing about them.
    var deltasSent = 0

    /// One office (all scopes) and `count - 1` carers and visitors of `loc-a`, in turn.
    init(storage: any SyncStorage, devices count: Int) async throws {
        self.storage = storage
        var devices: [Device] = []
        for index in 0..<count {
            let office = index == 0
            let role: Role = office ? .office : index % 2 == 1 ? .carer : .visitor
            let user = office ? "olga" : "\(role.rawValue)\(index)"
            let token = try await storage.issueToken(user: user, role: role, scopes: office ? ["*"] : ["loc-a"])
            devices.append(Device(name: "r-\(user)", user: user, role: role, token: token))
        }
        self.devices = devices
    }

    mutating func apply(_ code: Int) async throws {
        let actor = code % devices.count
        let step = code / devices.count
        clock += 1
        switch step % 8 {
        case 0: create(actor, step / 8)
        case 1, 2: edit(actor, step / 8)
        case 3: delete(actor, step / 8)
        case 4: try await push(actor)
        case 5: try await pull(actor)
        case 6: try await replay(actor, step / 8)
        default: try await resend(actor, step / 8)
        }
    }

    /// Every device pushes and pulls, twice, so all hold what the server holds.
    mutating func settle() async throws {
        for _ in 0..<2 {
            for actor in devices.indices { try await push(actor) }
            for actor in devices.indices { try await pull(actor) }
        }
    }

    // MARK: Honest steps

    private mutating func create(_ actor: Int, _ code: Int) {
        let device = devices[actor]
        let plans = device.local.values.filter { $0.type == "carePlan" && !$0.isDeleted }.sorted { $0.id < $1.id }
        let kind = code % 4
        let schema: RecordSchema
        var scope = device.role == .office && code % 3 == 0 ? "loc-b" : "loc-a"
        var values: [String: FieldValue] = [:]
        // A role creates only what it may read (a visitor: no care plans, no goals).
        let mayReadPlans = SchemaSet.builtIn.mayRead(Schemas.carePlan.type, as: device.role)
        switch mayReadPlans ? kind : kind % 2 * 2 {
        case 0: schema = Schemas.visitNote
        case 1: schema = Schemas.carePlan
        case 2: schema = Schemas.councilInput
        default:
            guard !plans.isEmpty else { return }
            let plan = plans[code % plans.count]
            schema = Schemas.carePlanGoal
            scope = plan.scope
            values["carePlan"] = .string(plan.id)
        }
        for field in schema.requiredFields where values[field.name] == nil && field.name != RecordState.deletedField {
            guard let value = Self.sample(field, role: device.role, code: code + clock) else { return }
            values[field.name] = value
        }
        var state = RecordState(id: RecordIDs.make(), type: schema.type, scope: scope)
        state.edit(values, replica: device.name, author: device.user, time: Fixture.time(plus: clock))
        save(state, by: actor)
    }

    /// A record the device holds and has not deleted, chosen by `code`, with its schema.
    private func pick(_ actor: Int, _ code: Int) -> (state: RecordState, schema: RecordSchema)? {
        let local = devices[actor].local
        let ids = local.keys.sorted()
        guard !ids.isEmpty, let state = local[ids[code % ids.count]], let schema = Schemas.named(state.type), !state.isDeleted else {
            return nil
        }
        return (state, schema)
    }

    /// A local edit: the new state, in the outbox.
    private mutating func save(_ state: RecordState, by actor: Int) {
        devices[actor].local[state.id] = state
        devices[actor].dirty.insert(state.id)
    }

    /// Edits one or two fields the device's role may write and may replace as it sees them.
    private mutating func edit(_ actor: Int, _ code: Int) {
        let device = devices[actor]
        guard let picked = pick(actor, code) else { return }
        var state = picked.state
        let schema = picked.schema
        let editable = schema.fields.filter { field in
            field.name != RecordState.deletedField && !(field.kind.isReference)
                && state.entries(of: field.name).allSatisfy { field.permits(device.role, toReplace: $0.value) }
        }
        guard !editable.isEmpty else { return }
        var changes: [String: FieldValue] = [:]
        for offset in 0..<(1 + code % 2) {
            let field = editable[(code / 2 + offset * 7) % editable.count]
            if let value = Self.sample(field, role: device.role, code: code + clock + offset) { changes[field.name] = value }
        }
        guard !changes.isEmpty else { return }
        state.edit(changes, replica: device.name, author: device.user, time: Fixture.time(plus: clock))
        save(state, by: actor)
    }

    private mutating func delete(_ actor: Int, _ code: Int) {
        let device = devices[actor]
        guard let picked = pick(actor, code) else { return }
        var state = picked.state
        let schema = picked.schema
        state.delete(allFields: schema.reassertedByDelete(of: state, role: device.role), replica: device.name,
                     author: device.user, time: Fixture.time(plus: clock))
        save(state, by: actor)
    }

    mutating func push(_ actor: Int) async throws {
        let device = devices[actor]
        guard !device.dirty.isEmpty else { return }
        var records: [RecordState] = [], deltas: [RecordState] = []
        for state in device.dirty.sorted().map({ device.local[$0]! }) {
            if (clock + actor) % 2 == 0, let base = device.bases[state.id], let delta = RecordDelta.between(base, state) {
                deltas.append(delta)
            } else {
                records.append(state)
            }
        }
        if let response = try await send(actor, records, deltas: deltas) {
            #expect(response.results.map(\.id) == (records + deltas).map(\.id))
            devices[actor].dirty = []
        }
    }

    mutating func pull(_ actor: Int) async throws {
        let scopes = devices[actor].scopes
        // As GET /v1/pull does: what the role may not read is skipped.
        let hidden = SchemaSet.builtIn.hiddenTypes(for: devices[actor].role)
        for record in try await storage.everything(pageSize: 7, scopes: scopes, hiding: hidden).records {
            #expect(scopes.contains(record.scope), "a pull returned a record outside the token's scopes")
            #expect(!hidden.contains(record.type), "a pull returned a \(record.type), which the \(devices[actor].role.rawValue) role may not read")
            let merged = try devices[actor].local[record.id].map { try $0.merged(with: record) } ?? record
            devices[actor].local[record.id] = merged
            devices[actor].bases[record.id] = record
        }
    }

    /// The same batch again (a lost answer): the same answer, nothing new.
    private mutating func replay(_ actor: Int, _ code: Int) async throws {
        let sent = devices[actor].sent
        guard !sent.isEmpty else { return }
        let old = sent[code % sent.count]
        let before = try await storage.snapshot()
        do {
            let again = try await storage.push(old.request, token: devices[actor].token.token, fingerprint: old.fingerprint,
                                               at: Fixture.time(plus: clock))
            #expect(again == old.response, "a replayed batch got another answer")
            #expect(try await storage.snapshot().rows == before.rows, "a replay changed the records")
        } catch let problem as Problem {
            refusals.append("replay by \(devices[actor].name): \(problem.detail)")
        }
    }

    /// States of an earlier batch under a new batch id, where the device has not edited
    /// the record since (a duplicate, possibly stale, delivery).
    private mutating func resend(_ actor: Int, _ code: Int) async throws {
        let device = devices[actor]
        guard !device.sent.isEmpty else { return }
        let old = device.sent[code % device.sent.count]
        func unedited(_ state: RecordState) -> Bool { state.context[device.name] == device.local[state.id]!.context[device.name] }
        // A delta goes again as a delta: the server still holds its base.
        let again = old.request.records.reversed().filter(unedited), deltas = old.request.deltas.filter(unedited)
        guard !again.isEmpty || !deltas.isEmpty else { return }
        _ = try await send(actor, Array(again), deltas: deltas)
    }

    @discardableResult
    private mutating func send(_ actor: Int, _ records: [RecordState], deltas: [RecordState] = []) async throws -> PushResponse? {
        let device = devices[actor]
        let request = PushRequest(replica: device.name, batch: UUID().uuidString.lowercased(), records: records, deltas: deltas)
        let fingerprint = try Records.fingerprint(request)
        do {
            let response = try await storage.push(request, token: device.token.token, fingerprint: fingerprint, at: Fixture.time(plus: clock))
            devices[actor].sent.append((request, fingerprint, response))
            deltasSent += deltas.count
            return response
        } catch let problem as Problem {
            refusals.append("push by \(device.name) (\(device.role.rawValue)): \(problem.detail) \(problem.records ?? [])")
            return nil
        }
    }

    // MARK: Values

    /// A valid value of `field` that `role` may write, or nil when there is none.
    static func sample(_ field: FieldSchema, role: Role, code: Int) -> FieldValue? {
        let value: FieldValue
        switch field.kind {
        case .text: value = .string("\(field.name) \(code % 97)")
        case .date: value = .string("2026-11-\(10 + code % 18)")
        case .bool: value = .bool(code % 2 == 0)
        case .reference: return nil
        case .choice(let options):
            let allowed = options.filter { field.permits(role, toWrite: .string($0)) }
            guard !allowed.isEmpty else { return nil }
            value = .string(allowed[code % allowed.count])
        case .choices(let options):
            value = .strings(options.enumerated().filter { (code >> ($0.offset % 8)) & 1 == 1 }.map(\.element))
        }
        return field.permits(role, toWrite: value) ? value : nil
    }
}

extension FieldKind {
    var isReference: Bool {
        if case .reference = self { return true }
        return false
    }
}
