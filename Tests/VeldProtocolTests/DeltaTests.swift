import Foundation
import PropertyBased
import Testing
import VeldProtocol
import VeldTestSupport

/// Deltas (SPEC.md, "Deltas") give exactly what whole states give. A generated star of a
/// server and 2–5 devices editing, deleting, pushing and pulling one record runs twice side
/// by side: once sending whole states, once sending deltas against the state the device
/// last pulled (pushes) or the state the server last sent the device (pulls). Pushes wait
/// in flight and arrive in any order, twice, or never (a later push repairs a loss); after
/// every step both worlds hold the same states, everywhere.
@Suite struct DeltaTests {
    static let fields = ["summary", "observations", "followUp", "status"]
    static let id = "6f1c2a5e-4b0e-4c3a-9d55-0a7e8c1f2b3d"
    static let time = Date(timeIntervalSince1970: 1_795_168_800)

    /// One world: the server's state, each device's state, the server state each device
    /// last pulled, and the pushes in flight (whole state or delta, by device).
    struct World {
        var server: RecordState
        var devices: [RecordState]
        var bases: [RecordState?]
        var inFlight: [(device: Int, state: RecordState, isDelta: Bool)] = []
        /// Deltas sent, for the count: a test that never sends one proves nothing.
        var deltasSent = 0

        init(devices count: Int) {
            let empty = RecordState(id: DeltaTests.id, type: "visitNote", scope: "loc-a")
            server = empty
            devices = Array(repeating: empty, count: count)
            bases = Array(repeating: nil, count: count)
        }
    }

    static func name(_ device: Int) -> String { "r-d\(device)" }

    /// An edit of one to four fields (`fields`: a mask of ``fields``), its values made from
    /// `rest` (now and then a cleared field).
    static func edit(_ rest: Int, fields mask: Int) -> [String: FieldValue] {
        var values: [String: FieldValue] = [:]
        for (bit, field) in fields.enumerated() where mask & (1 << bit) != 0 {
            values[field] = field == "status" ? .string(rest % 2 == 0 ? "concept" : "definitief")
                : (rest % 11 == 0 ? .null : .string("\(field) \(rest % 97)"))
        }
        return values
    }

    /// One step of both worlds, decoded from `code`.
    static func step(_ code: Int, _ whole: inout World, _ delta: inout World) throws {
        let count = whole.devices.count
        let device = code % count
        let rest = code / count
        switch rest % 9 {
        case 0, 1, 2:
            let values = edit(rest, fields: (rest / 9) % 15 + 1)
            whole.devices[device].edit(values, replica: name(device), author: "u\(device)", time: time)
            delta.devices[device].edit(values, replica: name(device), author: "u\(device)", time: time)
        case 3:
            _ = whole.devices[device].delete(allFields: fields, replica: name(device), author: "u\(device)", time: time)
            _ = delta.devices[device].delete(allFields: fields, replica: name(device), author: "u\(device)", time: time)
        case 4, 5:
            // A push leaves the device.
            whole.inFlight.append((device, whole.devices[device], false))
            let state = delta.devices[device]
            if let base = delta.bases[device], let change = RecordDelta.between(base, state) {
                delta.inFlight.append((device, change, true))
                delta.deltasSent += 1
            } else {
                delta.inFlight.append((device, state, false))
            }
        case 6:
            // One in flight arrives (any of them), stays in flight (sent twice), or is lost.
            guard !whole.inFlight.isEmpty else { return }
            let index = (rest / 9) % whole.inFlight.count
            let fate = (rest / 90) % 4
            if fate < 3 {
                whole.server = try whole.server.merged(with: whole.inFlight[index].state)
                let sent = delta.inFlight[index]
                delta.server = try delta.server.merged(with: sent.isDelta ? RecordDelta.expand(sent.state, over: delta.server) : sent.state)
            }
            if fate != 1 {
                whole.inFlight.remove(at: index)
                delta.inFlight.remove(at: index)
            }
        default:
            // A pull: the server's state, or its delta against what it last sent this device.
            whole.devices[device] = try whole.devices[device].merged(with: whole.server)
            whole.bases[device] = whole.server
            let state = delta.server
            if let base = delta.bases[device], let change = RecordDelta.between(base, state) {
                let mine = delta.devices[device]
                delta.devices[device] = try mine.merged(with: RecordDelta.expand(change, over: mine))
                delta.deltasSent += 1
            } else {
                delta.devices[device] = try delta.devices[device].merged(with: state)
            }
            delta.bases[device] = state
        }
    }

