import Foundation

/// Where a Veld profile lives on disk: `--home DIR`, else `$VELD_HOME`, else
/// `$XDG_DATA_HOME/veld`, else `~/.local/share/veld`.
///
/// ```swift
/// let home = VeldHome.resolve(explicit: nil, environment: ProcessInfo.processInfo.environment)
/// ```
public enum VeldHome {
    public static func resolve(explicit: String?, environment: [String: String]) -> URL {
        if let explicit, !explicit.isEmpty { return URL(fileURLWithPath: explicit).standardizedFileURL }
        if let home = environment["VELD_HOME"], !home.isEmpty { return URL(fileURLWithPath: home).standardizedFileURL }
        if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty, xdg.hasPrefix("/") {
            return URL(fileURLWithPath: xdg).appendingPathComponent("veld")
        }
        let userHome = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return URL(fileURLWithPath: userHome).appendingPathComponent(".local/share/veld")
    }
}
