import Foundation
import VeldProtocol

/// Which records belong to one client, for `veld-server audit --client-code`: care plans
/// whose `clientCode` is or was the code (any concurrent value, any past change), and the
/// goals and rapportages that refer to those plans. Visit notes and council input belong to a location,
/// not to a client.
public enum ClientRecords {
    /// The types whose records belong to a care plan, each with its reference to the plan:
    /// every type of `set` whose scope is inherited through a reference to `carePlan` (goals,
    /// rapportages, and any a module adds). What an erasure or `audit --client-code` of a
    /// client takes along with the plan.
    public static func planChildren(in set: SchemaSet) -> [String: String] {
        var children: [String: String] = [:]
        for schema in set.schemas {
            guard case .inheritedFrom(let field) = schema.scopeRule, case .reference("carePlan")? = schema.field(field)?.kind else { continue }
            children[schema.type] = field
        }
        return children
    }

    /// `plans`: a care plan's id with its stored state or one history row's changes (stable
    /// JSON), found by a text search the storage ran; `goals`: each child record's id, type
    /// and state; `children`: each child type's reference to its plan.
    static func resolve(code: String, plans: [(id: String, json: String)], goals: [(id: String, type: String, json: String)],
                        children: [String: String]) throws -> [String] {
        var found: Set<String> = []
        for (id, json) in plans where !found.contains(id) {
            let data = Data(json.utf8)
            if let state = try? StableJSON.decode(RecordState.self, from: data) {
                if state.entries(of: "clientCode").contains(where: { $0.value == .string(code) }) { found.insert(id) }
            } else if let changes = try? StableJSON.decode([FieldChange].self, from: data) {
                if changes.contains(where: { change in
                    change.field == "clientCode" && (change.old.contains(.string(code)) || change.new.contains { $0.value == .string(code) })
                }) { found.insert(id) }
            }
        }
        guard !found.isEmpty else { return [] }
        var records = found
        for (id, type, json) in goals {
            guard let field = children[type] else { continue }
            let state = try StableJSON.decode(RecordState.self, from: Data(json.utf8))
            if state.entries(of: field).contains(where: { if case .string(let plan) = $0.value { found.contains(plan) } else { false } }) {
                records.insert(id)
            }
        }
        return records.sorted()
    }
}
