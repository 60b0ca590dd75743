import Hummingbird

/// `/health/live` (the process answers) and `/health/ready` (and PostgreSQL answers too).
package struct HealthController: Sendable {
    let database: Database

    package init(database: Database) {
        self.database = database
    }

    struct Status: Encodable {
        let status: String
        let database: String?
    }

    package var endpoints: RouteCollection<PorticoRequestContext> {
        RouteCollection(context: PorticoRequestContext.self)
            .get("live", use: live)
            .get("ready", use: ready)
    }

    @Sendable func live(_ request: Request, context: PorticoRequestContext) async throws -> Response {
        try jsonResponse(Status(status: "UP", database: nil))
    }

    @Sendable func ready(_ request: Request, context: PorticoRequestContext) async throws -> Response {
        if await database.isReachable() {
            return try jsonResponse(Status(status: "UP", database: "UP"))
        }
        return try jsonResponse(Status(status: "DOWN", database: "DOWN"), status: .serviceUnavailable)
    }
}