    @Test func deltasGiveExactlyWhatWholeStatesGive() async {
        let sent = DeltaCounter()
        await checkProperty(count: 300, input: Gen.int(in: 2...5), Gen.int(in: 0...999_999).array(of: 1...80)) { devices, codes in
            var whole = World(devices: devices), delta = World(devices: devices)
            for (index, code) in codes.enumerated() {
                try Self.step(code, &whole, &delta)
                #expect(delta.server == whole.server, "the server differs after step \(index)")
                #expect(delta.devices == whole.devices, "a device differs after step \(index)")
            }
            // Everything delivered, then every device pulls: all hold one state, in both worlds.
            for index in whole.inFlight.indices {
                whole.server = try whole.server.merged(with: whole.inFlight[index].state)
                let item = delta.inFlight[index]
                delta.server = try delta.server.merged(with: item.isDelta ? RecordDelta.expand(item.state, over: delta.server) : item.state)
            }
            #expect(delta.server == whole.server)
            sent.add(delta.deltasSent)
        }
        #expect(sent.value > 300, "the generated histories sent only \(sent.value) deltas")
    }

    /// A delta against the state a device pulled is smaller than the whole state, and says
    /// only what changed: one field of a care plan is that field and the context.
    @Test func aOneFieldEditIsThatFieldAndTheContext() throws {
        var plan = RecordState(id: Self.id, type: "carePlan", scope: "loc-a")
        plan.edit(["clientCode": .string("ZH-0042"), "careStart": .string("2026-10-01"), "status": .string("concept"),
                   "agreements": .string(String(repeating: "Dagelijks naar buiten, met begeleiding. ", count: 30))],
                  replica: "r-anna", author: "anna", time: Self.time)
        var edited = plan
        edited.edit(["status": .string("besproken")], replica: "r-bram", author: "bram", time: Self.time)
        let delta = try #require(RecordDelta.between(plan, edited))
        #expect(Array(delta.fields.keys) == ["status"] && delta.context == edited.context)
        #expect(RecordDelta.expand(delta, over: plan) == edited)
        #expect(RecordStateJSON.encode(delta).count < 300, "\(RecordStateJSON.encode(delta).count) bytes")
        // Nothing to gain, or a field gone: no delta.
        #expect(RecordDelta.between(plan, plan) != nil && RecordDelta.between(plan, plan)!.fields.isEmpty)
        let fewer = RecordState(id: edited.id, type: edited.type, scope: edited.scope, context: edited.context,
                                fields: edited.fields.filter { $0.key != "agreements" })
        #expect(RecordDelta.between(plan, fewer) == nil)
        let other = RecordState(id: edited.id, type: edited.type, scope: "loc-b", context: edited.context, fields: edited.fields)
        #expect(RecordDelta.between(plan, other) == nil)
    }

