import Foundation

extension PushPolicy {
    /// The checks that need nothing stored, in SPEC's order: the replica and batch ids
    /// (400), the batch size (413), then every record (422 `invalid-record`, else 403
    /// `scope-forbidden`), each record against `schemas`, the module set in force. Linear
    /// in the size of the batch. `schemaValidated` skips the schema check for records the
    /// caller has just validated (a client's own edit).
    ///
    /// States the batch carries as `proven` are taken only with a proof `proofs` verifies
    /// (403 `invalid-proof`; nil: the server takes no proven states now, as outside the
    /// days after a restore), for a record of the batch, of its type and scope (422).
    public static func check(_ request: PushRequest, by pusher: Pusher, in schemas: SchemaSet,
                             schemaValidated: Bool = false, proofs: (any ProofChecking)? = nil) throws(Problem) -> CheckedPush {
        guard ReplicaIDs.isValid(request.replica) else {
            throw Problem(type: .malformed, status: 400,
                          detail: "replica must be the device's replica id: 1 to \(SyncLimits.maxReplicaLength) printable ASCII characters without spaces, quotes or backslashes")
        }
        guard UUID(uuidString: request.batch) != nil else {
            throw Problem(type: .malformed, status: 400, detail: "batch must be a UUID made by the client for this batch")
        }
        let count = request.recordCount
        guard count <= SyncLimits.maxBatchRecords else {
            throw Problem(type: .tooLarge, status: 413,
                          detail: "a batch holds at most \(SyncLimits.maxBatchRecords) records; send \(count) in several batches")
        }
        var refusals = Refusals()
        var seen: Set<String> = []
        var storedIDs: [String] = []
        storedIDs.reserveCapacity(count)
        for (index, record) in request.allRecords.enumerated() {
            let isDelta = index >= request.records.count
            guard seen.insert(record.id).inserted else {
                refusals.add(.invalidRecord, record.id,
                             "record \(record.id) appears twice in the batch; send each record once, in its latest state, as a whole state or a delta")
                continue
            }
            storedIDs.append(record.id)
            if !schemaValidated || isDelta {
                // A delta's required fields may be among those it leaves out: checked once
                // the server has filled them in.
                for error in schemas.validate(record, partial: isDelta) {
                    refusals.add(.invalidRecord, record.id, field: error.field, error.description)
                }
            }
            checkShape(of: record, into: &refusals)
            if !pusher.scopes.contains(record.scope) {
                refusals.add(.scopeForbidden, record.id, "scope \(record.scope)")
            }
            if !schemas.mayRead(record.type, as: pusher.role) {
                refusals.add(.typeForbidden, record.id, "the \(pusher.role.rawValue) role may not read or write \(record.type) records")
            }
            if let schema = schemas.named(record.type), case .inheritedFrom(let field) = schema.scopeRule {
                for entry in record.entries(of: field) {
                    if case .string(let parent) = entry.value, RecordIDs.isValid(parent), !seen.contains(parent) {
                        storedIDs.append(parent)
                    }
                }
            }
        }
        let proven = checkProven(request, proofs: proofs, into: &refusals)
        if let problem = refusals.problem(role: pusher.role, replica: request.replica) { throw problem }
        var unique: Set<String> = []
        return CheckedPush(request: request, pusher: pusher, schemas: schemas, storedIDs: storedIDs.filter { unique.insert($0).inserted },
                           proven: proven, recovering: proofs != nil)
    }

