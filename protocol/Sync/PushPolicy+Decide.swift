import Foundation

extension PushPolicy {
    /// The checks against what the server stores, then the write plan. In SPEC's order: the
    /// token's binding (403 `replica-mismatch`), the batch id (a replay, or 409
    /// `batch-reused`), then every record: 422 `invalid-record` (identity, a goal's care
    /// plan), 403 `field-forbidden`, 403 `forged-dot`, 403 `forged-author`, 403
    /// `entry-omitted`, 409 `dot-reused`. Near-linear in the size of the batch and of the
    /// stored states it touches.
    public static func decide(_ push: CheckedPush, fingerprint: String, inputs: Inputs) throws(Problem) -> Outcome {
        let request = push.request, pusher = push.pusher
        if let bound = inputs.boundReplica, bound != request.replica {
            throw replicaMismatch(tokenID: pusher.tokenID, bound: bound, pushed: request.replica)
        }
        if inputs.boundReplica == nil, inputs.replicaHeldByAnotherToken {
            throw Problem(type: .replicaMismatch, status: 403,
                          detail: "replica \(request.replica) belongs to another device's active token; a new device makes its own replica id (veld init), and a device keeps its replica only when its old token is revoked")
        }
        if inputs.boundReplica == nil, inputs.replicaUsedByAnotherUser {
            throw Problem(type: .replicaMismatch, status: 403,
                          detail: "replica \(request.replica) belongs to another user's device; a new device makes its own replica id (veld init)")
        }
        if let prior = inputs.priorBatch {
            // The replica is bound to at most one active token (checked above), so a batch
            // id is the device's own: a device given a new token can still replay its batch.
            guard prior.replica == request.replica, prior.fingerprint == fingerprint else {
                throw Problem(type: .batchReused, status: 409,
                              detail: "batch \(request.batch) was already received with other content; use a new batch id for new content")
            }
            return .replay(responseJSON: prior.response)
        }

        let (states, recovered) = try judgeAll(push, inputs: inputs)
        return .write(PushPlan(request: request, before: inputs.stored, merged: states,
                               bindReplica: inputs.boundReplica == nil, after: inputs.position, historyRuns: inputs.historyRuns,
                               recovered: request.recovery && push.recovering ? Set(states.map(\.id)) : recovered))
    }

    /// What a device runs on its own edit before it saves it: every check of ``decide``
    /// about the records (not the token's binding or the batch id), without making the
    /// write plan (the server's JSON, history and answer), which a device does not need.
    public static func judge(_ push: CheckedPush, inputs: Inputs) throws(Problem) {
        _ = try judgeAll(push, inputs: inputs)
    }

    /// Every record of the batch judged against what is stored: the merged states, and the
    /// records a restored server takes back; the first kind of problem found, thrown.
    static func judgeAll(_ push: CheckedPush, inputs: Inputs) throws(Problem) -> (states: [RecordState], recovered: Set<String>) {
        let request = push.request, pusher = push.pusher
        var refusals = Refusals()
        var merged: [RecordState?] = []
        merged.reserveCapacity(request.recordCount)
        // What the server once held and lost (a restore) comes back first, as its own.
        var known = inputs
        var recovered: Set<String> = []
        for (id, state) in push.proven {
            guard let stored = inputs.stored[id] else {
                known.stored[id] = state
                recovered.insert(id)
                continue
            }
            guard stored.type == state.type, stored.scope == state.scope, let joined = try? stored.merged(with: state) else {
                refusals.add(.invalidProof, id, "the proven state of \(id) does not go with what the server holds of it")
                continue
            }
            if joined != stored { recovered.insert(id) }
            known.stored[id] = joined
        }
        // A delta stands for the whole state with the server's own entries in every field it
        // leaves out (SPEC.md, "Deltas"); from here on it is judged as that state.
        var records = request.records
        for delta in request.deltas {
            guard let stored = known.stored[delta.id] else {
                refusals.add(.deltaWithoutBase, delta.id,
                             "record \(delta.id): the server holds no state of it to fill this delta in from; send the record whole")
                continue
            }
            let whole = RecordDelta.expand(delta, over: stored)
            // Its required fields, once filled in (a record outside the pusher's scopes is
            // refused by judge without being described).
            if pusher.scopes.contains(stored.scope), stored.type == delta.type, let schema = push.schemas.named(delta.type) {
                for error in schema.missingRequired(in: whole) { refusals.add(.invalidRecord, delta.id, field: error.field, error.description) }
            }
            records.append(whole)
        }
        var inBatch: [String: RecordState] = [:]
        for record in records { inBatch[record.id] = record }
        for record in records {
            merged.append(judge(record, pusher: pusher, replica: request.replica, schemas: push.schemas, inputs: known,
                                inBatch: inBatch, refusals: &refusals))
        }
        if let problem = refusals.problem(role: pusher.role, replica: request.replica) { throw problem }
        let states = merged.compactMap { $0 }
        guard states.count == records.count else {
            throw Problem(type: .internal, status: 500, detail: "the server could not judge this batch; nothing was stored")
        }
        return (states, recovered)
    }

