import Hummingbird
import Logging
import NIOCore

/// Turns every error a route or the framework throws into the JSON error shape, so no caller ever
/// sees a bare status, an empty body or an HTML page. `APIError`s answer as they are, a store's
/// `StoreError` and the model's `FieldError` with the error they describe; errors with
/// a vocabulary of their own (`OwnErrorVocabulary`: OAuth2's `{error, error_description}`) too;
/// the framework's errors (`HTTPError`, a body over the limit, a decoding error, any other
/// `HTTPResponseError`) become an `APIError` with their status; anything else is a 500 whose
/// detail is logged under the request id, never sent to the caller.
package struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    package init() {}

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any OwnErrorVocabulary {
            return try error.response(from: request, context: context)
        } catch {
            return try Self.translate(error, request: request, context: context).response(from: request, context: context)
        }
    }

    /// The JSON error any thrown error answers with.
    static func translate(_ error: any Error, request: Request, context: Context) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as StoreError:
            return APIError(error)
        case let error as FieldError:
            return .invalidField(error.field, error.reason)
        case is NIOTooManyBytesError:
            return APIError(.contentTooLarge, "Payload Too Large", "The request body is larger than this server accepts")
        case let error as DecodingError:
            return .describing(error)
        case let error as HTTPError:
            switch error.status {
            case .notFound:
                return .notFound("No resource at \(request.method) \(request.uri.path.prefix(200))")
            case .contentTooLarge:
                return APIError(.contentTooLarge, "Payload Too Large", error.body ?? "The request body is larger than this server accepts")
            default:
                return APIError(error.status, error.status.reasonPhrase, error.body ?? error.status.reasonPhrase, headers: error.headers)
            }
        case let error as any HTTPResponseError:
            return APIError(error.status, error.status.reasonPhrase, error.status.reasonPhrase)
        default:
            context.logger.error("unhandled error", metadata: ["error": "\(error)"])
            return APIError(
                .internalServerError,
                "Internal Server Error",
                "The server could not complete the request; it is logged under request id \(context.id)"
            )
        }
    }
}

/// An error that answers in a vocabulary of its own instead of `{code, message, description}`,
/// because a standard says so (OAuth2's `{error, error_description}`, RFC 6749 §5.2).
package protocol OwnErrorVocabulary: HTTPResponseError {}
