import Foundation
import VeldProtocol

/// A peildatum snapshot: the state of every record in some scopes as the server held it at
/// a moment (`asOf`), frozen when it was made (`frozenAt`) and never changed after (an
/// erasure under AVG art. 17 removes an erased client's records from it too, and the
/// access log says so).
public struct Snapshot: Codable, Hashable, Sendable {
    public var id: String
    public var name: String
    /// The moment the states are taken at: every change received at or before it counts.
    public var asOf: Date
    /// When the snapshot was made: late arrivals up to here are frozen with it.
    public var frozenAt: Date
    /// The scopes it holds, or `["*"]` for every scope.
    public var scopes: [String]
    public var createdBy: String
    public var records: Int
    /// Entries authored at or before `asOf` that reached the server after it, by `frozenAt`.
    public var lateArrivals: Int

    public init(id: String, name: String, asOf: Date, frozenAt: Date, scopes: [String], createdBy: String, records: Int,
                lateArrivals: Int) {
        self.id = id
        self.name = name
        self.asOf = asOf
        self.frozenAt = frozenAt
        self.scopes = scopes
        self.createdBy = createdBy
        self.records = records
        self.lateArrivals = lateArrivals
    }

    public var filter: ScopeFilter { scopes.contains("*") ? .all : .only(Set(scopes)) }
}

/// One field entry that arrived late for a snapshot: written on a device at or before the
/// peildatum (its author time), received by the server after it.
public struct LateArrival: Codable, Hashable, Sendable {
    public var record: String
    public var type: String
    public var scope: String
    public var field: String
    public var author: String
    /// The writing replica (the entry's dot).
    public var replica: String
    public var authoredAt: Date
    public var receivedAt: Date
    /// The token that pushed it.
    public var device: String
    /// Whether it arrived after the snapshot was frozen (so it is not in the snapshot's own list).
    public var afterFreezing: Bool

    public init(record: String, type: String, scope: String, field: String, author: String, replica: String, authoredAt: Date,
                receivedAt: Date, device: String, afterFreezing: Bool) {
        self.record = record
        self.type = type
        self.scope = scope
        self.field = field
        self.author = author
        self.replica = replica
        self.authoredAt = authoredAt
        self.receivedAt = receivedAt
        self.device = device
        self.afterFreezing = afterFreezing
    }
}

/// What changed for one record (and field) between two snapshots.
public struct SnapshotChange: Codable, Hashable, Sendable {
    public enum Kind: String, Codable, Hashable, Sendable {
        /// In the later snapshot only.
        case added
        /// In the earlier snapshot only. History is append-only and an erasure leaves every
        /// snapshot, so only storage damaged outside Veld gives one; it is shown, not hidden.
        case removed
        /// A field's entries differ.
        case changed
    }

    public var record: String
    public var type: String
    public var scope: String
    public var kind: Kind
    /// The field, for `changed`.
    public var field: String?
    /// The shown value before and after (`changed`); a field in conflict ends in `(+n)`.
    public var before: String?
    public var after: String?
    /// Written at or before the earlier snapshot's peildatum, received after it: the change
    /// belongs to the earlier period but arrived late.
    public var late: Bool
}

/// Making, reading and comparing snapshots, the same on both storages: the states come
/// from the append-only history (``SyncStorage/state(recordID:asOf:)``).
public enum Snapshots {
    public enum Failure: Error, CustomStringConvertible, Equatable {
        case nameTaken(String)
        case unknown(String)
        case future
        case badName

        public var description: String {
            switch self {
            case .nameTaken(let name):
                "a snapshot named '\(name)' exists already; snapshots never change, so give the new one another name"
            case .unknown(let name): "no snapshot named '\(name)' (veld-server snapshot list shows them)"
            case .future: "--as-of is in the future: give a day that has ended (today's can be frozen from tomorrow on) or a past moment"
            case .badName: "a snapshot name is one line of 1 to 80 characters, not starting snap_ (that is how ids start)"
            }
        }
    }

