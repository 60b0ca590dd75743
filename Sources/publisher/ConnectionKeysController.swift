import Foundation
import Hummingbird
import PorticoCore

/// `/apis/{apiId}/connection-keys`: the credentials an API's backend presents to the gateways'
/// connection management API (`Authorization: Bearer pck_…`). The secret is in the answer to the
/// `POST` only; `DELETE` revokes a key on every gateway at once.
struct ConnectionKeysController {
    let apis: APIStore
    let keys: ConnectionKeyStore

    struct Representation: ResponseEncodable, Sendable {
        let id: String
        /// Only when the key is made: what the backend presents, shown once.
        let secret: String?
        let createdBy: String
        let createdAt: Date

        init(_ key: ConnectionKey, secret: String? = nil) {
            id = key.id
            self.secret = secret
            createdBy = key.createdBy
            createdAt = key.createdAt
        }
    }

    var endpoints: RouteCollection<Context> {
        RouteCollection(context: Context.self)
            .post("{apiId}/connection-keys", use: create)
            .get("{apiId}/connection-keys", use: list)
            .delete("{apiId}/connection-keys/{keyId}", use: delete)
    }

    @Sendable func create(_ request: Request, context: Context) async throws -> EditedResponse<Representation> {
        let user = try context.requireAny([.creator, .publisher], to: "issue connection keys")
        let api = try await APIsController.find(context.parameters.require("apiId"), in: apis)
        let (key, presented) = try await keys.create(apiID: api.id, createdBy: user.username)
        return EditedResponse(
            status: .created,
            headers: [.location: "\(APIsController.basePath)/\(api.id)/connection-keys/\(key.id)", .cacheControl: "no-store"],
            response: Representation(key, secret: presented)
        )
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> CountedList<Representation> {
        _ = try context.requireAny([.creator, .publisher], to: "list connection keys")
        let api = try await APIsController.find(context.parameters.require("apiId"), in: apis)
        return CountedList(try await keys.list(apiID: api.id).map { Representation($0) })
    }

    @Sendable func delete(_ request: Request, context: Context) async throws -> HTTPResponse.Status {
        _ = try context.requireAny([.creator, .publisher], to: "revoke connection keys")
        let api = try await APIsController.find(context.parameters.require("apiId"), in: apis)
        try await keys.delete(id: context.parameters.require("keyId"), apiID: api.id)
        return .noContent
    }
}
