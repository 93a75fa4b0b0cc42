import Foundation
import PropertyBased
import Testing
import VeldProtocol
import VeldTestSupport

/// Day arithmetic and the Dutch working-day calendar, against references written apart
/// from the code: Foundation's Gregorian calendar, a published table of Easter dates, and
/// the holidays of several years listed by hand.
@Suite struct CalendarTests {
    static let gregorian: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    static func reference(_ date: CivilDate) -> Date {
        gregorian.date(from: DateComponents(year: date.year, month: date.month, day: date.day))!
    }

    static func civil(_ date: Date) -> CivilDate {
        let parts = gregorian.dateComponents([.year, .month, .day], from: date)
        return CivilDate(year: parts.year!, month: parts.month!, day: parts.day!)!
    }

    /// Days from 1950 to 2150: month ends, leap days and century years among them.
    static let days = Gen.int(in: -7_305...65_745)

    @Test func dayNumbersWeekdaysAndDaysAgreeWithFoundation() async {
        await checkProperty(count: 2_000, input: Self.days, Gen.int(in: -800...800)) { number, step in
            let date = CivilDate(dayNumber: number)
            let reference = Self.civil(Date(timeIntervalSince1970: Double(number) * 86_400))
            #expect(date == reference)
            #expect(CivilDate(date.description) == date)
            #expect(date.dayNumber == number)
            // Foundation: 1 = Sunday … 7 = Saturday; ISO: 1 = Monday … 7 = Sunday.
            let weekday = Self.gregorian.component(.weekday, from: Self.reference(date))
            #expect(date.weekday == (weekday + 5) % 7 + 1)
            #expect(date.adding(days: step) == Self.civil(Self.gregorian.date(byAdding: .day, value: step, to: Self.reference(date))!))
        }
    }

    /// A month later is the same day, or the month's last day when it is shorter. The
    /// reference steps month by month and asks Foundation how long the month is
    /// (Foundation's own month arithmetic rolls 29 February 2050 over into March).
    @Test func monthsClampToTheMonthsEnd() async {
        await checkProperty(count: 2_000, input: Self.days, Gen.int(in: -30...30)) { number, months in
            let date = CivilDate(dayNumber: number)
            var year = date.year, month = date.month
            for _ in 0..<abs(months) {
                month += months < 0 ? -1 : 1
                if month == 0 { month = 12; year -= 1 }
                if month == 13 { month = 1; year += 1 }
            }
            let first = Self.gregorian.date(from: DateComponents(year: year, month: month, day: 1))!
            let length = Self.gregorian.range(of: .day, in: .month, for: first)!.count
            let expected = CivilDate(year: year, month: month, day: min(date.day, length))
            #expect(date.adding(months: months) == expected, "\(date) + \(months) months")
        }
        #expect(CivilDate("2024-01-31")!.adding(months: 1) == CivilDate("2024-02-29"))
        #expect(CivilDate("2025-01-31")!.adding(months: 1) == CivilDate("2025-02-28"))
        #expect(CivilDate("2100-01-31")!.adding(months: 1) == CivilDate("2100-02-28"))
        #expect(CivilDate("2000-02-29")!.adding(months: 12) == CivilDate("2001-02-28"))
    }

    @Test func onlyRealDaysParse() {
        for text in ["2026-02-29", "2026-13-01", "2026-00-10", "2026-04-31", "26-01-01", "2026-1-01", "2026-01-01T00:00", " 2026-01-01",
                     "２０２６-01-01", "2026/01/01", ""] {
            #expect(CivilDate(text) == nil, "\(text)")
        }
        #expect(CivilDate("2028-02-29") != nil)
    }

    /// Easter Sunday as published (Gregorian), 2000–2035.
    static let easters: [Int: String] = [
        2000: "04-23", 2001: "04-15", 2002: "03-31", 2003: "04-20", 2004: "04-11", 2005: "03-27", 2006: "04-16", 2007: "04-08",
        2008: "03-23", 2009: "04-12", 2010: "04-04", 2011: "04-24", 2012: "04-08", 2013: "03-31", 2014: "04-20", 2015: "04-05",
        2016: "03-27", 2017: "04-16", 2018: "04-01", 2019: "04-21", 2020: "04-12", 2021: "04-04", 2022: "04-17", 2023: "04-09",
        2024: "03-31", 2025: "04-20", 2026: "04-05", 2027: "03-28", 2028: "04-16", 2029: "04-01", 2030: "04-21", 2031: "04-13",
        2032: "03-28", 2033: "04-17", 2034: "04-09", 2035: "03-25",
    ]

