import Foundation
import PropertyBased
import Testing
import VeldProtocol
import VeldTestSupport

/// Pull deltas (SPEC.md, "Pull deltas") give exactly what whole pulls give. A generated
/// star of a server and 2–5 devices editing, pushing and pulling one record runs twice side
/// by side: once pulling whole states, once pulling what the server's change log says
/// changed after the device's cursor, filled in from the state the device last pulled. Now
/// and then a device's last pulled state is lost or replaced by an older one (a restore of
/// the device's files, a bug): the digest must catch every such base that would fill in
/// wrongly, and the whole page that follows repairs it. After every step both worlds hold
/// the same states, everywhere.
@Suite struct PullDeltaTests {
    static let fields = DeltaTests.fields, id = DeltaTests.id, time = DeltaTests.time

    struct World {
        var server: RecordState
        /// The server's change log of the record: each change's position, the fields it
        /// touched (as the history rows keep them), and the state after it.
        var log: [(position: Int, fields: Set<String>, state: RecordState)] = []
        var devices: [RecordState]
        var cursors: [Int]
        var bases: [RecordState?]
        var deltas = 0, repairs = 0

        init(devices count: Int) {
            let empty = RecordState(id: PullDeltaTests.id, type: "visitNote", scope: "loc-a")
            server = empty
            devices = Array(repeating: empty, count: count)
            cursors = Array(repeating: 0, count: count)
            bases = Array(repeating: nil, count: count)
        }

        var position: Int { log.last?.position ?? 0 }

        mutating func receive(_ state: RecordState) throws {
            let merged = try server.merged(with: state)
            guard merged != server else { return }
            log.append((position + 1, Set(FieldChange.between(server, merged).map(\.field)), merged))
            server = merged
        }

        /// The whole state, as an older server or a pull without `deltas=1` sends it.
        mutating func pullWhole(_ device: Int) throws {
            devices[device] = try devices[device].merged(with: server)
            bases[device] = server
            cursors[device] = position
        }

        /// What the server sends a pull with `deltas=1`, and what the device makes of it.
        mutating func pullDelta(_ device: Int) throws {
            let cursor = cursors[device]
            guard position > cursor else { return }
            let changed = log.filter { $0.position > cursor }.reduce(into: Set<String>()) { $0.formUnion($1.fields) }
            guard cursor > 0, let delta = PullDeltas.delta(of: server, changed: changed) else { return try pullWhole(device) }
            #expect(delta.fields.count < server.fields.count && Set(delta.fields.keys) == changed)
            // The page travels as bytes and is read back as a client reads it.
            let page = PullResponse(records: [], deltas: [delta], digests: [PullDeltas.digest(of: server)], cursor: String(position),
                                    more: false)
            let read = try RecordStateJSON.readPull(Data(RecordStateJSON.encode(page))).page
            guard let whole = PullDeltas.expand(read.deltas[0], digest: read.digests[0], over: bases[device]) else {
                repairs += 1
                return try pullWhole(device)
            }
            deltas += 1
            devices[device] = try devices[device].merged(with: whole)
            bases[device] = whole
            cursors[device] = position
        }
    }

    static func step(_ code: Int, _ whole: inout World, _ delta: inout World) throws {
        let count = whole.devices.count
        let device = code % count
        let rest = code / count
        let replica = "r-d\(device)", author = "u\(device)"
        switch rest % 10 {
        case 0, 1, 2:
            let values = DeltaTests.edit(rest, fields: (rest / 10) % 15 + 1)
            whole.devices[device].edit(values, replica: replica, author: author, time: time)
            delta.devices[device].edit(values, replica: replica, author: author, time: time)
        case 3:
            _ = whole.devices[device].delete(allFields: fields, replica: replica, author: author, time: time)
            _ = delta.devices[device].delete(allFields: fields, replica: replica, author: author, time: time)
        case 4, 5:
            try whole.receive(whole.devices[device])
            try delta.receive(delta.devices[device])
        case 6, 7, 8:
            try whole.pullWhole(device)
            try delta.pullDelta(device)
        default:
            // The device's last pulled state is lost, or an older one of the server's takes its place.
            let pick = (rest / 10) % (delta.log.count + 1)
            delta.bases[device] = pick == delta.log.count ? nil : delta.log[pick].state
        }
    }

