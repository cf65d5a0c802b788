import TraceEvents
import Tracing
/// Turns the plaintext of OpenSSL calls (`SSLEvent`s, in the order each
/// thread made them) into HTTP spans, with one state machine per
/// (process, `SSL*`) connection (DESIGN.md, Spans, "TLS HTTP").
///
/// The first head decides the role: writing a request = CLIENT, reading one =
/// SERVER. Client span: entry of the write that carries the request line to
/// the return of the read that completes the response head. Server span:
/// return of the read that completes the request head to the return of the
/// write that completes the response (Content-Length / chunked terminator;
/// without either, the last write before the next request, or `flush`).
/// Pipelined and keep-alive requests pair with responses in order.
///
/// Trace context: a server span continues an incoming `traceparent` (else
/// starts a trace); while it is in flight, its thread is "inside" it, and a
/// client request written on that thread — or a MySQL query made there
/// (`serverContext`) — becomes its child. That fits servers that handle a
/// request on one thread (thread-per-request); an event loop interleaving
/// requests on one thread attributes children to its latest request.
///
/// Memory is bounded: at most `maxConnections` connections (the least
/// recently used go first) and `maxPendingPerConnection` requests awaiting a
/// response on each. Bodies are never stored; see `HTTPHeadParser` for headers.
public struct TLSHTTPTracker: Sendable {
    /// Which side of HTTP a connection is on.
    public enum Role: Sendable, Equatable { case client, server }

    struct Key: Hashable, Sendable {
        var pid: UInt32
        var ssl: UInt64
    }

    struct ThreadKey: Hashable, Sendable {
        var pid: UInt32
        var tid: UInt32
    }

    struct ClientRequest: Sendable {
        var head: HTTPHead
        var start: UInt64
        var tid: UInt32
        var context: SpanContext
    }

    struct ServerExchange: Sendable {
        var request: HTTPHead
        var start: UInt64
        var tid: UInt32
        var context: SpanContext
        var response: HTTPHead?
        var lastWriteEnd: UInt64 = 0
    }

    struct Connection: Sendable {
        var role: Role?
        var writes = HTTPHeadParser()
        var reads = HTTPHeadParser()
        var client: [ClientRequest] = []
        var server: [ServerExchange] = []
        var lastUse: UInt64 = 0
        /// Entry time of the write in which the partial outgoing head began.
        var writeHeadStart: UInt64 = 0
        /// Set once the connection is found to speak HTTP/2; the HTTP/1 parsers are then unused.
        var h2: HTTP2Connection?
        /// Any plaintext seen yet (a connection's first bytes decide HTTP/1 or HTTP/2).
        var seen = false
    }

    public let clock: BootClock
    public let resource: @Sendable (UInt32) -> Resource
    public let maxConnections: Int
    public let maxPendingPerConnection: Int
    /// Decides for the traces that start here.
    public let sampler: Sampler

    private var connections: [Key: Connection] = [:]
    /// The server span each thread is inside.
    var activeServers: [ThreadKey: SpanContext] = [:]
    private var tick: UInt64 = 0

    public init(clock: BootClock, maxConnections: Int = 4096, maxPendingPerConnection: Int = 64, sampler: Sampler = .always,
                resource: @escaping @Sendable (UInt32) -> Resource) {
        self.clock = clock
        self.sampler = sampler
        self.resource = resource
        self.maxConnections = max(1, maxConnections)
        self.maxPendingPerConnection = max(1, maxPendingPerConnection)
    }

    /// Connections currently tracked.
    public var connectionCount: Int { connections.count }

    /// The role a connection took, if it has shown one.
    public func role(pid: UInt32, ssl: UInt64) -> Role? { connections[Key(pid: pid, ssl: ssl)]?.role }

    /// The context of the server span thread `tid` of `pid` is inside, if any
    /// (the parent of a MySQL query made there).
    public func serverContext(pid: UInt32, tid: UInt32) -> SpanContext? {
        activeServers[ThreadKey(pid: pid, tid: tid)]
    }

    /// Feeds one call's plaintext; returns the spans it completed.
    public mutating func consume(_ e: SSLEvent) -> [Span] {
        let key = Key(pid: e.pid, ssl: e.ssl)
        var spans: [Span] = []
        if connections[key] == nil && connections.count >= maxConnections { evict(&spans) }
        if e.direction == .free {
            // The SSL* is freed and may come back for the next connection: forget this one.
            if let c = connections.removeValue(forKey: key) { forget(c, key.pid, &spans) }
            return spans
        }
        var c = connections.removeValue(forKey: key) ?? Connection()
        tick += 1
        c.lastUse = tick
        if startsAnew(c, e) {
            // A reused SSL* whose SSL_free was not seen (attached after it, or lost).
            forget(c, key.pid, &spans)
            c = Connection()
            c.lastUse = tick
        }
        if !c.seen {
            c.seen = true
            c.h2 = HTTP2Connection.detect(e)
            if let role = c.h2?.startRole { c.role = role }
        }
        if c.h2 != nil {
            http2(e, &c, &spans)
        } else {
            switch e.direction {
            case .write: wrote(e, &c, &spans)
            case .read: read(e, &c, &spans)
            case .free: break
            }
        }
        connections[key] = c
        return spans
    }

