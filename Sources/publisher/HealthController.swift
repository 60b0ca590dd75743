import Hummingbird
import PorticoCore

/// `/health/live` (the process answers) and `/health/ready` (and PostgreSQL answers too).
struct HealthController {
    let database: Database

    struct Status: Encodable { let status: String; let database: String? }

    func addRoutes(to group: RouterGroup<Context>) {
        group.get("live") { _, _ in try jsonResponse(Status(status: "UP", database: nil)) }
        group.get("ready") { _, _ in
            if await database.isReachable() {
                return try jsonResponse(Status(status: "UP", database: "UP"))
            }
            return try jsonResponse(Status(status: "DOWN", database: "DOWN"), status: .serviceUnavailable)
        }
    }
}
