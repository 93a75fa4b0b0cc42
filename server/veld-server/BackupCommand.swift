import ArgumentParser
import Foundation
import VeldProtocol
import VeldServer

/// `veld-server backup --to FILE`: a consistent copy of the SQLite database while it serves.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the SQLite database, consistently, while the server serves.",
        discussion: """
            SQLite's online backup of one moment of the database: pushes go on meanwhile, and the \\
            copy holds each whole or not at all. The copy is owner-only (0600), checked, and \\
            moved into place only when complete. For PostgreSQL, use its own tools \\
            (README, "Backups").

              veld-server backup --to /var/backups/veld/veld-$(date +%F).sqlite
            """)

    @OptionGroup var database: DatabaseOptions
    @Option(help: ArgumentHelp("The file to write.", valueName: "file")) var to: String
    @Flag(help: "Replace the file if it exists.") var force = false

    func run() async throws {
        let settings = try database.configuration()
        if DatabaseOptions.database(settings).url != nil {
            throw ValidationError("""
                this server's database is PostgreSQL: back it up with PostgreSQL's tools, \
                e.g. pg_dump --format=custom --file=veld.dump "$VELD_DATABASE_URL" (README, "Backups")
                """)
        }
        guard let storage = try await database.open() as? SQLiteSyncStorage else { throw ValidationError("not an SQLite database") }
        let started = Date()
        let result: SQLiteSyncStorage.BackupResult
        do { result = try await storage.backup(to: to, replacing: force) } catch let error as StorageError {
            throw ValidationError(error.description)
        }
        let seconds = Date().timeIntervalSince(started)
        print("Backed up \(result.records) record(s), \(result.tokens) token(s) and \(result.accessEntries) access-log entries "
              + "(\(result.bytes / 1_024) KiB) to \(to) in \(String(format: "%.1f", seconds)) s; the copy passed its integrity check.")
    }
}
