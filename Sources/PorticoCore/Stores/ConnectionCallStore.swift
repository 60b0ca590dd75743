import Foundation
import Logging
import PostgresNIO

/// Connection management calls between gateways, through PostgreSQL: no other service. The caller
/// finds the node holding a connection (the live-connection list), places the call and is told
/// of the answer on `portico_connection_calls`; the holder, told of the call there, takes it,
/// answers it and tells the caller. Each step is one statement; the NOTIFY goes with its commit.
package struct ConnectionCallStore: Sendable {
    package static let channel = "portico_connection_calls"

    package let database: Database

    package init(database: Database) {
        self.database = database
    }

    private var logger: Logger { database.logger }

    /// The live gateway holding connection `id` (one that reported within `freshness` seconds), or nil.
    package func node(of connectionID: String, freshness: TimeInterval) async throws -> String? {
        guard UUID(uuidString: connectionID) != nil else { return nil }
        let seconds = Int(freshness)
        for try await node in try await database.client.query(
            """
            SELECT c.node FROM gateway_connections c JOIN gateway_nodes n ON n.node = c.node
            WHERE c.id = \(connectionID)::uuid AND n.heartbeat_at > now() - make_interval(secs => \(seconds))
            """,
            logger: logger
        ).decode(String.self) {
            return node
        }
        return nil
    }

    /// Places `call` for its target node and tells it; returns the call's id.
    package func place(_ call: ConnectionCall) async throws -> String {
        try await database.transaction { connection in
            var placed = ""
            for try await id in try await connection.query(
                """
                INSERT INTO connection_calls (target_node, origin_node, connection_id, action, shape, key_id, api_id,
                                              message, binary_message, close_code, close_reason)
                VALUES (\(call.targetNode), \(call.originNode), \(call.connectionID), \(call.action.rawValue), \(call.shape),
                        \(call.keyID), \(call.apiID), \(call.message.map { ByteBuffer(bytes: $0) }), \(call.binary),
                        \(call.closeCode), \(call.closeReason))
                RETURNING id::text
                """,
                logger: logger
            ).decode(String.self) {
                placed = id
            }
            try await Self.signal(.init(kind: .call, id: placed, node: call.targetNode), on: connection, logger: logger)
            return placed
        }
    }

    /// The unanswered call `id` placed for `node`, or nil.
    package func take(id: String, node: String) async throws -> ConnectionCall? {
        guard UUID(uuidString: id) != nil else { return nil }
        let rows = try await database.client.query(
            """
            SELECT origin_node, connection_id, action, shape, key_id, api_id, message, binary_message, close_code, close_reason
            FROM connection_calls WHERE id = \(id)::uuid AND target_node = \(node) AND answered_at IS NULL
            """,
            logger: logger
        )
        for try await (origin, connectionID, action, shape, keyID, apiID, message, binary, code, reason) in rows.decode(
            (String, String, String, String, String, String, ByteBuffer?, Bool, Int?, String?).self
        ) {
            guard let action = ConnectionCall.Action(rawValue: action) else { return nil }
            var call = ConnectionCall(
                targetNode: node,
                originNode: origin,
                connectionID: connectionID,
                action: action,
                shape: shape,
                keyID: keyID,
                apiID: apiID
            )
            call.id = id
            call.message = message.map { Array($0.readableBytesView) }
            call.binary = binary
            call.closeCode = code
            call.closeReason = reason
            return call
        }
        return nil
    }

    /// Records the answer to `call` and tells its caller.
    package func answer(_ call: ConnectionCall, with answer: ConnectionCall.Answer) async throws {
        try await database.transaction { connection in
            try await connection.query(
                """
                UPDATE connection_calls SET answer_status = \(answer.status), answer_body = \(answer.body), answered_at = now()
                WHERE id = \(call.id)::uuid
                """,
                logger: logger
            )
            try await Self.signal(.init(kind: .answer, id: call.id, node: call.originNode), on: connection, logger: logger)
        }
    }

    /// The answer to call `id` (deleting the call), or nil while there is none.
    package func collect(id: String) async throws -> ConnectionCall.Answer? {
        for try await (status, body) in try await database.client.query(
            "DELETE FROM connection_calls WHERE id = \(id)::uuid AND answered_at IS NOT NULL RETURNING answer_status, answer_body",
            logger: logger
        ).decode((Int, String).self) {
            return .init(status: status, body: body)
        }
        return nil
    }

    /// Places `call` and polls for its answer (every 20 ms, at most `timeout`): for a caller that
    /// does not listen (the publisher, whose calls are a provider's, not a backend's stream). Nil
    /// when the holder did not answer in time; the call is then withdrawn.
    package func call(_ call: ConnectionCall, timeout: Duration = .seconds(5)) async throws -> ConnectionCall.Answer? {
        let id = try await place(call)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            try await pause(for: .milliseconds(20))
            if let answer = try await collect(id: id) { return answer }
        }
        try await abandon(id: id)
        return nil
    }

    /// Forgets call `id`, answered or not (its caller gave up waiting).
    package func abandon(id: String) async throws {
        try await database.client.query("DELETE FROM connection_calls WHERE id = \(id)::uuid", logger: logger)
    }

    /// Deletes calls older than `age` seconds: those whose caller died before collecting them.
    package func prune(olderThan age: TimeInterval) async throws {
        let seconds = Int(age)
        try await database.client.query(
            "DELETE FROM connection_calls WHERE created_at < now() - make_interval(secs => \(seconds))",
            logger: logger
        )
    }

    private static func signal(_ signal: ConnectionCall.Signal, on connection: PostgresConnection, logger: Logger) async throws {
        let payload = String(decoding: try JSONEncoder().encode(signal), as: UTF8.self)
        try await connection.query("SELECT pg_notify(\(channel), \(payload))", logger: logger)
    }
}
