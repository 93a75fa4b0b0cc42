import VeldProtocol

/// Notes of a visit to a location (`visitNote`). Dates are `YYYY-MM-DD`.
public struct VisitNote: RecordModel {
    public static let schema = Schemas.visitNote

    public var id: String
    public var scope: String
    public var visitedAt: String
    public var visitor: String
    public var kind: String
    public var summary: String
    public var observations: String?
    public var themes: [String]
    public var councilInvolved: Bool?
    public var followUp: String?
    public var followUpDue: String?
    public var status: String

    public init(id: String = RecordIDs.make(), scope: String, visitedAt: String, visitor: String, kind: String,
                summary: String, observations: String? = nil, themes: [String] = [], councilInvolved: Bool? = nil,
                followUp: String? = nil, followUpDue: String? = nil, status: String = "concept") {
        self.id = id
        self.scope = scope
        self.visitedAt = visitedAt
        self.visitor = visitor
        self.kind = kind
        self.summary = summary
        self.observations = observations
        self.themes = themes
        self.councilInvolved = councilInvolved
        self.followUp = followUp
        self.followUpDue = followUpDue
        self.status = status
    }

    public init(state: RecordState) throws {
        let read = try FieldReader(state, as: Self.schema)
        self.init(id: state.id, scope: state.scope, visitedAt: try read.required("visitedAt"),
                  visitor: try read.required("visitor"), kind: try read.required("kind"),
                  summary: try read.required("summary"), observations: read.string("observations"),
                  themes: read.list("themes"), councilInvolved: read.bool("councilInvolved"),
                  followUp: read.string("followUp"), followUpDue: read.string("followUpDue"),
                  status: try read.required("status"))
    }

    public var fieldValues: [String: FieldValue] {
        var write = FieldWriter()
        write.set("visitedAt", visitedAt)
        write.set("visitor", visitor)
        write.set("kind", kind)
        write.set("summary", summary)
        write.set("observations", observations)
        write.set("themes", themes)
        write.set("councilInvolved", councilInvolved)
        write.set("followUp", followUp)
        write.set("followUpDue", followUpDue)
        write.set("status", status)
        return write.values
    }
}
