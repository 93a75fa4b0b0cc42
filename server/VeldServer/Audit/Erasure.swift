import Foundation
import VeldProtocol

/// What both storages share for an erasure (AVG art. 17).
public enum Erasure {
    /// The refusal of a push that names erased records: the client removes them.
    /// Names the records of the batch that are erased, or that point at an erased record
    /// (a goal of an erased care plan): those go from the device, and the rest of the
    /// batch can go again.
    static func refusal(_ erasedIDs: [String], in request: PushRequest, schemas: SchemaSet) -> Problem {
        let erased = Set(erasedIDs)
        var items: [Problem.Item] = []
        for record in request.allRecords {
            if erased.contains(record.id) {
                items.append(Problem.Item(id: record.id, reason: "record \(record.id) was erased by the office (AVG art. 17)"))
            } else if let schema = schemas.named(record.type), case .inheritedFrom(let field) = schema.scopeRule,
                      let parent = record.entries(of: field).lazy.compactMap({ entry -> String? in
                          if case .string(let id) = entry.value, erased.contains(id) { return id }
                          return nil
                      }).first {
                items.append(Problem.Item(id: record.id, field: field,
                                          reason: "the \(field) \(parent) it belongs to was erased by the office (AVG art. 17)"))
            }
        }
        return Problem(type: .erased, status: 410,
                       detail: "\(items.count) record(s) of this push were erased by the office, or belong to one that was; remove them from this device (the next pull does for the erased ones)",
                       records: Array(items.prefix(100)))
    }

    /// Sorts the tombstones a push meets (id, type, scope): the ids of those the pusher may
    /// see (its scopes, its role's types) come back, to be answered `410`; any other stands
    /// in `stored` as an empty record of its type and scope, so the policy answers it as it
    /// answers a record out of the device's reach ("its id is taken", or a plan it cannot
    /// read), and the answer does not tell that a record was there and was erased.
    static func visibleTombstones(_ found: [(id: String, type: String, scope: String)], for push: CheckedPush,
                                  stored: inout [String: RecordState]) -> [String] {
        var visible: [String] = []
        for tombstone in found {
            if push.pusher.scopes.contains(tombstone.scope), push.schemas.mayReadStored(tombstone.type, as: push.pusher.role) {
                visible.append(tombstone.id)
            } else {
                stored[tombstone.id] = RecordState(id: tombstone.id, type: tombstone.type, scope: tombstone.scope)
            }
        }
        return visible
    }

    /// The access-log entry of an erasure: who, why, and which records; never their content.
    public static func entry(at date: Date, by user: String, reason: String, clientCode: String?) -> AccessDraft {
        var draft = AccessDraft(at: date, action: .erase, token: nil, detail: detail(reason: reason, clientCode: clientCode))
        draft.user = user
        return draft
    }

    /// `client=CODE reason="…"`: the reason on one line, at most 200 characters.
    static func detail(reason: String, clientCode: String?) -> String {
        let line = String(reason.unicodeScalars.map { CharacterSet.controlCharacters.contains($0) ? " " : Character($0) }.prefix(200))
            .replacingOccurrences(of: "\"", with: "'")
        return (clientCode.map { "client=\($0) " } ?? "") + "reason=\"\(line)\""
    }

    /// Care plans and the records that belong to them (`children`: type → reference field)
    /// from their stored states (stable JSON), with each record's last change; tombstones
    /// (empty states) are left out.
    static func groups(plans: [(id: String, state: String, last: Date)], goals: [(id: String, type: String, state: String, last: Date)],
                       children: [String: String]) throws -> [CarePlanGroup] {
        var byPlan: [String: CarePlanGroup] = [:]
        for plan in plans where !plan.state.isEmpty {
            let state = try StableJSON.decode(RecordState.self, from: Data(plan.state.utf8))
            let codes = state.entries(of: "clientCode").compactMap { if case .string(let code) = $0.value { code } else { nil } }
            byPlan[plan.id] = CarePlanGroup(planID: plan.id, clientCodes: codes.sorted(), goalIDs: [], lastChange: plan.last)
        }
        for goal in goals where !goal.state.isEmpty {
            guard let field = children[goal.type] else { continue }
            let state = try StableJSON.decode(RecordState.self, from: Data(goal.state.utf8))
            for entry in state.entries(of: field) {
                guard case .string(let plan) = entry.value, var group = byPlan[plan] else { continue }
                if !group.goalIDs.contains(goal.id) { group.goalIDs.append(goal.id) }
                group.lastChange = max(group.lastChange, goal.last)
                byPlan[plan] = group
            }
        }
        return byPlan.values.map { var group = $0; group.goalIDs.sort(); return group }.sorted { $0.planID < $1.planID }
    }
}
