import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import PorticoCore
import ServiceLifecycle

/// The client-facing listeners (ws, and wss when a certificate is configured). On shutdown it marks
/// the gateway draining (readiness fails), hands new connections over to a successor sharing its
/// ports if there is one (`ListeningSocket`), stops accepting, lets connections finish for
/// `GATEWAY_DRAIN_SECONDS`, then closes the rest with 1001 "gateway restarting".
struct ProxyServer: Service {
    let gateway: Gateway
    /// The process to take over from (`gateway serve --replace`): it is asked to drain once this
    /// one has loaded the catalog and listens.
    var predecessor: Predecessor? = nil

    private typealias Listener = (channel: any Channel, socket: NIOBSDSocket.Handle)

    func run() async throws {
        let settings = gateway.settings
        if predecessor != nil {
            // Take no connection the predecessor could serve before this process can serve it too.
            while gateway.snapshot.current == nil {
                if Task.isShuttingDownGracefully { return }
                try await pause(for: .milliseconds(50))
            }
        }
        var listeners = [try await bind(port: settings.port, tls: nil)]
        gateway.logger.notice("gateway listening", metadata: ["ws": "\(settings.bindAddress):\(settings.port)"])
        if let cert = settings.tlsCertificateFile, let key = settings.tlsKeyFile {
            let certificates = try NIOSSLCertificate.fromPEMFile(cert)
            let configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: certificates.map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            )
            listeners.append(try await bind(port: settings.tlsPort, tls: try NIOSSLContext(configuration: configuration)))
            gateway.logger.notice("gateway listening", metadata: ["wss": "\(settings.bindAddress):\(settings.tlsPort)"])
        }
        let pidFile = settings.pidFile.map(PidFile.init(path:))
        pidFile?.write()
        defer { pidFile?.remove() }
        if let predecessor {
            gateway.logger.notice("taking over: the previous gateway process drains", metadata: ["pid": "\(predecessor.pid)"])
            predecessor.stop()
        }
        try? await gracefulShutdown()
        gateway.draining.store(true, ordering: .relaxed)
        // New connections go to a successor listening on the same ports, if any; what was already
        // on its way here is still accepted for a moment, then the listeners close.
        if settings.reusePort {
            for listener in listeners { ListeningSocket.steerAway(listener.socket) }
            try? await pause(for: .seconds(min(ListeningSocket.handover, settings.drainSeconds)))
        }
        for listener in listeners { try? await listener.channel.close() }
        gateway.logger.notice("draining", metadata: ["connections": "\(gateway.connections.count)", "seconds": "\(settings.drainSeconds)"])
        let deadline = Date().addingTimeInterval(settings.drainSeconds)
        while gateway.connections.count > 0 && Date() < deadline {
            try? await pause(for: .milliseconds(100))
        }
        gateway.connections.closeAll()
        let closing = Date().addingTimeInterval(6)
        while gateway.connections.count > 0 && Date() < closing {
            try? await pause(for: .milliseconds(50))
        }
    }

    private func bind(port: Int, tls: NIOSSLContext?) async throws -> Listener {
        let gateway = self.gateway
        let backlog: Int32 = 1024
        let socket = try ListeningSocket.open(
            host: gateway.settings.bindAddress,
            port: port,
            backlog: backlog,
            reusePort: gateway.settings.reusePort,
            joining: predecessor != nil
        )
        let channel = try await ServerBootstrap(group: gateway.group)
            .childChannelInitializer { channel in
                do {
                    // Set here, synchronously: a bootstrap's child options are applied through a
                    // chain of futures per connection. (TCP_NODELAY comes from the listening socket.)
                    try channel.syncOptions?.setOption(.writeBufferWaterMark, value: gateway.settings.writeBufferWaterMark)
                    try ReceiveBuffers.use(on: channel)
                    let sync = channel.pipeline.syncOperations
                    if let tls { try sync.addHandler(NIOSSLServerHandler(context: tls)) }
                    var limits = NIOHTTPDecoderLimitConfiguration()
                    limits.maxHeaderListSize = gateway.settings.maxHeaderBytes
                    limits.maxHeaderFieldSize = gateway.settings.maxHeaderBytes
                    limits.maxHeaderFieldCount = 256
                    let decoder = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes, limitConfiguration: limits))
                    try sync.addHandler(decoder)
                    // Its responses, as bytes (`HTTPHead.response`): no encoder or validator here.
                    try sync.addHandler(HandshakeHandler(gateway: gateway, secure: tls != nil, requestDecoder: decoder))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .withBoundSocket(socket)
            .get()
        // NIO listens again with its default backlog when it adopts a socket: restore ours.
        listen(socket, backlog)
        return (channel, socket)
    }
}
