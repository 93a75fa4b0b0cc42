import Foundation
import GRDB
import VeldProtocol

/// A record as stored: its full state, sealed (see `LocalStore+Encryption`), plus the
/// columns queries filter on.
struct RecordRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "record"

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let type = Column(CodingKeys.type)
        static let scope = Column(CodingKeys.scope)
        static let status = Column(CodingKeys.status)
        static let deleted = Column(CodingKeys.deleted)
        static let hasConflicts = Column(CodingKeys.hasConflicts)
        static let createdAt = Column(CodingKeys.createdAt)
    }

    var id: String
    var type: String
    var scope: String
    /// The state's stable JSON, sealed with AES-GCM under the profile's data key.
    var sealedState: Data
    var status: String?
    var deleted: Bool
    var hasConflicts: Bool
    var createdAt: Date
    var updatedAt: Date
}

struct OutboxRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "outbox"
    var recordID: String
    var counter: UInt64
    var queuedAt: Date
    /// The server's refusal (a `Problem` in stable JSON) while the change is set aside.
    var parkedProblem: String?
    var parkedAt: Date?
}

extension RecordState {
    /// What the `status` column holds, in plain text: the shown status, when it is one
    /// of the schema's choices (never free text; anything else stays sealed alone).
    var statusColumn: String? {
        guard case .string(let text)? = value(of: "status"), case .choice(let choices)? = Schemas.named(type)?.field("status")?.kind,
              choices.contains(text) else { return nil }
        return text
    }
}
