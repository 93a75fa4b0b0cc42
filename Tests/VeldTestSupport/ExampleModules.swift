import Foundation

/// The example modules of `examples/modules`, as the README adds them.
public enum ExampleModules {
    public static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/modules")

    /// `klachten`: one type, `klacht`, in locations; `afgehandeld` and `outcome` are the office's.
    public static var klachtenURL: URL { folder.appendingPathComponent("klachten.json") }

    public static func klachten() throws -> Data { try Data(contentsOf: klachtenURL) }
}
