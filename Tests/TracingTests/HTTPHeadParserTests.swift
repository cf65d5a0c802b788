import Testing
@testable import Tracing

@Suite struct HTTPHeadParserTests {
    static let request = Array((
        "GET /api/items?id=7&x=y HTTP/1.1\r\nHost: example.com:8443\r\nUser-Agent: curl/7.88\r\n"
            + "Authorization: Bearer s3cr3t\r\nCookie: session=abc\r\nProxy-Authorization: Basic Zm9v\r\n"
            + "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\nAccept: */*\r\n\r\n").utf8)
    static let response = Array((
        "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nSet-Cookie: id=42; Secure\r\n"
            + "Content-Length: 10\r\n\r\nnot found\n").utf8)

    /// Feeds `pieces` in order and returns every event.
    static func parse(_ pieces: [[UInt8]], _ parser: inout HTTPHeadParser) -> [HTTPHeadParser.Event] {
        pieces.flatMap { parser.feed($0) }
    }

    static func heads(_ events: [HTTPHeadParser.Event]) -> [HTTPHead] {
        events.compactMap { if case .head(let h) = $0 { return h } else { return nil } }
    }

    @Test func requestHeadSplitAtEveryByte() {
        let bytes = Self.request
        for cut in 0...bytes.count {
            var p = HTTPHeadParser()
            let events = Self.parse([Array(bytes[..<cut]), Array(bytes[cut...])], &p)
            #expect(events.count == 2, "cut at \(cut): \(events)")
            guard case .head(let h)? = events.first else {
                Issue.record("no head for cut \(cut)")
                continue
            }
            #expect(h.startLine == .request(method: "GET", target: "/api/items?id=7&x=y", version: "HTTP/1.1"))
            #expect(h.header("Host") == "example.com:8443")
            #expect(h.header("traceparent") == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
            #expect(h.framing == .none)
            #expect(events.last == .messageEnd)
            #expect(!p.isNotHTTP)
        }
    }

    @Test func requestHeadOneByteAtATime() {
        var p = HTTPHeadParser()
        let events = Self.parse(Self.request.map { [$0] }, &p)
        #expect(Self.heads(events).map(\.target) == ["/api/items?id=7&x=y"])
        #expect(events.last == .messageEnd)
    }

    @Test func responseHeadAndBodySplitAtEveryByte() {
        let bytes = Self.response
        for cut in 0...bytes.count {
            var p = HTTPHeadParser()
            let events = Self.parse([Array(bytes[..<cut]), Array(bytes[cut...])], &p)
            let heads = Self.heads(events)
            #expect(heads.count == 1 && events.count == 2 && events.last == .messageEnd, "cut at \(cut): \(events)")
            #expect(heads.first?.status == 404)
            #expect(heads.first?.framing == .length(10))
            // The body's end is only seen once its last byte is.
            let headEnd = bytes.count - 10
            var q = HTTPHeadParser()
            let first = q.feed(Array(bytes[..<cut]))
            #expect(first.contains(.messageEnd) == (cut == bytes.count))
            #expect(Self.heads(first).count == (cut >= headEnd ? 1 : 0), "cut \(cut)")
        }
    }

    @Test func sensitiveHeadersAreNeverKept() {
        var p = HTTPHeadParser()
        let req = Self.heads(p.feed(Self.request)).first
        var r = HTTPHeadParser()
        let resp = Self.heads(r.feed(Self.response)).first
        for h in [req, resp].compactMap({ $0 }) {
            for name in ["authorization", "cookie", "set-cookie", "proxy-authorization", "user-agent", "accept"] {
                #expect(h.headers[name] == nil, "\(name) kept")
            }
            let all = h.headers.values.joined(separator: "|")
            #expect(!all.contains("s3cr3t") && !all.contains("session") && !all.contains("id=42") && !all.contains("Zm9v"))
        }
        #expect(resp?.header("content-type") == "text/plain")
    }

