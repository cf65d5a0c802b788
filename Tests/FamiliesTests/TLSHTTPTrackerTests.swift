@testable import Families
import Testing
import TraceEvents
@testable import Tracing

@Suite struct TLSHTTPTrackerTests {
    static let clock = BootClock()
    var tracker = TLSHTTPTracker(clock: clock) { pid in
        TracedProcess(pid: pid, executablePath: "/usr/bin/python3").resource(environment: [:])
    }

    static func write(_ text: String, _ start: UInt64, _ end: UInt64, ssl: UInt64 = 0xA0, pid: UInt32 = 10) -> SSLEvent {
        SSLEvent(pid: pid, tid: 11, ssl: ssl, direction: .write, startBootNanos: start, endBootNanos: end, data: Array(text.utf8))
    }

    static func read(_ text: String, _ start: UInt64, _ end: UInt64, ssl: UInt64 = 0xA0, pid: UInt32 = 10) -> SSLEvent {
        SSLEvent(pid: pid, tid: 11, ssl: ssl, direction: .read, ex: true, startBootNanos: start, endBootNanos: end, data: Array(text.utf8))
    }

    /// Boot ns → the span's wall-clock ns.
    static func wall(_ boot: UInt64) -> UInt64 { clock.unixNanos(fromBoot: boot) }

    mutating func feed(_ events: [SSLEvent]) -> [Span] { events.flatMap { tracker.consume($0) } }

    @Test mutating func clientKeepAlive() {
        var spans = feed([
            Self.write("GET /a?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n", 1000, 1100),
            Self.read("HTTP/1.1 200 OK\r\nContent-Len", 2000, 2100),
            Self.read("gth: 2\r\n\r\nok", 2200, 2300),
        ])
        #expect(spans.count == 1)
        spans += feed([
            Self.write("GET /b HTTP/1.1\r\nHost: example.com\r\n\r\n", 3000, 3100),
            Self.read("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 4000, 4100),
        ])
        #expect(spans.count == 2)
        guard spans.count == 2 else { return }
        let a = spans[0], b = spans[1]
        #expect(a.kind == .client && a.name == "GET")
        #expect(a.startTimeUnixNano == Self.wall(1000), "entry of the write carrying the request line")
        #expect(a.endTimeUnixNano == Self.wall(2300), "return of the read completing the response head")
        #expect(a.attribute("url.full") == .string("https://example.com/a?q=1"))
        #expect(a.attribute("url.path") == .string("/a") && a.attribute("url.query") == .string("q=1"))
        #expect(a.attribute("server.address") == .string("example.com") && a.attribute("server.port") == .int(443))
        #expect(a.attribute("http.response.status_code") == .int(200))
        #expect(a.attribute("network.protocol.name") == .string("http"))
        #expect(a.attribute("network.protocol.version") == .string("1.1"))
        #expect(a.attribute("url.scheme") == .string("https"))
        #expect(a.status == .unset)
        #expect(b.attribute("http.response.status_code") == .int(404))
        #expect(b.status == .error(message: "HTTP 404"), "client: >= 400 is an error")
        #expect(b.attribute("error.type") == .string("404"))
        #expect(b.startTimeUnixNano == Self.wall(3000) && b.endTimeUnixNano == Self.wall(4100))
        #expect(tracker.role(pid: 10, ssl: 0xA0) == .client)
    }

    @Test mutating func serverContentLength() {
        let spans = feed([
            Self.read("GET /sleep?ms=5 HTTP/1.1\r\nHost: localhost:8443\r\n", 1000, 1100),
            Self.read("Accept: */*\r\n\r\n", 1200, 1300),
            Self.write("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n", 2000, 2100),
            Self.write("slept\n", 2200, 2300),
        ])
        #expect(spans.count == 1)
        guard let s = spans.first else { return }
        #expect(s.kind == .server && s.name == "GET /sleep")
        #expect(s.startTimeUnixNano == Self.wall(1300), "return of the read that completed the request head")
        #expect(s.endTimeUnixNano == Self.wall(2300), "return of the write that completed the body")
        #expect(s.attribute("server.address") == .string("localhost") && s.attribute("server.port") == .int(8443))
        #expect(s.attribute("url.full") == nil)
        #expect(s.resource.attribute("process.pid") == .int(10))
        #expect(tracker.role(pid: 10, ssl: 0xA0) == .server)
    }

    @Test mutating func serverErrorRules() {
        let spans = feed([
            Self.read("GET /x HTTP/1.1\r\n\r\n", 1, 2), Self.write("HTTP/1.1 404 No\r\nContent-Length: 0\r\n\r\n", 3, 4),
            Self.read("GET /y HTTP/1.1\r\n\r\n", 5, 6), Self.write("HTTP/1.1 503 No\r\nContent-Length: 0\r\n\r\n", 7, 8),
        ])
        #expect(spans.map(\.status) == [.unset, .error(message: "HTTP 503")], "server: only 5xx is an error")
    }

    @Test mutating func serverChunkedResponseAcrossWrites() {
        let spans = feed([
            Self.read("GET /stream HTTP/1.1\r\nHost: h\r\n\r\n", 100, 200),
            Self.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 300, 400),
            Self.write("5\r\nhel", 500, 600),
            Self.write("lo\r\n0\r\n", 700, 800),
            Self.write("\r\n", 900, 1000),
        ])
        #expect(spans.count == 1)
        #expect(spans.first?.endTimeUnixNano == Self.wall(1000))
    }

