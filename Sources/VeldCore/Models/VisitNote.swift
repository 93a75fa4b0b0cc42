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
    /// Kwaliteitskader Verpleeghuiszorg themes.
    public var themes: [String]
    /// Themes of the framework for the gehandicaptenzorg (its levels).
    public var gzThemes: [String]
    /// Retired (veld-core 3): whether the council was involved; `participation` says who.
    public var councilInvolved: Bool?
    /// Who took part: cliëntenraad, verwantenraad, adviesgroep, …, or `geen`.
    public var participation: [String]
    public var followUp: String?
    public var followUpDue: String?
    public var status: String

    public init(id: String = RecordIDs.make(), scope: String, visitedAt: String, visitor: String, kind: String,
                summary: String, observations: String? = nil, themes: [String] = [], gzThemes: [String] = [],
                councilInvolved: Bool? = nil, participation: [String] = [], followUp: String? = nil, followUpDue: String? = nil, status: String = "concept") {
        self.id = id
        self.scope = scope
        self.visitedAt = visitedAt
        self.visitor = visitor
        self.kind = kind
        self.summary = summary
        self.observations = observations
        self.themes = themes
        self.gzThemes = gzThemes
        self.councilInvolved = councilInvolved
        self.participation = participation
        self.followUp = followUp
        self.followUpDue = followUpDue
        self.status = status
    }

    public init(state: RecordState) throws {
        let read = try FieldReader(state, as: Self.schema)
        self.init(id: state.id, scope: state.scope, visitedAt: try read.required("visitedAt"),
                  visitor: try read.required("visitor"), kind: try read.required("kind"),
                  summary: try read.required("summary"), observations: read.string("observations"),
                  themes: read.list("themes"), gzThemes: read.list("gzThemes"),
                  councilInvolved: read.bool("councilInvolved"), participation: read.list("participation"),
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
        write.set("gzThemes", gzThemes)
        write.set("councilInvolved", councilInvolved)
        write.set("participation", participation)
        write.set("followUp", followUp)
        write.set("followUpDue", followUpDue)
        write.set("status", status)
        return write.values
    }
}
