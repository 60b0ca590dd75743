import Foundation
import Logging
import PostgresNIO

/// A change that running gateways must see, announced on the `portico_changes` channel.
///
/// The payload is JSON: `{"entity":"api","action":"lifecycle","id":"…","state":"PUBLISHED"}`.
/// It is sent inside the transaction that made the change, so listeners only ever hear of committed
/// changes, and hear of them in commit order.
package struct Change: Codable, Sendable, Equatable {
    package enum Entity: String, Codable, Sendable {
        case api
        case businessPlan = "business_plan"
        case application, subscription
        case applicationKey = "application_key"
        case token
        case signingKey = "signing_key"
        case connectionKey = "connection_key"
    }

    package enum Action: String, Codable, Sendable {
        case created, updated, deleted, lifecycle, revoked
    }

    package var entity: Entity
    package var action: Action
    package var id: String
    /// For lifecycle changes: the new lifecycle state; for subscriptions: their status.
    package var state: String?
    /// For revoked tokens: when the token would have expired (ISO 8601), after which listeners may
    /// forget the revocation.
    package var expiresAt: String?

    package init(entity: Entity, action: Action, id: String, state: String? = nil, expiresAt: String? = nil) {
        self.entity = entity
        self.action = action
        self.id = id
        self.state = state
        self.expiresAt = expiresAt
    }
}

package enum ChangeNotifier {
    /// The PostgreSQL channel every change is announced on.
    package static let channel = "portico_changes"

    /// Queues the notification in the connection's current transaction.
    package static func announce(_ change: Change, on connection: PostgresConnection, logger: Logger) async throws {
        let payload = String(decoding: try JSONEncoder().encode(change), as: UTF8.self)
        _ = try await connection.query("SELECT pg_notify(\(channel), \(payload))", logger: logger)
    }
}