    @Test mutating func clientChunkedResponseAcrossReads() {
        var spans = feed([
            Self.write("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n", 100, 110),
            Self.read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab", 200, 210),
            Self.read("c\r\n0\r\n\r\n", 300, 310),
            Self.write("GET /2 HTTP/1.1\r\nHost: h\r\n\r\n", 400, 410),
            Self.read("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 500, 510),
        ])
        spans.sort { $0.startTimeUnixNano < $1.startTimeUnixNano }
        #expect(spans.map { $0.attribute("http.response.status_code") } == [.int(200), .int(201)])
        #expect(spans.map(\.endTimeUnixNano) == [Self.wall(210), Self.wall(510)])
    }

    @Test mutating func serverResponseWithoutLengthEndsAtLastWriteBeforeNextRequest() {
        var spans = feed([
            Self.read("GET /a HTTP/1.1\r\n\r\n", 100, 200),
            Self.write("HTTP/1.1 200 OK\r\n\r\n", 300, 400),
            Self.write("part one", 500, 600),
            Self.write("part two", 700, 800),
        ])
        #expect(spans.isEmpty)
        spans += feed([Self.read("GET /b HTTP/1.1\r\n\r\n", 900, 1000)])
        #expect(spans.count == 1)
        #expect(spans.first?.endTimeUnixNano == Self.wall(800))
        spans += feed([Self.write("HTTP/1.1 200 OK\r\n\r\nrest", 1100, 1200)])
        let flushed = tracker.flush(pid: 10)
        #expect(flushed.count == 1 && flushed.first?.endTimeUnixNano == Self.wall(1200))
        #expect(tracker.connectionCount == 0)
    }

    @Test mutating func pipelinedRequests() {
        let client = feed([
            Self.write("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n", 100, 110),
            Self.read("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 202 Accepted\r\nContent-Length: 1\r\n\r\nb", 200, 210),
        ])
        #expect(client.map { $0.attribute("url.path") } == [.string("/1"), .string("/2")])
        #expect(client.map { $0.attribute("http.response.status_code") } == [.int(200), .int(202)])
        #expect(client.allSatisfy { $0.startTimeUnixNano == Self.wall(100) && $0.endTimeUnixNano == Self.wall(210) })

        let server = feed([
            Self.read("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n", 100, 110, ssl: 0xB0),
            Self.write("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", 200, 210, ssl: 0xB0),
            Self.write("HTTP/1.1 202 Accepted\r\nContent-Length: 1\r\n\r\nb", 300, 310, ssl: 0xB0),
        ])
        #expect(server.map { $0.attribute("url.path") } == [.string("/1"), .string("/2")])
        #expect(server.map(\.endTimeUnixNano) == [Self.wall(210), Self.wall(310)])
        #expect(server.allSatisfy { $0.kind == .server && $0.startTimeUnixNano == Self.wall(110) })
    }

    @Test mutating func requestHeadSplitAtEveryByte() {
        let head = Array("POST /submit?id=1 HTTP/1.1\r\nHost: api.example.com:9443\r\nContent-Length: 4\r\n\r\n".utf8)
        for cut in 1..<head.count {
            var t = TLSHTTPTracker(clock: Self.clock) { _ in Resource(attributes: []) }
            var spans: [Span] = []
            let events = [
                SSLEvent(pid: 1, ssl: 1, direction: .write, startBootNanos: 10, endBootNanos: 11, data: Array(head[..<cut])),
                SSLEvent(pid: 1, ssl: 1, direction: .write, startBootNanos: 20, endBootNanos: 21, data: Array(head[cut...]) + Array("body".utf8)),
                Self.read("HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n", 30, 31, ssl: 1, pid: 1),
            ]
            for e in events { spans += t.consume(e) }
            #expect(spans.count == 1, "cut \(cut)")
            guard let s = spans.first else { continue }
            #expect(s.startTimeUnixNano == Self.wall(10), "entry of the write where the request line began; cut \(cut)")
            #expect(s.endTimeUnixNano == Self.wall(31))
            #expect(s.attribute("http.request.method") == .string("POST"))
            #expect(s.attribute("url.full") == .string("https://api.example.com:9443/submit?id=1"))
            #expect(s.status == .error(message: "HTTP 500"))
        }
    }

    @Test mutating func nonHTTPConnectionsMakeNoSpans() {
        let spans = feed([
            Self.write("EHLO mail.example.com\r\n", 1, 2),
            Self.read("250 hello\r\n", 3, 4),
            Self.write("GET / HTTP/1.1\r\n\r\n", 5, 6),
            Self.read("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 7, 8),
            SSLEvent(pid: 10, ssl: 0xC0, direction: .read, startBootNanos: 1, endBootNanos: 2, data: [0, 1, 2, 3, 0xff]),
        ])
        #expect(spans.isEmpty)
        #expect(tracker.role(pid: 10, ssl: 0xA0) == nil)
    }

    @Test mutating func traceparentMakesTheSpanAChild() {
        let spans = feed([
            Self.read("GET / HTTP/1.1\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
                + "tracestate: vendor=1\r\nAuthorization: Basic c2VjcmV0\r\n\r\n", 1, 2),
            Self.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 3, 4),
        ])
        #expect(spans.first?.traceID.hex == "0af7651916cd43dd8448eb211c80319c")
        #expect(spans.first?.parentSpanID?.hex == "b7ad6b7169203331")
        #expect(spans.first?.traceState == "vendor=1")
        #expect(spans.first.map { !$0.attributes.contains { $0.value.description.contains("c2VjcmV0") } } == true)
    }

    @Test func connectionsAreBounded() {
        var t = TLSHTTPTracker(clock: Self.clock, maxConnections: 8) { _ in Resource(attributes: []) }
        for ssl in UInt64(1)...100 { _ = t.consume(Self.write("GET / HTTP/1.1\r\n\r\n", ssl, ssl + 1, ssl: ssl)) }
        #expect(t.connectionCount <= 8)
        // The most recent connection is still there.
        #expect(t.role(pid: 10, ssl: 100) == .client)
        #expect(t.role(pid: 10, ssl: 1) == nil)
    }

    @Test func pendingRequestsAreBounded() {
        var t = TLSHTTPTracker(clock: Self.clock, maxPendingPerConnection: 4) { _ in Resource(attributes: []) }
        for i in UInt64(0)..<50 { _ = t.consume(Self.write("GET /\(i) HTTP/1.1\r\n\r\n", i, i)) }
        let spans = (0..<50).flatMap { i in t.consume(Self.read("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 100 + UInt64(i), 100 + UInt64(i))) }
        #expect(spans.map { $0.attribute("url.path") } == [.string("/46"), .string("/47"), .string("/48"), .string("/49")])
    }

    @Test func sslEventLayoutMatchesHeader() {
        typealias E = ut_ssl_event
        #expect(MemoryLayout<E>.size == Int(UT_SIZEOF_SSL_EVENT.rawValue))
        #expect(MemoryLayout<E>.offset(of: \.ssl) == 40)
        #expect(MemoryLayout<E>.offset(of: \.result) == 48)
        #expect(MemoryLayout<E>.offset(of: \.function) == 56)
        #expect(MemoryLayout<E>.offset(of: \.captured) == 60)
        #expect(MemoryLayout<ut_config>.offset(of: \.capture_bytes) == 4)
    }

    @Test func decodesARingBufferRecord() {
        var e = ut_ssl_event()
        e.h.kind = UInt32(UT_EVENT_SSL.rawValue)
        e.h.tgid = 77
        e.h.tid = 78
        e.h.start_ns = 5
        e.h.end_ns = 9
        e.ssl = 0xdead
        e.result = 100
        e.function = UInt32(UT_SSL_READ_EX.rawValue)
        e.captured = 4
        let bytes = withUnsafeBytes(of: e) { Array($0) } + Array("GET ".utf8)
        let d = SSLEvent(bytes: bytes)
        #expect(d?.pid == 77 && d?.tid == 78 && d?.ssl == 0xdead && d?.result == 100)
        #expect(d?.direction == .read && d?.data == Array("GET ".utf8) && d?.missingBytes == 96)
        #expect(d?.startBootNanos == 5 && d?.endBootNanos == 9)
        #expect(SSLEvent(bytes: Array(bytes.dropLast())) == nil, "length must match captured")
        e.h.kind = UInt32(UT_EVENT_MYSQL_QUERY.rawValue)
        #expect(SSLEvent(bytes: withUnsafeBytes(of: e) { Array($0) } + Array("GET ".utf8)) == nil)
    }
}
