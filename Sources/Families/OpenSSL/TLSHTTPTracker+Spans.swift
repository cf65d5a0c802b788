import TraceEvents
import Tracing
/// Span building for `TLSHTTPTracker`, with the attribute conventions of
/// `GoHTTPSpans` (OpenTelemetry HTTP semantic conventions).
///
/// That the exchange was encrypted is said with `url.scheme` = `https`, the
/// semantic-convention attribute for it (there is no standard boolean "TLS"
/// attribute, and the TLS version is not visible from SSL_read/SSL_write).
extension TLSHTTPTracker {
    func clientSpan(_ r: ClientRequest, response: HTTPHead, end: UInt64, pid: UInt32) -> Span {
        span(kind: .client, request: r.head, status: response.status, start: r.start, end: end, pid: pid, tid: r.tid, context: r.context)
    }

    func serverSpan(_ x: ServerExchange, end: UInt64, pid: UInt32) -> Span {
        span(kind: .server, request: x.request, status: x.response?.status ?? 0, start: x.start, end: end, pid: pid, tid: x.tid, context: x.context)
    }

    /// `incomplete`: some request or response fields were unknown (HTTP/2 joined
    /// mid-connection) and are left out. `failure`: the stream was reset.
    func span(kind: SpanKind, request: HTTPHead, status: Int, start: UInt64, end: UInt64, pid: UInt32, tid: UInt32,
              context: SpanContext, incomplete: Bool = false, failure: (kind: String, code: String)? = nil) -> Span {
        let method = request.method
        let target = request.target
        var pathAndQuery = Substring(target)
        if let hash = pathAndQuery.firstIndex(of: "#") { pathAndQuery = pathAndQuery[..<hash] }
        let path: Substring
        var query: Substring = ""
        if let q = pathAndQuery.firstIndex(of: "?") {
            path = pathAndQuery[..<q]
            query = pathAndQuery[pathAndQuery.index(after: q)...]
        } else {
            path = pathAndQuery
        }
        var attributes: [Attribute] = []
        if !method.isEmpty { attributes.append(.string("http.request.method", method)) }
        if !path.isEmpty { attributes.append(.string("url.path", String(path))) }
        if !query.isEmpty { attributes.append(.string("url.query", String(query))) }
        attributes.append(.string("url.scheme", "https"))
        var spanStatus = SpanStatus.unset
        let errorFrom = kind == .server ? 500 : 400
        if status >= errorFrom {
            attributes.append(.string("error.type", String(status)))
            spanStatus = .error(message: "HTTP \(status)")
        }
        if let failure {
            attributes.append(.string("error.type", failure.code))
            spanStatus = .error(message: "\(failure.kind) \(failure.code)")
        }
        if status > 0 { attributes.append(.int("http.response.status_code", Int64(status))) }
        let host = request.header("host") ?? ""
        if !host.isEmpty {
            let (address, port) = GoHTTPSpans.splitHostPort(host)
            attributes.append(.string("server.address", address))
            attributes.append(.int("server.port", port ?? 443))
            if kind == .client && !target.isEmpty { attributes.append(.string("url.full", "https://\(host)\(target)")) }
        }
        attributes.append(.string("network.protocol.name", "http"))
        attributes.append(.string("network.protocol.version", request.version))
        attributes.append(.int("thread.id", Int64(tid)))
        if incomplete { attributes.append(.bool("uprobe_trace.incomplete", true)) }
        let name = method.isEmpty ? "HTTP" : kind == .server && !path.isEmpty ? "\(method) \(path)" : method

        return Span(
            context: context, name: name, kind: kind,
            startTimeUnixNano: clock.unixNanos(fromBoot: start),
            endTimeUnixNano: clock.unixNanos(fromBoot: max(start, end)),
            attributes: attributes, status: spanStatus, resource: resource(pid))
    }
}