    @Test func easterIsThePublishedDate() {
        for (year, day) in Self.easters { #expect(WorkingCalendar.easter(year) == CivilDate("\(year)-\(day)"), "\(year)") }
    }

    /// The Algemene termijnenwet's days off, by hand for 2024–2027 (Koningsdag 2025 on
    /// Saturday the 26th: the 27th was a Sunday).
    static let daysOff: [Int: [String]] = [
        2024: ["01-01", "04-01", "04-27", "05-05", "05-09", "05-20", "12-25", "12-26"],
        2025: ["01-01", "04-21", "04-26", "05-05", "05-29", "06-09", "12-25", "12-26"],
        2026: ["01-01", "04-06", "04-27", "05-05", "05-14", "05-25", "12-25", "12-26"],
        2027: ["01-01", "03-29", "04-27", "05-05", "05-06", "05-17", "12-25", "12-26"],
    ]

    @Test func theDutchDaysOffAreTheTermijnenwets() {
        for (year, days) in Self.daysOff {
            #expect(WorkingCalendar.nl.daysOff(in: year) == Set(days.map { CivilDate("\(year)-\($0)")! }), "\(year)")
        }
        #expect(!WorkingCalendar.nl.isWorkingDay(CivilDate("2026-04-06")!))   // tweede Paasdag
        #expect(WorkingCalendar.nl.isWorkingDay(CivilDate("2026-04-03")!))    // Goede Vrijdag is not among them
        var withGoodFriday = WorkingCalendar.nl
        withGoodFriday.holidays.insert(.goodFriday)
        #expect(!withGoodFriday.isWorkingDay(CivilDate("2026-04-03")!))
    }

    /// Working days counted one by one against the hand-written days off: adding N and
    /// counting back agree, across Easter, Koningsdag, Hemelvaart and Christmas.
    @Test func workingDaysSkipWeekendsAndHolidays() async {
        let off = Set(Self.daysOff.flatMap { year, days in days.map { CivilDate("\(year)-\($0)")! } })
        let start = CivilDate("2024-01-01")!.dayNumber, end = CivilDate("2027-10-31")!.dayNumber
        await checkProperty(count: 1_000, input: Gen.int(in: start...end), Gen.int(in: 0...45)) { number, count in
            let from = CivilDate(dayNumber: number)
            var day = from, left = count
            while left > 0 {
                day = day.adding(days: 1)
                if day.weekday <= 5 && !off.contains(day) { left -= 1 }
            }
            #expect(WorkingCalendar.nl.adding(workingDays: count, to: from) == day, "\(from) + \(count) working days")
            #expect(WorkingCalendar.nl.workingDays(from: from, to: day) == count)
            if count > 0 { #expect(WorkingCalendar.nl.adding(workingDays: -count, to: day) <= from) }
        }
        #expect(WorkingCalendar.nl.adding(workingDays: 5, to: CivilDate("2026-12-23")!) == CivilDate("2026-12-31"))
        #expect(WorkingCalendar.nl.adding(workingDays: 1, to: CivilDate("2026-04-03")!) == CivilDate("2026-04-07"))
    }

    @Test func todayIsTheDayInAmsterdam() {
        // 2026-03-28 23:30 UTC is already the 29th in Amsterdam (summer time from that night: UTC+1 until 01:00 UTC).
        let late = Date(timeIntervalSince1970: Double(CivilDate("2026-03-28")!.dayNumber) * 86_400 + 23.5 * 3_600)
        #expect(CivilDate.today(at: late) == CivilDate("2026-03-29"))
        #expect(CivilDate.today(at: late, in: TimeZone(identifier: "UTC")!) == CivilDate("2026-03-28"))
    }
}
