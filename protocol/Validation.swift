import Foundation

/// Why a record, or a change to one, is not acceptable: which record, which field, and
/// what was expected. Its description is a sentence a person can act on.
public struct ValidationError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Problem: Hashable, Sendable {
        /// A type in no module of the set in force, which has the `known` types.
        case unknownType(known: [String])
        case invalidID
        case invalidScope(String, expected: String)
        case unknownField(allowed: [String])
        case wrongShape(expected: String, got: String)
        case notAChoice(String, allowed: [String])
        case repeatedChoice(String)
        case invalidDate(String)
        case invalidReference(String)
        case missingRequired
        case emptyText
        case looksLikeBSN
        case notPermitted(role: Role, value: String?)
        case fractionalTime(Dot)
        case dotOutsideContext(Dot)
    }

    public let recordID: String
    public let type: String
    public let field: String?
    public let problem: Problem

    public init(recordID: String, type: String, field: String? = nil, problem: Problem) {
        self.recordID = recordID
        self.type = type
        self.field = field
        self.problem = problem
    }

    public var description: String {
        let subject = field.map { "\(type) \(recordID), field \($0)" } ?? "\(type) \(recordID)"
        switch problem {
        case .unknownType(let known):
            return "record \(recordID): unknown record type '\(type)'; the module set in force has "
                + known.joined(separator: ", ") + " (GET /v1/schemas lists them; on a device `veld schema`, and `veld sync` fetches the newest set)"
        case .invalidID:
            return "record id '\(recordID)' is not a UUID"
        case .invalidScope(let scope, let expected):
            return "\(subject): scope '\(scope)' is not valid; expected \(expected)"
        case .unknownField(let allowed):
            return "\(subject): no such field; \(type) has " + allowed.joined(separator: ", ")
        case .wrongShape(let expected, let got):
            return "\(subject): expected \(expected), got \(got)"
        case .notAChoice(let value, let allowed):
            return "\(subject): '\(value)' is not allowed; expected one of " + allowed.joined(separator: ", ")
        case .repeatedChoice(let value):
            return "\(subject): '\(value)' is listed twice"
        case .invalidDate(let value):
            return "\(subject): '\(value)' is not a date; expected YYYY-MM-DD, e.g. 2026-11-20"
        case .invalidReference(let value):
            return "\(subject): '\(value)' is not a record id (a UUID)"
        case .missingRequired:
            return "\(subject) is required"
        case .emptyText:
            return "\(subject) is empty; leave it out or clear it instead"
        case .looksLikeBSN:
            return "\(subject) looks like a BSN; use the pseudonymous client code, never a BSN"
        case .dotOutsideContext(let dot):
            return "\(subject): edit \(dot) is not covered by the record's own context; a state always counts the edits it holds"
        case .fractionalTime(let dot):
            return "\(subject): edit \(dot) has a time with fractions of a second; Veld times are whole seconds (2026-11-20T09:00:00Z)"
        case .notPermitted(let role, let value):
            if let value {
                return "\(subject): the \(role.rawValue) role may not set '\(value)'; that decision belongs to the office"
            }
            return "\(subject): the \(role.rawValue) role may not write this field; it belongs to the office"
        }
    }
}

extension RecordSchema {
    /// Every problem with `state`: identity, fields, the shape and meaning of every
    /// entry (concurrent ones included), and required fields (which need a non-null
    /// shown value).
    public func validate(_ state: RecordState, partial: Bool = false) -> [ValidationError] {
        var errors: [ValidationError] = []
        func fail(_ field: String?, _ problem: ValidationError.Problem) {
            errors.append(ValidationError(recordID: state.id, type: state.type, field: field, problem: problem))
        }
        if !RecordIDs.isValid(state.id) { fail(nil, .invalidID) }
        if let expected = scopeProblem(state.scope) { fail(nil, .invalidScope(state.scope, expected: expected)) }
        for field in state.fields.keys.sorted() {
            guard let schema = self.field(field) else {
                fail(field, .unknownField(allowed: fieldNames))
                continue
            }
            for entry in state.entries(of: field) {
                errors += schema.check(entry.value, recordID: state.id, type: state.type)
                if entry.time != WallClock.truncate(entry.time) { fail(field, .fractionalTime(entry.dot)) }
                if !state.context.contains(entry.dot) { fail(field, .dotOutsideContext(entry.dot)) }
            }
        }
        if !partial { errors += missingRequired(in: state) }
        return errors
    }

    /// The required fields `state` leaves empty.
    public func missingRequired(in state: RecordState) -> [ValidationError] {
        requiredFields.filter { (state.value(of: $0.name) ?? .null).isNull }.map { field in
            ValidationError(recordID: state.id, type: state.type, field: field.name, problem: .missingRequired)
        }
    }

