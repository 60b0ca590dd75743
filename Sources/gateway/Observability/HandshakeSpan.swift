import NIOHTTP1
import Tracing

/// A handshake's span when tracing is on (`PORTICO_TRACING`): from the request to the 101 or the
/// refusal, the backend's connect included; a child of the client's `traceparent`, and the parent
/// of the backend's (its context replaces the client's `traceparent` towards the backend).
struct HandshakeSpan {
    private let span: any Span

    init(_ head: HTTPRequestHead, record: HandshakeRecord) {
        var context = ServiceContext.topLevel
        InstrumentationSystem.instrument.extract(head.headers, into: &context, using: HeadersExtractor())
        span = startSpan("websocket handshake", context: context, ofKind: .server)
        span.attributes["portico.connection.id"] = record.connectionID
        span.attributes["url.path"] = record.path
        span.attributes["client.address"] = record.clientAddress
    }

    func inject(into headers: inout HTTPHeaders) {
        InstrumentationSystem.instrument.inject(span.context, into: &headers, using: HeadersInjector())
    }

    func end(_ record: HandshakeRecord, refusal: Refusal?) {
        if let api = record.api {
            span.attributes["portico.api.id"] = api.id
            span.attributes["portico.api.name"] = api.name
            span.attributes["portico.api.version"] = api.version
        }
        if let caller = record.caller { span.attributes["portico.application.id"] = caller.applicationID }
        span.attributes["http.response.status_code"] = Int(refusal?.status.code ?? 101)
        if let refusal {
            span.attributes["portico.refusal.reason"] = refusal.code
            span.setStatus(SpanStatus(code: .error, message: refusal.message))
        }
        span.end()
    }
}

private struct HeadersExtractor: Extractor {
    func extract(key: String, from headers: HTTPHeaders) -> String? {
        headers.first(name: key)
    }
}

private struct HeadersInjector: Injector {
    func inject(_ value: String, forKey key: String, into headers: inout HTTPHeaders) {
        headers.replaceOrAdd(name: key, value: value)
    }
}
