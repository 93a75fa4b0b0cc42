import Foundation
import VeldProtocol

/// A typed view of one record type, mapped to and from `RecordState` through its schema.
/// What a phone app's screens bind to; the sync engine never needs it.
///
/// ```swift
/// let note = VisitNote(scope: "loc-zonnehof", visitedAt: "2026-11-20", visitor: "anna",
///                      kind: "werkbezoek", summary: "Rondgang huiskamer")
/// let saved = try store.insert(note)
/// let again = try VisitNote(state: store.record(saved.id))
/// ```
public protocol RecordModel: Sendable, Hashable {
    static var schema: RecordSchema { get }
    var id: String { get }
    var scope: String { get }
    /// Reads the shown value of every field. Throws if the state is of another type or a
    /// required field is missing.
    init(state: RecordState) throws
    /// The model's fields as values; fields without a value are left out.
    var fieldValues: [String: FieldValue] { get }
}

/// Reads typed values out of a state, with errors that name the field.
struct FieldReader {
    let state: RecordState
    let schema: RecordSchema

    init(_ state: RecordState, as schema: RecordSchema) throws {
        guard state.type == schema.type else {
            throw ValidationError(recordID: state.id, type: state.type,
                                  problem: .wrongShape(expected: "a \(schema.type) record", got: "a \(state.type)"))
        }
        self.state = state
        self.schema = schema
    }

    func string(_ field: String) -> String? {
        if case .string(let text)? = state.value(of: field) { return text }
        return nil
    }

    func required(_ field: String) throws -> String {
        guard let text = string(field) else {
            throw ValidationError(recordID: state.id, type: state.type, field: field, problem: .missingRequired)
        }
        return text
    }

    func bool(_ field: String) -> Bool? {
        if case .bool(let flag)? = state.value(of: field) { return flag }
        return nil
    }

    func list(_ field: String) -> [String] {
        if case .strings(let items)? = state.value(of: field) { return items }
        return []
    }
}

/// Builds the field values of a model, leaving out what is unset.
struct FieldWriter {
    private(set) var values: [String: FieldValue] = [:]

    mutating func set(_ field: String, _ text: String?) {
        if let text { values[field] = .string(text) }
    }

    mutating func set(_ field: String, _ flag: Bool?) {
        if let flag { values[field] = .bool(flag) }
    }

    mutating func set(_ field: String, _ items: [String]) {
        if !items.isEmpty { values[field] = .strings(items) }
    }
}

extension LocalStore {
    /// Stores a new record made from `model` and returns it as stored.
    @discardableResult
    public func insert<Model: RecordModel>(_ model: Model) throws -> Model {
        let scope: String? = Model.schema.parentField == nil ? model.scope : nil
        let state = try create(type: Model.schema.type, scope: scope, fields: model.fieldValues, id: model.id)
        return try Model(state: state)
    }

    /// Every record of `Model`'s type that matches `query` (its type is set for you).
    public func all<Model: RecordModel>(_ model: Model.Type, _ query: RecordQuery = RecordQuery()) throws -> [Model] {
        var query = query
        query.type = Model.schema.type
        return try records(query).map(Model.init(state:))
    }
}
