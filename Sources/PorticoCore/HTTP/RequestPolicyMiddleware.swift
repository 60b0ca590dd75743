import Hummingbird

/// A service's HTTP policy, put on every request's context before its handler runs — the largest
/// request body it accepts (`PORTICO_MAX_BODY_BYTES`) — so that no controller carries it.
public struct RequestPolicyMiddleware: RouterMiddleware {
    public typealias Context = PorticoRequestContext

    let maxBodyBytes: Int

    public init(maxBodyBytes: Int) {
        self.maxBodyBytes = maxBodyBytes
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.maxUploadSize = maxBodyBytes
        return try await next(request, context)
    }
}
