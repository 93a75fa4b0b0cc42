import Foundation
import VeldCore
import VeldProtocol

/// How records look on a terminal and as JSON.
enum RecordPrinter {
    static func show(_ state: RecordState, schemas: SchemaSet = .builtIn, json: Bool) throws {
        if json {
            print(String(decoding: try StableJSON.encode(RecordView(state), pretty: true), as: UTF8.self))
            return
        }
        let schema = schemas.named(state.type).flatMap { $0.type == state.type ? $0 : nil }
        var header = "\(state.type) \(state.id)  scope \(state.scope)"
        if state.isDeleted { header += "  DELETED" }
        print(header)
        if schema == nil {
            print("! a type from a newer module set than this device's: kept intact, not editable here until `veld sync` brings the set")
        }
        if state.hasConflicts {
            print("! \(state.conflicts.count) field(s) in conflict: shown is the latest value; all values are listed")
        }
        // The schema's fields in order, then any a newer module set added (kept intact, marked).
        let known = schema?.fieldNames ?? []
        let newer = state.fields.keys.filter { !known.contains($0) }.sorted()
        let names = (known + newer).filter { $0 != RecordState.deletedField || state.isDeleted || state.entries(of: $0).count > 1 }
        for name in names where !state.entries(of: name).isEmpty {
            let entries = state.conflicts[name] ?? state.entries(of: name)
            if entries.count == 1 {
                guard !entries[0].value.isNull else { continue }
                printField(name, entries[0].value.description + (schema != nil && newer.contains(name) ? "   (from a newer module)" : ""))
            } else {
                printField(name, (state.value(of: name)?.description ?? "") + "   [CONFLICT: \(entries.count) values]")
                for (index, entry) in entries.enumerated() {
                    let value = entry.value.isNull ? "(empty)" : entry.value.description
                    printField("  \(index + 1).", value)
                    print(String(repeating: " ", count: 19) + "— \(entry.author) on \(entry.dot.replica), \(format(entry.time))")
                }
            }
        }
    }

    private static func printField(_ name: String, _ value: String) {
        let lines = value.split(separator: "\n", omittingEmptySubsequences: false)
        print("  \(name.padding(16)) \(lines.first ?? "")")
        for line in lines.dropFirst() { print(String(repeating: " ", count: 19) + line) }
    }

    static func list(_ states: [RecordState], schema: RecordSchema?, json: Bool) throws {
        if json {
            print(String(decoding: try StableJSON.encode(states.map(RecordView.init), pretty: true), as: UTF8.self))
            return
        }
        guard !states.isEmpty else {
            print("No records.")
            return
        }
        let columns: [TableColumn]
        switch schema?.type {
        case VisitNoun.schema.type?: columns = VisitNoun.columns
        case CarePlanNoun.schema.type?: columns = CarePlanNoun.columns
        case GoalNoun.schema.type?: columns = GoalNoun.columns
        case CouncilNoun.schema.type?: columns = CouncilNoun.columns
        default:
            // A module's type: its first text field is its title.
            let titleField = schema?.fields.first { if case .text = $0.kind { return true } else { return false } }?.name
            columns = [.id, .type, .scope, .field("STATUS", "status", width: 14),
                       TableColumn(header: "TITLE", width: 0) { state in
                           titleField.flatMap { state.value(of: $0) }.map(\.description) ?? title(of: state)
                       }]
        }
        print(Table(columns: columns).render(states))
        let conflicted = states.filter(\.hasConflicts).count
        if conflicted > 0 { print("\(conflicted) record(s) marked ! have a field in conflict; `veld show ID` lists the values.") }
    }

    static func title(of state: RecordState) -> String {
        for field in ["summary", "topic", "goal", "clientCode", "title"] {
            if let value = state.value(of: field), !value.isNull { return value.description }
        }
        return ""
    }

    static func status(_ status: StoreStatus, sync: SyncSettings, home: URL, json: Bool) throws {
        if json {
            struct Output: Encodable {
                let user: String, role: String, replica: String, home: String
                let records: [String: Int], deleted: Int, pending: Int, conflicts: Int, rejected: Int
                let server: String?, lastSync: Date?, scopes: [String]?, token: String?
            }
            let output = Output(user: status.profile.user, role: status.profile.role.rawValue,
                                replica: status.profile.replicaID, home: home.path, records: status.recordsByType,
                                deleted: status.deleted, pending: status.pending, conflicts: status.conflicts, rejected: status.parked,
                                server: sync.server?.absoluteString, lastSync: sync.lastSyncAt,
                                scopes: status.identity?.scopes, token: status.identity?.token)
            print(String(decoding: try StableJSON.encode(output, pretty: true), as: UTF8.self))
            return
        }
        // Every type this device holds records of (a module's too), the built-in ones in
        // their order first; types without records are left out, so the line stays short.
        let order = Dictionary(uniqueKeysWithValues: Schemas.all.enumerated().map { ($1.type, $0) })
        let held = status.recordsByType.filter { $0.value > 0 }
            .sorted { (order[$0.key] ?? .max, $0.key) < (order[$1.key] ?? .max, $1.key) }
        let counts = held.isEmpty ? "none" : held.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        print("Profile    \(status.profile.user) (\(status.profile.role.rawValue)), replica \(status.profile.replicaID)")
        if let identity = status.identity {
            print("Token      \(identity.token): \(identity.user), \(identity.role.rawValue), scopes \(identity.scopes.joined(separator: ", "))")
        } else if sync.server != nil {
            print("Token      not checked with the server yet; `veld sync` takes role and scopes from it")
        }
        print("Home       \(home.path)")
        if let server = sync.server {
            print("Server     \(server.absoluteString); last sync " + (sync.lastSyncAt.map(format) ?? "never"))
        } else {
            print("Server     none (offline only); `veld connect --server URL --token-file FILE` to sync")
        }
        print("Records    \(counts)" + (status.deleted > 0 ? "; \(status.deleted) deleted" : ""))
        print("Pending    \(status.pending) record(s) changed here and not yet synced")
        print("Conflicts  \(status.conflicts)" + (status.conflicts > 0 ? " (veld list --conflicts)" : ""))
        if status.parked > 0 {
            print("Rejected   \(status.parked) change(s) the server refused, set aside: `veld rejected` says why and what to do")
        }
    }

    static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
