import Foundation
import GRDB
import PropertyBased
import Testing
@testable import VeldCore
import VeldProtocol
import VeldTestSupport

/// A store keeps the states it lately opened or sealed, by their sealed bytes, so a record
/// edited again is not decrypted and decoded again. Whatever happens to a row (a local
/// edit, a merge, a delete, another process's edit, older bytes written back from outside),
/// every read gives exactly what decoding the row's bytes afresh gives.
@Suite struct OpenedStatesTests {
    /// Each record's state as a read gives it, and as its row's bytes decode afresh.
    static func readAndAfresh(_ store: LocalStore) throws -> [(read: RecordState, afresh: RecordState)] {
        let rows = try store.writer.read { db in try Row.fetchAll(db, sql: "SELECT id, sealedState FROM record ORDER BY id") }
        return try rows.map { row in
            let id: String = row[0]
            return (try store.record(id), try store.openStateAfresh(row[1], id: id))
        }
    }

    @Test func everyReadIsWhatTheRowsBytesDecodeTo() async throws {
        await checkProperty(count: 30, input: Gen.int(in: 0...999_999).array(of: 1...30)) { codes in
            let home = try TemporaryHome(), otherHome = try TemporaryHome()
            let store = try home.store()
            let elsewhere = try otherHome.store(user: "bram")
            let ids = try (0..<3).map { _ in
                try store.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields).id
            }
            try elsewhere.merge(remote: store.records())
            var snapshots: [(id: String, sealed: Data)] = []
            for (step, code) in codes.enumerated() {
                let id = ids[(code / 10) % ids.count]
                let value: FieldValue = .string("stap \(step) \(code)")
                let deleted = try store.record(id).isDeleted
                switch code % 6 {
                case 0, 1:
                    guard !deleted else { continue }
                    let sealed = try store.writer.read { db in
                        try Data.fetchOne(db, sql: "SELECT sealedState FROM record WHERE id = ?", arguments: [id])
                    }
                    if let sealed { snapshots.append((id, sealed)) }
                    try store.edit(id: id, changes: ["summary": value])
                case 2:
                    guard try !elsewhere.record(id).isDeleted else { continue }
                    try elsewhere.edit(id: id, changes: ["observations": value])
                    try store.merge(remote: [try elsewhere.record(id)])
                case 3:
                    guard !deleted else { continue }
                    // Another process on the same profile edits the record.
                    try LocalStore.open(home: home.url).edit(id: id, changes: ["followUp": value])
                case 4:
                    // Older bytes of the record written back from outside Veld (a restored copy).
                    guard let snapshot = snapshots.last(where: { $0.id == id }) else { continue }
                    try store.writer.write { db in
                        try db.execute(sql: "UPDATE record SET sealedState = ? WHERE id = ?", arguments: [snapshot.sealed, id])
                    }
                default:
                    if !deleted { try store.delete(id: id) }
                }
                for pair in try Self.readAndAfresh(store) {
                    #expect(pair.read == pair.afresh, "step \(step) (code \(code))")
                }
            }
        }
    }

    /// A state kept on a write is the one its bytes decode to, to the bit.
    @Test func aStateKeptOnAWriteIsWhatItsBytesDecodeTo() throws {
        let home = try TemporaryHome()
        let store = try home.store()
        let note = try store.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields)
        let edited = try store.edit(id: note.id, changes: ["summary": .string("Ëén keer \u{1F600} \"aangepast\"\n")])
        let sealed = try #require(try store.writer.read { db in
            try Data.fetchOne(db, sql: "SELECT sealedState FROM record WHERE id = ?", arguments: [note.id])
        })
        #expect(store.openedStates.state(note.id, sealed: sealed) == edited)
        #expect(try store.openStateAfresh(sealed, id: note.id) == edited)
        // Not kept under another record's id, nor for other bytes.
        #expect(store.openedStates.state(RecordIDs.make(), sealed: sealed) == nil)
        #expect(store.openedStates.state(note.id, sealed: sealed.dropLast()) == nil)
        #expect(OpenedStates.keepsExactly(edited))
        let beforeYearZero = RecordState(id: note.id, type: note.type, scope: note.scope, context: edited.context,
                                   fields: ["summary": [FieldEntry(value: .null, dot: Dot(replica: "r", counter: 1), author: "a",
                                                                   time: Date(timeIntervalSince1970: -70_000_000_000))]])
        #expect(!OpenedStates.keepsExactly(beforeYearZero))
    }

    /// What leaves the database (a wipe, a purge, an erasure) leaves the process's memory too.
    @Test func anErasureEmptiesWhatIsKept() throws {
        let home = try TemporaryHome()
        let store = try home.store()
        let note = try store.create(type: "visitNote", scope: "loc-zonnehof", fields: TemporaryHome.visitFields)
        let sealed = try #require(try store.writer.read { db in
            try Data.fetchOne(db, sql: "SELECT sealedState FROM record WHERE id = ?", arguments: [note.id])
        })
        #expect(store.openedStates.state(note.id, sealed: sealed) != nil)
        #expect(try store.eraseLocally([note.id]) == 1)
        #expect(store.openedStates.state(note.id, sealed: sealed) == nil)
    }

    /// The arithmetic writer gives GRDB's own text for every date it takes on.
    @Test func databaseTimesAreGRDBsText() async {
        let edges: [Double] = [0, 0.0005, 0.0009999, 0.9995, 0.999_999_9, 1e-9, 0.5]
        await checkProperty(count: 2_000, input: Gen.int(in: -978_307_200...7_000_000_000), Gen.int(in: 0...999_999),
                            Gen.int(in: 0...edges.count)) { seconds, micros, edge in
            let fraction = edge < edges.count ? edges[edge] : Double(micros) / 1_000_000
            let date = Date(timeIntervalSinceReferenceDate: Double(seconds) + fraction)
            let grdb = String.fromDatabaseValue(date.databaseValue)
            #expect(DatabaseTime.text(date) == grdb, "\(date.timeIntervalSinceReferenceDate)")
        }
        #expect(DatabaseTime.text(Date(timeIntervalSince1970: -1)) == nil)
        #expect(DatabaseTime.value(Date(timeIntervalSince1970: -1)) == Date(timeIntervalSince1970: -1).databaseValue)
    }
}