    /// Every problem of one record against its stored state; the merged state when the
    /// record has none.
    static func judge(_ record: RecordState, pusher: Pusher, replica: String, schemas: SchemaSet, inputs: Inputs,
                      inBatch: [String: RecordState], refusals: inout Refusals) -> RecordState? {
        let id = record.id
        let stored = inputs.stored[id]
        if let stored {
            // A record outside the pusher's scopes, or of a type its role may not read, is
            // not named, typed or placed: the answer is the same whatever the id holds there.
            guard pusher.scopes.contains(stored.scope), schemas.mayReadStored(stored.type, as: pusher.role) else {
                refusals.add(.invalidRecord, id,
                             "record \(id) cannot be written by this device: its id is taken by a record outside this device's scopes; a new record needs a new id")
                return nil
            }
            guard stored.type == record.type, stored.scope == record.scope else {
                refusals.add(.invalidRecord, id,
                             "record \(id) is a \(stored.type) in scope \(stored.scope) on the server; its type and scope are fixed at creation")
                return nil
            }
        }
        guard let schema = schemas.named(record.type) else { return nil }
        let known = stored ?? RecordState(id: id, type: record.type, scope: record.scope)
        let before = refusals.total

        // A goal belongs to a care plan this device can read, in the plan's own scope.
        if case .inheritedFrom(let field) = schema.scopeRule, case .reference(let parentType)? = schema.field(field)?.kind {
            for entry in record.entries(of: field) where !known.context.contains(entry.dot) {
                guard case .string(let parentID) = entry.value else { continue }
                guard let parent = inputs.stored[parentID] ?? inBatch[parentID], parent.type == parentType,
                      pusher.scopes.contains(parent.scope), schemas.mayReadStored(parent.type, as: pusher.role) else {
                    refusals.add(.invalidRecord, id, field: field,
                                 "\(record.type) \(id), field \(field): \(parentID) is not a \(parentType) this device can read; push the \(parentType) first, or pick one in this device's scopes")
                    continue
                }
                if parent.scope != record.scope {
                    refusals.add(.invalidRecord, id, field: field,
                                 "\(record.type) \(id): its scope \(record.scope) differs from its \(parentType)'s scope \(parent.scope); a \(record.type) takes its \(parentType)'s scope")
                }
            }
        }

        // The context: only the pusher's own counter may run ahead of the server's.
        for (other, counter) in record.context.counters where other != replica && counter > known.context[other] {
            refusals.add(.forgedDot, id, "context counts \(counter) edits by replica \(other); the server knows \(known.context[other])")
        }
        if record.context[replica] < known.context[replica] {
            refusals.add(.dotReused, id,
                         "this device counts \(record.context[replica]) of its own edits; the server already has \(known.context[replica])")
        }

        // Every entry: a new one (its dot unseen by the server) is the pusher's own, names
        // the token's user, and writes what the role may write; a known one is unchanged.
        for (field, entries) in record.fields {
            let fieldSchema = schema.field(field)
            let held = known.entries(of: field)
            for entry in entries {
                if known.context.contains(entry.dot) {
                    if let match = Self.entry(with: entry.dot, in: held) {
                        if !match.isIdentical(to: entry) {
                            refusals.add(.dotReused, id, field: field, "edit \(entry.dot) is already on the server with another value")
                        }
                    } else if entry.dot.replica == replica && held.isEmpty {
                        // An edit of this field under that dot would be held, or replaced by
                        // a later entry of the field: the server never had this one.
                        refusals.add(.dotReused, id, field: field,
                                     "edit \(entry.dot) writes \(field), which the server has never held, under a dot it has already seen")
                    }
                } else if entry.dot.replica != replica {
                    refusals.add(.forgedDot, id, field: field, "edit \(entry.dot) belongs to replica \(entry.dot.replica), not to this device")
                } else if !entry.author.hasSameUTF8(as: pusher.user) {
                    refusals.add(.forgedAuthor, id, field: field,
                                 "edit \(entry.dot) names another author; new edits carry this token's user, \(pusher.user)")
                } else if let now = inputs.now, entry.time > now.addingTimeInterval(PushPolicy.maxClockSkew) {
                    refusals.add(.invalidRecord, id, field: field,
                                 "edit \(entry.dot) is dated \(InternetTime.format(entry.time)), more than a day after the server's clock; set this device's clock right and edit again")
                } else if let fieldSchema, !fieldSchema.permits(pusher.role, toWrite: entry.value) {
                    refusals.add(.fieldForbidden, id, field: field, Self.forbidden(fieldSchema, role: pusher.role, value: entry.value))
                }
            }
        }
        guard let merged = try? known.merged(with: record) else { return nil }

        // What the merge removes from a stored field, the push replaced by a new edit of its
        // own in that field, which may replace it.
        for (field, held) in known.fields {
            let kept = merged.entries(of: field)
            if kept == held { continue }
            let keptDots = Set(kept.map(\.dot))
            let removed = held.filter { !keptDots.contains($0.dot) }
            guard let first = removed.first else { continue }
            let pushed = record.entries(of: field)
            let fresh = pushed.filter { !known.context.contains($0.dot) }
            if fresh.isEmpty {
                let heldDots = Set(held.map(\.dot))
                if let stale = pushed.first(where: { $0.dot.replica == replica && !heldDots.contains($0.dot) }) {
                    refusals.add(.dotReused, id, field: field,
                                 "edit \(stale.dot) would replace \(field), but the server has seen \(stale.dot) already")
                } else {
                    refusals.add(.entryOmitted, id, field: field,
                                 "the push leaves out \(removed.count) value(s) of \(field) the server holds (edit \(first.dot)) without a new edit of \(field)")
                }
            } else if let fieldSchema = schema.field(field),
                      let decision = removed.first(where: { !fieldSchema.permits(pusher.role, toReplace: $0.value) }) {
                refusals.add(.fieldForbidden, id, field: field,
                             "the \(pusher.role.rawValue) role may not replace \(field) = \(decision.value); that decision belongs to the office")
            }
        }

        // The merged state keeps every required field and stays within the limits.
        // (A stored record without it came from a set in which it was optional: not this push's doing.)
        for required in schema.requiredFields where (merged.value(of: required.name) ?? .null).isNull
            && (stored == nil || !(known.value(of: required.name) ?? .null).isNull) {
            refusals.add(.dotReused, id, field: required.name,
                         "merging this state with the server's would leave \(required.name) without a value, which only happens when edits are named twice")
        }
        for (field, entries) in merged.fields
        where entries.count > SyncLimits.maxEntriesPerField && entries.count > known.entries(of: field).count {
            refusals.add(.invalidRecord, id, field: field,
                         "\(record.type) \(id), field \(field): would hold \(entries.count) concurrent values, at most \(SyncLimits.maxEntriesPerField); resolve the conflict first")
        }
        // The whole record within its size, unless it was already beyond and does not grow
        // (a device pushing back what others made it is not refused for it).
        let mergedBytes = merged.valueBytes
        if mergedBytes > SyncLimits.maxRecordValueBytes && mergedBytes > known.valueBytes {
            refusals.add(.invalidRecord, id,
                         "\(record.type) \(id): its values would hold \(mergedBytes) bytes together; a record holds at most \(SyncLimits.maxRecordValueBytes / 1_048_576) MiB")
        }
        return refusals.total == before ? merged : nil
    }