    /// Problems with `changes` written by `role`: unknown fields, bad values, and fields
    /// or values the role may not write.
    public func validateChanges(_ changes: [String: FieldValue], role: Role, recordID: String) -> [ValidationError] {
        var errors: [ValidationError] = []
        for (name, value) in changes.sorted(by: { $0.key < $1.key }) {
            guard let schema = field(name) else {
                errors.append(ValidationError(recordID: recordID, type: type, field: name,
                                              problem: .unknownField(allowed: fieldNames)))
                continue
            }
            let valueErrors = schema.check(value, recordID: recordID, type: type)
            errors += valueErrors
            if valueErrors.isEmpty, !schema.permits(role, toWrite: value) {
                let restricted = schema.restrictedValue(in: value, notFor: role)
                errors.append(ValidationError(recordID: recordID, type: type, field: name,
                                              problem: .notPermitted(role: role, value: restricted)))
            }
        }
        return errors
    }

    /// Nil if `scope` fits this type; otherwise what was expected.
    public func scopeProblem(_ scope: String) -> String? {
        guard Scopes.isValid(scope) else {
            return "lowercase letters, digits and '-', like loc-zonnehof or org-bezinn"
        }
        switch scopeRule {
        case .location:
            return scope.hasPrefix("loc-") ? nil : "a location scope (loc-…)"
        case .organisationOrLocation:
            return scope.hasPrefix("loc-") || scope.hasPrefix("org-") ? nil : "an organisation (org-…) or location (loc-…) scope"
        case .inheritedFrom:
            return nil
        }
    }
}

extension FieldSchema {
    /// Problems with one value of this field. Null is always acceptable here (clearing a
    /// field); whether a required field may end up null is checked on the whole record.
    public func check(_ value: FieldValue, recordID: String, type: String) -> [ValidationError] {
        func fail(_ problem: ValidationError.Problem) -> [ValidationError] {
            [ValidationError(recordID: recordID, type: type, field: name, problem: problem)]
        }
        if value.isNull { return [] }
        switch (kind, value) {
        case (.text, .string(let text)):
            // Only whitespace? (Most text fails this on its first character; Foundation's
            // trimming would copy the whole of it first.)
            if text.unicodeScalars.allSatisfy(Self.isInvisible) { return fail(.emptyText) }
            if name == "clientCode", Self.looksLikeBSN(text) { return fail(.looksLikeBSN) }
            return []
        case (.date, .string(let text)):
            return CalendarDate.isValid(text) ? [] : fail(.invalidDate(text))
        case (.choice(let allowed), .string(let text)):
            // The error lists what a form offers: a retired value stays valid, but is not suggested.
            return allowed.contains(text) ? [] : fail(.notAChoice(text, allowed: offeredValues))
        case (.bool, .bool):
            return []
        case (.reference, .string(let text)):
            return RecordIDs.isValid(text) ? [] : fail(.invalidReference(text))
        case (.choices(let allowed), .strings(let list)):
            if let bad = list.first(where: { !allowed.contains($0) }) { return fail(.notAChoice(bad, allowed: offeredValues)) }
            var seen: Set<String> = []
            if let repeated = list.first(where: { !seen.insert($0).inserted }) { return fail(.repeatedChoice(repeated)) }
            return []
        default:
            return fail(.wrongShape(expected: kind.description, got: value.shapeName))
        }
    }

    /// Whitespace and characters that show nothing (zero-width spaces and joiners, the
    /// byte-order mark, direction marks, soft hyphens): text made only of these is empty,
    /// and they never hide a BSN.
    static func isInvisible(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace || scalar.properties.generalCategory == .format
            || scalar.properties.isDefaultIgnorableCodePoint
    }

    /// Nine digits (of any script) that pass the BSN eleven-test, whatever separators
    /// (spaces, dots, dashes) or invisible characters stand between them.
    static func looksLikeBSN(_ text: String) -> Bool {
        let visible = String(String.UnicodeScalarView(text.unicodeScalars.filter { !isInvisible($0) }))
        let digits = visible.filter(\.isNumber)
        guard digits.count == 9,
              digits.count == visible.filter({ !$0.isWhitespace && !"._-‐‑‒–—/".contains($0) }).count else { return false }
        let values = digits.compactMap { $0.wholeNumberValue }
        var sum = 0
        for (index, digit) in values.enumerated() {
            sum += (index == 8 ? -1 : 9 - index) * digit
        }
        return sum % 11 == 0
    }
}

extension Schemas {
    /// Validates `state` against the schema of its type in the built-in set.
    public static func validate(_ state: RecordState) -> [ValidationError] { SchemaSet.builtIn.validate(state) }
}

/// Record ids: lowercase UUIDs.
public enum RecordIDs {
    public static func isValid(_ id: String) -> Bool {
        id.count == 36 && UUID(uuidString: id) != nil && id == id.lowercased()
    }

    public static func make() -> String { UUID().uuidString.lowercased() }
}

/// Scope names: `loc-zonnehof`, `org-bezinn`.
public enum Scopes {
    public static func isValid(_ scope: String) -> Bool {
        guard (1...64).contains(scope.utf8.count), let first = scope.unicodeScalars.first,
              first.properties.isLowercase || ("0"..."9").contains(first) else { return false }
        return scope.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "." || $0 == "_" }
    }
}

/// Calendar dates as `YYYY-MM-DD` strings, checked without a Calendar so the check is the
/// same on every platform.
public enum CalendarDate {
    public static func isValid(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.utf8.count == 10, parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              (1...12).contains(month), day >= 1 else { return false }
        return day <= daysIn(month: month, year: year)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}