    @Test func pulledDeltasGiveExactlyWhatWholePullsGive() async {
        let used = DeltaCounter(), repaired = DeltaCounter()
        await checkProperty(count: 300, input: Gen.int(in: 2...5), Gen.int(in: 0...999_999).array(of: 1...80)) { devices, codes in
            var whole = World(devices: devices), delta = World(devices: devices)
            for (index, code) in codes.enumerated() {
                try Self.step(code, &whole, &delta)
                #expect(delta.server == whole.server, "the server differs after step \(index)")
                #expect(delta.devices == whole.devices, "a device differs after step \(index)")
                #expect(delta.cursors == whole.cursors, "a cursor differs after step \(index)")
            }
            // Everyone pushes, then pulls: one state everywhere, in both worlds.
            for device in 0..<devices {
                try whole.receive(whole.devices[device])
                try delta.receive(delta.devices[device])
            }
            for device in 0..<devices {
                try whole.pullWhole(device)
                try delta.pullDelta(device)
            }
            #expect(delta.devices == whole.devices && Set(delta.devices).count == 1 && delta.devices[0] == delta.server)
            used.add(delta.deltas)
            repaired.add(delta.repairs)
        }
        // Both paths are taken often (about 330–430 deltas and 45–70 repairs in 300 runs;
        // a bound near the mean failed one run in a hundred).
        #expect(used.value > 150, "the generated histories pulled only \(used.value) deltas")
        #expect(repaired.value > 15, "the generated histories repaired only \(repaired.value) bases")
    }

    /// A delta names only fields the state has and fewer than all of them; the digest is
    /// the state's own (its stable JSON), so a base that differs anywhere is caught.
    @Test func aDeltaFillsInOnlyOverTheStateItWasMadeAgainst() throws {
        var plan = RecordState(id: Self.id, type: "carePlan", scope: "loc-a")
        plan.edit(["clientCode": .string("ZH-0042"), "careStart": .string("2026-10-01"), "status": .string("concept")],
                  replica: "r-anna", author: "anna", time: Self.time)
        var edited = plan
        edited.edit(["status": .string("besproken")], replica: "r-bram", author: "bram", time: Self.time)
        let delta = try #require(PullDeltas.delta(of: edited, changed: ["status"]))
        let digest = PullDeltas.digest(of: edited)
        #expect(digest.count == 16 && digest.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) })
        #expect(PullDeltas.expand(delta, digest: digest, over: plan) == edited)
        #expect(PullDeltas.expand(delta, digest: digest, over: nil) == nil)
        var other = plan
        other.edit(["careStart": .string("2026-10-02")], replica: "r-anna", author: "anna", time: Self.time)
        #expect(PullDeltas.expand(delta, digest: digest, over: other) == nil, "a base that differs in a field the delta leaves out")
        let elsewhere = RecordState(id: plan.id, type: plan.type, scope: "loc-b", context: plan.context, fields: plan.fields)
        #expect(PullDeltas.expand(delta, digest: digest, over: elsewhere) == nil)
        // Every field changed, or one the state does not have: the state goes whole.
        #expect(PullDeltas.delta(of: edited, changed: Set(edited.fields.keys)) == nil)
        #expect(PullDeltas.delta(of: edited, changed: ["agreements"]) == nil)
        // FNV-1a 64 of the bytes, as SPEC.md gives it: the empty input and "a".
        #expect(PullDeltas.digest([]) == "cbf29ce484222325" && PullDeltas.digest(Array("a".utf8)) == "af63dc4c8601ec8c")
    }

    /// The server cuts a delta from the stored bytes: exactly the bytes of encoding the
    /// delta made from the decoded state, for states with every awkward character in their
    /// values and any set of changed fields (nil where that delta is nil).
    @Test func aDeltaCutFromTheBytesIsTheEncodedDelta() async {
        await checkProperty(count: 300, input: RecordStateJSONTests.codes, Gen.int(in: 0...255)) { codes, mask in
            let state = RecordStateJSONTests.state(codes)
            let names = state.fields.keys.sorted() + ["absent"]
            let changed = Set(names.enumerated().filter { mask & (1 << ($0.offset % 8)) != 0 }.map(\.element))
            let bytes = RecordStateJSON.encode(state)
            let cut = PullDeltas.delta(encoded: bytes, changed: changed)
            #expect(cut == PullDeltas.delta(of: state, changed: changed).map { RecordStateJSON.encode($0) })
            // Bytes cut short, or not a state's JSON: no delta.
            if !changed.isEmpty {
                #expect(PullDeltas.delta(encoded: Array(bytes.dropLast(bytes.count / 2)), changed: changed) == nil)
            }
        }
        #expect(PullDeltas.delta(encoded: Array(#"{"fields":{}}"#.utf8), changed: ["a"]) == nil)
        #expect(PullDeltas.delta(encoded: Array(#"{"context":{},"fields":{"a\u0062":[],"c":[]},"id":"x"}"#.utf8), changed: ["c"]) == nil)
    }

