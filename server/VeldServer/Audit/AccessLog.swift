import Crypto
import Foundation
import VeldProtocol

/// One entry of the access log (NEN 7513): who did what to which client records, when,
/// and with what outcome. The server writes one for every request that reads or writes
/// client data, refused ones included, and nothing in Veld changes or removes an entry
/// except `veld-server audit --prune` (which records that it did).
///
/// Entries form a hash chain: `hash` is the SHA-256 of the entry's stable JSON without
/// `hash` (so it covers `previousHash`), and `previousHash` is the hash of the entry
/// before it (`AccessChain.genesis` for the first). An entry deleted or edited by other
/// means (sqlite3, psql) breaks the chain, which `veld-server audit --verify` finds.
///
/// No field value is in an entry: records are named by id, type and scope only. The one
/// exception is the client code an `erase` entry names (see `Erasure.entry`).
public struct AccessEntry: Codable, Hashable, Sendable {
    /// 1, 2, 3, … without gaps (assigned by the storage under its append lock).
    public var seq: Int64
    /// When the server handled the request, to the second.
    public var at: Date
    public var action: AccessAction
    /// The HTTP status of the answer: 200 for what was done, 4xx for a refusal.
    public var status: Int
    /// The problem type of a refusal (`scope-forbidden`, `not-found`, …); nil when done.
    public var problem: String?
    public var tokenID: String?
    public var user: String?
    public var role: String?
    /// The replica the token is bound to (for an accepted push, the one it pushed under).
    public var replica: String?
    /// Facts about the request that hold no field value: a pull's cursors, a push's batch.
    public var detail: String
    /// Each record read or written (or named by a refused request).
    public var records: [AccessedRecord]
    public var previousHash: String
    public var hash: String
    /// How `records` is written where it is hashed and stored: `compact` for every entry
    /// this release writes, `list` for entries written before it (they keep verifying).
    public var recordsForm: AccessRecordsForm = .compact

    public var refused: Bool { status >= 400 }

    enum CodingKeys: String, CodingKey {
        case seq, at, action, status, problem, tokenID = "token", user, role, replica, detail, records, previousHash, hash, recordsForm
    }
}

extension AccessEntry {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        seq = try container.decode(Int64.self, forKey: .seq)
        at = try container.decode(Date.self, forKey: .at)
        action = try container.decode(AccessAction.self, forKey: .action)
        status = try container.decode(Int.self, forKey: .status)
        problem = try container.decodeIfPresent(String.self, forKey: .problem)
        tokenID = try container.decodeIfPresent(String.self, forKey: .tokenID)
        user = try container.decodeIfPresent(String.self, forKey: .user)
        role = try container.decodeIfPresent(String.self, forKey: .role)
        replica = try container.decodeIfPresent(String.self, forKey: .replica)
        detail = try container.decode(String.self, forKey: .detail)
        records = try container.decode([AccessedRecord].self, forKey: .records)
        previousHash = try container.decode(String.self, forKey: .previousHash)
        hash = try container.decode(String.self, forKey: .hash)
        recordsForm = try container.decodeIfPresent(AccessRecordsForm.self, forKey: .recordsForm) ?? .list
    }

    /// As `audit --json` shows it: `records` always as the list, and `recordsForm` for an
    /// entry whose records are hashed in the compact form (absent for the older `list`).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(seq, forKey: .seq)
        try container.encode(at, forKey: .at)
        try container.encode(action, forKey: .action)
        try container.encode(status, forKey: .status)
        try container.encodeIfPresent(problem, forKey: .problem)
        try container.encodeIfPresent(tokenID, forKey: .tokenID)
        try container.encodeIfPresent(user, forKey: .user)
        try container.encodeIfPresent(role, forKey: .role)
        try container.encodeIfPresent(replica, forKey: .replica)
        try container.encode(detail, forKey: .detail)
        try container.encode(records, forKey: .records)
        try container.encode(previousHash, forKey: .previousHash)
        try container.encode(hash, forKey: .hash)
        if recordsForm != .list { try container.encode(recordsForm, forKey: .recordsForm) }
    }
}

