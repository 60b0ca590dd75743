import Foundation
import Logging
import PostgresNIO

/// A change that running gateways must see: a row of the change log (`changes`, migration 0011),
/// announced on the `portico_changes` channel when its transaction commits.
///
/// The payload is JSON: `{"seq":42,"entity":"api","action":"lifecycle","id":"…","state":"PUBLISHED","endsTransaction":true}`.
/// `seq` numbers changes in commit order without gaps between committed ones; listeners only ever
/// hear of committed changes, in commit order, and one that missed some reads them from the log.
/// A transaction's changes have consecutive numbers; the last of them has `endsTransaction`.
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

    /// The change's place in commit order (nil until its transaction commits).
    package var seq: Int64?
    package var entity: Entity
    package var action: Action
    package var id: String
    /// For a subscription or an application key: the application it belongs to.
    package var applicationId: String?
    /// For lifecycle changes: the new lifecycle state; for subscriptions: their status.
    package var state: String?
    /// For revoked tokens: when the token would have expired (ISO 8601), after which listeners may
    /// forget the revocation.
    package var expiresAt: String?
    /// Whether this is the last change its transaction made (nil until it commits): a listener acts
    /// on a transaction's changes together, as on one.
    package var endsTransaction: Bool?

    package init(
        seq: Int64? = nil,
        entity: Entity,
        action: Action,
        id: String,
        applicationId: String? = nil,
        state: String? = nil,
        expiresAt: String? = nil,
        endsTransaction: Bool? = nil
    ) {
        self.seq = seq
        self.applicationId = applicationId
        self.entity = entity
        self.action = action
        self.id = id
        self.state = state
        self.expiresAt = expiresAt
        self.endsTransaction = endsTransaction
    }
}

package enum ChangeNotifier {
    /// The PostgreSQL channel every change is announced on.
    package static let channel = "portico_changes"

    /// Records the change in the connection's current transaction: numbered and announced when it
    /// commits, never if it rolls back.
    package static func announce(_ change: Change, on connection: PostgresConnection, logger: Logger) async throws {
        _ = try await connection.query(
            """
            INSERT INTO changes (entity, action, id, application_id, state, expires_at)
            VALUES (\(change.entity.rawValue), \(change.action.rawValue), \(change.id), \(change.applicationId), \(change.state),
                    \(change.expiresAt))
            """,
            logger: logger
        )
    }

    /// A logged change this version does not know (written by a newer one): the reader reloads in full.
    package struct UnknownChange: Error {
        package let seq: Int64
    }

    /// The committed changes after `seq`, in order, at most `limit`; `UnknownChange` for one this
    /// version cannot read.
    package static func changes(after seq: Int64, limit: Int, on client: PostgresClient, logger: Logger) async throws -> [Change] {
        var changes: [Change] = []
        for try await (seq, entity, action, id, application, state, expiresAt, ends) in try await client.query(
            """
            SELECT seq, entity, action, id, application_id, state, expires_at, ends_transaction FROM changes
            WHERE seq > \(seq) ORDER BY seq LIMIT \(limit)
            """,
            logger: logger
        ).decode((Int64, String, String, String, String?, String?, String?, Bool?).self) {
            guard let entity = Change.Entity(rawValue: entity), let action = Change.Action(rawValue: action) else {
                throw UnknownChange(seq: seq)
            }
            changes.append(
                Change(
                    seq: seq,
                    entity: entity,
                    action: action,
                    id: id,
                    applicationId: application,
                    state: state,
                    expiresAt: expiresAt,
                    endsTransaction: ends
                )
            )
        }
        return changes
    }
}
