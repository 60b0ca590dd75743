import Hummingbird
import Logging

/// Turns every error a route throws into the JSON error shape, so no caller ever sees a bare status
/// or an HTML page. Errors that are not `APIError` keep their status; unexpected ones become a 500
/// whose detail is logged under the request id, never sent to the caller.
public struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch let error as HTTPError {
            return try Self.translate(error, request: request).response(from: request, context: context)
        } catch let error as any HTTPResponseError {
            // Errors with a vocabulary of their own (OAuth2's `{error, error_description}`).
            return try error.response(from: request, context: context)
        } catch {
            context.logger.error("unhandled error", metadata: ["error": "\(error)"])
            return try APIError(
                .internalServerError, "Internal Server Error",
                "The server could not complete the request; it is logged under request id \(context.id)"
            ).response(from: request, context: context)
        }
    }

    static func translate(_ error: HTTPError, request: Request) -> APIError {
        switch error.status {
        case .notFound:
            return .notFound("No resource at \(request.method) \(request.uri.path)")
        case .contentTooLarge:
            return APIError(.contentTooLarge, "Payload Too Large", error.body ?? "The request body is larger than this server accepts")
        default:
            return APIError(error.status, error.status.reasonPhrase, error.body ?? error.status.reasonPhrase, headers: error.headers)
        }
    }
}
