import Logging
import OTel
import ServiceLifecycle

/// Optional OpenTelemetry tracing (`PORTICO_TRACING=true`; off by default): spans of REST requests
/// and of gateway handshakes, exported over OTLP/HTTP as the standard `OTEL_*` variables say
/// (`OTEL_EXPORTER_OTLP_ENDPOINT`, default http://localhost:4318; `OTEL_TRACES_SAMPLER`; …).
/// Only traces: metrics stay with Prometheus and logs with swift-log.
package enum PorticoTracing {
    /// Bootstraps the tracer once per process when `enabled`, and returns the exporter's service,
    /// to run with the process's others (nil when tracing is off).
    package static func bootstrap(service: String, enabled: Bool) throws -> (any Service)? {
        guard enabled else { return nil }
        var configuration = OTel.Configuration.default
        configuration.serviceName = "portico-\(service)"
        configuration.traces.enabled = true
        configuration.metrics.enabled = false
        configuration.logs.enabled = false
        return try OTel.bootstrap(configuration: configuration)
    }
}
