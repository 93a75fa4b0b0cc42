import Foundation
import GRDB
import VeldProtocol

/// A record as stored: its full state as stable JSON, plus the columns queries filter on.
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
    var state: String
    var status: String?
    var deleted: Bool
    var hasConflicts: Bool
    var createdAt: Date
    var updatedAt: Date

    init(_ record: RecordState, createdAt: Date, updatedAt: Date) throws {
        id = record.id
        type = record.type
        scope = record.scope
        state = String(decoding: try StableJSON.encode(record), as: UTF8.self)
        status = record.statusColumn
        deleted = record.isDeleted
        hasConflicts = record.hasConflicts
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    func decoded() throws -> RecordState {
        try StableJSON.decode(RecordState.self, from: Data(state.utf8))
    }
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
    /// What the `status` column holds: the shown status, when it is text.
    var statusColumn: String? {
        if case .string(let text)? = value(of: "status") { return text }
        return nil
    }
}