    /// A page with deltas reads back as written, by both readers; digests and proofs must
    /// go one per delta (proofs after the whole states').
    @Test func aPageWithDeltasReadsBackAsWritten() throws {
        var state = RecordState(id: Self.id, type: "visitNote", scope: "loc-a")
        state.edit(["summary": .string("Rondgang"), "status": .string("concept")], replica: "r-anna", author: "anna", time: Self.time)
        let delta = try #require(PullDeltas.delta(of: state, changed: ["summary"]))
        let page = PullResponse(records: [], deltas: [delta], digests: [PullDeltas.digest(of: state)], cursor: "7", more: false,
                                proofs: ["p1.AAAAAAAAAAAAAAAAAAAAAA"])
        let bytes = RecordStateJSON.encode(page)
        #expect(bytes == Array(try StableJSON.encode(page)))
        #expect(String(decoding: bytes, as: UTF8.self).hasPrefix(#"{"cursor":"7","deltas":[{"#))
        #expect(try RecordStateJSON.readPull(Data(bytes)).page == page)
        #expect(try StableJSON.decode(PullResponse.self, from: Data(bytes)) == page)
        for broken in [PullResponse(records: [], deltas: [delta], digests: [], cursor: "7", more: false),
                       PullResponse(records: [], deltas: [delta], digests: ["x", "y"], cursor: "7", more: false),
                       PullResponse(records: [state], deltas: [delta], digests: ["x"], cursor: "7", more: false, proofs: ["p1.A"])] {
            #expect(throws: (any Error).self) { try RecordStateJSON.readPull(Data(RecordStateJSON.encode(broken))) }
        }
    }
}

extension PullDeltaTests {
    /// SPEC.md's example of a pull delta, byte for byte: the page, and the digest of the state
    /// the device fills in.
    @Test func theSpecExampleIsWhatTheServerSends() throws {
        let time = Date(timeIntervalSince1970: 1_795_165_200)  // 2026-11-20T09:00:00Z
        var note = RecordState(id: "0b6f3f4e-8a1d-4c62-9f0e-5d2b7a9c1e11", type: "visitNote", scope: "loc-zonnehof")
        note.edit(["visitedAt": .string("2026-11-20"), "visitor": .string("anna"), "kind": .string("werkbezoek"),
                   "summary": .string("Rondgang huiskamer"), "status": .string("concept")], replica: "r-anna", author: "anna", time: time)
        var edited = note
        edited.edit(["status": .string("definitief")], replica: "r-anna", author: "anna", time: time.addingTimeInterval(84_900))
        let delta = try #require(PullDeltas.delta(of: edited, changed: ["status"]))
        let page = PullResponse(records: [], deltas: [delta], digests: [PullDeltas.digest(of: edited)], cursor: "41", more: false,
                                proofs: ["p1.Q2hhbmdlcyB0aGUgd29yZA"])
        #expect(String(decoding: RecordStateJSON.encode(note), as: UTF8.self) == Self.specBase)
        #expect(String(decoding: RecordStateJSON.encode(page), as: UTF8.self) == Self.specPage)
        #expect(PullDeltas.expand(delta, digest: page.digests[0], over: note) == edited)
    }

    static let specBase = #"{"context":{"r-anna":1},"fields":{"kind":[{"author":"anna","dot":{"counter":1,"replica":"r-anna"},"time":"2026-11-20T09:00:00Z","value":"werkbezoek"}],"status":[{"author":"anna","dot":{"counter":1,"replica":"r-anna"},"time":"2026-11-20T09:00:00Z","value":"concept"}],"summary":[{"author":"anna","dot":{"counter":1,"replica":"r-anna"},"time":"2026-11-20T09:00:00Z","value":"Rondgang huiskamer"}],"visitedAt":[{"author":"anna","dot":{"counter":1,"replica":"r-anna"},"time":"2026-11-20T09:00:00Z","value":"2026-11-20"}],"visitor":[{"author":"anna","dot":{"counter":1,"replica":"r-anna"},"time":"2026-11-20T09:00:00Z","value":"anna"}]},"id":"0b6f3f4e-8a1d-4c62-9f0e-5d2b7a9c1e11","scope":"loc-zonnehof","type":"visitNote"}"#
    static let specPage = #"{"cursor":"41","deltas":[{"context":{"r-anna":2},"fields":{"status":[{"author":"anna","dot":{"counter":2,"replica":"r-anna"},"time":"2026-11-21T08:35:00Z","value":"definitief"}]},"id":"0b6f3f4e-8a1d-4c62-9f0e-5d2b7a9c1e11","scope":"loc-zonnehof","type":"visitNote"}],"digests":["023a3b187bcc38b8"],"more":false,"proofs":["p1.Q2hhbmdlcyB0aGUgd29yZA"],"records":[]}"#
}
