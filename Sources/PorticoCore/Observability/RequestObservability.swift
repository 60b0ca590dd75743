import Hummingbird
import Metrics

/// What a REST service's router records of every request: metrics (requests by route, method and
/// status, with latency histograms; served at `GET /metrics`) and, when tracing is on, a span. The
/// middleware goes first, so that it sees the status the error middleware answers.
package enum RequestObservability {
    package static func add<Context: RequestContext>(to router: Router<Context>) {
        PorticoMetrics.bootstrap()
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: TracingMiddleware())
        router.get("metrics") { _, _ in PorticoMetrics.exposition() }
    }
}
