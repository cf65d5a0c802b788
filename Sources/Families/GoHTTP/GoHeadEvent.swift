import Tracing
import TraceEvents

/// Names one Go HTTP request: the process, its goroutine, and the boot time
/// its entry probe fired (`struct ut_go_request_ref`).
public struct GoRequestRef: Sendable, Hashable {
    public var pid: UInt32
    public var goid: UInt64
    public var startBootNanos: UInt64

    public init(pid: UInt32, goid: UInt64, startBootNanos: UInt64) {
        self.pid = pid
        self.goid = goid
        self.startBootNanos = startBootNanos
    }

    /// Nil for the all-zero "none".
    init?(_ r: ut_go_request_ref) {
        guard r.start_ns != 0 else { return nil }
        self.init(pid: r.tgid, goid: r.goid, startBootNanos: r.start_ns)
    }
}

/// A decoded `struct ut_go_head_event` and its bytes: a Go server request has
/// begun (sent at ServeHTTP entry, before anything its handler does).
public struct GoHeadEvent: Sendable, Equatable {
    /// The server request (the same pid, goid and start as its later `GoHTTPEvent`).
    public var request: GoRequestRef
    /// The traced client (another process on this host) that sent it, and that client's own parent.
    public var parent: GoRequestRef?
    public var grandparent: GoRequestRef?
    /// HTTP/1: the end of the connection's read buffer up to where the request
    /// head ends. HTTP/2: a `struct ut_go_h2_trace` (the HEADERS frame's trace fields).
    public var bytes: [UInt8]
    /// The request came on an HTTP/2 stream: `bytes` is a `ut_go_h2_trace`.
    public var http2: Bool

    public init(request: GoRequestRef, parent: GoRequestRef? = nil, grandparent: GoRequestRef? = nil, bytes: [UInt8], http2: Bool = false) {
        self.request = request
        self.parent = parent
        self.grandparent = grandparent
        self.bytes = bytes
        self.http2 = http2
    }

    /// Decodes one ring-buffer record; nil if it is not a head record or is cut short.
    public init?(bytes raw: UnsafeRawBufferPointer) {
        let size = MemoryLayout<ut_go_head_event>.size
        guard raw.count >= size else { return nil }
        var e = ut_go_head_event()
        withUnsafeMutableBytes(of: &e) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0..<size])) }
        guard e.h.kind == UInt32(UT_EVENT_GO_HTTP_HEAD.rawValue), Int(e.captured) <= raw.count - size else { return nil }
        request = GoRequestRef(pid: e.h.tgid, goid: e.h.goid, startBootNanos: e.h.start_ns)
        parent = GoRequestRef(e.parent)
        grandparent = GoRequestRef(e.grandparent)
        bytes = [UInt8](raw[size..<(size + Int(e.captured))])
        http2 = e.h.flags & UInt32(UT_FLAG_HTTP2.rawValue) != 0
    }

    /// The `traceparent` and `tracestate` header values of the request head at
    /// the end of `bytes` (nil when absent; nil `traceparent` when it occurs more than once).
    public var traceHeaders: (traceparent: String?, tracestate: String?) {
        http2 ? Self.http2TraceHeaders(bytes) : RequestHeadWindow.traceHeaders(endingAt: bytes)
    }

    /// The values of a `struct ut_go_h2_trace`: none for a short record, a
    /// value longer than its buffer (not copied whole), or a repeated traceparent.
    static func http2TraceHeaders(_ bytes: [UInt8]) -> (traceparent: String?, tracestate: String?) {
        guard bytes.count >= MemoryLayout<ut_go_h2_trace>.size else { return (nil, nil) }
        var t = ut_go_h2_trace()
        withUnsafeMutableBytes(of: &t) { dst in bytes.withUnsafeBytes { dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<dst.count])) } }
        func value<T>(_ tuple: inout T, _ length: UInt16) -> String? {
            withUnsafeBytes(of: &tuple) { raw in
                guard length > 0, Int(length) < raw.count else { return nil }
                return String(decoding: UnsafeRawBufferPointer(rebasing: raw[0..<Int(length)]), as: UTF8.self)
            }
        }
        let traceparent = t.traceparent_count == 1 ? value(&t.traceparent, t.traceparent_len) : nil
        return (traceparent, value(&t.tracestate, t.tracestate_len))
    }
}