/// How an entry's records are written where they are hashed and stored.
///
/// `list` (entries written before 2026-12-05) is one object per record:
/// `[{"effect":"read","id":"…","scope":"loc-a","type":"visitNote"},…]`. `compact` names
/// each distinct (effect, scope, type) once, in the order they first appear, and the
/// records as their ids in order with the index of their kind:
/// `{"ids":["…","…"],"kindOf":[0,0],"kinds":[{"effect":"read","scope":"loc-a","type":"visitNote"}]}`.
/// A pull page's entry names hundreds of records of a few kinds, so the compact form is
/// about 40 bytes a record instead of about 100. No records is `[]` in both forms.
public enum AccessRecordsForm: String, Codable, Hashable, Sendable {
    case list
    case compact
}

/// The compact form's JSON, as StableJSON reads and writes it; also how a pull page's
/// records travel to the access log, gathered with `append` as the rows are read.
public struct CompactAccessRecords: Codable, Hashable, Sendable {
    struct Kind: Codable, Hashable {
        var effect: String
        var scope: String
        var type: String
    }
    private(set) var ids: [String]
    private(set) var kindOf: [Int]
    private(set) var kinds: [Kind]
    /// Each kind's type, scope and effect as bytes, to match a record's against, and a
    /// fingerprint of them to find the candidate by: `==` on two different strings takes
    /// Swift's long way round, and a pull page's 500 records made that a tenth of a
    /// pulling server's log work.
    private var kindBytes: [[UInt8]] = []
    /// Each kind's index by its fingerprint (the first kind with it, on a collision).
    private var kindByPrint: [UInt64: Int] = [:]
    private var last = -1

    enum CodingKeys: String, CodingKey { case ids, kindOf, kinds }

    public init() {
        ids = []
        kindOf = []
        kinds = []
    }

    init(_ records: [AccessedRecord]) {
        self.init()
        reserveCapacity(records.count)
        for record in records { append(id: record.id, type: record.type, scope: record.scope, effect: record.effect) }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        ids = try container.decode([String].self, forKey: .ids)
        kindOf = try container.decode([Int].self, forKey: .kindOf)
        kinds = try container.decode([Kind].self, forKey: .kinds)
        kindBytes = kinds.map(Self.bytes)
        for (index, kind) in kinds.enumerated().reversed() {
            var type = kind.type, scope = kind.scope, effect = kind.effect
            kindByPrint[type.withUTF8 { type in scope.withUTF8 { scope in effect.withUTF8 { Self.fingerprint(type, scope, $0) } } }] = index
        }
    }

    public var isEmpty: Bool { ids.isEmpty }
    public var count: Int { ids.count }
    /// The distinct types named (a page holds a few).
    var types: Set<String> { Set(kinds.map(\.type)) }

    mutating func reserveCapacity(_ count: Int) {
        ids.reserveCapacity(count)
        kindOf.reserveCapacity(count)
    }

    /// Names one more record: of the last record's kind, or of the one its fingerprint
    /// finds (a page of 500 may hold a hundred kinds: one per type and location).
    mutating func append(id: String, type: String, scope: String, effect: String) {
        var type = type, scope = scope, effect = effect
        let (found, print): (Int?, UInt64) = type.withUTF8 { type in
            scope.withUTF8 { scope in
                effect.withUTF8 { effect in
                    if last >= 0, Self.matches(kindBytes[last], type, scope, effect) { return (last, 0) }
                    let print = Self.fingerprint(type, scope, effect)
                    guard let candidate = kindByPrint[print] else { return (nil, print) }
                    if Self.matches(kindBytes[candidate], type, scope, effect) { return (candidate, print) }
                    // Two kinds with one fingerprint: rare enough to look along the list.
                    return (kindBytes.indices.first { Self.matches(kindBytes[$0], type, scope, effect) }, print)
                }
            }
        }
        if let found {
            last = found
        } else {
            kinds.append(Kind(effect: effect, scope: scope, type: type))
            kindBytes.append(Self.bytes(kinds[kinds.count - 1]))
            last = kinds.count - 1
            if kindByPrint[print] == nil { kindByPrint[print] = last }
        }
        ids.append(id)
        kindOf.append(last)
    }

