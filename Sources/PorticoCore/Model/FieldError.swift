/// A field of a request that the model refuses, and why, in the words the REST APIs answer with
/// (`400 Invalid value for field '<field>'`; `ErrorMiddleware` maps it).
package struct FieldError: Error, Equatable, Sendable {
    package let field: String
    package let reason: String

    package init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }
}
