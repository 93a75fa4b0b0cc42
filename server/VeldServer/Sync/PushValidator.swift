import Foundation
import VeldProtocol

/// Decides whether a push batch may be merged, before anything is written. Pure: the
/// stored states come in, a `Problem` goes out.
///
/// A batch is refused as a whole when any record in it
/// - does not fit its schema, or claims another type or scope than the stored record (422);
/// - lies in a scope the token lacks (403 `scope-forbidden`);
/// - carries a new edit (a dot the server has not seen) of a field or value the token's
///   role may not write (403 `field-forbidden`);
/// - carries a dot the server has not seen that is not the pusher's own, or a context
///   entry of another replica beyond what the server knows: forging another device's edit
///   or suppressing its future edits (403 `forged-dot`);
/// - carries a dot the server holds with a different value, or counts the pusher's own
///   edits lower than the server already has: a replica id reused after a restore from a
///   backup (409 `dot-reused`).
struct PushValidator {
    let token: DeviceToken
    let replica: String

    func validate(_ records: [RecordState], stored: [String: RecordState]) throws(Problem) {
        try validate(records, batch: BatchMerge.merge(records, into: stored))
    }

    /// `batch` is `records` merged into the stored states: a record that appears once is
    /// checked against that merge rather than merged a second time.
    func validate(_ records: [RecordState], batch: MergedBatch) throws(Problem) {
        let stored = batch.stored
        var invalid: [Problem.Item] = []
        var outOfScope: [Problem.Item] = []
        var forbiddenFields: [Problem.Item] = []
        var forged: [Problem.Item] = []
        var reused: [Problem.Item] = []

        // A record may appear more than once in a batch; its copies must agree on identity
        // and on what each dot means.
        var firstCopy: [String: RecordState] = [:]
        for record in records {
            guard let first = firstCopy[record.id] else { firstCopy[record.id] = record; continue }
            if first.type != record.type || first.scope != record.scope {
                invalid.append(Problem.Item(id: record.id, reason:
                    "record \(record.id) appears twice in the batch, as a \(first.type) in \(first.scope) and a \(record.type) in \(record.scope)"))
            }
            for dot in first.dotsWithDifferentEntries(in: record) {
                reused.append(Problem.Item(id: record.id, reason: "edit \(dot) appears twice in the batch with different values"))
            }
        }

        for record in records {
            for error in Schemas.validate(record) {
                invalid.append(Problem.Item(id: record.id, field: error.field, reason: error.description))
            }
            if let existing = stored[record.id], existing.type != record.type || existing.scope != record.scope {
                invalid.append(Problem.Item(id: record.id, reason:
                    "record \(record.id) is a \(existing.type) in scope \(existing.scope) on the server; its type and scope are fixed at creation"))
            }
            if !token.mayAccess(scope: record.scope) {
                outOfScope.append(Problem.Item(id: record.id, reason: "scope \(record.scope)"))
            }
            let known = stored[record.id] ?? RecordState(id: record.id, type: record.type, scope: record.scope)
            for (other, counter) in record.context.counters where other != replica && counter > known.context[other] {
                forged.append(Problem.Item(id: record.id, reason:
                    "context counts \(counter) edits by replica \(other); the server knows \(known.context[other])"))
            }
            if record.context[replica] < known.context[replica] {
                reused.append(Problem.Item(id: record.id, reason:
                    "this device counts \(record.context[replica]) of its own edits; the server already has \(known.context[replica])"))
            }
            if stored[record.id] != nil, let merged = batch.mergedWithStored(record.id) ?? (try? known.merged(with: record)) {
                for error in Schemas.validate(merged) where error.problem == .missingRequired {
                    reused.append(Problem.Item(id: record.id, field: error.field, reason:
                        "merging this state with the server's would leave \(error.field ?? "a field") without a value, which only happens when edits are named twice"))
                }
            }
            let schema = Schemas.named(record.type)
            for (field, entries) in record.fields.sorted(by: { $0.key < $1.key }) {
                for entry in entries {
                    if known.context.contains(entry.dot) {
                        if let held = known.entries(of: field).first(where: { $0.dot == entry.dot }), held != entry {
                            reused.append(Problem.Item(id: record.id, field: field, reason:
                                "edit \(entry.dot) is already on the server with another value"))
                        }
                    } else if entry.dot.replica != replica {
                        forged.append(Problem.Item(id: record.id, field: field, reason:
                            "edit \(entry.dot) belongs to replica \(entry.dot.replica), not to this device"))
                    } else if let fieldSchema = schema?.field(field),
                              (!fieldSchema.permits(token.role, toWrite: entry.value) && !Self.reasserts(entry.value, field: field, in: known))
                                || known.entries(of: field).contains(where: { held in
                                    // An office value this edit replaces (it saw it and drops it).
                                    record.context.contains(held.dot) && !entries.contains(held) && held.value != entry.value
                                        && !fieldSchema.permits(token.role, toReplace: held.value)
                                }) {
                        forbiddenFields.append(Problem.Item(id: record.id, field: field, reason:
                            "the \(token.role.rawValue) role may not write \(field)" + (entry.value.isNull ? "" : " = \(entry.value)")))
                    }
                }
            }
        }

        func names(_ items: [Problem.Item]) -> String {
            let listed = items.prefix(3).map { item in item.field.map { "\(item.id) (\($0))" } ?? item.id }
            return listed.joined(separator: ", ") + (items.count > 3 ? " and \(items.count - 3) more" : "")
        }
        if !invalid.isEmpty {
            throw Problem(type: .invalidRecord, status: 422,
                          detail: "\(invalid.count) problem(s) in the batch, nothing was stored: \(invalid[0].reason)", records: invalid)
        }
        if !outOfScope.isEmpty {
            let scopes = Set(outOfScope.map(\.reason)).sorted().joined(separator: ", ")
            throw Problem(type: .scopeForbidden, status: 403,
                          detail: "\(scopes) not in this device's token (records \(names(outOfScope))); ask the office for access. Nothing was stored.",
                          records: outOfScope)
        }
        if !forbiddenFields.isEmpty {
            throw Problem(type: .fieldForbidden, status: 403,
                          detail: "the \(token.role.rawValue) role may not write \(names(forbiddenFields)); those decisions belong to the office. Nothing was stored.",
                          records: forbiddenFields)
        }
        if !forged.isEmpty {
            throw Problem(type: .forgedDot, status: 403,
                          detail: "the batch carries edits or counters of other replicas that the server has not seen (\(names(forged))); a device may only send its own new edits. Nothing was stored.",
                          records: forged)
        }
        if !reused.isEmpty {
            throw Problem(type: .dotReused, status: 409,
                          detail: "replica \(replica) sends edits that clash with what the server already has from it (\(names(reused))); this profile was probably restored from a backup or copied. Make a new profile with `veld init` (a new replica id) and re-enter the unsynced changes. Nothing was stored.",
                          records: reused)
        }
    }

    /// Whether `value` leaves `field` as the server already has it: a delete re-asserts
    /// every field, and re-asserting the office's decision is not making one.
    static func reasserts(_ value: FieldValue, field: String, in known: RecordState) -> Bool {
        let held = known.entries(of: field)
        return held.contains { $0.value == value } || (value.isNull && held.isEmpty)
    }
}