    /// Through the push policy: a delta is judged as the whole state it stands for, so an
    /// honest one passes and stores what the whole state stores, and one that says nothing
    /// of a stored field keeps it.
    @Test func thePolicyJudgesADeltaAsTheWholeState() throws {
        let pusher = Pusher(tokenID: "tok_bram", user: "bram", role: .carer, scopes: ScopeFilter(["loc-a"]))
        var stored = RecordState(id: RecordIDs.make(), type: "visitNote", scope: "loc-a")
        stored.edit(["visitedAt": .string("2026-11-20"), "visitor": .string("anna"), "kind": .string("werkbezoek"),
                     "summary": .string("Rondgang"), "status": .string("concept")], replica: "r-anna", author: "anna", time: Self.time)
        var edited = stored
        edited.edit(["observations": .string("Koffie met bewoners")], replica: "r-bram", author: "bram", time: Self.time)
        func decide(_ request: PushRequest, stored: [String: RecordState]) throws(Problem) -> PushPlan? {
            let checked = try PushPolicy.check(request, by: pusher, in: .builtIn)
            guard case .write(let plan) = try PushPolicy.decide(checked, fingerprint: "f", inputs: PushPolicy.Inputs(stored: stored)) else {
                return nil
            }
            return plan
        }
        let delta = try #require(RecordDelta.between(stored, edited))
        let asDelta = try decide(PushRequest(replica: "r-bram", batch: UUID().uuidString.lowercased(), records: [], deltas: [delta]),
                                 stored: [stored.id: stored])
        let asWhole = try decide(PushRequest(replica: "r-bram", batch: UUID().uuidString.lowercased(), records: [edited]),
                                 stored: [stored.id: stored])
        #expect(asDelta?.writes.map(\.state) == [edited] && asDelta?.writes.map(\.state) == asWhole?.writes.map(\.state))
        // A delta of a record the server does not hold: 409, send it whole.
        #expect { try decide(PushRequest(replica: "r-bram", batch: UUID().uuidString.lowercased(), records: [], deltas: [delta]), stored: [:]) }
            throws: { ($0 as? Problem)?.type == "urn:veld:problem:delta-without-base" && ($0 as? Problem)?.status == 409 }
        // A delta that clears a required field is refused once filled in, as the whole state is.
        var cleared = stored
        cleared.edit(["summary": .null], replica: "r-bram", author: "bram", time: Self.time)
        let clearing = try #require(RecordDelta.between(stored, cleared))
        #expect { try decide(PushRequest(replica: "r-bram", batch: UUID().uuidString.lowercased(), records: [], deltas: [clearing]),
                             stored: [stored.id: stored]) }
            throws: { ($0 as? Problem)?.type == "urn:veld:problem:invalid-record" && ($0 as? Problem)?.records?.first?.field == "summary" }
        // The same record twice, whole and as a delta: 422.
        #expect { try decide(PushRequest(replica: "r-bram", batch: UUID().uuidString.lowercased(), records: [edited], deltas: [delta]),
                             stored: [stored.id: stored]) }
            throws: { ($0 as? Problem)?.type == "urn:veld:problem:invalid-record" }
    }

    /// The push body names `deltas` between `batch` and `proven`, and both readers agree.
    @Test func aPushWithDeltasReadsBackAsWritten() throws {
        var state = RecordState(id: Self.id, type: "visitNote", scope: "loc-a")
        state.edit(["summary": .string("Rondgang")], replica: "r-anna", author: "anna", time: Self.time)
        let request = PushRequest(replica: "r-anna", batch: "0e6b1c7a-9b1f-4c55-8e0a-2f6b7c3d9e10", records: [], deltas: [state])
        let bytes = RecordStateJSON.encode(request)
        #expect(bytes == Array(try StableJSON.encode(request)))
        #expect(String(decoding: bytes, as: UTF8.self).hasPrefix(#"{"batch":"0e6b1c7a-9b1f-4c55-8e0a-2f6b7c3d9e10","deltas":[{"#))
        let read = try RecordStateJSON.readPush(Data(bytes))
        #expect(read.request == request && read.invalid.isEmpty)
        #expect(try StableJSON.decode(PushRequest.self, from: Data(bytes)) == request)
    }
}

/// A count shared by the runs of a property.
final class DeltaCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var total = 0
    func add(_ amount: Int) { lock.withLock { total += amount } }
    var value: Int { lock.withLock { total } }
}