    /// Ends what can be ended without more data (open-ended server responses)
    /// and forgets every connection of `pid` (nil: all): at process exit or shutdown.
    public mutating func flush(pid: UInt32? = nil) -> [Span] {
        var spans: [Span] = []
        for (key, c) in connections where pid == nil || key.pid == pid {
            finishOpenEnded(c, key.pid, &spans)
            connections[key] = nil
        }
        activeServers = activeServers.filter { pid != nil && $0.key.pid != pid }
        return spans
    }

    // MARK: Private

    private mutating func wrote(_ e: SSLEvent, _ c: inout Connection, _ spans: inout [Span]) {
        // Only the first head completed by this write can have begun in an earlier one.
        var headStart = c.writes.isInsideHead ? c.writeHeadStart : e.startBootNanos
        for event in c.writes.feed(e.data, missing: e.missingBytes) {
            switch event {
            case .head(let h) where h.isRequest:
                let start = headStart
                headStart = e.startBootNanos
                if c.role == nil { c.role = .client }
                guard c.role == .client else { continue }
                if c.client.count >= maxPendingPerConnection { c.client.removeFirst() }
                let context = activeServers[ThreadKey(pid: e.pid, tid: e.tid)]?.child() ?? .root(sampler)
                c.client.append(ClientRequest(head: h, start: start, tid: e.tid, context: context))
                c.reads.expectResponse(bodyless: h.method == "HEAD")
            case .head(let h):
                headStart = e.startBootNanos
                guard c.role == .server, h.status >= 200 || h.status == 101 else { continue }
                closeOpenEnded(&c, e.pid, &spans)
                if let i = c.server.firstIndex(where: { $0.response == nil }) {
                    c.server[i].response = h
                    c.server[i].lastWriteEnd = e.endBootNanos
                }
            case .messageEnd:
                guard c.role == .server,
                      let i = c.server.firstIndex(where: { $0.response != nil && $0.response!.framing != .untilClose }) else { continue }
                let x = c.server.remove(at: i)
                spans.append(serverSpan(x, end: e.endBootNanos, pid: e.pid))
                leave(x, pid: e.pid)
            }
        }
        c.writeHeadStart = headStart
        if c.role == .server {
            for i in c.server.indices where c.server[i].response != nil { c.server[i].lastWriteEnd = e.endBootNanos }
        }
    }

    private mutating func read(_ e: SSLEvent, _ c: inout Connection, _ spans: inout [Span]) {
        for event in c.reads.feed(e.data, missing: e.missingBytes) {
            switch event {
            case .head(let h) where h.isRequest:
                if c.role == nil { c.role = .server }
                guard c.role == .server else { continue }
                closeOpenEnded(&c, e.pid, &spans)
                if c.server.count >= maxPendingPerConnection { c.server.removeFirst() }
                let context = SpanContext.incoming(traceparent: h.header("traceparent"), tracestate: h.header("tracestate"), sampler: sampler)
                c.server.append(ServerExchange(request: h, start: e.endBootNanos, tid: e.tid, context: context))
                if activeServers.count >= maxConnections { activeServers.removeAll() }
                activeServers[ThreadKey(pid: e.pid, tid: e.tid)] = context
            case .head(let h):
                guard c.role == .client, h.status >= 200 || h.status == 101, !c.client.isEmpty else { continue }
                let r = c.client.removeFirst()
                spans.append(clientSpan(r, response: h, end: e.endBootNanos, pid: e.pid))
            case .messageEnd:
                break
            }
        }
    }

    /// Ends server responses that have no length (they end at their last write).
    private mutating func closeOpenEnded(_ c: inout Connection, _ pid: UInt32, _ spans: inout [Span]) {
        while let i = c.server.firstIndex(where: { $0.response?.framing == .untilClose }) {
            let x = c.server.remove(at: i)
            spans.append(serverSpan(x, end: x.lastWriteEnd, pid: pid))
            leave(x, pid: pid)
        }
    }

    /// The thread of a finished server exchange is no longer inside it.
    private mutating func leave(_ x: ServerExchange, pid: UInt32) {
        let key = ThreadKey(pid: pid, tid: x.tid)
        if activeServers[key]?.spanID == x.context.spanID { activeServers[key] = nil }
    }

    /// A connection is over: ends its open-ended responses; its unanswered
    /// HTTP/2 streams end without a span, and their threads leave them.
    mutating func forget(_ c: Connection, _ pid: UInt32, _ spans: inout [Span]) {
        finishOpenEnded(c, pid, &spans)
        for x in c.h2?.streams.values.map({ $0 }) ?? [] { leave(x, pid: pid) }
    }

    mutating func finishOpenEnded(_ c: Connection, _ pid: UInt32, _ spans: inout [Span]) {
        var c = c
        closeOpenEnded(&c, pid, &spans)
    }

    /// Drops the least recently used eighth of the connections.
    private mutating func evict(_ spans: inout [Span]) {
        let n = max(1, connections.count / 8)
        let oldest = connections.sorted { $0.value.lastUse < $1.value.lastUse }.prefix(n)
        for (key, c) in oldest {
            finishOpenEnded(c, key.pid, &spans)
            connections[key] = nil
        }
    }
}
