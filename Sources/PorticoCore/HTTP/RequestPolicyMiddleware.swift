import Hummingbird

/// A service's HTTP policy, put on every request's context before its handler runs — the largest
/// request body it accepts (`PORTICO_MAX_BODY_BYTES`) — so that no controller carries it.
package struct RequestPolicyMiddleware: RouterMiddleware {
    package typealias Context = PorticoRequestContext

    let maxBodyBytes: Int

    package init(maxBodyBytes: Int) {
        self.maxBodyBytes = maxBodyBytes
    }

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.maxUploadSize = maxBodyBytes
        return try await next(request, context)
    }
}