    /// One line of 1 to 80 characters, not starting `snap_` (a snapshot is found by its name or its id).
    public static func isValidName(_ name: String) -> Bool {
        !name.trimmingCharacters(in: .whitespaces).isEmpty && name.count <= 80 && !name.contains(where: \.isNewline)
            && !name.hasPrefix("snap_")
    }

    /// The state of every record in `scopes` as the server held it at `asOf`, from the
    /// history, without freezing anything (what `veld-server report --as-of` reads).
    public static func states(in storage: any SyncStorage, scopes: ScopeFilter, asOf: Date) async throws -> [RecordState] {
        var states: [RecordState] = []
        for record in try await records(storage, scopes: scopes) {
            if let state = try await storage.state(recordID: record.id, asOf: asOf) { states.append(state) }
        }
        return states
    }

    /// The end of `date` in Amsterdam, to the millisecond: a peildatum counts the whole day.
    public static func endOfDay(_ date: CivilDate, in zone: TimeZone = TimeZone(identifier: "Europe/Amsterdam") ?? .gmt) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let next = date.adding(days: 1)
        let start = calendar.date(from: DateComponents(year: next.year, month: next.month, day: next.day)) ?? Date()
        return start.addingTimeInterval(-0.001)
    }

    /// Freezes the states at `asOf` of every record in `scopes`, with the late arrivals
    /// received by `now`, and logs the records it read. `progress` hears (done, total).
    public static func create(in storage: any SyncStorage, name: String, asOf: Date, scopes: ScopeFilter, by user: String,
                              now: Date = Date(), progress: (Int, Int) -> Void = { _, _ in }) async throws -> Snapshot {
        guard isValidName(name) else { throw Failure.badName }
        guard asOf <= now else { throw Failure.future }
        if try await storage.snapshots().contains(where: { $0.name == name }) { throw Failure.nameTaken(name) }
        let held = try await records(storage, scopes: scopes)
        var states: [RecordState] = []
        var late: [LateArrival] = []
        for (index, record) in held.enumerated() {
            if let state = try await storage.state(recordID: record.id, asOf: asOf) { states.append(state) }
            late += try await lateArrivals(storage, record: record, asOf: asOf, after: asOf, through: now)
            if index % 500 == 499 || index == held.count - 1 { progress(index + 1, held.count) }
        }
        let snapshot = Snapshot(id: "snap_" + String(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(8)),
                                name: name, asOf: asOf, frozenAt: now, scopes: scopes.names, createdBy: user,
                                records: states.count, lateArrivals: late.count)
        var draft = AccessDraft(at: now, action: .report, token: nil,
                                detail: "snapshot create id=\(snapshot.id) scopes=\(scopes.names.joined(separator: ",")) records=\(states.count) late=\(late.count)",
                                records: states.map { AccessedRecord(id: $0.id, type: $0.type, scope: $0.scope, effect: "read") })
        draft.user = user
        guard try await storage.createSnapshot(snapshot, records: states, late: late, entry: draft) else {
            throw Failure.nameTaken(name)
        }
        return snapshot
    }

    /// The snapshot named `name` (or with that id).
    public static func named(_ name: String, in storage: any SyncStorage) async throws -> Snapshot {
        guard let found = try await storage.snapshots().first(where: { $0.name == name || $0.id == name }) else {
            throw Failure.unknown(name)
        }
        return found
    }

    /// The late arrivals the snapshot froze and those received since, from the history.
    /// "Since" is every late arrival the snapshot did not freeze, so a push still in flight
    /// while it was made (stamped before its moment, stored after) is listed too.
    public static func allLateArrivals(_ snapshot: Snapshot, in storage: any SyncStorage) async throws -> [LateArrival] {
        let frozen = try await storage.snapshotLate(id: snapshot.id)
        // As the history gives them (marked "since"): what the snapshot froze is left out.
        let known = Set(frozen.map { arrival in
            var since = arrival
            since.afterFreezing = true
            return since
        })
        var late = frozen
        for record in try await records(storage, scopes: snapshot.filter) {
            for arrival in try await lateArrivals(storage, record: record, asOf: snapshot.asOf, after: snapshot.asOf, through: nil)
            where !known.contains(arrival) {
                late.append(arrival)
            }
        }
        return late.sorted { ($0.receivedAt, $0.record, $0.field) < ($1.receivedAt, $1.record, $1.field) }
    }

    /// Every record the storage holds in `scopes` now, by id, type and scope, as the change
    /// log names them (an erased record has no history left, so nothing to freeze).
    static func records(_ storage: any SyncStorage, scopes: ScopeFilter) async throws -> [AccessedRecord] {
        var records: [AccessedRecord] = []
        var after: Int64 = 0
        for _ in 0..<10_000_000 {
            let page = try await storage.pullEncoded(scopes: scopes, hiding: [], after: after, limit: 1_000, token: nil, at: Date())
            records += page.records
            after = page.lastPosition
            if !page.more { break }
        }
        return records
    }

    /// Entries of `record` authored at or before `asOf` and received after `after` (and by
    /// `through`, when given).
    static func lateArrivals(_ storage: any SyncStorage, record: AccessedRecord, asOf: Date, after: Date,
                             through: Date?) async throws -> [LateArrival] {
        var late: [LateArrival] = []
        for change in try await storage.history(recordID: record.id) where change.receivedAt > after && through.map({ change.receivedAt <= $0 }) ?? true {
            for field in change.fields {
                for entry in field.new where entry.time <= asOf {
                    late.append(LateArrival(record: record.id, type: record.type, scope: record.scope, field: field.field,
                                            author: entry.author, replica: entry.dot.replica, authoredAt: entry.time,
                                            receivedAt: change.receivedAt, device: change.device, afterFreezing: through == nil))
                }
            }
        }
        return late
    }

    /// What changed from `earlier` to `later`, record by record and field by field; a
    /// change is late when the entry that made it was written at or before the earlier
    /// snapshot's peildatum.
    /// Two snapshots of different scopes are compared in the scopes both hold.
    public static func compare(earlier: Snapshot, _ before: [RecordState], later: Snapshot, _ after: [RecordState]) -> [SnapshotChange] {
        func inBoth(_ state: RecordState) -> Bool { earlier.filter.contains(state.scope) && later.filter.contains(state.scope) }
        let old = Dictionary(before.filter(inBoth).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let new = Dictionary(after.filter(inBoth).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var changes: [SnapshotChange] = []
        for id in Set(old.keys).union(new.keys).sorted() {
            switch (old[id], new[id]) {
            case (nil, let state?):
                let late = state.fields.values.flatMap { $0 }.contains { $0.time <= earlier.asOf }
                changes.append(SnapshotChange(record: id, type: state.type, scope: state.scope, kind: .added, late: late))
            case (let state?, nil):
                changes.append(SnapshotChange(record: id, type: state.type, scope: state.scope, kind: .removed, late: false))
            case (let a?, let b?):
                for field in Set(a.fields.keys).union(b.fields.keys).sorted() {
                    let was = a.entries(of: field), now = b.entries(of: field)
                    guard Set(was.map(\.dot)) != Set(now.map(\.dot)) else { continue }
                    let seen = Set(was.map(\.dot))
                    let late = now.contains { !seen.contains($0.dot) && $0.time <= earlier.asOf }
                    changes.append(SnapshotChange(record: id, type: b.type, scope: b.scope, kind: .changed, field: field,
                                                  before: shown(a, field), after: shown(b, field), late: late))
                }
            default: break
            }
        }
        return changes
    }

    /// A field's shown value as text, `(+n)` after it when n more values stand beside it.
    static func shown(_ state: RecordState, _ field: String) -> String {
        let entries = state.entries(of: field)
        let text: String
        switch state.value(of: field) {
        case .string(let value)?: text = value
        case .strings(let list)?: text = list.joined(separator: ", ")
        case .bool(let flag)?: text = flag ? "true" : "false"
        case nil, .null?: text = ""
        }
        return entries.count > 1 ? "\(text) (+\(entries.count - 1))" : text
    }
}
