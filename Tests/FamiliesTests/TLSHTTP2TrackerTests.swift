@testable import Families
import Testing
import TraceEvents
@testable import Tracing

/// HTTP/2 in the TLS plaintext (`TLSHTTPTracker+HTTP2`): spans per stream for
/// both roles, resets, trace context, a tracer joining mid-connection, and
/// connections that follow one another on a reused `SSL*`.
@Suite struct TLSHTTP2TrackerTests {
    static let clock = BootClock()
    var tracker = TLSHTTPTracker(clock: clock) { pid in
        TracedProcess(pid: pid, executablePath: "/usr/sbin/nginx").resource(environment: [:])
    }

    static func frame(_ type: UInt8, _ flags: UInt8, _ stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
        let n = payload.count
        return [UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF), type, flags,
                UInt8(stream >> 24), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)] + payload
    }

    /// A header block of literals; `indexed` ones are inserted into the dynamic table.
    static func block(_ fields: [(String, String)], indexed: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        for (n, v) in fields {
            out.append(indexed ? 0x40 : 0x00)
            out.append(UInt8(n.utf8.count))
            out += Array(n.utf8)
            out.append(UInt8(v.utf8.count))
            out += Array(v.utf8)
        }
        return out
    }

    static let settings = frame(4, 0, 0, [])
    static func request(_ stream: UInt32, _ path: String, extra: [(String, String)] = [], indexed: Bool = false) -> [UInt8] {
        frame(1, 0x5, stream, block([(":method", "GET"), (":scheme", "https"), (":authority", "localhost:8443"), (":path", path),
                                     ("authorization", "Bearer secret")] + extra, indexed: indexed))
    }
    static func response(_ stream: UInt32, _ status: String, body: Bool = true) -> [UInt8] {
        frame(1, body ? 0x4 : 0x5, stream, block([(":status", status), ("set-cookie", "s=1")])) + (body ? frame(0, 0x1, stream, Array("ok\n".utf8)) : [])
    }

    static func ev(_ d: SSLEvent.Direction, _ bytes: [UInt8], _ start: UInt64, _ end: UInt64, ssl: UInt64 = 0xB0, tid: UInt32 = 11) -> SSLEvent {
        SSLEvent(pid: 20, tid: tid, ssl: ssl, direction: d, startBootNanos: start, endBootNanos: end, data: bytes)
    }

    mutating func feed(_ events: [SSLEvent]) -> [Span] { events.flatMap { tracker.consume($0) } }

    @Test mutating func serverStreamsInterleaved() {
        let spans = feed([
            Self.ev(.read, HTTP2FrameParser.preface + Self.settings + Self.request(1, "/ok?id=1"), 1000, 1100),
            Self.ev(.write, Self.settings, 1200, 1250),
            Self.ev(.read, Self.request(3, "/busy") + Self.request(5, "/missing"), 1300, 1400),
            Self.ev(.write, Self.response(3, "503") + Self.response(1, "200"), 1500, 1600),
            Self.ev(.write, Array(Self.response(5, "404").prefix(12)), 1700, 1750),
            Self.ev(.write, Array(Self.response(5, "404").dropFirst(12)), 1800, 1900),
        ])
        #expect(spans.count == 3)
        let byPath = Dictionary(spans.map { ($0.attribute("url.path")!.description, $0) }, uniquingKeysWith: { a, _ in a })
        let ok = byPath["/ok"], busy = byPath["/busy"], missing = byPath["/missing"]
        #expect(ok?.kind == .server && ok?.name == "GET /ok" && ok?.attribute("url.query") == .string("id=1"))
        #expect(ok?.attribute("http.response.status_code") == .int(200) && ok?.attribute("network.protocol.version") == .string("2"))
        #expect(ok?.attribute("server.address") == .string("localhost") && ok?.attribute("server.port") == .int(8443))
        #expect(ok?.startTimeUnixNano == Self.clock.unixNanos(fromBoot: 1100) && ok?.endTimeUnixNano == Self.clock.unixNanos(fromBoot: 1600))
        #expect(busy?.status == .error(message: "HTTP 503") && busy?.attribute("http.response.status_code") == .int(503))
        #expect(missing?.attribute("http.response.status_code") == .int(404) && missing?.status == .unset, "404 is no server error")
        #expect(missing?.endTimeUnixNano == Self.clock.unixNanos(fromBoot: 1900), "ends with the write carrying END_STREAM")
        #expect(spans.allSatisfy { $0.attribute("uprobe_trace.incomplete") == nil })
        #expect(!"\(spans)".contains("secret") && !"\(spans)".contains("s=1"), "credentials are never kept")
        #expect(tracker.role(pid: 20, ssl: 0xB0) == .server)
    }

    @Test mutating func serverJoinsIncomingTraceAndResetEndsWithError() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        let spans = feed([
            Self.ev(.read, HTTP2FrameParser.preface + Self.settings + Self.request(1, "/a", extra: [("traceparent", tp)]), 1000, 1100),
            Self.ev(.read, Self.frame(3, 0, 1, [0, 0, 0, 8]), 1200, 1300),
        ])
        #expect(spans.count == 1)
        #expect(spans.first?.traceID.hex == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(spans.first?.parentSpanID?.hex == "00f067aa0ba902b7")
        #expect(spans.first?.status == .error(message: "RST_STREAM CANCEL") && spans.first?.attribute("error.type") == .string("CANCEL"))
    }

    @Test mutating func clientStreamsAndGoAway() {
        var spans = feed([
            Self.ev(.write, HTTP2FrameParser.preface + Self.settings + Self.request(1, "/x?y=z"), 1000, 1100),
            Self.ev(.read, Self.settings + Self.frame(1, 0x4, 1, Self.block([(":status", "100")])), 1150, 1180),
            Self.ev(.read, Self.response(1, "404"), 1200, 1300),
            Self.ev(.write, Self.request(3, "/y") + Self.request(5, "/z"), 1400, 1500),
            Self.ev(.read, Self.frame(7, 0, 0, [0, 0, 0, 3, 0, 0, 0, 0]), 1600, 1700),
        ])
        #expect(spans.count == 2)
        let x = spans.first { $0.attribute("url.path") == .string("/x") }
        #expect(x?.kind == .client && x?.name == "GET" && x?.attribute("url.full") == .string("https://localhost:8443/x?y=z"))
        #expect(x?.startTimeUnixNano == Self.clock.unixNanos(fromBoot: 1000) && x?.endTimeUnixNano == Self.clock.unixNanos(fromBoot: 1300),
                "write entry to the return of the read with the final (non-1xx) head")
        #expect(x?.status == .error(message: "HTTP 404"))
        let z = spans.first { $0.attribute("url.path") == .string("/z") }
        #expect(z?.status == .error(message: "GOAWAY NO_ERROR"), "stream 5 > last stream 3 was not processed")
        spans = feed([Self.ev(.read, Self.response(3, "200"), 1800, 1900)])
        #expect(spans.count == 1 && spans.first?.status == .unset)
    }

    @Test mutating func midConnectionSpansAreIncompleteNeverWrong() {
        // Seen from the start, the client inserted :path /secret-first into the table;
        // a tracer that joins later sees only a reference to it.
        let inserted = Self.frame(1, 0x5, 5, Self.block([(":method", "GET"), (":path", "/late")], indexed: true))
        let reference = Self.frame(1, 0x5, 7, [0xBF, 0xBE, 0x87]) // :method GET, :path /late (from the table), :scheme https
        let unknown = Self.frame(1, 0x5, 9, [0x82, 0xC0]) // GET and an entry inserted before the tracer came
        let spans = feed([
            Self.ev(.read, Self.settings + inserted, 1000, 1100),
            Self.ev(.read, reference + unknown, 1200, 1300),
            Self.ev(.write, Self.response(5, "200") + Self.response(7, "200") + Self.response(9, "200"), 1400, 1500),
        ])
        #expect(spans.count == 3)
        #expect(tracker.role(pid: 20, ssl: 0xB0) == .server)
        let paths = spans.map { $0.attribute("url.path")?.description ?? "-" }
        #expect(paths == ["/late", "/late", "-"], "\(paths)")
        #expect(spans[2].name == "GET" || spans[2].name == "HTTP")
        #expect(spans[2].attribute("uprobe_trace.incomplete") == .bool(true))
        #expect(spans[0].attribute("uprobe_trace.incomplete") == nil && spans[1].attribute("uprobe_trace.incomplete") == nil)
    }

    /// The bug of issue 15: an event-loop server frees an h2 connection's SSL*
    /// and gets it back from malloc for an HTTP/1.1 one.
    @Test(arguments: [true, false])
    mutating func reusedSSLPointerStartsAFreshConnection(freeSeen: Bool) {
        var events = [
            Self.ev(.read, HTTP2FrameParser.preface + Self.settings + Self.request(1, "/h2"), 1000, 1100),
            Self.ev(.write, Self.response(1, "200"), 1200, 1300),
        ]
        if freeSeen { events.append(Self.ev(.free, [], 1350, 1350)) }
        events += [
            Self.ev(.read, Array("GET /h1 HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8), 1400, 1500),
            Self.ev(.write, Array("HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n".utf8), 1600, 1700),
        ]
        if freeSeen { events.append(Self.ev(.free, [], 1750, 1750)) }
        events += [
            Self.ev(.read, HTTP2FrameParser.preface + Self.settings + Self.request(1, "/again"), 1800, 1900),
            Self.ev(.write, Self.response(1, "404"), 2000, 2100),
        ]
        let spans = feed(events)
        #expect(spans.map { $0.attribute("url.path")?.description ?? "-" } == ["/h2", "/h1", "/again"])
        #expect(spans.map { $0.attribute("network.protocol.version")?.description ?? "-" } == ["2", "1.1", "2"])
        #expect(tracker.connectionCount == 1)
    }
}

extension TLSHTTP2TrackerTests {
    /// nginx writes its SETTINGS before it reads the client's preface.
    @Test mutating func serverSettingsBeforePreface() {
        let spans = feed([
            Self.ev(.write, Self.frame(4, 0, 0, [0, 3, 0, 0, 0, 128]), 900, 950),
            Self.ev(.read, HTTP2FrameParser.preface + Self.settings + Self.request(1, "/first", indexed: true), 1000, 1100),
            Self.ev(.write, Self.response(1, "200"), 1200, 1300),
            Self.ev(.read, Self.frame(1, 0x5, 3, [0x82, 0x87, 0xBE, 0xBF]), 1400, 1500), // :path from the table (index 63; 62 is authorization)
            Self.ev(.write, Self.response(3, "404"), 1600, 1700),
        ])
        #expect(tracker.role(pid: 20, ssl: 0xB0) == .server)
        #expect(spans.map { $0.attribute("url.path")?.description ?? "-" } == ["/first", "/first"])
        #expect(spans.allSatisfy { $0.kind == .server && $0.attribute("uprobe_trace.incomplete") == nil })
    }
}

extension TLSHTTP2TrackerTests {
    /// A connection freed with a stream unanswered: no span, and its thread is no longer inside it.
    @Test mutating func freedConnectionLeavesItsStreams() {
        _ = feed([Self.ev(.read, HTTP2FrameParser.preface + Self.settings + Self.request(1, "/slow"), 1000, 1100)])
        #expect(tracker.serverContext(pid: 20, tid: 11) != nil)
        let spans = feed([Self.ev(.free, [], 1200, 1200)])
        #expect(spans.isEmpty && tracker.serverContext(pid: 20, tid: 11) == nil && tracker.connectionCount == 0)
    }
}
