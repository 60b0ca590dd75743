import Foundation
import EchoServer
import NIOCore
import NIOSSL

/// The sample WebSocket backend of the walk-through and the tests (`EchoServer` says what it
/// does); every close it receives is printed (`close <code> <reason>`).
///
///   echo-backend [--host 127.0.0.1] [--port 9100] [--tls-cert FILE --tls-key FILE] [--permessage-deflate]
@main
struct EchoBackend {
    static func main() async throws {
        // A parent may have spawned us with SIGTERM blocked; the default action (exit) is what we want.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
        var host = "127.0.0.1"
        var port = 9100
        var certificate: String?
        var key: String?
        var deflate = false
        var arguments = CommandLine.arguments.dropFirst().makeIterator()
        while let argument = arguments.next() {
            switch argument {
            case "--host": host = arguments.next() ?? host
            case "--port": port = arguments.next().flatMap(Int.init) ?? port
            case "--tls-cert": certificate = arguments.next()
            case "--tls-key": key = arguments.next()
            case "--permessage-deflate": deflate = true
            default:
                FileHandle.standardError.write(Data(
                    "usage: echo-backend [--host ADDRESS] [--port PORT] [--tls-cert FILE --tls-key FILE] [--permessage-deflate]\n".utf8))
                exit(2)
            }
        }
        var tls: NIOSSLContext?
        if let certificate, let key {
            tls = try NIOSSLContext(configuration: .makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))))
        }
        let channel = try await EchoServer.start(host: host, port: port, tls: tls, deflate: deflate) { line in
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
        FileHandle.standardOutput.write(Data("echo-backend listening on \(tls == nil ? "ws" : "wss")://\(host):\(port)\n".utf8))
        try await channel.closeFuture.get()
    }
}
