import Tracing

/// gRPC calls → spans with the OpenTelemetry RPC semantic conventions
/// (rpc.system "grpc", rpc.service, rpc.method, rpc.grpc.status_code), so
/// that rpc.server.duration / rpc.client.duration follow from a span's own
/// start, end and attributes.
public struct GoGRPCSpans: Sendable {
    public let clock: BootClock
    public let resource: @Sendable (UInt32) -> Resource

    public init(clock: BootClock, resource: @escaping @Sendable (UInt32) -> Resource) {
        self.clock = clock
        self.resource = resource
    }

    /// Status code names, as `error.type` and the span status message use them.
    public static let codeNames = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
                                   "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
                                   "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
                                   "UNAUTHENTICATED"]

    /// The codes that make a server span an error (semantic conventions: the
    /// server's fault, not the caller's): UNKNOWN, DEADLINE_EXCEEDED,
    /// UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS.
    public static let serverErrorCodes: Set<Int32> = [2, 4, 12, 13, 14, 15]

    /// `/pkg.Service/Method` → ("pkg.Service", "Method"); nil when it has no such shape.
    public static func split(_ fullMethod: String) -> (service: String, method: String)? {
        let m = fullMethod.hasPrefix("/") ? fullMethod.dropFirst() : Substring(fullMethod)
        guard let slash = m.lastIndex(of: "/"), slash != m.startIndex, m.index(after: slash) != m.endIndex else { return nil }
        return (String(m[..<slash]), String(m[m.index(after: slash)...]))
    }

    /// The host and port of a gRPC dial target: `host:port`, `dns:///host:port`,
    /// `dns://resolver/host:port`, `passthrough:///host:port`; `unix:path` → (path, nil). Nil for an empty one.
    public static func serverAddress(_ target: String) -> (String, Int64?)? {
        guard !target.isEmpty else { return nil }
        var rest = Substring(target)
        if rest.hasPrefix("unix://") { return (String(rest.dropFirst("unix://".count)), nil) }
        if rest.hasPrefix("unix:") { return (String(rest.dropFirst("unix:".count)), nil) }
        if let scheme = rest.range(of: "://") {
            rest = rest[scheme.upperBound...]
            if let slash = rest.firstIndex(of: "/") { rest = rest[rest.index(after: slash)...] } // the authority (a resolver), if any
        }
        let (host, port) = GoHTTPSpans.splitHostPort(String(rest))
        return host.isEmpty ? nil : (host, port)
    }

    /// Whether a call that ended with `code` is an error, for `role`.
    public static func isError(_ code: Int32, server: Bool) -> Bool {
        server ? serverErrorCodes.contains(code) : code != 0
    }

    /// The span of a finished call (`e.role` server or client) in `context`.
    public func span(for e: GoGRPCEvent, context: SpanContext) -> Span {
        let server = e.role == .server
        var attributes: [Attribute] = [.string("rpc.system", "grpc")]
        let name: String
        if let (service, method) = Self.split(e.method) {
            attributes.append(.string("rpc.service", service))
            attributes.append(.string("rpc.method", method))
            name = "\(service)/\(method)"
        } else {
            name = e.method.isEmpty ? "grpc" : e.method
        }
        if e.role == .client, let (host, port) = Self.serverAddress(e.target) {
            attributes.append(.string("server.address", host))
            if let port { attributes.append(.int("server.port", port)) }
        }
        var status = SpanStatus.unset
        if let code = e.statusCode {
            attributes.append(.int("rpc.grpc.status_code", Int64(code)))
            if Self.isError(code, server: server) {
                let codeName = Int(code) < Self.codeNames.count ? Self.codeNames[Int(code)] : String(code)
                attributes.append(.string("error.type", codeName))
                status = .error(message: codeName)
            }
        } else {
            attributes.append(.bool("uprobe_trace.status_unread", true))
        }
        if e.truncated { attributes.append(.bool("uprobe_trace.truncated", true)) }
        attributes.append(.int("thread.id", Int64(e.tid)))
        attributes.append(.int("go.goroutine.id", Int64(e.goid)))
        return Span(
            context: context, name: name, kind: server ? .server : .client,
            startTimeUnixNano: clock.unixNanos(fromBoot: e.startBootNanos),
            endTimeUnixNano: clock.unixNanos(fromBoot: e.endBootNanos),
            attributes: attributes, status: status, resource: resource(e.pid))
    }
}

/// The span contexts of gRPC calls: a served call takes its caller's
/// `traceparent` (from its context record, which arrives before anything its
/// handler does), else it is the child of the traced client call that sent it
/// (another traced process on this host, or this one); a call made under a
/// served one becomes its child. With both, the traceparent wins: it is what the
/// server's own SDK would honour, and the handler's children may already hang
/// under it. A context is made the first time a call is named (by itself, a
/// child, or the server it called) and kept; the oldest of `capacity` is
/// forgotten first.
public struct GoGRPCContexts: Sendable {
    public let sampler: Sampler
    public let capacity: Int
    private var contexts: [GoRequestRef: SpanContext] = [:]
    private var order: [GoRequestRef] = []
    private var oldest = 0

    public init(sampler: Sampler = .always, capacity: Int = 16384) {
        self.sampler = sampler
        self.capacity = max(1, capacity)
    }

    /// A served call's context is known before its end: it began with a
    /// traceparent, or its traced client was found when its first child started.
    public mutating func begin(_ e: GoGRPCEvent) {
        _ = context(for: e)
    }

    /// The context of a finished call's span.
    public mutating func context(for e: GoGRPCEvent) -> SpanContext {
        if let known = contexts[e.ref] { return known }
        let context: SpanContext
        switch e.role {
        case .server, .context:
            if e.traceparent == nil, let client = e.parent {
                context = resolve(client, parent: e.grandparent).child()
            } else {
                context = .incoming(traceparent: e.traceparent, tracestate: nil, sampler: sampler)
            }
        case .client:
            context = e.parent.map { resolve($0, parent: nil).child() } ?? .root(sampler)
        }
        remember(e.ref, context)
        return context
    }

    /// The context of `call`, made now (as `parent`'s child, or a root) if it has none yet.
    private mutating func resolve(_ call: GoRequestRef, parent: GoRequestRef?) -> SpanContext {
        if let known = contexts[call] { return known }
        let context = parent.map { resolve($0, parent: nil).child() } ?? .root(sampler)
        remember(call, context)
        return context
    }

    private mutating func remember(_ ref: GoRequestRef, _ context: SpanContext) {
        if order.count < capacity {
            order.append(ref)
        } else {
            contexts[order[oldest]] = nil
            order[oldest] = ref
            oldest = (oldest + 1) % capacity
        }
        contexts[ref] = context
    }
}
