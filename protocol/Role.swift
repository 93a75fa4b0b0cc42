/// What a device token lets its holder do. Roles decide who may read which record type
/// and write which field; scopes (on the token) decide which records a holder may read
/// and write at all.
public enum Role: String, Codable, CaseIterable, Comparable, Sendable {
    /// Quality visitor, zorgkantoor purchaser, WIR supporter: work visits to locations.
    case visitor
    /// Member of a cliëntenraad (client council) or relatives' council.
    case council
    /// Location staff: care plans and their goals, with client and relatives.
    case carer
    /// The central office: reviews, merges, approves, answers.
    case office
    /// Runs the installation; may do everything the office may.
    case admin

    public static func < (lhs: Role, rhs: Role) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// Everyone.
    public static let everyone: Set<Role> = Set(allCases)
    /// Decisions that belong to the office.
    public static let officeOnly: Set<Role> = [.office, .admin]
}