    /// `type`, `scope` and `effect` one after another, each followed by 0xFF (never a
    /// byte of UTF-8), so no two kinds have the same bytes.
    private static func bytes(_ kind: Kind) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(kind.type.utf8.count + kind.scope.utf8.count + kind.effect.utf8.count + 3)
        for part in [kind.type, kind.scope, kind.effect] {
            bytes.append(contentsOf: part.utf8)
            bytes.append(0xFF)
        }
        return bytes
    }

    /// FNV-1a of a kind's bytes as `bytes` lays them out.
    private static func fingerprint(_ type: UnsafeBufferPointer<UInt8>, _ scope: UnsafeBufferPointer<UInt8>,
                                    _ effect: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash = FNV1a()
        hash.add(type)
        hash.add(0xFF)
        hash.add(scope)
        hash.add(0xFF)
        hash.add(effect)
        hash.add(0xFF)
        return hash.value
    }

    private static func matches(_ bytes: [UInt8], _ type: UnsafeBufferPointer<UInt8>, _ scope: UnsafeBufferPointer<UInt8>,
                                _ effect: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count == type.count + scope.count + effect.count + 3 else { return false }
        return bytes.withUnsafeBufferPointer { all in
            var offset = 0
            func next(_ part: UnsafeBufferPointer<UInt8>) -> Bool {
                if part.count > 0, memcmp(all.baseAddress! + offset, part.baseAddress!, part.count) != 0 { return false }
                offset += part.count
                defer { offset += 1 }
                return all[offset] == 0xFF
            }
            return next(type) && next(scope) && next(effect)
        }
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.ids == rhs.ids && lhs.kindOf == rhs.kindOf && lhs.kinds == rhs.kinds
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(ids)
        hasher.combine(kindOf)
        hasher.combine(kinds)
    }

    /// The records, or nil when the parts do not fit together.
    var records: [AccessedRecord]? {
        guard ids.count == kindOf.count, kindOf.allSatisfy({ kinds.indices.contains($0) }) else { return nil }
        return zip(ids, kindOf).map { id, kind in
            AccessedRecord(id: id, type: kinds[kind].type, scope: kinds[kind].scope, effect: kinds[kind].effect)
        }
    }
}

/// A record named by an access-log entry.
public struct AccessedRecord: Codable, Hashable, Sendable {
    public var id: String
    public var type: String
    public var scope: String
    /// `read`; for a push `changed` or `unchanged`; `refused` for one in a refused request;
    /// `erased` for one an erasure removed.
    public var effect: String

    public init(id: String, type: String, scope: String, effect: String) {
        self.id = id
        self.type = type
        self.scope = scope
        self.effect = effect
    }
}

/// What a logged request did.
public enum AccessAction: String, Codable, Hashable, Sendable, CaseIterable {
    /// `GET /v1/pull`: records read.
    case pull
    /// `POST /v1/push`: records written.
    case push
    /// `GET /v1/records/{id}/history`.
    case history
    /// `GET /v1/records/{id}`.
    case record
    /// `GET /v1/records/{id}/access`: the office read who accessed a record (this log).
    case access
    /// `veld-server audit --prune`: old entries removed.
    case prune
    /// `veld-server erase`: records and their history removed (AVG art. 17).
    case erase
    /// `POST /v1/receipts`: a device reports what it removed (a wipe, a scope removal).
    case purge
    /// `veld-server due` (and later reports): the office read records on the server.
    case report
}

/// An entry before the storage gives it its place in the chain.
public struct AccessDraft: Hashable, Sendable {
    public var at: Date
    public var action: AccessAction
    public var status: Int
    public var problem: String?
    public var tokenID: String?
    public var user: String?
    public var role: String?
    public var replica: String?
    public var detail: String
    /// The records named, as the compact form holds them.
    public var compactRecords: CompactAccessRecords {
        didSet { encodedRecords = nil }
    }
    public var records: [AccessedRecord] {
        get { compactRecords.records ?? [] }
        set { compactRecords = CompactAccessRecords(newValue) }
    }
    /// The records' compact JSON, when `prepare()` wrote it ahead of the append.
    private var encodedRecords: [UInt8]?

    public init(at: Date, action: AccessAction, status: Int = 200, problem: String? = nil, token: DeviceToken?,
                replica: String? = nil, detail: String = "", records: [AccessedRecord] = []) {
        self.init(at: at, action: action, status: status, problem: problem, token: token, replica: replica, detail: detail,
                  compactRecords: CompactAccessRecords(records))
    }

