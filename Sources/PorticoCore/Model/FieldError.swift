/// A field of a request that the model refuses, and why, in the words the REST APIs answer with
/// (`400 Invalid value for field '<field>'`; `ErrorMiddleware` maps it).
public struct FieldError: Error, Equatable, Sendable {
    public let field: String
    public let reason: String

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }
}
