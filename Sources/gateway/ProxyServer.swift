import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// The client-facing listeners (ws, and wss when a certificate is configured). On shutdown it marks
/// the gateway draining (readiness fails), stops accepting, lets connections finish for
/// `GATEWAY_DRAIN_SECONDS`, then closes the rest with 1001 "gateway restarting".
struct ProxyServer: Service {
    let gateway: Gateway

    func run() async throws {
        let settings = gateway.settings
        var channels = [try await bind(port: settings.port, tls: nil)]
        gateway.logger.notice("gateway listening", metadata: ["ws": "\(settings.bindAddress):\(settings.port)"])
        if let cert = settings.tlsCertificateFile, let key = settings.tlsKeyFile {
            let certificates = try NIOSSLCertificate.fromPEMFile(cert)
            let configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: certificates.map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            )
            channels.append(try await bind(port: settings.tlsPort, tls: try NIOSSLContext(configuration: configuration)))
            gateway.logger.notice("gateway listening", metadata: ["wss": "\(settings.bindAddress):\(settings.tlsPort)"])
        }
        try? await gracefulShutdown()
        gateway.draining.store(true, ordering: .relaxed)
        for channel in channels { try? await channel.close() }
        gateway.logger.notice("draining", metadata: ["connections": "\(gateway.connections.count)", "seconds": "\(settings.drainSeconds)"])
        let deadline = Date().addingTimeInterval(settings.drainSeconds)
        while gateway.connections.count > 0 && Date() < deadline {
            try? await Task.sleep(for: .milliseconds(100))
        }
        gateway.connections.closeAll()
        let closing = Date().addingTimeInterval(6)
        while gateway.connections.count > 0 && Date() < closing {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    private func bind(port: Int, tls: NIOSSLContext?) async throws -> any Channel {
        let gateway = self.gateway
        return try await ServerBootstrap(group: gateway.group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(
                .writeBufferWaterMark,
                value: .init(
                    low: gateway.settings.connectionBufferBytes / 2,
                    high: gateway.settings.connectionBufferBytes
                )
            )
            .childChannelInitializer { channel in
                do {
                    let sync = channel.pipeline.syncOperations
                    if let tls { try sync.addHandler(NIOSSLServerHandler(context: tls)) }
                    var limits = NIOHTTPDecoderLimitConfiguration()
                    limits.maxHeaderListSize = gateway.settings.maxHeaderBytes
                    limits.maxHeaderFieldSize = gateway.settings.maxHeaderBytes
                    limits.maxHeaderFieldCount = 256
                    let decoder = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes, limitConfiguration: limits))
                    let encoder = HTTPResponseEncoder()
                    // NIO's check that no response header carries what a header cannot (CR, LF, …).
                    let validator = NIOHTTPResponseHeadersValidator()
                    try sync.addHandlers([decoder, encoder, validator])
                    try sync.addHandler(
                        HandshakeHandler(
                            gateway: gateway,
                            secure: tls != nil,
                            requestDecoder: decoder,
                            responseEncoder: encoder,
                            headerValidator: validator
                        )
                    )
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .bind(host: gateway.settings.bindAddress, port: port)
            .get()
    }
}