    public init(at: Date, action: AccessAction, status: Int = 200, problem: String? = nil, token: DeviceToken?,
                replica: String? = nil, detail: String = "", compactRecords: CompactAccessRecords) {
        self.at = WallClock.truncate(at)
        self.action = action
        self.status = status
        self.problem = problem
        tokenID = token?.id
        user = token?.user
        role = token?.role.rawValue
        self.replica = replica ?? token?.replica
        self.detail = detail
        self.compactRecords = compactRecords
    }

    /// Writes the records' JSON now, in the request's own task, so the storage's single
    /// writer (where entries are chained one after another) only copies and hashes it.
    public mutating func prepare() {
        if encodedRecords == nil { encodedRecords = AccessChain.compactJSON(compactRecords) }
    }

    /// This draft's entry for a storage that appends it in one SQL statement, where only
    /// the chain's head (read and locked there) gives its `seq` and `previousHash`: the
    /// records' stored JSON, and the canonical form around them and those two values.
    /// The entry's hash is SHA-256 (hex) of
    /// `beforePrevious + previousHash + beforeRecords + records + beforeSeq + seq + afterSeq`.
    public func chainPieces() -> ChainPieces {
        let records = encodedRecords ?? AccessChain.compactJSON(compactRecords)
        // Written with an empty previousHash and seq 0, then cut where those two stand.
        let entry = AccessEntry(seq: 0, at: at, action: action, status: status, problem: problem, tokenID: tokenID, user: user,
                                role: role, replica: replica, detail: detail, records: [], previousHash: "", hash: "",
                                recordsForm: .compact)
        let around = AccessChain.canonicalAround(entry)
        func text(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }
        return ChainPieces(records: String(decoding: records, as: UTF8.self),
                           beforePrevious: text(around.head[..<around.previousHash.lowerBound]),
                           beforeRecords: text(around.head[around.previousHash.upperBound...]),
                           beforeSeq: text(around.tail[..<around.seq.lowerBound]),
                           afterSeq: text(around.tail[around.seq.upperBound...]))
    }

    public struct ChainPieces: Sendable {
        public var records: String
        public var beforePrevious: String
        public var beforeRecords: String
        public var beforeSeq: String
        public var afterSeq: String
    }

    /// The entry at `seq` after the entry whose hash is `previousHash`, its hash computed.
    public func sealed(seq: Int64, previousHash: String) -> AccessEntry {
        sealedWithRecords(seq: seq, previousHash: previousHash).entry
    }

    /// The sealed entry and its records' stable JSON (what the storages keep). Without
    /// `keepingRecords` the entry's `records` is left empty (its hash covers them all):
    /// for a writer that only stores it, a pull page's 500 records are not made again.
    func sealedWithRecords(seq: Int64, previousHash: String, keepingRecords: Bool = true) -> (entry: AccessEntry, records: String) {
        var entry = AccessEntry(seq: seq, at: at, action: action, status: status, problem: problem, tokenID: tokenID, user: user,
                                role: role, replica: replica, detail: detail, records: keepingRecords ? records : [],
                                previousHash: previousHash, hash: "", recordsForm: .compact)
        let bytes = encodedRecords ?? AccessChain.compactJSON(compactRecords)
        entry.hash = AccessChain.hash(of: entry, records: bytes)
        return (entry, String(decoding: bytes, as: UTF8.self))
    }

    /// A push that was accepted (or answered as a replay): each record it carried, changed
    /// or not, as the answer says.
    public static func push(_ request: PushRequest, response: PushResponse, token: DeviceToken, at date: Date,
                            replay: Bool) -> AccessDraft {
        let changed = Dictionary(response.results.map { ($0.id, $0.changed) }, uniquingKeysWith: { $0 || $1 })
        let records = request.allRecords.map {
            AccessedRecord(id: $0.id, type: $0.type, scope: $0.scope, effect: changed[$0.id] == true && !replay ? "changed" : "unchanged")
        }
        return AccessDraft(at: date, action: .push, token: token, replica: request.replica,
                           detail: "batch=\(request.batch)" + (replay ? " replay" : ""), records: records)
    }
}

extension AccessEntry {
    /// The record ids this entry names, once each, sorted: what the record index holds.
    public var recordIDs: [String] { Array(Set(records.map(\.id))).sorted() }

