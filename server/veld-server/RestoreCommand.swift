import ArgumentParser
import Foundation
import VeldServer

/// `veld-server restore --from FILE`: a backup back in place, under a new epoch.
struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Put a backup back in place of the SQLite database, under a new epoch.",
        discussion: """
            Stop the server first. The backup is checked, copied into place whole and given a \\
            new epoch; the database it replaces is kept beside it (….before-restore-TIME). \\
            When the server runs again, every device that syncs sends back what it holds and \\
            the backup lacks: the edits made after the backup come back (README, "Backups").

            Tokens issued, revoked or changed after the backup are as the backup has them: \\
            issue the new ones again, and revoke again what was revoked since. Erasures \\
            since the backup are undone: erase those records again. For 30 days after the \\
            server first serves the restored database, devices may send back other devices' \\
            edits with the server's proofs; after that only their own.

              veld-server restore --from /var/backups/veld/veld-2026-12-06.sqlite

            For PostgreSQL, restore with pg_restore, then run `veld-server epoch --renew`.
            """)

    @OptionGroup var database: DatabaseOptions
    @Option(help: ArgumentHelp("The backup file (`veld-server backup --to`).", valueName: "file")) var from: String

    func run() async throws {
        let settings = try database.configuration()
        let chosen = DatabaseOptions.database(settings)
        if chosen.url != nil {
            throw ValidationError("""
                this server's database is PostgreSQL: restore it with pg_restore (README, "Backups"), \
                then run `veld-server epoch --renew` before the servers start again
                """)
        }
        let result: SQLiteSyncStorage.RestoreResult
        do { result = try await SQLiteSyncStorage.restore(from: from, to: chosen.sqlite) } catch let error as StorageError {
            throw ValidationError(error.description)
        }
        print("Restored \(result.records) record(s) and \(result.tokens) token(s) from \(from) to \(chosen.sqlite), under the new epoch \(result.epoch).")
        if !result.migrated.isEmpty {
            print("The backup was written by an older release; its schema was brought up to date (\(result.migrated.joined(separator: ", "))).")
        }
        if let previous = result.previous { print("The database it replaced is kept at \(previous); remove it once the devices have synced.") }
        print("""
            Start the server: each device sends back, on its next sync, the edits it holds that the backup lacks.
            Tokens are as the backup has them: issue again the ones made since, and revoke again what was revoked since (veld-server token list).
            Erasures since the backup are undone: erase those clients' records again (veld-server erase; the replaced database's access log names them).
            """)
    }
}

/// `veld-server epoch [--renew]`.
struct EpochCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "epoch",
        abstract: "Show the server's epoch, or give it a new one after a restore.",
        discussion: """
            Every answer names the server's epoch (Veld-Epoch). A device that meets a new one \\
            starts its cursor over and sends back what the server lacks. `veld-server restore` \\
            renews it itself; after restoring PostgreSQL with pg_restore or to a point in time, \\
            run `veld-server epoch --renew` with every server stopped, then start them.
            """)

    @OptionGroup var database: DatabaseOptions
    @Flag(help: "Give the database a new epoch (stop every server process first).") var renew = false

    func run() async throws {
        let storage = try await database.open()
        if renew {
            let epoch = try await storage.renewEpoch()
            print("The server's epoch is now \(epoch); start the server. Devices send back what the database lacks on their next sync.")
        } else {
            print(try await storage.identity().epoch)
        }
    }
}