    /// The proven states of a batch the server's key vouches for, one per record of the
    /// batch, of that record's type and scope (so the record's scope and type checks hold
    /// for it too).
    static func checkProven(_ request: PushRequest, proofs: (any ProofChecking)?, into refusals: inout Refusals) -> [String: RecordState] {
        guard !request.proven.isEmpty else { return [:] }
        var records: [String: RecordState] = [:]
        for record in request.records where records[record.id] == nil { records[record.id] = record }
        var proven: [String: RecordState] = [:]
        for item in request.proven {
            let id = item.state.id
            guard let record = records[id] else {
                refusals.add(.invalidRecord, id, "a proven state of \(id) comes without the record; send it with the record's own state, in one batch")
                continue
            }
            guard proven[id] == nil else {
                refusals.add(.invalidRecord, id, "two proven states of \(id); send only the last one the server served")
                continue
            }
            guard item.state.type == record.type, item.state.scope == record.scope else {
                refusals.add(.invalidRecord, id, "the proven state of \(id) is of another type or scope than the record; both are fixed at creation")
                continue
            }
            guard let proofs else {
                refusals.add(.invalidProof, id,
                             "this server takes back proven states only in the \(ServerEpoch.recoveryDays) days after it was restored from a backup; send the record without it")
                continue
            }
            guard proofs.verifies(item.proof, of: item.state) else {
                refusals.add(.invalidProof, id, "the proof of \(id)'s state is not this server's; send the record without it")
                continue
            }
            proven[id] = item.state
        }
        return proven
    }

    /// What the schema does not say about a state but the protocol does: counters from 1 to
    /// 2^53 - 1, replica ids that are ids, one entry per replica in a field (a replica's
    /// later edit has seen its earlier one), and the size limits.
    static func checkShape(of record: RecordState, into refusals: inout Refusals) {
        let id = record.id
        if record.context.counters.count > PushPolicy.maxContextReplicas {
            refusals.add(.invalidRecord, id,
                         "record \(id): the context names \(record.context.counters.count) replicas; a record's context names at most \(PushPolicy.maxContextReplicas)")
            return
        }
        for (replica, counter) in record.context.counters {
            if !ReplicaIDs.isValid(replica) {
                refusals.add(.invalidRecord, id, "record \(id): the context names a replica whose id is not 1 to \(SyncLimits.maxReplicaLength) printable ASCII characters")
            } else if counter > SyncLimits.maxCounter {
                refusals.add(.invalidRecord, id, "record \(id): the context counts \(counter) edits of \(replica); counters stay below 2^53")
            }
        }
        for (field, entries) in record.fields {
            if entries.count > SyncLimits.maxEntriesPerField {
                refusals.add(.invalidRecord, id, field: field,
                             "\(record.type) \(id), field \(field): \(entries.count) concurrent values; a field holds at most \(SyncLimits.maxEntriesPerField)")
                continue
            }
            var replicas: Set<String> = []
            for entry in entries {
                let dot = entry.dot
                if dot.counter == 0 || dot.counter > SyncLimits.maxCounter {
                    refusals.add(.invalidRecord, id, field: field,
                                 "\(record.type) \(id), field \(field): an edit has counter \(dot.counter); counters run from 1 to 2^53 - 1")
                } else if !ReplicaIDs.isValid(dot.replica) {
                    refusals.add(.invalidRecord, id, field: field,
                                 "\(record.type) \(id), field \(field): an edit names a replica whose id is not 1 to \(SyncLimits.maxReplicaLength) printable ASCII characters")
                } else if entries.count > 1, !replicas.insert(dot.replica).inserted {
                    refusals.add(.invalidRecord, id, field: field,
                                 "\(record.type) \(id), field \(field): two entries of replica \(dot.replica); a replica's later edit supersedes its earlier one, so a field holds at most one entry per replica")
                }
                let bytes = entry.value.utf8Count
                if bytes > SyncLimits.maxValueBytes {
                    refusals.add(.invalidRecord, id, field: field,
                                 "\(record.type) \(id), field \(field): a value of \(bytes) bytes; one value holds at most \(SyncLimits.maxValueBytes / 1_048_576) MiB")
                }
            }
        }
    }
}

extension FieldValue {
    /// The UTF-8 bytes of the value's text (of every string of a list together).
    public var utf8Count: Int {
        switch self {
        case .null, .bool: return 0
        case .string(let text): return text.utf8.count
        case .strings(let list): return list.reduce(0) { $0 + $1.utf8.count }
        }
    }
}
