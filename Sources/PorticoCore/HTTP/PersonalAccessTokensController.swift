import Foundation
import Hummingbird

/// `…/me/personal-access-tokens` on the publisher and the devportal: a signed-in user's personal access
/// tokens, for scripts and the `portico` CLI (`Authorization: Bearer pat_…` instead of a
/// password). `POST` shows the token once; `DELETE` revokes it.
package struct PersonalAccessTokensController: Sendable {
    let authenticator: Authenticator
    var tokens: PersonalAccessTokenStore { authenticator.tokens }

    package init(authenticator: Authenticator) {
        self.authenticator = authenticator
    }

    struct NewToken: Decodable {
        var name: String?
        var validityDays: Int?
    }

    struct Representation: ResponseEncodable, Sendable {
        let id: String
        /// Only in the answer to the `POST`: the token, shown once.
        let token: String?
        let name: String
        let createdAt: Date
        let expiresAt: Date

        init(_ token: PersonalAccessToken, presented: String? = nil) {
            id = token.id
            self.token = presented
            name = token.name
            createdAt = token.createdAt
            expiresAt = token.expiresAt
        }
    }

    package var endpoints: RouteCollection<PorticoRequestContext> {
        RouteCollection(context: PorticoRequestContext.self)
            .post(use: create)
            .get(use: list)
            .delete("{tokenId}", use: delete)
    }

    private func user(_ context: PorticoRequestContext) throws -> User {
        guard let user = context.user else { throw APIError.unauthorized("Sign in with HTTP Basic authentication") }
        return user
    }

    @Sendable func create(_ request: Request, context: PorticoRequestContext) async throws -> EditedResponse<Representation> {
        let user = try user(context)
        let body = try await request.decodeJSON(NewToken.self, context: context)
        let name = body.name ?? "token"
        guard (1...100).contains(name.count) else { throw APIError.invalidField("name", "1 to 100 characters") }
        let days = body.validityDays ?? PersonalAccessToken.defaultValidityDays
        guard (1...PersonalAccessToken.maxValidityDays).contains(days) else {
            throw APIError.invalidField("validityDays", "Expected 1 to \(PersonalAccessToken.maxValidityDays) days, not \(days)")
        }
        let (token, presented) = try await tokens.create(for: user, name: name, days: days)
        return EditedResponse(status: .created, headers: [.cacheControl: "no-store"], response: Representation(token, presented: presented))
    }

    @Sendable func list(_ request: Request, context: PorticoRequestContext) async throws -> CountedList<Representation> {
        CountedList(try await tokens.list(for: try user(context)).map { Representation($0) })
    }

    @Sendable func delete(_ request: Request, context: PorticoRequestContext) async throws -> HTTPResponse.Status {
        let id = try context.parameters.require("tokenId")
        try await tokens.delete(id: id, for: try user(context))
        authenticator.forget(tokenID: id.lowercased())
        return .noContent
    }
}
