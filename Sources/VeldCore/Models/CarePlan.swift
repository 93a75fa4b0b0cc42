import VeldProtocol

/// A client's care plan (`carePlan`). The client is known by a pseudonymous code only.
/// What is agreed with the client (`agreedWith`, `agreedOn`, `responsibleProfessional`)
/// is the carers'; `reviewedBy`, `reviewedOn` and the status `vastgesteld` are the office's.
/// `financing` and `approvedBy` are retired (veld-core 3): still read, no longer asked
/// for; `law` and `deliveryForm` say what `financing` mixed up.
public struct CarePlan: RecordModel {
    public static let schema = Schemas.carePlan

    public var id: String
    public var scope: String
    public var clientCode: String
    /// Retired: a law and a delivery form in one value (`pgb` is a delivery form under several laws).
    public var financing: String?
    public var law: String?
    public var deliveryForm: String?
    public var financier: String?
    public var careStart: String
    public var lastDiscussedAt: String?
    public var participants: [String]
    public var riskAssessment: String?
    public var agreements: String?
    public var agreedWith: [String]
    public var agreedOn: String?
    public var responsibleProfessional: String?
    public var nextEvaluationDue: String?
    public var status: String
    /// Retired: the office's review is `reviewedBy` and `reviewedOn`.
    public var approvedBy: String?
    public var reviewedBy: String?
    public var reviewedOn: String?

    public init(id: String = RecordIDs.make(), scope: String, clientCode: String, financing: String? = nil,
                law: String? = nil, deliveryForm: String? = nil, financier: String? = nil,
                careStart: String, lastDiscussedAt: String? = nil, participants: [String] = [],
                riskAssessment: String? = nil, agreements: String? = nil, agreedWith: [String] = [],
                agreedOn: String? = nil, responsibleProfessional: String? = nil, nextEvaluationDue: String? = nil,
                status: String = "concept", approvedBy: String? = nil, reviewedBy: String? = nil,
                reviewedOn: String? = nil) {
        self.id = id
        self.scope = scope
        self.clientCode = clientCode
        self.financing = financing
        self.law = law
        self.deliveryForm = deliveryForm
        self.financier = financier
        self.careStart = careStart
        self.lastDiscussedAt = lastDiscussedAt
        self.participants = participants
        self.riskAssessment = riskAssessment
        self.agreements = agreements
        self.agreedWith = agreedWith
        self.agreedOn = agreedOn
        self.responsibleProfessional = responsibleProfessional
        self.nextEvaluationDue = nextEvaluationDue
        self.status = status
        self.approvedBy = approvedBy
        self.reviewedBy = reviewedBy
        self.reviewedOn = reviewedOn
    }

    public init(state: RecordState) throws {
        let read = try FieldReader(state, as: Self.schema)
        self.init(id: state.id, scope: state.scope, clientCode: try read.required("clientCode"),
                  financing: read.string("financing"), law: read.string("law"),
                  deliveryForm: read.string("deliveryForm"), financier: read.string("financier"),
                  careStart: try read.required("careStart"), lastDiscussedAt: read.string("lastDiscussedAt"),
                  participants: read.list("participants"), riskAssessment: read.string("riskAssessment"),
                  agreements: read.string("agreements"), agreedWith: read.list("agreedWith"),
                  agreedOn: read.string("agreedOn"), responsibleProfessional: read.string("responsibleProfessional"),
                  nextEvaluationDue: read.string("nextEvaluationDue"), status: try read.required("status"),
                  approvedBy: read.string("approvedBy"), reviewedBy: read.string("reviewedBy"),
                  reviewedOn: read.string("reviewedOn"))
    }

    public var fieldValues: [String: FieldValue] {
        var write = FieldWriter()
        write.set("clientCode", clientCode)
        write.set("financing", financing)
        write.set("law", law)
        write.set("deliveryForm", deliveryForm)
        write.set("financier", financier)
        write.set("careStart", careStart)
        write.set("lastDiscussedAt", lastDiscussedAt)
        write.set("participants", participants)
        write.set("riskAssessment", riskAssessment)
        write.set("agreements", agreements)
        write.set("agreedWith", agreedWith)
        write.set("agreedOn", agreedOn)
        write.set("responsibleProfessional", responsibleProfessional)
        write.set("nextEvaluationDue", nextEvaluationDue)
        write.set("status", status)
        write.set("approvedBy", approvedBy)
        write.set("reviewedBy", reviewedBy)
        write.set("reviewedOn", reviewedOn)
        return write.values
    }
}
