import Hummingbird

/// `/health/live` (the process answers) and `/health/ready` (and PostgreSQL answers too).
package struct HealthController: Sendable {
    let database: Database

    package init(database: Database) {
        self.database = database
    }

    struct Status: ResponseEncodable {
        let status: String
        let database: String?
    }

    package var endpoints: RouteCollection<PorticoRequestContext> {
        RouteCollection(context: PorticoRequestContext.self)
            .get("live", use: live)
            .get("ready", use: ready)
    }

    @Sendable func live(_ request: Request, context: PorticoRequestContext) async throws -> Status {
        Status(status: "UP", database: nil)
    }

    @Sendable func ready(_ request: Request, context: PorticoRequestContext) async throws -> EditedResponse<Status> {
        if await database.isReachable() {
            return EditedResponse(response: Status(status: "UP", database: "UP"))
        }
        return EditedResponse(status: .serviceUnavailable, response: Status(status: "DOWN", database: "DOWN"))
    }
}
