import Foundation
import VeldProtocol

/// What both storages share for an erasure (AVG art. 17).
public enum Erasure {
    /// The refusal of a push that names erased records: the client removes them.
    static func refusal(_ ids: [String]) -> Problem {
        let items = ids.sorted().prefix(100).map { Problem.Item(id: $0, reason: "record \($0) was erased by the office (AVG art. 17)") }
        return Problem(type: .erased, status: 410,
                       detail: "\(ids.count) record(s) of this push were erased by the office; remove them from this device (the next pull does)",
                       records: Array(items))
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

    /// Care plans and goals from their stored states (stable JSON), with each record's last
    /// change; tombstones (empty states) are left out.
    static func groups(plans: [(id: String, state: String, last: Date)], goals: [(id: String, state: String, last: Date)]) throws -> [CarePlanGroup] {
        var byPlan: [String: CarePlanGroup] = [:]
        for plan in plans where !plan.state.isEmpty {
            let state = try StableJSON.decode(RecordState.self, from: Data(plan.state.utf8))
            let codes = state.entries(of: "clientCode").compactMap { if case .string(let code) = $0.value { code } else { nil } }
            byPlan[plan.id] = CarePlanGroup(planID: plan.id, clientCodes: codes.sorted(), goalIDs: [], lastChange: plan.last)
        }
        for goal in goals where !goal.state.isEmpty {
            let state = try StableJSON.decode(RecordState.self, from: Data(goal.state.utf8))
            for entry in state.entries(of: "carePlan") {
                guard case .string(let plan) = entry.value, var group = byPlan[plan] else { continue }
                if !group.goalIDs.contains(goal.id) { group.goalIDs.append(goal.id) }
                group.lastChange = max(group.lastChange, goal.last)
                byPlan[plan] = group
            }
        }
        return byPlan.values.map { var group = $0; group.goalIDs.sort(); return group }.sorted { $0.planID < $1.planID }
    }
}
