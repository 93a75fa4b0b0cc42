import Foundation

/// Which days count as working days for a term in working days: Monday to Friday, less
/// the public holidays of a calendar.
///
/// The default, `nl`, holds the *algemeen erkende feestdagen* of the Dutch Algemene
/// termijnenwet (art. 3): Nieuwjaarsdag, tweede Paasdag, Koningsdag (27 April, or 26 April
/// when the 27th is a Sunday), 5 mei (Bevrijdingsdag), Hemelvaartsdag, tweede Pinksterdag,
/// eerste en tweede Kerstdag. Goede Vrijdag is not among them (many collective agreements
/// give it off): a module can name extra days, such as `goodFriday`, or fixed dates.
///
/// ```swift
/// let calendar = WorkingCalendar.nl
/// calendar.isWorkingDay(CivilDate("2026-04-06")!)            // false: tweede Paasdag
/// calendar.adding(workingDays: 5, to: CivilDate("2026-12-23")!)   // 2026-12-31
/// ```
public struct WorkingCalendar: Hashable, Sendable, Codable {
    /// The movable and fixed holidays a calendar can hold.
    public enum Holiday: String, Hashable, Sendable, Codable, CaseIterable {
        case newYearsDay, goodFriday, easterMonday, kingsDay, liberationDay, ascensionDay, whitMonday, christmasDay, boxingDay
    }

    public var name: String
    public var holidays: Set<Holiday>
    /// Extra days off (an organisation's own closing days), as dates.
    public var extraDays: Set<CivilDate>

    public init(name: String, holidays: Set<Holiday>, extraDays: Set<CivilDate> = []) {
        self.name = name
        self.holidays = holidays
        self.extraDays = extraDays
    }

    /// The Algemene termijnenwet's holidays.
    public static let nl = WorkingCalendar(
        name: "nl", holidays: [.newYearsDay, .easterMonday, .kingsDay, .liberationDay, .ascensionDay, .whitMonday, .christmasDay, .boxingDay])

    /// Easter Sunday of `year` (Gregorian; the anonymous algorithm of Meeus, Jones and Butcher).
    public static func easter(_ year: Int) -> CivilDate {
        let a = year % 19, b = year / 100, c = year % 100
        let d = b / 4, e = b % 4, f = (b + 8) / 25, g = (b - f + 1) / 3
        let h = (19 * a + b - d - g + 15) % 30
        let i = c / 4, k = c % 4
        let l = (32 + 2 * e + 2 * i - h - k) % 7
        let m = (a + 11 * h + 22 * l) / 451
        let month = (h + l - 7 * m + 114) / 31
        let day = (h + l - 7 * m + 114) % 31 + 1
        return CivilDate(year: year, month: month, day: day)!
    }

    public static func date(of holiday: Holiday, in year: Int) -> CivilDate {
        func fixed(_ month: Int, _ day: Int) -> CivilDate { CivilDate(year: year, month: month, day: day)! }
        switch holiday {
        case .newYearsDay: return fixed(1, 1)
        case .goodFriday: return easter(year).adding(days: -2)
        case .easterMonday: return easter(year).adding(days: 1)
        case .kingsDay:
            // Koningsdag is 27 April; when that is a Sunday, Saturday the 26th.
            let day = fixed(4, 27)
            return day.weekday == 7 ? fixed(4, 26) : day
        case .liberationDay: return fixed(5, 5)
        case .ascensionDay: return easter(year).adding(days: 39)
        case .whitMonday: return easter(year).adding(days: 50)
        case .christmasDay: return fixed(12, 25)
        case .boxingDay: return fixed(12, 26)
        }
    }

    /// This calendar's days off in `year` that fall on a weekday or a weekend.
    public func daysOff(in year: Int) -> Set<CivilDate> {
        Set(holidays.map { Self.date(of: $0, in: year) }).union(extraDays.filter { $0.year == year })
    }

    public func isWorkingDay(_ date: CivilDate) -> Bool {
        guard date.weekday <= 5 else { return false }
        if extraDays.contains(date) { return false }
        return !holidays.contains { Self.date(of: $0, in: date.year) == date }
    }

    /// The `count`th working day after `date` (`date` itself not counted; 0 is `date`
    /// itself). Negative counts go back.
    public func adding(workingDays count: Int, to date: CivilDate) -> CivilDate {
        var day = date
        var left = abs(count)
        let step = count < 0 ? -1 : 1
        // Bounded: every week has five weekdays, and no year has more than 15 days off here.
        for _ in 0..<(left * 2 + 60) where left > 0 {
            day = day.adding(days: step)
            if isWorkingDay(day) { left -= 1 }
        }
        return day
    }

    /// Working days after `start` up to and including `end` (0 when `end` is not after
    /// `start`): how long something took, in working days.
    public func workingDays(from start: CivilDate, to end: CivilDate) -> Int {
        guard end > start else { return 0 }
        var count = 0
        var day = start
        for _ in 0..<(end.dayNumber - start.dayNumber) {
            day = day.adding(days: 1)
            if isWorkingDay(day) { count += 1 }
        }
        return count
    }
}
