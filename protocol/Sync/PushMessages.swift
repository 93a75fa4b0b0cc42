/// The body of `POST /v1/push`: the states of records a replica changed since the server
/// last acknowledged them.
///
/// ```json
/// {"replica": "r-52a62fbf5cfa516f08e415f1", "batch": "0e6b…", "records": [RecordState, …]}
/// ```
///
/// A batch is all-or-nothing. Sending the same batch again (same id, same body) changes
/// nothing and gets the same answer, so a client that lost the answer simply resends.
///
/// After the server was restored from a backup (a new epoch), a batch may also carry
/// `proven`, states the server once served with its proofs, and `recovery: true`; both
/// are absent otherwise (SPEC.md, "Server epochs").
///
/// `deltas` (SPEC.md, "Deltas") carries records the server already holds as only the
/// fields the device changed since the last state the server served it, with the whole
/// context: the server fills in the other fields from its own state. Absent when empty.
public struct PushRequest: Codable, Hashable, Sendable {
    public var replica: String
    /// A UUID the client makes per batch and keeps until the batch is acknowledged.
    public var batch: String
    public var records: [RecordState]
    /// Records the server holds, each with only the fields changed since the state the server
    /// last served the device (``RecordDelta``).
    public var deltas: [RecordState]
    /// For records of the batch, the last state the server served of each, with its proof.
    public var proven: [ProvenState]
    /// Whether the batch sends back what a restored server lost: its history rows say so.
    public var recovery: Bool

    public init(replica: String, batch: String, records: [RecordState], deltas: [RecordState] = [], proven: [ProvenState] = [],
                recovery: Bool = false) {
        self.replica = replica
        self.batch = batch
        self.records = records
        self.deltas = deltas
        self.proven = proven
        self.recovery = recovery
    }

    enum CodingKeys: String, CodingKey { case replica, batch, records, deltas, proven, recovery }

    /// Every record of the batch: the whole states, then the deltas.
    public var allRecords: [RecordState] { deltas.isEmpty ? records : records + deltas }
    /// How many records the batch carries, whole or as deltas.
    public var recordCount: Int { records.count + deltas.count }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        replica = try container.decode(String.self, forKey: .replica)
        batch = try container.decode(String.self, forKey: .batch)
        records = try container.decode([RecordState].self, forKey: .records)
        deltas = try container.decodeIfPresent([RecordState].self, forKey: .deltas) ?? []
        proven = try container.decodeIfPresent([ProvenState].self, forKey: .proven) ?? []
        recovery = try container.decodeIfPresent(Bool.self, forKey: .recovery) ?? false
    }

    /// Without `deltas`, `proven` and `recovery` when they are empty and false: a batch of an
    /// older client keeps its fingerprint.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(replica, forKey: .replica)
        try container.encode(batch, forKey: .batch)
        try container.encode(records, forKey: .records)
        if !deltas.isEmpty { try container.encode(deltas, forKey: .deltas) }
        if !proven.isEmpty { try container.encode(proven, forKey: .proven) }
        if recovery { try container.encode(recovery, forKey: .recovery) }
    }
}

/// The answer to a push: for every record of the batch, whether the server's state
/// changed and, if so, its new position in the change log.
public struct PushResponse: Codable, Hashable, Sendable {
    public struct Result: Codable, Hashable, Sendable {
        public var id: String
        public var changed: Bool
        /// Set when `changed`: the record's new change-log position.
        public var position: Int64?
        /// Whether the server's state of the record has a field in conflict.
        public var conflicts: Bool

        public init(id: String, changed: Bool, position: Int64?, conflicts: Bool) {
            self.id = id
            self.changed = changed
            self.position = position
            self.conflicts = conflicts
        }
    }

    public var batch: String
    public var results: [Result]

    public init(batch: String, results: [Result]) {
        self.batch = batch
        self.results = results
    }
}

/// The answer to `GET /v1/pull?since=CURSOR&limit=N`: records of the caller's scopes that
/// changed after the cursor, in change-log order.
///
/// The client stores `cursor` only after it has committed `records` locally, then asks
/// again while `more` is true.
///
/// Asked with `deltas=1` (SPEC.md, "Pull deltas"), a record the device already held at the
/// cursor may come in `deltas` instead, as only the fields that changed after the cursor,
/// with its whole context and the digest of the whole state it stands for.
public struct PullResponse: Codable, Hashable, Sendable {
    public var records: [RecordState]
    /// Records that changed after the cursor, each with only the fields that changed after
    /// it (``PullDeltas``). Absent when empty, and always from a pull that did not ask.
    public var deltas: [RecordState]
    /// For each of `deltas`, the digest of the whole state it stands for
    /// (``PullDeltas/digest(of:)``).
    public var digests: [String]
    /// Records of the caller's scopes that the office erased (`veld-server erase`): the
    /// client removes them and everything it holds of them. Absent when there are none.
    public var erased: [String]
    /// Opaque to clients: send it back as `since`.
    public var cursor: String
    public var more: Bool
    /// The server's proof of each record's state, in the order of `records` then `deltas`
    /// (a delta's proof is of the whole state it stands for; SPEC.md, "Server epochs"):
    /// what a device sends back with a state after a restore. Absent from older servers.
    public var proofs: [String]

