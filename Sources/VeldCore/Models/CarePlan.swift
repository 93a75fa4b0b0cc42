import VeldProtocol

/// A client's care plan (`carePlan`). The client is known by a pseudonymous code only.
/// `approvedBy` and the status `vastgesteld` are the office's.
public struct CarePlan: RecordModel {
    public static let schema = Schemas.carePlan

    public var id: String
    public var scope: String
    public var clientCode: String
    public var financing: String
    public var careStart: String
    public var lastDiscussedAt: String?
    public var participants: [String]
    public var riskAssessment: String?
    public var agreements: String?
    public var status: String
    public var approvedBy: String?

    public init(id: String = RecordIDs.make(), scope: String, clientCode: String, financing: String,
                careStart: String, lastDiscussedAt: String? = nil, participants: [String] = [],
                riskAssessment: String? = nil, agreements: String? = nil, status: String = "concept",
                approvedBy: String? = nil) {
        self.id = id
        self.scope = scope
        self.clientCode = clientCode
        self.financing = financing
        self.careStart = careStart
        self.lastDiscussedAt = lastDiscussedAt
        self.participants = participants
        self.riskAssessment = riskAssessment
        self.agreements = agreements
        self.status = status
        self.approvedBy = approvedBy
    }

    public init(state: RecordState) throws {
        let read = try FieldReader(state, as: Self.schema)
        self.init(id: state.id, scope: state.scope, clientCode: try read.required("clientCode"),
                  financing: try read.required("financing"), careStart: try read.required("careStart"),
                  lastDiscussedAt: read.string("lastDiscussedAt"), participants: read.list("participants"),
                  riskAssessment: read.string("riskAssessment"), agreements: read.string("agreements"),
                  status: try read.required("status"), approvedBy: read.string("approvedBy"))
    }

    public var fieldValues: [String: FieldValue] {
        var write = FieldWriter()
        write.set("clientCode", clientCode)
        write.set("financing", financing)
        write.set("careStart", careStart)
        write.set("lastDiscussedAt", lastDiscussedAt)
        write.set("participants", participants)
        write.set("riskAssessment", riskAssessment)
        write.set("agreements", agreements)
        write.set("status", status)
        write.set("approvedBy", approvedBy)
        return write.values
    }
}
