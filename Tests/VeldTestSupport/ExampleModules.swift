import Foundation

/// The example modules of `examples/modules`, as the README adds them.
public enum ExampleModules {
    public static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/modules")

    /// `klachten`: one type, `klacht`, in locations; `afgehandeld` and `outcome` are the office's.
    public static var klachtenURL: URL { folder.appendingPathComponent("klachten.json") }

    public static func klachten() throws -> Data { try Data(contentsOf: klachtenURL) }

    /// A released version of the built-in module `veld-core` (`protocol/modules/released`),
    /// as a database served by that release holds it.
    public static func releasedVeldCore(_ version: Int) throws -> Data {
        try Data(contentsOf: folder.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("protocol/modules/released/veld-core-\(version).json"))
    }
}
