import Foundation
import Testing
import VeldCore
import VeldProtocol

/// `veld-server config check` and `serve --config` through the binary: the file, the
/// environment and the flags in that order, each value's source shown, the password
/// masked; a broken file or a setting that would not serve is one clear refusal.
@Suite struct ConfigCLITests {
    @Test func theEffectiveConfigurationAndWhereEachValueComesFrom() throws {
        let folder = try TemporaryFolder("veld-config")
        let file = folder.url.appendingPathComponent("veld-server.yaml")
        try Data("""
            database:
              sqlite: \(folder.url.appendingPathComponent("from-file.sqlite").path)
            listen:
              port: 9101
              host: 127.0.0.1
            log:
              format: json
              level: warning
            """.utf8).write(to: file)
        let checked = try Binaries.run(Binaries.server, ["config", "check", "--config", file.path, "--log-level", "debug", "--json"],
                                       environment: ["VELD_PORT": "9102", "VELD_DATABASE_URL": "postgres://veld:geheim-wachtwoord@db.invalid:5432/veld"])
        #expect(checked.status == 0, "\(checked.stderr)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(checked.stdout.utf8)) as? [[String: String]])
        func row(_ key: String) -> (String?, String?) {
            let found = rows.first { $0["key"] == key }
            return (found?["value"], found?["source"])
        }
        #expect(row("listen.port") == ("9102", "environment"))
        #expect(row("log.level") == ("debug", "flag"))
        #expect(row("log.format") == ("json", "file"))
        #expect(row("metrics.address") == ("127.0.0.1:9464", "default"))
        #expect(row("database.url") == ("postgres://veld:****@db.invalid:5432/veld", "environment"))
        #expect(!checked.stdout.contains("geheim") && !checked.stderr.contains("geheim"))

        let table = try Binaries.run(Binaries.server, ["config", "check", "--config", file.path])
        #expect(table.status == 0 && table.stdout.contains("listen.port") && table.stdout.contains("9101") && table.stdout.contains("file"),
                "\(table.stdout)")
        #expect(table.stdout.contains("It would serve with this."))

        // Settings that would not serve, and a broken file: one clear refusal each.
        try Data("listen:\n  host: sync.example.invalid\n".utf8).write(to: file)
        let unsafe = try Binaries.run(Binaries.server, ["config", "check", "--config", file.path])
        #expect(unsafe.status != 0 && unsafe.stderr.contains("loopback only"), "\(unsafe.stderr)")
        let served = try Binaries.run(Binaries.server, ["serve", "--config", file.path, "--db", folder.url.appendingPathComponent("s.sqlite").path])
        #expect(served.status != 0 && served.stderr.contains("loopback only"), "serve reads the file: \(served.stderr)")
        try Data("listen:\n  prot: 8080\n".utf8).write(to: file)
        let typo = try Binaries.run(Binaries.server, ["token", "list", "--config", file.path])
        #expect(typo.status != 0 && typo.stderr.contains("unknown key listen.prot"), "\(typo.stderr)")
        let missing = try Binaries.run(Binaries.server, ["config", "check"], environment: ["VELD_CONFIG": folder.url.appendingPathComponent("nope.yaml").path])
        #expect(missing.status != 0 && missing.stderr.contains("cannot read the configuration file"), "\(missing.stderr)")
    }

    /// The database named in the file is the one every command uses.
    @Test func everyCommandTakesTheDatabaseFromTheFile() throws {
        let folder = try TemporaryFolder("veld-config-db")
        let database = folder.url.appendingPathComponent("configured.sqlite").path
        let file = folder.url.appendingPathComponent("veld-server.yaml")
        try Data("database:\n  sqlite: \(database)\n".utf8).write(to: file)
        let migrated = try Binaries.run(Binaries.server, ["migrate"], environment: ["VELD_CONFIG": file.path])
        #expect(migrated.status == 0, "\(migrated.stderr)")
        let created = try Binaries.run(Binaries.server, ["token", "create", "--user", "anna", "--role", "carer", "--scope", "loc-a"],
                                       environment: ["VELD_CONFIG": file.path])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(FileManager.default.fileExists(atPath: database))
        let listed = try Binaries.run(Binaries.server, ["token", "list", "--db", database])
        #expect(listed.stdout.contains("anna"))
        // --db on the command line wins over a URL in the environment.
        let flagWins = try Binaries.run(Binaries.server, ["token", "list", "--db", database],
                                        environment: ["VELD_DATABASE_URL": "postgres://veld:geheim@db.invalid:5432/veld"])
        #expect(flagWins.status == 0 && flagWins.stdout.contains("anna"), "\(flagWins.stderr)")
        // A flag switches off what the file switched on.
        try Data("insecure-http: true\nlisten:\n  host: 0.0.0.0\n".utf8).write(to: file)
        let off = try Binaries.run(Binaries.server, ["config", "check", "--config", file.path, "--no-insecure-http", "--json"])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(off.stdout.utf8)) as? [[String: String]])
        #expect(rows.first { $0["key"] == "insecure-http" } == ["key": "insecure-http", "value": "false", "source": "flag"])
        #expect(off.status != 0 && off.stderr.contains("loopback only"), "without TLS or insecure-http, 0.0.0.0 is refused: \(off.stderr)")
        // A command that is not serve or migrate makes no database.
        let nowhere = folder.url.appendingPathComponent("nowhere.sqlite").path
        let refused = try Binaries.run(Binaries.server, ["devices", "--db", nowhere])
        #expect(refused.status != 0 && refused.stderr.contains("no Veld database at") && !FileManager.default.fileExists(atPath: nowhere),
                "\(refused.stderr)")
    }
}
