import Hummingbird
import PorticoCore
import Testing

/// Stores speak of records, conflicts and rules; the REST answer each one gets is pinned here, word
/// for word as the stores used to write it.
@Suite struct StoreErrorResponseTests {
    static let cases: [(StoreError, HTTPResponse.Status, String, String)] = [
        (.notFound(.api, id: "x"), .notFound, "Not Found", "No API with id 'x'"),
        (.notFound(.businessPlan, id: "x"), .notFound, "Not Found", "No business plan with id 'x'"),
        (.notFound(.application, id: "x"), .notFound, "Not Found", "No application with id 'x'"),
        (.notFound(.subscription, id: "x"), .notFound, "Not Found", "No subscription with id 'x'"),
        (.notFound(.connectionKey, id: "x"), .notFound, "Not Found", "No connection key with id 'x'"),
        (.conflict(.applicationName("App")), .conflict, "Conflict", "You already have an application named 'App'"),
        (
            .conflict(.keysExist(.production)), .conflict, "Conflict",
            "The application has PRODUCTION keys already; regenerate their secret instead of generating new keys"
        ),
        (
            .conflict(.alreadySubscribed(api: "Echo", version: "1.0.0")), .conflict, "Conflict",
            "The application is already subscribed to 'Echo' 1.0.0"
        ),
        (.conflict(.username("ann")), .conflict, "Conflict", "A user named 'ann' already exists"),
        (.conflict(.planName("Gold")), .conflict, "Conflict", "A business plan named 'Gold' already exists"),
        (
            .conflict(.planInUse(plan: "Gold", by: ["Echo 1.0.0", "app"])), .conflict, "Conflict",
            "Business plan 'Gold' is in use by: Echo 1.0.0, app"
        ),
        (
            .conflict(.apiHasSubscriptions(api: "Echo", version: "1", count: 2)), .conflict, "Conflict",
            "'Echo' 1 has 2 subscription(s); they must be removed before the API can be deleted"
        ),
        (
            .conflict(.contextAndVersionTaken(context: "/e", version: "1", by: "Echo")), .conflict, "Conflict",
            "An API with context '/e' and version '1' already exists ('Echo')"
        ),
        (
            .conflict(.nameAndVersionTaken(name: "Echo", version: "1")), .conflict, "Conflict",
            "An API named 'Echo' with version '1' already exists"
        ),
        (
            .conflict(.versionsElsewhere(name: "Echo", context: "/e")), .conflict, "Conflict",
            "The versions of 'Echo' are served at context '/e'; a new version must use it too"
        ),
        (
            .conflict(.contextCollides(context: "/e/x", other: "/e", name: "Echo")), .conflict, "Conflict",
            "Context '/e/x' collides with context '/e' of API 'Echo'"
        ),
        (
            .stale(ifMatch: "\"a\"", current: "\"b\""), .preconditionFailed, "Precondition Failed",
            "The API changed since you read it (If-Match \"a\", current ETag \"b\"); GET it again and retry"
        ),
        (.invalidField(FieldError(field: "policies", reason: "Unknown")), .badRequest, "Invalid value for field 'policies'", "Unknown"),
        (
            .lifecycle(.actionNotAllowed(.publish, from: .retired)), .badRequest, "Invalid lifecycle action",
            "'Publish' is not allowed from RETIRED; allowed: none (RETIRED is final)"
        ),
        (
            .lifecycle(.actionNotAllowed(.retire, from: .created)), .badRequest, "Invalid lifecycle action",
            "'Retire' is not allowed from CREATED; allowed: 'Publish', 'Deploy as a Prototype'"
        ),
        (.lifecycle(.notReady(for: .published, problem: "No plan")), .badRequest, "The API cannot be moved to PUBLISHED", "No plan"),
        (
            .lifecycle(.closedToSubscriptions(api: "Echo", version: "1", state: .created)), .badRequest, "API not open for subscription",
            "API 'Echo' 1 is CREATED; only PUBLISHED or PROTOTYPED APIs take new subscriptions"
        ),
    ]

    @Test(arguments: cases.indices) func eachRefusalHasItsAnswer(index: Int) {
        let (refusal, status, message, description) = Self.cases[index]
        let answer = APIError(refusal)
        #expect(answer.status == status)
        #expect(answer.message == message)
        #expect(answer.detail == description)
    }
}
