import Foundation
import GRDB
import VeldProtocol

/// The text GRDB stores for a date (`yyyy-MM-dd HH:mm:ss.SSS`, UTC, to the nearest
/// millisecond), by arithmetic: every local edit stamps its row and outbox entry, and
/// GRDB's `DateFormatter` was a tenth of an edit's cost. The same characters as GRDB's for every
/// date (a property test holds it to them), so rows written either way sort together.
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
        let millisecond = total % 1000
        let seconds = total / 1000
        var days = seconds / 86_400
        let secondOfDay = seconds - days * 86_400
        // Civil date from days since 1970-01-01 (H. Hinnant's algorithm, as InternetTime).
        days += 719_468
        let era = days / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return String(unsafeUninitializedCapacity: 23) { bytes in
            func put(_ value: Int64, at offset: Int, digits: Int) {
                var value = value
                for index in stride(from: offset + digits - 1, through: offset, by: -1) {
                    bytes[index] = UInt8(48 + value % 10)
                    value /= 10
                }
            }
            put(year, at: 0, digits: 4); bytes[4] = 45
            put(month, at: 5, digits: 2); bytes[7] = 45
            put(day, at: 8, digits: 2); bytes[10] = 32
            put(secondOfDay / 3600, at: 11, digits: 2); bytes[13] = 58
            put(secondOfDay / 60 % 60, at: 14, digits: 2); bytes[16] = 58
            put(secondOfDay % 60, at: 17, digits: 2); bytes[19] = 46
            put(millisecond, at: 20, digits: 3)
            return 23
        }
    }
}
