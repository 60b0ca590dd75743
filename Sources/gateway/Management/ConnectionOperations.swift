import Foundation
import NIOCore
import PorticoCore

/// What the connection management API does to a connection this gateway holds — read it, push a
/// message, close it — and the answer, whether the call was made here or carried from another
/// gateway (`ConnectionCalls`). Every execution is audited and counted here, where the
/// connection is.
struct ConnectionOperations: Sendable {
    let connections: Connections
    let metrics: GatewayMetrics
    let log: ConnectionLog
    let node: String

    enum Operation: Sendable {
        case get
        case send(ByteBuffer, binary: Bool)
        case disconnect(GatewayCloseCode, reason: String)

        var action: ConnectionCall.Action {
            switch self {
            case .get: .get
            case .send: .send
            case .disconnect: .disconnect
            }
        }
    }

    /// Who asked, and how: the answer's shape, the key (and its API), and the gateway the call
    /// was made to when it is not this one.
    struct Caller: Sendable {
        let shape: ConnectionManagementController.Shape
        let keyID: String
        let apiID: String
        var via: String? = nil
    }

    // MARK: Answers

    struct Identity: Encodable, Sendable {
        let sourceIp: String
        let userAgent: String?
    }

    /// Portico's own fields, apart from AWS's and Yandex's.
    struct PorticoFields: Encodable, Sendable {
        let connectionId: String
        let apiId: String
        let applicationId: String
        let applicationName: String
        let keyType: String
        let node: String
    }

    /// AWS's `GetConnection` answer.
    struct AWSConnection: Encodable, Sendable {
        let connectedAt: Date
        let identity: Identity
        let lastActiveAt: Date
        let portico: PorticoFields
    }

    /// Yandex's `Connection`.
    struct YandexConnection: Encodable, Sendable {
        let id: String
        let gatewayId: String
        let identity: Identity
        let connectedAt: Date
        let lastActiveAt: Date
        let portico: PorticoFields
    }

    struct ErrorBody: Encodable {
        let code: Int
        let message: String
        let description: String
    }

    static let gone = APIError(.gone, "GoneException", "No open connection has this id: it ended, or never was")

    /// The answer an error makes: its status and `{code, message, description}`.
    static func answer(_ error: APIError) -> ConnectionCall.Answer {
        let body = ErrorBody(code: error.status.code, message: error.message, description: error.detail)
        return ConnectionCall.Answer(status: error.status.code, body: (try? encode(body)) ?? "")
    }

    static func encode(_ value: some Encodable) throws -> String {
        String(decoding: try JSONResponseEncoder.encoder.encode(value), as: UTF8.self)
    }

    /// Executes `operation` on connection `id` if this gateway holds it; a connection it does not
    /// hold, or of another API than the caller's key, is refused (410, 403).
    func execute(_ operation: Operation, on id: String, for caller: Caller) async -> ConnectionCall.Answer {
        var bytes: Int?
        var closeCode: Int?
        let answer: ConnectionCall.Answer
        do {
            guard let connection = connections.find(id) else { throw Self.gone }
            guard connection.apiID == caller.apiID else {
                throw APIError(.forbidden, "ForbiddenException", "The connection is not one of this connection key's API")
            }
            switch operation {
            case .get:
                answer = ConnectionCall.Answer(status: 200, body: try await describe(connection, shape: caller.shape))
            case .send(let payload, let binary):
                bytes = payload.readableBytes
                do {
                    try await connection.push(payload, binary: binary).get()
                } catch RelayedConnection.PushRefusal.closed {
                    throw Self.gone
                } catch RelayedConnection.PushRefusal.busy {
                    throw APIError(
                        .tooManyRequests,
                        "LimitExceededException",
                        "The client is not reading fast enough: its buffer is full; retry later"
                    )
                }
                answer = ConnectionCall.Answer(status: 200, body: caller.shape == .aws ? "" : "{}")
            case .disconnect(let code, let reason):
                closeCode = Int(code.rawValue)
                connection.close(code, reason: reason)
                answer = ConnectionCall.Answer(status: 204, body: "")
            }
        } catch let error as APIError {
            answer = Self.answer(error)
        } catch {
            answer = Self.answer(APIError(.internalServerError, "InternalServerErrorException", "The call could not be completed"))
        }
        metrics.managementCall(action: operation.action.rawValue, status: answer.status)
        log.management(
            action: operation.action.rawValue,
            shape: caller.shape.rawValue,
            keyID: caller.keyID,
            connectionID: id,
            apiID: caller.apiID,
            status: answer.status,
            bytes: bytes,
            closeCode: closeCode,
            via: caller.via
        )
        return answer
    }

    private func describe(_ connection: RelayedConnection, shape: ConnectionManagementController.Shape) async throws -> String {
        let description = try await connection.describe().get()
        let identity = Identity(sourceIp: description.sourceIP, userAgent: description.userAgent)
        let portico = PorticoFields(
            connectionId: description.id,
            apiId: description.apiID,
            applicationId: description.applicationID,
            applicationName: description.applicationName,
            keyType: description.keyType.rawValue,
            node: node
        )
        switch shape {
        case .aws:
            return try Self.encode(
                AWSConnection(
                    connectedAt: description.connectedAt,
                    identity: identity,
                    lastActiveAt: description.lastActiveAt,
                    portico: portico
                )
            )
        case .yandex:
            return try Self.encode(
                YandexConnection(
                    id: description.id,
                    gatewayId: description.apiID,
                    identity: identity,
                    connectedAt: description.connectedAt,
                    lastActiveAt: description.lastActiveAt,
                    portico: portico
                )
            )
        }
    }
}
