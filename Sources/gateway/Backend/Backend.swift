import Crypto
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import PorticoCore
import WebSocketWire

/// Stage 6: dial the API's backend and complete its WebSocket handshake before the client gets
/// its 101, so that a backend that is down, slow or refusing becomes a real HTTP answer (502/504)
/// and the backend's chosen subprotocol can be returned to the client.
enum Backend {
    enum Failure: Error {
        case timeout
        case unreachable(String)
        case rejected(status: UInt, reason: String)
        case protocolViolation(String)
        /// The handshake request would carry a character a request-target or header cannot (from
        /// the client's query, or a name the gateway adds): not sent.
        case unsendable

        /// The backend could not be reached at all (as opposed to answering its handshake wrongly):
        /// what counts towards suspending the endpoint.
        var isConnectFailure: Bool {
            switch self {
            case .timeout, .unreachable: true
            case .rejected, .protocolViolation, .unsendable: false
            }
        }

        var refusal: Refusal {
            switch self {
            case .timeout:
                Refusal(status: .gatewayTimeout, code: "backend_timeout", message: "The backend did not complete the WebSocket handshake in time")
            case .unreachable(let why):
                Refusal(status: .badGateway, code: "backend_unreachable", message: "The backend could not be reached: \(why)")
            case .rejected(let status, let reason):
                Refusal(
                    status: .badGateway,
                    code: "backend_rejected",
                    message: "The backend refused the WebSocket handshake with \(status) \(reason)"
                )
            case .protocolViolation(let why):
                Refusal(status: .badGateway, code: "backend_protocol_error", message: "The backend's handshake was invalid: \(why)")
            case .unsendable:
                Refusal(
                    status: .badGateway,
                    code: "backend_unreachable",
                    message: "The backend could not be reached: the handshake request has a character that a request cannot carry"
                )
            }
        }
    }

    /// TLS contexts for wss backends: one verifying against the system's roots, one per API CA file
    /// (`endpointConfig.ca_file`), made on first use and again when the file changes.
    static let tlsContexts = BackendTLSContexts()
}