    @Test func pipelinedRequestsInOneWrite() {
        let two = Array(("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
            + "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
            + "GET /c HTTP/1.1\r\nHost: h\r\n\r\n").utf8)
        var p = HTTPHeadParser()
        let events = p.feed(two)
        #expect(Self.heads(events).map(\.target) == ["/a", "/b", "/c"])
        #expect(events.filter { $0 == .messageEnd }.count == 3)
        #expect(Self.heads(events)[1].framing == .length(5))
    }

    static let chunked = Array((
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: 1\r\n\r\n"
            + "HTTP/1.1 204 No Content\r\n\r\n").utf8)

    @Test func chunkedResponseSplitAtEveryByte() {
        let bytes = Self.chunked
        let firstEnd = bytes.count - "HTTP/1.1 204 No Content\r\n\r\n".utf8.count
        for cut in 0...bytes.count {
            var p = HTTPHeadParser()
            let a = p.feed(Array(bytes[..<cut]))
            let b = p.feed(Array(bytes[cut...]))
            let events = a + b
            #expect(Self.heads(events).map(\.status) == [200, 204], "cut \(cut): \(events)")
            #expect(events.filter { $0 == .messageEnd }.count == 2, "cut \(cut)")
            #expect(a.contains(.messageEnd) == (cut >= firstEnd), "cut \(cut) of \(bytes.count), \(a)")
        }
        for size in [1, 2, 3, 7] {
            var p = HTTPHeadParser()
            let pieces = stride(from: 0, to: bytes.count, by: size).map { Array(bytes[$0..<min($0 + size, bytes.count)]) }
            let events = Self.parse(pieces, &p)
            #expect(Self.heads(events).map(\.status) == [200, 204])
            #expect(events.filter { $0 == .messageEnd }.count == 2)
        }
    }

    @Test func keepAliveResponsesInSeparateReads() {
        var p = HTTPHeadParser()
        var statuses: [Int] = []
        for code in [200, 201, 500] {
            let body = "body \(code)"
            let head = "HTTP/1.1 \(code) X\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
            let e1 = p.feed(Array(head.utf8))
            statuses += Self.heads(e1).map(\.status)
            #expect(!e1.contains(.messageEnd))
            #expect(p.feed(Array(body.utf8)) == [.messageEnd])
        }
        #expect(statuses == [200, 201, 500])
    }

