import Tracing
import TraceEvents

/// A decoded `struct ut_go_grpc_event` (trace_events.h): one gRPC call served
/// or made by a Go program, or (`context`) the start of a served call that
/// arrived with a `traceparent`.
public struct GoGRPCEvent: DecodedRecord, Sendable, Equatable {
    public enum Role: Sendable { case server, client, context }

    public var role: Role
    public var header: RecordHeader
    /// The gRPC status code; nil when it could not be read.
    public var statusCode: Int32?
    /// The full method as on the wire: `/package.Service/Method`.
    public var method: String
    /// Server: the incoming `traceparent` metadata, if any.
    public var traceparent: String?
    /// Client: the dial target (`ClientConn.target`: "host:port", "dns:///host:port", "unix:///path").
    public var target: String
    /// Client: the served call (same process) it was made under. Server: the
    /// traced client call (any process on this host) that sent it.
    public var parent: GoRequestRef?
    /// Server: `parent`'s own parent.
    public var grandparent: GoRequestRef?
    public var truncated: Bool

    /// This call's identity (a served call's children name it in `parent`).
    public var ref: GoRequestRef { GoRequestRef(pid: pid, goid: goid, startBootNanos: startBootNanos) }

    public init?(bytes: UnsafeRawBufferPointer) {
        let size = MemoryLayout<ut_go_grpc_event>.size
        guard bytes.count >= size else { return nil }
        var e = ut_go_grpc_event()
        withUnsafeMutableBytes(of: &e) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<size])) }
        switch e.h.kind {
        case UInt32(UT_EVENT_GO_GRPC_SERVER.rawValue): role = .server
        case UInt32(UT_EVENT_GO_GRPC_CLIENT.rawValue): role = .client
        case UInt32(UT_EVENT_GO_GRPC_CONTEXT.rawValue): role = .context
        default: return nil
        }
        header = RecordHeader(e.h)
        statusCode = e.status_code >= 0 ? e.status_code : nil
        var cut = false
        method = Self.string(&e.method, length: e.method_len, truncated: &cut)
        let tp = Self.string(&e.traceparent, length: e.traceparent_len, truncated: &cut)
        traceparent = tp.isEmpty ? nil : tp
        target = Self.string(&e.target, length: e.target_len, truncated: &cut)
        truncated = cut
        parent = GoRequestRef(e.parent)
        grandparent = GoRequestRef(e.grandparent)
    }

    /// Builds an event directly (tests, replay).
    public init(role: Role, pid: UInt32, tid: UInt32 = 0, goid: UInt64 = 0, flags: UInt32 = 0,
                startBootNanos: UInt64, endBootNanos: UInt64, statusCode: Int32?, method: String,
                traceparent: String? = nil, target: String = "", parent: GoRequestRef? = nil,
                grandparent: GoRequestRef? = nil) {
        self.role = role
        header = RecordHeader(pid: pid, tid: tid, flags: flags, goid: goid, startBootNanos: startBootNanos, endBootNanos: endBootNanos)
        self.statusCode = statusCode
        self.method = method
        self.traceparent = traceparent
        self.target = target
        self.parent = parent
        self.grandparent = grandparent
        truncated = false
    }

    private static func string<T>(_ tuple: inout T, length: UInt16, truncated: inout Bool) -> String {
        withUnsafeBytes(of: &tuple) { raw in
            let n = min(Int(length), raw.count)
            if Int(length) > raw.count { truncated = true }
            return String(decoding: UnsafeRawBufferPointer(rebasing: raw[0..<n]), as: UTF8.self)
        }
    }
}
