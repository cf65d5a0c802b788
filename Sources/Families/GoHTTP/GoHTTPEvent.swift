import Tracing
import TraceEvents

/// A decoded `struct ut_go_http_event` (trace_events.h): one Go net/http
/// request seen at ServeHTTP or roundTrip entry and return.
public struct GoHTTPEvent: DecodedRecord, Sendable, Equatable {
    public enum Role: Sendable { case server, client }

    public var role: Role
    public var header: RecordHeader
    public var status: Int64
    public var contentLength: Int64
    public var method: String
    public var path: String
    public var query: String
    public var host: String
    /// True when a string was longer than its capture buffer.
    public var truncated: Bool
    /// Client: the server request it was made for (same process). Server: the
    /// traced client in another process that sent it.
    public var parent: GoRequestRef?
    /// Server: `parent`'s own parent.
    public var grandparent: GoRequestRef?

    /// This request's identity.
    public var ref: GoRequestRef { GoRequestRef(pid: pid, goid: goid, startBootNanos: startBootNanos) }

    public var panicked: Bool { flags & UInt32(UT_FLAG_PANIC.rawValue) != 0 }
    public var failed: Bool { flags & UInt32(UT_FLAG_ERROR.rawValue) != 0 }
    /// Server: the request came on an HTTP/2 stream (net/http's h2 server).
    public var http2: Bool { flags & UInt32(UT_FLAG_HTTP2.rawValue) != 0 }

    /// Decodes one ring-buffer record; nil if it is not a Go HTTP event or is too short.
    public init?(bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= MemoryLayout<ut_go_http_event>.size else { return nil }
        var e = ut_go_http_event()
        withUnsafeMutableBytes(of: &e) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<MemoryLayout<ut_go_http_event>.size])) }
        switch e.h.kind {
        case UInt32(UT_EVENT_GO_HTTP_SERVER.rawValue): role = .server
        case UInt32(UT_EVENT_GO_HTTP_CLIENT.rawValue): role = .client
        default: return nil
        }
        header = RecordHeader(e.h)
        status = e.status
        contentLength = e.content_length
        var cut = false
        method = GoHTTPEvent.string(&e.method, length: e.method_len, truncated: &cut)
        path = GoHTTPEvent.string(&e.path, length: e.path_len, truncated: &cut)
        query = GoHTTPEvent.string(&e.query, length: e.query_len, truncated: &cut)
        host = GoHTTPEvent.string(&e.host, length: e.host_len, truncated: &cut)
        truncated = cut
        parent = GoRequestRef(e.parent)
        grandparent = GoRequestRef(e.grandparent)
    }

    /// Builds an event directly (tests, replay).
    public init(role: Role, pid: UInt32, tid: UInt32 = 0, goid: UInt64 = 0, flags: UInt32 = 0,
                startBootNanos: UInt64, endBootNanos: UInt64, status: Int64, contentLength: Int64 = -1,
                method: String, path: String, query: String = "", host: String = "", truncated: Bool = false,
                parent: GoRequestRef? = nil, grandparent: GoRequestRef? = nil) {
        self.role = role
        header = RecordHeader(pid: pid, tid: tid, flags: flags, goid: goid, startBootNanos: startBootNanos, endBootNanos: endBootNanos)
        self.status = status
        self.contentLength = contentLength
        self.method = method
        self.path = path
        self.query = query
        self.host = host
        self.truncated = truncated
        self.parent = parent
        self.grandparent = grandparent
    }

    /// The first `min(length, capacity)` bytes of a fixed C array, as UTF-8 (repaired).
    private static func string<T>(_ tuple: inout T, length: UInt16, truncated: inout Bool) -> String {
        withUnsafeBytes(of: &tuple) { raw in
            let n = min(Int(length), raw.count)
            if Int(length) > raw.count { truncated = true }
            return String(decoding: UnsafeRawBufferPointer(rebasing: raw[0..<n]), as: UTF8.self)
        }
    }
}
