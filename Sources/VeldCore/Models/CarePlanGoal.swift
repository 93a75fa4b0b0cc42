import VeldProtocol

/// One goal of a care plan (`carePlanGoal`). Its scope is its care plan's; goals are
/// records of their own so two people adding goals at once never conflict.
public struct CarePlanGoal: RecordModel {
    public static let schema = Schemas.carePlanGoal

    public var id: String
    /// The care plan's scope; set when read from the store.
    public var scope: String
    public var carePlan: String
    public var domain: String
    public var goal: String
    public var actions: String?
    public var status: String
    public var evaluation: String?
    public var evaluatedAt: String?

    public init(id: String = RecordIDs.make(), carePlan: String, domain: String, goal: String,
                actions: String? = nil, status: String = "open", evaluation: String? = nil,
                evaluatedAt: String? = nil, scope: String = "") {
        self.id = id
        self.scope = scope
        self.carePlan = carePlan
        self.domain = domain
        self.goal = goal
        self.actions = actions
        self.status = status
        self.evaluation = evaluation
        self.evaluatedAt = evaluatedAt
    }

    public init(state: RecordState) throws {
        let read = try FieldReader(state, as: Self.schema)
        self.init(id: state.id, carePlan: try read.required("carePlan"), domain: try read.required("domain"),
                  goal: try read.required("goal"), actions: read.string("actions"),
                  status: try read.required("status"), evaluation: read.string("evaluation"),
                  evaluatedAt: read.string("evaluatedAt"), scope: state.scope)
    }

    public var fieldValues: [String: FieldValue] {
        var write = FieldWriter()
        write.set("carePlan", carePlan)
        write.set("domain", domain)
        write.set("goal", goal)
        write.set("actions", actions)
        write.set("status", status)
        write.set("evaluation", evaluation)
        write.set("evaluatedAt", evaluatedAt)
        return write.values
    }
}
