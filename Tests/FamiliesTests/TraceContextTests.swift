@testable import Families
import Testing
import TraceEvents
@testable import Tracing

/// W3C trace context: parsing, sampling, and the joining of Go, TLS and MySQL
/// spans into traces (the end-to-end versions are in CLITests).
@Suite struct TraceContextUnitTests {
    static let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    static let resource: @Sendable (UInt32) -> Resource = { TracedProcess(pid: $0, executablePath: "/srv/app").resource(environment: [:]) }

    @Test func incomingTraceparent() {
        let c = SpanContext.incoming(traceparent: Self.valid, tracestate: "congo=t61rcWkgMzE", sampler: .always)
        #expect(c.traceID.hex == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(c.parentSpanID?.hex == "00f067aa0ba902b7")
        #expect(c.spanID.value != 0 && c.spanID.hex != "00f067aa0ba902b7")
        #expect(c.sampled && c.traceState == "congo=t61rcWkgMzE")
        // The caller's sampled flag wins over the ratio (parent-based).
        let unsampled = SpanContext.incoming(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", tracestate: nil, sampler: .always)
        #expect(!unsampled.sampled)
        #expect(SpanContext.incoming(traceparent: Self.valid, tracestate: nil, sampler: Sampler(ratio: 0)).sampled)
        // A later version may add fields; version 00 may not.
        #expect(SpanContext.incoming(traceparent: "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", tracestate: nil, sampler: .always).parentSpanID != nil)
    }

    @Test(arguments: [
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",   // trace id one digit short
        "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01", // one digit long
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // uppercase
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // version ff
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // all-zero parent id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", // version 00 with a fifth field
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",     // no flags
        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",  // wrong separator
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",  // not hex
        "",
    ])
    func malformedTraceparentStartsANewTrace(_ value: String) {
        #expect(TraceParent(value) == nil)
        let c = SpanContext.incoming(traceparent: value, tracestate: "rojo=1", sampler: .always)
        #expect(c.parentSpanID == nil && c.traceID.hex != "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(c.traceState == "", "tracestate goes with a valid traceparent only")
    }

    @Test func samplerRatio() {
        let ids = (0..<20_000).map { _ in TraceID.random() }
        #expect(ids.allSatisfy(Sampler.always.samples))
        #expect(!ids.contains(where: Sampler(ratio: 0).samples))
        let quarter = ids.filter(Sampler(ratio: 0.25).samples).count
        #expect(quarter > 4_500 && quarter < 5_500, "\(quarter) of 20000 at 0.25")
        // A function of the id: every agent decides the same.
        #expect(ids.filter(Sampler(ratio: 0.25).samples) == ids.filter(Sampler(ratio: 0.25).samples))
        #expect(Sampler(ratio: 7).ratio == 1 && Sampler(ratio: -1).ratio == 0)
    }

    // MARK: Go request heads in the server's read buffer

    static func headers(_ text: String) -> (String?, String?) {
        let h = RequestHeadWindow.traceHeaders(endingAt: Array(text.utf8))
        return (h.traceparent, h.tracestate)
    }

    @Test func headOfTheCurrentRequestOnly() {
        // One request: names are case-insensitive, values trimmed.
        #expect(Self.headers("GET /a HTTP/1.1\r\nHost: x\r\nTRACEPARENT:  \(Self.valid) \r\ntracestate: a=1\r\n\r\n") == (Self.valid, "a=1"))
        // Pipelined: the earlier request's header is not this request's.
        let earlier = "GET /a HTTP/1.1\r\nTraceparent: \(Self.valid)\r\n\r\n"
        #expect(Self.headers(earlier + "GET /b HTTP/1.1\r\nHost: x\r\n\r\n") == (nil, nil))
        // ... even with a body (that looks like a request line) in between.
        let post = "POST /a HTTP/1.1\r\nContent-Length: 20\r\ntraceparent: \(Self.valid)\r\n\r\nGET /x HTTP/1.1\r\n\r\n"
        #expect(Self.headers(post + "GET /b HTTP/1.1\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b8-01\r\n\r\n").0
                == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b8-01")
        // A head that arrived in two reads: bufio slid the rest to the buffer's start,
        // so the window begins at a header line.
        #expect(Self.headers("Accept: */*\r\ntraceparent: \(Self.valid)\r\n\r\n") == (Self.valid, nil))
        // Two traceparent headers: invalid, ignored. Two tracestate headers: combined.
        #expect(Self.headers("GET / HTTP/1.1\r\ntraceparent: \(Self.valid)\r\ntraceparent: \(Self.valid)\r\n\r\n").0 == nil)
        #expect(Self.headers("GET / HTTP/1.1\r\ntracestate: a=1\r\ntracestate: b=2\r\n\r\n").1 == "a=1,b=2")
        #expect(Self.headers("") == (nil, nil))
    }

    // MARK: Joining Go spans

    static func event(_ role: GoHTTPEvent.Role, pid: UInt32, goid: UInt64, start: UInt64, parent: GoRequestRef? = nil, grandparent: GoRequestRef? = nil) -> GoHTTPEvent {
        GoHTTPEvent(role: role, pid: pid, goid: goid, startBootNanos: start, endBootNanos: start + 100, status: 200,
                    method: "GET", path: "/", parent: parent, grandparent: grandparent)
    }

    @Test func goSpansJoinAcrossGoroutinesAndProcesses() {
        var contexts = GoTraceContexts()
        let frontend = GoRequestRef(pid: 1, goid: 7, startBootNanos: 1000)
        contexts.begin(GoHeadEvent(request: frontend, bytes: Array("GET /call HTTP/1.1\r\ntraceparent: \(Self.valid)\r\n\r\n".utf8)))
        // The client call (made on goroutine 9, which the handler started) ...
        let client = GoRequestRef(pid: 1, goid: 9, startBootNanos: 1500)
        // ... reaches a traced backend before the client's own event comes back.
        let backend = GoRequestRef(pid: 2, goid: 30, startBootNanos: 1600)
        contexts.begin(GoHeadEvent(request: backend, parent: client, grandparent: frontend, bytes: Array("GET /hello HTTP/1.1\r\n\r\n".utf8)))
        let backendSpan = contexts.context(for: Self.event(.server, pid: 2, goid: 30, start: 1600))
        let clientSpan = contexts.context(for: Self.event(.client, pid: 1, goid: 9, start: 1500, parent: frontend))
        let frontendSpan = contexts.context(for: Self.event(.server, pid: 1, goid: 7, start: 1000))

        #expect(frontendSpan.traceID.hex == "4bf92f3577b34da6a3ce929d0e0e4736" && frontendSpan.parentSpanID?.hex == "00f067aa0ba902b7")
        #expect(clientSpan.traceID == frontendSpan.traceID && clientSpan.parentSpanID == frontendSpan.spanID)
        #expect(backendSpan.traceID == frontendSpan.traceID && backendSpan.parentSpanID == clientSpan.spanID)
        // A request nothing links to is a root of its own.
        let lone = contexts.context(for: Self.event(.client, pid: 1, goid: 50, start: 5000))
        #expect(lone.parentSpanID == nil && lone.traceID != frontendSpan.traceID)
    }

    @Test func goContextsAreBounded() {
        var contexts = GoTraceContexts(capacity: 4)
        for i in 0..<10 { contexts.begin(GoHeadEvent(request: GoRequestRef(pid: 1, goid: UInt64(i), startBootNanos: 1), bytes: [])) }
        #expect(contexts.count == 4)
    }

    // MARK: TLS and MySQL on one thread

    @Test func tlsServerSpanParentsClientAndQueryOnItsThread() throws {
        var tracker = TLSHTTPTracker(clock: BootClock(), resource: Self.resource)
        func feed(_ dir: SSLEvent.Direction, _ text: String, _ t: UInt64, ssl: UInt64, tid: UInt32 = 11) -> [Span] {
            tracker.consume(SSLEvent(pid: 10, tid: tid, ssl: ssl, direction: dir, startBootNanos: t, endBootNanos: t + 10, data: Array(text.utf8)))
        }
        // Thread 11 reads a request with a traceparent: it is now inside that server span.
        #expect(feed(.read, "GET /orders HTTP/1.1\r\nHost: a\r\ntraceparent: \(Self.valid)\r\n\r\n", 100, ssl: 0xA).isEmpty)
        let inside = try #require(tracker.serverContext(pid: 10, tid: 11))
        #expect(tracker.serverContext(pid: 10, tid: 12) == nil)
        // A query on that thread, and an outgoing TLS request from it.
        let query = MySQLSpans(clock: BootClock(), resource: Self.resource)
            .span(for: MySQLEvent(pid: 10, tid: 11, startBootNanos: 150, endBootNanos: 160, result: 0, statement: Array("SELECT 1".utf8)), parent: inside)
        #expect(feed(.write, "GET /stock HTTP/1.1\r\nHost: b\r\n\r\n", 200, ssl: 0xB).isEmpty)
        let client = try #require(feed(.read, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 300, ssl: 0xB).first)
        let server = try #require(feed(.write, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 400, ssl: 0xA).first)
        #expect(server.traceID.hex == "4bf92f3577b34da6a3ce929d0e0e4736" && server.parentSpanID?.hex == "00f067aa0ba902b7")
        #expect(server.spanID == inside.spanID)
        #expect(query.traceID == server.traceID && query.parentSpanID == server.spanID)
        #expect(client.kind == .client && client.traceID == server.traceID && client.parentSpanID == server.spanID)
        // The response ended the server span: the thread is outside it again.
        #expect(tracker.serverContext(pid: 10, tid: 11) == nil)
    }
}