    public init(records: [RecordState], deltas: [RecordState] = [], digests: [String] = [], erased: [String] = [], cursor: String,
                more: Bool, proofs: [String] = []) {
        self.records = records
        self.deltas = deltas
        self.digests = digests
        self.erased = erased
        self.cursor = cursor
        self.more = more
        self.proofs = proofs
    }

    enum CodingKeys: String, CodingKey { case records, deltas, digests, erased, cursor, more, proofs }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        records = try container.decode([RecordState].self, forKey: .records)
        deltas = try container.decodeIfPresent([RecordState].self, forKey: .deltas) ?? []
        digests = try container.decodeIfPresent([String].self, forKey: .digests) ?? []
        erased = try container.decodeIfPresent([String].self, forKey: .erased) ?? []
        cursor = try container.decode(String.self, forKey: .cursor)
        more = try container.decode(Bool.self, forKey: .more)
        proofs = try container.decodeIfPresent([String].self, forKey: .proofs) ?? []
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(records, forKey: .records)
        if !deltas.isEmpty {
            try container.encode(deltas, forKey: .deltas)
            try container.encode(digests, forKey: .digests)
        }
        if !erased.isEmpty { try container.encode(erased, forKey: .erased) }
        try container.encode(cursor, forKey: .cursor)
        try container.encode(more, forKey: .more)
        if !proofs.isEmpty { try container.encode(proofs, forKey: .proofs) }
    }

    /// The proof of `records[index]` (of `deltas[index - records.count]` past the records),
    /// when the server gave one.
    public func proof(at index: Int) -> String? {
        proofs.count == records.count + deltas.count ? proofs[index] : nil
    }
}

/// `GET /v1/health`.
public struct HealthResponse: Codable, Hashable, Sendable {
    public var status: String
    public var version: String
    public var protocolVersion: Int

    public init(status: String, version: String, protocolVersion: Int) {
        self.status = status
        self.version = version
        self.protocolVersion = protocolVersion
    }
}

/// Limits both sides agree on.
public enum SyncLimits {
    /// Records per pull page when the client does not say.
    public static let defaultPullLimit = 500
    /// The largest `limit` a pull may ask for.
    public static let maxPullLimit = 5_000
    /// Records per push batch the client sends.
    public static let pushBatchSize = 500
    /// Largest request body the server accepts, after decompression.
    public static let maxBodyBytes = 16 * 1024 * 1024
    /// Records in one push batch, at most.
    public static let maxBatchRecords = 10_000
    /// The largest counter a dot or a context may carry: 2^53 - 1, so a JSON library
    /// that reads numbers as doubles still reads every counter exactly.
    public static let maxCounter: UInt64 = (1 << 53) - 1
    /// Entries one field may hold (concurrent values), at most.
    public static let maxEntriesPerField = 64
    /// UTF-8 bytes of one field value (a text, or all strings of a list together).
    public static let maxValueBytes = 1 * 1024 * 1024
    /// UTF-8 bytes of all values of one record state together.
    public static let maxRecordValueBytes = 4 * 1024 * 1024
    /// Bytes of record states in one pull page: a page stops before the record that would
    /// pass it (a record larger than this still travels, alone on its page).
    public static let maxPullPageBytes = 8 * 1024 * 1024
    /// Characters of a replica id.
    public static let maxReplicaLength = 100
}

/// Replica ids: 1 to 100 printable ASCII characters (`!` to `~`, no space, no quote, no
/// backslash), such as `r-52a62fbf5cfa516f08e415f1`.
public enum ReplicaIDs {
    public static func isValid(_ replica: String) -> Bool {
        let utf8 = replica.utf8
        guard (1...SyncLimits.maxReplicaLength).contains(utf8.count) else { return false }
        return utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
    }
}

/// Deltas (SPEC.md, "Deltas"): a record the server already holds, sent as only the fields
/// that differ from the last state the server served the device, with the record's whole
/// context. The server stands for each field the delta leaves out with its own entries:
/// since the server's state only grows (within one epoch), it covers the state the delta
/// was made against, and merging that filled-in state gives exactly what merging the
/// device's whole state gives.
public enum RecordDelta {
    /// `state` as a delta against `base` (the server's state as it last served it): the
    /// same id, type, scope and context, and only the fields whose entries differ. Nil when
    /// a delta would not be smaller than the whole state, or cannot say what changed (a
    /// field `base` has that `state` has not).
    public static func between(_ base: RecordState, _ state: RecordState) -> RecordState? {
        guard base.id == state.id, base.type == state.type, base.scope == state.scope else { return nil }
        for name in base.fields.keys where state.fields[name] == nil { return nil }
        var fields: [String: [FieldEntry]] = [:]
        for (name, entries) in state.fields where base.fields[name] != entries {
            fields[name] = entries
        }
        guard fields.count < state.fields.count else { return nil }
        return RecordState(id: state.id, type: state.type, scope: state.scope, context: state.context, fields: fields)
    }

    /// The whole state a delta stands for on a server that holds `stored`: the delta's
    /// context and fields, and every other field as stored.
    public static func expand(_ delta: RecordState, over stored: RecordState) -> RecordState {
        var fields = stored.fields
        for (name, entries) in delta.fields { fields[name] = entries }
        return RecordState(id: delta.id, type: delta.type, scope: delta.scope, context: delta.context, fields: fields)
    }
}