    /// The records' stable JSON in `form`, as the storages keep it.
    public static func encode(records: [AccessedRecord], form: AccessRecordsForm) -> String {
        String(decoding: AccessChain.recordsJSON(records, form: form), as: UTF8.self)
    }

    /// The records as a storage keeps them, and the form they were written in (a JSON
    /// object is the compact form, a non-empty array the list).
    public static func decode(records text: String) throws -> (records: [AccessedRecord], form: AccessRecordsForm) {
        let data = Data(text.utf8)
        guard data.first(where: { ![0x20, 0x0a, 0x0d, 0x09].contains($0) }) == UInt8(ascii: "{") else {
            let records = try StableJSON.decode([AccessedRecord].self, from: data)
            // No records is `[]` in both forms, and an entry without records is of the current one.
            return (records, records.isEmpty ? .compact : .list)
        }
        let compact = try StableJSON.decode(CompactAccessRecords.self, from: data)
        guard let records = compact.records else {
            throw StorageError.configuration("an access-log entry's records do not fit together (ids, kindOf and kinds): it was changed outside Veld; restore the database from a backup and keep this one for the investigation")
        }
        return (records, .compact)
    }
}

/// The hash chain's rules, shared by both storages and `audit --verify`.
public enum AccessChain {
    /// The `previousHash` of the very first entry.
    public static let genesis = String(repeating: "0", count: 64)

    /// SHA-256 (hex) of the entry's stable JSON with `hash` left out.
    public static func hash(of entry: AccessEntry) -> String {
        TokenSecret.fingerprint(canonical(entry))
    }

    /// The hash with the records' stable JSON already written (the storages keep that
    /// text as it is, so it is written once per entry).
    static func hash(of entry: AccessEntry, records: [UInt8]) -> String {
        let around = canonicalAround(entry)
        return TokenSecret.fingerprint(parts: [around.head, records, around.tail])
    }

    /// The entry's stable JSON (keys sorted, no spaces, dates as `YYYY-MM-DDTHH:MM:SSZ`)
    /// without `hash`, written by hand: a pull page's entry names hundreds of records,
    /// and this is on the path of every pull. Byte for byte what `StableJSON` writes
    /// (a test holds it to that).
    public static func canonical(_ entry: AccessEntry) -> [UInt8] {
        canonical(entry, records: recordsJSON(entry.records, form: entry.recordsForm))
    }

    static func canonical(_ entry: AccessEntry, records: [UInt8]) -> [UInt8] {
        let around = canonicalAround(entry)
        return around.head + records + around.tail
    }

