import TraceEvents
import Tracing
/// Turns Go HTTP events into spans with the OpenTelemetry HTTP semantic conventions.
public struct GoHTTPSpans: Sendable {
    public let clock: BootClock
    public let resource: @Sendable (UInt32) -> Resource

    public init(clock: BootClock, resource: @escaping @Sendable (UInt32) -> Resource) {
        self.clock = clock
        self.resource = resource
    }

    /// The span of `e`, in `context`'s place in its trace (a new root trace by default).
    public func span(for e: GoHTTPEvent, context: SpanContext = .root(.always)) -> Span {
        var attributes: [Attribute] = [
            .string("http.request.method", e.method.isEmpty ? "_OTHER" : e.method),
            .string("url.path", e.path),
        ]
        if !e.query.isEmpty { attributes.append(.string("url.query", e.query)) }
        let status: Int64
        var spanStatus = SpanStatus.unset
        switch e.role {
        case .server:
            // A handler that never called WriteHeader gets 200 from net/http when ServeHTTP returns.
            status = e.panicked ? 500 : (e.status == 0 ? 200 : e.status)
            if e.panicked {
                attributes.append(.string("error.type", "panic"))
                spanStatus = .error(message: "handler panicked")
            } else if status >= 500 {
                attributes.append(.string("error.type", String(status)))
                spanStatus = .error(message: "HTTP \(status)")
            }
        case .client:
            status = e.failed ? 0 : e.status
            if e.failed {
                attributes.append(.string("error.type", "_OTHER"))
                spanStatus = .error(message: "transport error")
            } else if status >= 400 {
                attributes.append(.string("error.type", String(status)))
                spanStatus = .error(message: "HTTP \(status)")
            }
        }
        if status > 0 { attributes.append(.int("http.response.status_code", status)) }
        if !e.host.isEmpty {
            let (host, port) = GoHTTPSpans.splitHostPort(e.host)
            attributes.append(.string("server.address", host))
            if let port { attributes.append(.int("server.port", port)) }
        }
        if e.contentLength > 0 { attributes.append(.int("http.request.body.size", e.contentLength)) }
        if e.http2 { attributes.append(.string("network.protocol.version", "2")) }
        if e.truncated { attributes.append(.bool("uprobe_trace.truncated", true)) }
        attributes.append(.int("thread.id", Int64(e.tid)))
        attributes.append(.int("go.goroutine.id", Int64(e.goid)))

        let name = e.role == .server ? "\(e.method) \(e.path)" : e.method
        return Span(
            context: context, name: name,
            kind: e.role == .server ? .server : .client,
            startTimeUnixNano: clock.unixNanos(fromBoot: e.startBootNanos),
            endTimeUnixNano: clock.unixNanos(fromBoot: e.endBootNanos),
            attributes: attributes, status: spanStatus, resource: resource(e.pid))
    }

    /// `example.com:8080` → ("example.com", 8080); `[::1]:80` → ("::1", 80); no port → nil.
    public static func splitHostPort(_ s: String) -> (String, Int64?) {
        if s.hasPrefix("["), let close = s.firstIndex(of: "]") {
            let host = String(s[s.index(after: s.startIndex)..<close])
            let rest = s[s.index(after: close)...]
            return (host, rest.hasPrefix(":") ? Int64(rest.dropFirst()) : nil)
        }
        if let colon = s.lastIndex(of: ":"), s.firstIndex(of: ":") == colon, let port = Int64(s[s.index(after: colon)...]) {
            return (String(s[..<colon]), port)
        }
        return (s, nil)
    }
}
