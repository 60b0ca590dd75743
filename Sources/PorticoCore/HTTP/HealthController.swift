import Hummingbird

/// `/health/live` (the process answers) and `/health/ready` (and PostgreSQL answers too).
public struct HealthController: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    struct Status: Encodable { let status: String; let database: String? }

    public func addRoutes(to group: RouterGroup<PorticoRequestContext>) {
        group.get("live") { _, _ in try jsonResponse(Status(status: "UP", database: nil)) }
        group.get("ready") { _, _ in
            if await database.isReachable() {
                return try jsonResponse(Status(status: "UP", database: "UP"))
            }
            return try jsonResponse(Status(status: "DOWN", database: "DOWN"), status: .serviceUnavailable)
        }
    }
}