    @Test func responseToHEADHasNoBody() {
        var p = HTTPHeadParser()
        p.expectResponse(bodyless: true)
        p.expectResponse(bodyless: false)
        let bytes = Array("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)
        let events = p.feed(bytes)
        #expect(Self.heads(events).map(\.framing) == [.none, .length(2)])
        #expect(events.last == .messageEnd)
    }

    @Test func uncapturedBytesInsideABodyAreCounted() {
        var p = HTTPHeadParser()
        let head = Array("HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n".utf8)
        let first = p.feed(head + [UInt8](repeating: 65, count: 100), missing: 8000)
        #expect(Self.heads(first).count == 1 && !first.contains(.messageEnd))
        #expect(p.feed([UInt8](repeating: 65, count: 8192), missing: 20000 - 8100 - 8192) == [.messageEnd])
        #expect(Self.heads(p.feed(Array("HTTP/1.1 200 OK\r\n\r\n".utf8))).count == 1)
    }

    @Test func responseWithoutLengthRunsToNextHead() {
        var p = HTTPHeadParser()
        let e1 = p.feed(Array("HTTP/1.1 200 OK\r\n\r\nsome body".utf8))
        #expect(Self.heads(e1).first?.framing == .untilClose)
        #expect(p.feed(Array("more body GET / HTTP/1.1\r\n".utf8)).isEmpty)
        #expect(Self.heads(p.feed(Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8))).count == 1)
    }

    @Test(arguments: [
        "EHLO mail.example.com\r\n", "220 smtp ready\r\n", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        "\u{16}\u{03}\u{01}\u{02}\u{00}", "GETX / HTTP/1.1\r\n\r\n", "GET / HTTP/2\r\n\r\n", "HTTP/1.1 OK\r\n\r\n",
        "get / HTTP/1.1\r\n\r\n", "GET /a\u{01}b HTTP/1.1\r\n\r\n",
    ])
    func nonHTTPIsIgnored(_ text: String) {
        var p = HTTPHeadParser()
        #expect(p.feed(Array(text.utf8)).isEmpty)
        #expect(p.isNotHTTP)
        // Even a valid head afterwards is not parsed: the stream is not HTTP.
        #expect(p.feed(Array("GET / HTTP/1.1\r\n\r\n".utf8)).isEmpty)
    }

    @Test func nonHTTPIsRecognizedAtTheFirstByte() {
        var p = HTTPHeadParser()
        _ = p.feed(Array("E".utf8))
        #expect(p.isNotHTTP)
        var q = HTTPHeadParser()
        _ = q.feed([0x00, 0x01])
        #expect(q.isNotHTTP)
        var r = HTTPHeadParser()
        _ = r.feed(Array("GE".utf8))
        #expect(!r.isNotHTTP, "a prefix of GET is still possible")
    }

    @Test func badFramingAfterAHeadLosesSyncOnly() {
        var p = HTTPHeadParser()
        let e = p.feed(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".utf8))
        #expect(Self.heads(e).count == 1)
        #expect(!p.isNotHTTP)
        #expect(Self.heads(p.feed(Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8))).count == 1)
    }

    @Test func bodyBytesReachTheCallerSplitAtEveryByte() {
        let cases: [(String, String)] = [
            (String(decoding: Self.response, as: UTF8.self), "not found\n"),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n", "abcde"),
            ("HTTP/1.1 200 OK\r\n\r\nto the end", "to the end"),
        ]
        for (text, want) in cases {
            let bytes = Array(text.utf8)
            for cut in 0...bytes.count {
                var p = HTTPHeadParser()
                var body: [UInt8] = []
                _ = p.feed(Array(bytes[..<cut])) { body += $0 }
                _ = p.feed(Array(bytes[cut...])) { body += $0 }
                #expect(String(decoding: body, as: UTF8.self) == want, "cut \(cut) of \(text)")
            }
        }
    }

    @Test func keptHeadersCanBeWidened() {
        let text = Array("HTTP/1.1 503 Busy\r\nRetry-After: 2\r\nAuthorization: x\r\nContent-Length: 0\r\n\r\n".utf8)
        var plain = HTTPHeadParser()
        #expect(Self.heads(plain.feed(text)).first?.header("retry-after") == nil)
        var widened = HTTPHeadParser(keptHeaders: HTTPHead.keptHeaders.union(["retry-after"]))
        let head = Self.heads(widened.feed(text)).first
        #expect(head?.header("retry-after") == "2" && head?.header("authorization") == nil)
    }

    @Test func lostSyncIsNotABodyToTheEnd() {
        var lost = HTTPHeadParser()
        _ = lost.feed(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".utf8))
        #expect(lost.hasLostSync)
        var open = HTTPHeadParser()
        _ = open.feed(Array("HTTP/1.1 200 OK\r\n\r\nbody".utf8))
        #expect(!open.hasLostSync)
    }

    @Test func overlongLinesAreRejected() {
        var p = HTTPHeadParser()
        let long = "GET /" + String(repeating: "a", count: HTTPHeadParser.maxLineBytes) + " HTTP/1.1\r\n\r\n"
        #expect(p.feed(Array(long.utf8)).isEmpty)
        #expect(p.isNotHTTP)
    }

    @Test func traceParent() {
        let t = TraceParent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        #expect(t?.traceID.hex == "0af7651916cd43dd8448eb211c80319c")
        #expect(t?.parentSpanID.hex == "b7ad6b7169203331")
        #expect(t?.flags == 1)
        #expect(TraceParent("00-00000000000000000000000000000000-b7ad6b7169203331-01") == nil)
        #expect(TraceParent("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01") == nil)
        #expect(TraceParent("garbage") == nil)
    }
}
