import VeldProtocol

/// Input from or to a cliëntenraad (`councilInput`): advice requests, advice, signals,
/// minutes, proposals. `response` is the office's.
public struct CouncilInput: RecordModel {
    public static let schema = Schemas.councilInput

    public var id: String
    public var scope: String
    public var council: String
    public var kind: String
    public var topic: String
    public var body: String?
    public var receivedAt: String?
    public var responseDue: String?
    public var status: String
    public var response: String?

    public init(id: String = RecordIDs.make(), scope: String, council: String, kind: String, topic: String,
                body: String? = nil, receivedAt: String? = nil, responseDue: String? = nil,
                status: String = "open", response: String? = nil) {
        self.id = id
        self.scope = scope
        self.council = council
        self.kind = kind
        self.topic = topic
        self.body = body
        self.receivedAt = receivedAt
        self.responseDue = responseDue
        self.status = status
        self.response = response
    }

    public init(state: RecordState) throws {
        let read = try FieldReader(state, as: Self.schema)
        self.init(id: state.id, scope: state.scope, council: try read.required("council"),
                  kind: try read.required("kind"), topic: try read.required("topic"), body: read.string("body"),
                  receivedAt: read.string("receivedAt"), responseDue: read.string("responseDue"),
                  status: try read.required("status"), response: read.string("response"))
    }

    public var fieldValues: [String: FieldValue] {
        var write = FieldWriter()
        write.set("council", council)
        write.set("kind", kind)
        write.set("topic", topic)
        write.set("body", body)
        write.set("receivedAt", receivedAt)
        write.set("responseDue", responseDue)
        write.set("status", status)
        write.set("response", response)
        return write.values
    }
}
