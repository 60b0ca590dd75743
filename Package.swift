// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    // A warning in Portico's own code fails the build: in Swift 6 mode a data-race diagnostic that
    // an `@preconcurrency` API downgrades (a non-Sendable value captured in a `@Sendable` closure)
    // is only a warning, and warnings scroll by unread. Dependencies' warnings are not affected.
    .treatAllWarnings(as: .error),
]

// Dependency lists that several targets share, named once.
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")
let crypto: [Target.Dependency] = [
    .product(name: "Crypto", package: "swift-crypto"),
    .product(name: "CryptoExtras", package: "swift-crypto"),
]
/// SwiftNIO's WebSocket server and client pieces, TLS included.
let nioWebSocket: [Target.Dependency] = [
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
    .product(name: "NIOHTTP1", package: "swift-nio"),
    .product(name: "NIOWebSocket", package: "swift-nio"),
    .product(name: "NIOSSL", package: "swift-nio-ssl"),
]
/// The REST services' own: the shared core, their command line, Hummingbird.
let restService: [Target.Dependency] = [
    .byName(name: "PorticoCore"),
    argumentParser,
    .product(name: "Hummingbird", package: "hummingbird"),
]
/// What every test target uses: the core and the shared test support (PostgreSQL, clients, processes).
let testBase: [Target.Dependency] = [
    .byName(name: "PorticoCore"),
    .byName(name: "PorticoTestSupport"),
    .product(name: "PostgresNIO", package: "postgres-nio"),
]
/// Independent WebSocket clients and servers the tests compare Portico against.
let webSocketPeers: [Target.Dependency] = [
    .product(name: "WebSocketKit", package: "websocket-kit"),
    .product(name: "Hummingbird", package: "hummingbird"),
    .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
    .product(name: "HummingbirdWSCompression", package: "hummingbird-websocket"),
    .product(name: "WSClient", package: "swift-websocket"),
    .product(name: "WSCompression", package: "swift-websocket"),
    .product(name: "Logging", package: "swift-log"),
]

let package = Package(
    name: "portico",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "publisher", targets: ["publisher"]),
        .executable(name: "devportal", targets: ["devportal"]),
        .executable(name: "gateway", targets: ["gateway"]),
        .executable(name: "echo-backend", targets: ["echo-backend"]),
        .executable(name: "portico-bench", targets: ["portico-bench"]),
        .executable(name: "portico", targets: ["portico"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.0"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // OTLP over HTTP only: the gRPC exporter's packages are not built.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.1.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.30.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/vapor/websocket-kit.git", from: "2.16.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.0"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket.git", from: "1.6.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.4.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.0"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CMalloc"),
        .systemLibrary(name: "CReusePort"),
        .target(
            name: "WebSocketWire",
            dependencies: [
                .byName(name: "CZlib"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PorticoCore",
            dependencies: crypto + [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            resources: [.copy("Web/Templates"), .copy("Web/Assets")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "publisher",
            dependencies: restService + [.product(name: "Yams", package: "Yams")],
            resources: [.copy("openapi.json"), .copy("Templates")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "devportal",
            dependencies: restService + [.product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")],
            resources: [.copy("openapi.json"), .copy("Templates")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "gateway",
            dependencies: restService + nioWebSocket + crypto + [
                .byName(name: "WebSocketWire"),
                .byName(name: "CMalloc"),
                .byName(name: "CReusePort"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            resources: [.copy("openapi.json")],
            swiftSettings: swiftSettings
        ),
        .target(name: "EchoServer", dependencies: nioWebSocket + [.byName(name: "WebSocketWire")], swiftSettings: swiftSettings),
        .executableTarget(
            name: "echo-backend",
            dependencies: [.byName(name: "EchoServer"), argumentParser] + nioWebSocket,
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "portico",
            dependencies: [
                argumentParser,
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "portico-bench",
            dependencies: [
                argumentParser,
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PorticoTestSupport",
            dependencies: nioWebSocket + [
                .byName(name: "PorticoCore"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "WebSocketKit", package: "websocket-kit"),
            ],
            path: "Tests/PorticoTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "PorticoCoreTests", dependencies: testBase, swiftSettings: swiftSettings),
        .testTarget(
            name: "PublisherTests",
            dependencies: testBase + [.byName(name: "publisher"), .product(name: "HummingbirdTesting", package: "hummingbird")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DevportalTests",
            dependencies: testBase + crypto + [.byName(name: "devportal"), .product(name: "HummingbirdTesting", package: "hummingbird")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GatewayTests",
            dependencies: testBase + nioWebSocket + crypto + webSocketPeers + [
                .byName(name: "gateway"),
                .byName(name: "publisher"),
                .byName(name: "devportal"),
                .byName(name: "WebSocketWire"),
                .byName(name: "EchoServer"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: testBase + nioWebSocket + crypto + webSocketPeers + [.product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
    ]
)
