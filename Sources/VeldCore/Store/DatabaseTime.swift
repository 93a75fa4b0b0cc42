import Foundation
import GRDB
import VeldProtocol

/// The text GRDB stores for a date (`yyyy-MM-dd HH:mm:ss.SSS`, UTC, to the nearest
/// millisecond), by arithmetic: every local edit stamps its row and outbox entry, and
/// GRDB's `DateFormatter` was a tenth of saving an edit (a profile of the capture run).
/// The same characters as GRDB's for every date (a property test holds it to them), so
/// rows written either way sort together.
enum DatabaseTime {
    static func value(_ date: Date) -> DatabaseValue {
        text(date).map(\.databaseValue) ?? date.databaseValue
    }

    /// Nil outside 1970–9999, where GRDB's own formatter is used.
    static func text(_ date: Date) -> String? {
        // As Foundation hands a date to ICU (milliseconds since 1970, from the reference
        // date), and as ICU's formatter takes it: to the nearest millisecond.
        let milliseconds = ((date.timeIntervalSinceReferenceDate + 978_307_200) * 1000).rounded()
        guard milliseconds >= 0, milliseconds < 253_402_300_800_000 else { return nil }
        let total = Int64(milliseconds)
        let seconds = total / 1000
        let days = seconds / 86_400
        let (year, month, day) = InternetTime.civil(days: days)
        return InternetTime.written(year: year, month: month, day: day, secondOfDay: seconds - days * 86_400,
                                    separator: UInt8(ascii: " "), millisecond: total % 1000, suffix: nil)
    }
}
