// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "Veld",
    platforms: [.macOS(.v14), .iOS(.v17)],
    products: [
        .library(name: "VeldProtocol", targets: ["VeldProtocol"]),
        .library(name: "VeldCore", targets: ["VeldCore"]),
        .library(name: "VeldServer", targets: ["VeldServer"]),
        .executable(name: "veld", targets: ["veld"]),
        .executable(name: "veld-server", targets: ["veld-server"]),
        .executable(name: "veld-bench", targets: ["veld-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // The wire format and its meaning. No dependencies, no I/O.
        .target(
            name: "VeldProtocol",
            path: "protocol",
            exclude: ["vectors", "SPEC.md", "openapi.yaml", "schemas.json", "module.schema.json"],
            // The built-in module, compiled in as bytes (no bundle, no file I/O).
            resources: [.embedInCode("modules/veld-core.json")],
            swiftSettings: strict
        ),
        // The system's zlib, for gzip push bodies (zlib1g-dev on Debian).
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // The client core a phone app would embed.
        .target(
            name: "VeldCore",
            dependencies: [
                "VeldProtocol",
                "CZlib",
                .product(name: "GRDB", package: "GRDB.swift"),
                // AES-GCM for the data at rest (CryptoKit on Apple platforms); scrypt.
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // The client core's HTTP exchange over SwiftNIO and BoringSSL, for Linux: there
        // URLSession (libcurl) cannot be told to trust an organisation's own CA.
        .target(
            name: "VeldNIOClient",
            dependencies: [
                "VeldCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The local web console (`veld console`): server-rendered HTML over the client core,
        // on Hummingbird. Only the `veld` executable links it: VeldCore stays free of
        // HTTP-server code, as a phone app would embed it.
        .target(
            name: "VeldConsole",
            dependencies: [
                "VeldCore",
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "console",
            resources: [.embedInCode("Assets/console.css"), .embedInCode("Assets/console.js")],
            swiftSettings: strict
        ),
        // The Linux CLI: parsing and presentation only.
        .executableTarget(
            name: "veld",
            dependencies: [
                "VeldCore",
                "VeldConsole",
                "VeldNIOClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "client",
            swiftSettings: strict
        ),
        // The sync server: routes, auth, storage backends. Never imports VeldCore.
        .target(
            name: "VeldServer",
            dependencies: [
                "VeldProtocol",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdHTTP2", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                // The configuration file (veld-server.yaml).
                .product(name: "Yams", package: "Yams"),
            ],
            path: "server/VeldServer",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "veld-server",
            dependencies: [
                "VeldServer",
                "VeldProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "server/veld-server",
            swiftSettings: strict
        ),
        // The benchmark harness (scripts/bench.sh, BENCHMARKS.md): drives real veld-server
        // processes and client cores; never linked into what ships.
        .executableTarget(
            name: "veld-bench",
            dependencies: [
                "VeldCore",
                "VeldProtocol",
                "VeldServer",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "bench/veld-bench",
            swiftSettings: strict
        ),
        // Test helpers every test target shares (not shipped).
        .target(name: "CVeldSpawn", path: "Tests/CVeldSpawn"),
        .target(
            name: "VeldTestSupport",
            dependencies: ["CVeldSpawn", .product(name: "PropertyBased", package: "swift-property-based")],
            path: "Tests/VeldTestSupport",
            swiftSettings: strict
        ),
        .testTarget(
            name: "VeldProtocolTests",
            dependencies: [
                "VeldProtocol",
                .product(name: "PropertyBased", package: "swift-property-based"),
                "VeldTestSupport",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "VeldCoreTests",
            dependencies: [
                "VeldCore",
                "VeldProtocol",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PropertyBased", package: "swift-property-based"),
                "VeldTestSupport",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "VeldServerTests",
            dependencies: [
                "VeldServer",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                "VeldProtocol",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "PropertyBased", package: "swift-property-based"),
                "VeldTestSupport",
            ],
            swiftSettings: strict
        ),
        // Real veld-server processes on loopback and client cores with their own SQLite files.
        .testTarget(
            name: "VeldEndToEndTests",
            dependencies: ["veld-server", "veld", "VeldCore", "VeldNIOClient", "VeldProtocol", "VeldTestSupport",
                           .product(name: "PropertyBased", package: "swift-property-based"),
                           .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "VeldCLITests",
            dependencies: ["veld", "VeldCore", "VeldProtocol", "VeldTestSupport"],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
