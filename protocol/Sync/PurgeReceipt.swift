import Foundation

/// What a device reports after it removed data on the office's word (`POST /v1/receipts`):
/// everything, when its token was revoked with `--wipe`; the records of scopes its token
/// no longer holds, when the office narrowed them; the records of types its role may not
/// read (a new token of another role, or a module set that keeps a type from its role).
///
/// ```json
/// {"id":"5d0c…","kind":"scopes","records":12,"scopes":["loc-de-linde"],"unsent":1}
/// ```
public struct PurgeReceipt: Codable, Hashable, Sendable {
    public enum Kind: String, Codable, Hashable, Sendable {
        /// Everything on the device was erased.
        case wipe
        /// The records of `scopes` were removed.
        case scopes
        /// The records of `types` were removed.
        case types
    }

    /// Made by the device (a lowercase UUID): the same receipt sent twice is recorded once.
    public var id: String
    public var kind: Kind
    /// The scopes whose records went (empty for a wipe).
    public var scopes: [String]
    /// The types whose records went (a `types` receipt only).
    public var types: [String]?
    /// Records removed from the device.
    public var records: Int
    /// Local changes that had not reached the server. After a wipe they are gone; after a
    /// scope removal the device keeps them in its discard log for the office.
    public var unsent: Int

    public init(id: String = RecordIDs.make(), kind: Kind, scopes: [String] = [], types: [String]? = nil, records: Int, unsent: Int) {
        self.id = id
        self.kind = kind
        self.scopes = scopes
        self.types = types
        self.records = records
        self.unsent = unsent
    }

    /// Why a receipt is not one the server records, or nil.
    public var problem: String? {
        if !RecordIDs.isValid(id) { return "id must be a lowercase UUID made by the device" }
        if !(0...100_000_000).contains(records) || !(0...100_000_000).contains(unsent) {
            return "records and unsent are counts from 0 to 100,000,000"
        }
        if unsent > records { return "unsent counts records that were removed: it cannot exceed records" }
        if kind != .types, types != nil { return "only a types receipt names types" }
        switch kind {
        case .wipe where !scopes.isEmpty: return "a wipe names no scopes"
        case .types where !scopes.isEmpty: return "a types receipt names no scopes"
        case .types where (types ?? []).isEmpty || (types ?? []).count > 1_000: return "a types receipt names 1 to 1,000 types"
        case .types where !(types ?? []).allSatisfy(RecordTypes.isValidName): return "types are record type names (carePlan)"
        case .scopes where scopes.isEmpty || scopes.count > 1_000: return "a scope removal names 1 to 1,000 scopes"
        case .scopes where !scopes.allSatisfy(Scopes.isValid): return "scopes are scope names (loc-zonnehof)"
        default: return nil
        }
    }
}

/// Record type names as modules spell them: camelCase letters and digits, 2 to 40.
public enum RecordTypes {
    public static func isValidName(_ name: String) -> Bool {
        name.range(of: "^[a-z][A-Za-z0-9]{1,39}$", options: .regularExpression) != nil
    }
}

/// The answer to `POST /v1/receipts`.
public struct ReceiptAnswer: Codable, Hashable, Sendable {
    public var id: String
    /// False when the server had this receipt already.
    public var recorded: Bool

    public init(id: String, recorded: Bool) {
        self.id = id
        self.recorded = recorded
    }
}
