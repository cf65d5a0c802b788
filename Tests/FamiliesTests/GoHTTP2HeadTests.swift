@testable import Families
import Testing
import TraceEvents
@testable import Tracing

/// Head records of HTTP/2 requests: the HEADERS frame's trace fields as
/// `struct ut_go_h2_trace`, never parsed as an HTTP/1 head (and the reverse).
@Suite struct GoHTTP2HeadTests {
    static let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    /// The bytes go_h2_trace_fields leaves: lengths, count, the copied values.
    static func record(traceparent: String?, count: UInt16 = 1, tracestate: String? = nil) -> [UInt8] {
        var t = ut_go_h2_trace()
        t.traceparent_count = traceparent == nil ? 0 : count
        func fill<T>(_ tuple: inout T, _ s: String?) -> UInt16 {
            let bytes = Array((s ?? "").utf8)
            withUnsafeMutableBytes(of: &tuple) { raw in
                for (i, b) in bytes.prefix(raw.count - 1).enumerated() { raw[i] = b }
            }
            return UInt16(bytes.count)
        }
        t.traceparent_len = fill(&t.traceparent, traceparent)
        t.tracestate_len = fill(&t.tracestate, tracestate)
        return withUnsafeBytes(of: &t) { Array($0) }
    }

    @Test func traceFieldsOfAnHTTP2Head() {
        let head = GoHeadEvent(request: GoRequestRef(pid: 1, goid: 2, startBootNanos: 3),
                               bytes: Self.record(traceparent: Self.traceparent, tracestate: "rojo=1,congo=2"), http2: true)
        #expect(head.traceHeaders.traceparent == Self.traceparent)
        #expect(head.traceHeaders.tracestate == "rojo=1,congo=2")
        var contexts = GoTraceContexts()
        contexts.begin(head)
        let e = GoHTTPEvent(role: .server, pid: 1, goid: 2, flags: UInt32(UT_FLAG_HTTP2.rawValue), startBootNanos: 3, endBootNanos: 4,
                            status: 201, method: "GET", path: "/")
        let context = contexts.context(for: e)
        #expect(context.traceID.hex == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(context.parentSpanID?.hex == "00f067aa0ba902b7")
        #expect(e.http2)
    }

    @Test func noTraceContextWhenAbsentRepeatedOrCut() {
        #expect(GoHeadEvent.http2TraceHeaders(Self.record(traceparent: nil)).traceparent == nil)
        #expect(GoHeadEvent.http2TraceHeaders(Self.record(traceparent: Self.traceparent, count: 2)).traceparent == nil, "two traceparent fields: neither")
        let long = String(repeating: "a", count: Int(UT_H2_TRACESTATE_MAX) + 10)
        #expect(GoHeadEvent.http2TraceHeaders(Self.record(traceparent: Self.traceparent, tracestate: long)).tracestate == nil, "not copied whole")
        #expect(GoHeadEvent.http2TraceHeaders(Array(Self.record(traceparent: Self.traceparent).prefix(20))).traceparent == nil, "short record")
    }

    /// The same bytes as an HTTP/1 head and as an HTTP/2 record: each read only as what it is.
    @Test func protocolsAreNotMixed() {
        let h1 = Array("GET / HTTP/1.1\r\ntraceparent: \(Self.traceparent)\r\n\r\n".utf8)
        #expect(GoHeadEvent(request: GoRequestRef(pid: 1, goid: 1, startBootNanos: 1), bytes: h1).traceHeaders.traceparent == Self.traceparent)
        #expect(GoHeadEvent(request: GoRequestRef(pid: 1, goid: 1, startBootNanos: 1), bytes: h1, http2: true).traceHeaders.traceparent == nil)
        let h2 = Self.record(traceparent: Self.traceparent)
        #expect(GoHeadEvent(request: GoRequestRef(pid: 1, goid: 1, startBootNanos: 1), bytes: h2).traceHeaders.traceparent == nil)
    }

    @Test func http2SpanSaysProtocolVersion2() {
        let spans = GoHTTPSpans(clock: BootClock(), resource: { _ in Resource(attributes: []) })
        let h2 = spans.span(for: GoHTTPEvent(role: .server, pid: 1, flags: UInt32(UT_FLAG_HTTP2.rawValue), startBootNanos: 1, endBootNanos: 2,
                                             status: 404, method: "GET", path: "/x"))
        #expect(h2.attributes.contains(.string("network.protocol.version", "2")))
        let h1 = spans.span(for: GoHTTPEvent(role: .server, pid: 1, startBootNanos: 1, endBootNanos: 2, status: 404, method: "GET", path: "/x"))
        #expect(!h1.attributes.contains { $0.key == "network.protocol.version" })
    }
}
