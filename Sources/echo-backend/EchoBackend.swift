import ArgumentParser
import EchoServer
import Foundation
import NIOCore
import NIOSSL

/// The sample WebSocket backend of the walk-through and the tests (`EchoServer` says what it
/// does); every close it receives is printed (`close <code> <reason>`).
@main
struct EchoBackend: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo-backend",
        abstract: "The sample WebSocket backend: echoes every message; prints every close it receives."
    )

    @Option(help: "The address to listen on") var host = "127.0.0.1"
    @Option(help: "The port to listen on") var port = 9100
    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain: serve wss (with --tls-key)") var certificate: String?
    @Option(name: .customLong("tls-key"), help: "PEM private key of --tls-cert") var key: String?
    @Flag(name: .customLong("permessage-deflate"), help: "Accept permessage-deflate") var deflate = false

    func validate() throws {
        guard (certificate == nil) == (key == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
    }

    func run() async throws {
        // A parent may have spawned us with SIGTERM blocked; the default action (exit) is what we want.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
        var tls: NIOSSLContext?
        if let certificate, let key {
            tls = try NIOSSLContext(
                configuration: .makeServerConfiguration(
                    certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
                    privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
                )
            )
        }
        let channel = try await EchoServer.start(host: host, port: port, tls: tls, deflate: deflate) { line in
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
        FileHandle.standardOutput.write(Data("echo-backend listening on \(tls == nil ? "ws" : "wss")://\(host):\(port)\n".utf8))
        try await channel.closeFuture.get()
    }
}