    /// The canonical form before the records' JSON and after it.
    static func canonicalAround(_ entry: AccessEntry) -> (head: [UInt8], tail: [UInt8], previousHash: Range<Int>, seq: Range<Int>) {
        var out: [UInt8] = []
        out.reserveCapacity(300)
        func key(_ name: StaticString, first: Bool = false) {
            if !first { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\""))
            name.withUTF8Buffer { out.append(contentsOf: $0) }
            out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        }
        func string(_ text: String) { RecordStateJSON.writeString(text, to: &out) }
        out.append(UInt8(ascii: "{"))
        key("action", first: true); string(entry.action.rawValue)
        key("at"); string(InternetTime.format(entry.at))
        key("detail"); string(entry.detail)
        key("previousHash")
        // The hash's text, between its quotes (a hash is hex: nothing in it is escaped).
        let previousStart = out.count + 1
        string(entry.previousHash)
        let previousHash = previousStart..<(out.count - 1)
        if let problem = entry.problem { key("problem"); string(problem) }
        key("records")
        let head = out
        out.removeAll(keepingCapacity: true)
        if let replica = entry.replica { key("replica"); string(replica) }
        if let role = entry.role { key("role"); string(role) }
        key("seq")
        let seqStart = out.count
        out.append(contentsOf: String(entry.seq).utf8)
        let seq = seqStart..<out.count
        key("status"); out.append(contentsOf: String(entry.status).utf8)
        if let token = entry.tokenID { key("token"); string(token) }
        if let user = entry.user { key("user"); string(user) }
        out.append(UInt8(ascii: "}"))
        return (head, out, previousHash, seq)
    }

    /// The records as stable JSON in `form`: `[]` for none in either form.
    static func recordsJSON(_ records: [AccessedRecord], form: AccessRecordsForm) -> [UInt8] {
        switch form {
        case .list: listJSON(records)
        case .compact: compactJSON(CompactAccessRecords(records))
        }
    }

    /// `{"ids":[…],"kindOf":[…],"kinds":[{"effect":…,"scope":…,"type":…},…]}`, or `[]`
    /// for no records.
    static func compactJSON(_ compact: CompactAccessRecords) -> [UInt8] {
        if compact.isEmpty { return Array("[]".utf8) }
        var out: [UInt8] = []
        out.reserveCapacity(40 + compact.ids.count * 42 + compact.kinds.count * 60)
        out.append(contentsOf: Keys.ids)
        for (index, id) in compact.ids.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            RecordStateJSON.writeString(id, to: &out)
        }
        out.append(contentsOf: Keys.kindOf)
        for (index, kind) in compact.kindOf.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: String(kind).utf8)
        }
        out.append(contentsOf: Keys.kinds)
        for (index, kind) in compact.kinds.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: Keys.effect)
            RecordStateJSON.writeString(kind.effect, to: &out)
            out.append(contentsOf: Keys.scope)
            RecordStateJSON.writeString(kind.scope, to: &out)
            out.append(contentsOf: Keys.type)
            RecordStateJSON.writeString(kind.type, to: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: [UInt8(ascii: "]"), UInt8(ascii: "}")])
        return out
    }

    /// `[{"effect":…,"id":…,"scope":…,"type":…},…]`: the older list form.
    static func listJSON(_ records: [AccessedRecord]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(2 + records.count * 110)
        out.append(UInt8(ascii: "["))
        for (index, record) in records.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: Keys.effect)
            RecordStateJSON.writeString(record.effect, to: &out)
            out.append(contentsOf: Keys.id)
            RecordStateJSON.writeString(record.id, to: &out)
            out.append(contentsOf: Keys.scope)
            RecordStateJSON.writeString(record.scope, to: &out)
            out.append(contentsOf: Keys.type)
            RecordStateJSON.writeString(record.type, to: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// The keys of a record's object, as bytes once (appending an array is one copy).
    private enum Keys {
        static let effect = Array(#"{"effect":"#.utf8)
        static let id = Array(#","id":"#.utf8)
        static let scope = Array(#","scope":"#.utf8)
        static let type = Array(#","type":"#.utf8)
        static let ids = Array(#"{"ids":["#.utf8)
        static let kindOf = Array(#"],"kindOf":["#.utf8)
        static let kinds = Array(#"],"kinds":["#.utf8)
    }

    /// What a prune entry's `detail` says: the entries it removed and the hash of the
    /// last one, so the chain may start after it.
    public static func pruneDetail(removed count: Int64, through seq: Int64, lastHash: String, before: Date) -> String {
        "removed=\(count) through=\(seq) lastHash=\(lastHash) before=\(InternetTime.format(before))"
    }

    static func pruned(_ detail: String) -> (through: Int64, lastHash: String)? {
        var through: Int64?, lastHash: String?
        for part in detail.split(separator: " ") {
            if part.hasPrefix("through=") { through = Int64(part.dropFirst(8)) }
            if part.hasPrefix("lastHash=") { lastHash = String(part.dropFirst(9)) }
        }
        guard let through, let lastHash else { return nil }
        return (through, lastHash)
    }

    /// Checks entries page by page, in `seq` order.
    public struct Verifier: Sendable {
        public private(set) var checked: Int64 = 0
        public private(set) var problems: [String] = []
        public private(set) var first: AccessEntry?
        public private(set) var last: AccessEntry?
        /// The latest prune entry's claim: entries up to `through` were removed, the last
        /// with `lastHash`.
        private var prune: (through: Int64, lastHash: String)?

        public init() {}

        /// One entry with the record ids the index holds for it.
        public mutating func check(_ entry: AccessEntry, indexed: [String]) {
            checked += 1
            if problems.count >= 20 {
                // Enough to act on; the ends are still followed, so the tail is judged right.
                if first == nil { first = entry }
                if entry.action == .prune, let claim = AccessChain.pruned(entry.detail) { prune = claim }
                last = entry
                return
            }
            if let last {
                if entry.seq != last.seq + 1 {
                    problems.append("entries \(last.seq + 1)…\(entry.seq - 1) are missing (deleted outside Veld)")
                }
                if entry.previousHash != last.hash {
                    problems.append("entry \(entry.seq) does not follow entry \(last.seq): the chain is broken (an entry was deleted or changed)")
                }
            } else {
                first = entry
            }
            if AccessChain.hash(of: entry) != entry.hash {
                problems.append("entry \(entry.seq) was changed after it was written (its hash does not match its content)")
            }
            if indexed != entry.recordIDs {
                problems.append("the record index of entry \(entry.seq) was changed (audit --record would not find it)")
            }
            if entry.action == .prune, let claim = AccessChain.pruned(entry.detail) {
                prune = claim
                prunes.append(claim)
            }
            last = entry
        }

        /// Every prune entry's claim seen, for `--anchor` (a pruned anchor is checked
        /// against the prune that removed exactly up to it).
        public private(set) var prunes: [(through: Int64, lastHash: String)] = []

        /// After the last page: how the chain starts, and that it ends at the head the
        /// storage keeps apart from the entries.
        public mutating func finish(head: (seq: Int64, hash: String)) {
            if let last, last.seq != head.seq || last.hash != head.hash {
                problems.append(last.seq < head.seq
                    ? "the newest entries (\(last.seq + 1)…\(head.seq)) are missing (deleted outside Veld)"
                    : "the log ends at entry \(last.seq), but its head says \(head.seq): the head or the last entries were changed outside Veld")
            } else if last == nil, head.seq > 0 {
                problems.append("the log is empty, but its head says \(head.seq) entries were written: they were deleted outside Veld")
            }
            guard let first, problems.count < 20 else { return }
            if let prune {
                if first.seq != prune.through + 1 || first.previousHash != prune.lastHash {
                    problems.append("the log should start after entry \(prune.through) (the last prune), but starts at entry \(first.seq): entries were deleted outside Veld")
                }
            } else if first.seq != 1 || first.previousHash != genesis {
                problems.append("the log starts at entry \(first.seq), and no prune removed the ones before it: entries were deleted outside Veld")
            }
        }
    }
}

/// What `veld-server audit` asks for; every filter given must hold.
public struct AccessQuery: Hashable, Sendable {
    /// Entries naming any of these records: each a whole id or the start of one.
    public var recordIDs: [String]?
    public var user: String?
    /// A token id (`tok_…`, matched against the token) or a replica (`r-…`, against the
    /// replica).
    public var device: String?
    public var action: AccessAction?
    public var since: Date?
    /// Entries before this time.
    public var until: Date?
    public var refusedOnly: Bool
    /// At most this many, the newest.
    public var limit: Int

    public init(recordIDs: [String]? = nil, user: String? = nil, device: String? = nil, action: AccessAction? = nil,
                since: Date? = nil, until: Date? = nil, refusedOnly: Bool = false, limit: Int = 1_000) {
        self.recordIDs = recordIDs
        self.user = user
        self.device = device
        self.action = action
        self.since = since
        self.until = until
        self.refusedOnly = refusedOnly
        self.limit = limit
    }

    public func matches(_ entry: AccessEntry) -> Bool {
        if let recordIDs, !entry.records.contains(where: { record in recordIDs.contains { record.id.hasPrefix($0) } }) { return false }
        if let user, entry.user != user { return false }
        if let device, device.hasPrefix("tok_") ? entry.tokenID != device : entry.replica != device { return false }
        if let action, entry.action != action { return false }
        if let since, entry.at < since { return false }
        if let until, entry.at >= until { return false }
        if refusedOnly, !entry.refused { return false }
        return true
    }
}

/// The access log is always on. `VELD_BENCH_ACCESS_LOG_OFF=1` turns it off for one
/// purpose only: `veld-bench` measures what the log costs against a server without it,
/// side by side. `veld-server serve` says so loudly when it is set.
public enum AccessLogSwitch {
    public static let isOff = ProcessInfo.processInfo.environment["VELD_BENCH_ACCESS_LOG_OFF"] == "1"
}

/// What `audit --prune` did.
public struct AccessPruneResult: Hashable, Sendable {
    public var removed: Int64
    /// The prune's own entry.
    public var entry: AccessEntry?
}