    /// The answer to a push whose token is bound to another replica.
    public static func replicaMismatch(tokenID: String, bound: String, pushed: String) -> Problem {
        Problem(type: .replicaMismatch, status: 403,
                detail: "token \(tokenID) belongs to replica \(bound), not \(pushed); each device needs its own token (ask the office)")
    }

    /// The entry with `dot` in a field's entries (sorted by dot, one per dot).
    static func entry(with dot: Dot, in entries: [FieldEntry]) -> FieldEntry? {
        var low = 0, high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].dot < dot { low = middle + 1 } else { high = middle }
        }
        return low < entries.count && entries[low].dot == dot ? entries[low] : nil
    }

    static func forbidden(_ field: FieldSchema, role: Role, value: FieldValue) -> String {
        if !field.writers.contains(role) {
            return "the \(role.rawValue) role may not write \(field.name); it belongs to the office"
        }
        if let text = field.restrictedValue(in: value, notFor: role) {
            return "the \(role.rawValue) role may not set \(field.name) to '\(text)'; that decision belongs to the office"
        }
        return "the \(role.rawValue) role may not write \(field.name)"
    }
}

extension FieldEntry {
    /// The same entry to the byte: Swift's `==` on strings takes canonically equivalent
    /// text as equal, but a dot names exactly one byte sequence.
    func isIdentical(to other: FieldEntry) -> Bool {
        guard dot == other.dot, time == other.time, author.hasSameUTF8(as: other.author) else { return false }
        switch (value, other.value) {
        case (.string(let a), .string(let b)): return a.hasSameUTF8(as: b)
        case (.strings(let a), .strings(let b)): return a.count == b.count && zip(a, b).allSatisfy { $0.hasSameUTF8(as: $1) }
        default: return value == other.value
        }
    }
}

extension RecordState {
    /// UTF-8 bytes of all values of every entry together (what the 4 MiB limit counts).
    public var valueBytes: Int { fields.values.reduce(0) { $0 + $1.reduce(0) { $0 + $1.value.utf8Count } } }
}

extension String {
    /// The same bytes (Swift's `==` takes canonically equivalent text as equal), compared
    /// as one block of memory rather than byte by byte.
    func hasSameUTF8(as other: String) -> Bool {
        var a = self, b = other
        return a.withUTF8 { left in
            b.withUTF8 { right in
                left.count == right.count && (left.isEmpty || memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0)
            }
        }
    }
}
