import Hummingbird
import Metrics
import Prometheus

/// The process's metrics: swift-metrics, backed by one Prometheus registry that `/metrics` renders.
/// The first use bootstraps `MetricsSystem` (once per process); metric names follow Prometheus
/// conventions, and Hummingbird's request metrics are renamed to them (the registry itself turns
/// the dots of their label names into underscores).
package enum PorticoMetrics {
    package static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.nameAndLabelSanitizer = { name, labels in (renamed[name] ?? name, labels) }
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        ]
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    /// Hummingbird's `MetricsMiddleware` names, as Prometheus names with units.
    static let renamed = [
        "hb.requests": "http_server_requests_total",
        "hb.request.errors": "http_server_request_errors_total",
        "http.server.request.duration": "http_server_request_duration_seconds",
        "http.server.active_requests": "http_server_active_requests",
    ]

    /// Makes sure metrics go to the registry before the first one is recorded.
    package static func bootstrap() {
        _ = registry
    }

    /// The Prometheus text exposition of every metric so far.
    package static func exposition() -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
        )
    }
}
