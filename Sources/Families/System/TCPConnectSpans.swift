import SystemSupport
import Tracing

/// One CLIENT span `tcp connect` per outbound connect, with the OpenTelemetry
/// network attributes; its duration is the connect latency (SYN_SENT until
/// ESTABLISHED, or until the connect failed).
public struct TCPConnectSpans: Sendable {
    public let clock: BootClock
    public let resource: @Sendable (UInt32) -> Resource

    public init(clock: BootClock, resource: @escaping @Sendable (UInt32) -> Resource) {
        self.clock = clock
        self.resource = resource
    }

    /// A failed connect has status ERROR and `error.type` = the errno name
    /// (`ECONNREFUSED`); one the caller gave up (closed while connecting) says `closed`.
    public func span(for e: TCPConnectEvent, sampler: Sampler = .always) -> Span {
        var attributes: [Attribute] = [
            .string("network.transport", "tcp"),
            .string("network.type", e.peerAddress.contains(":") ? "ipv6" : "ipv4"),
            .string("network.peer.address", e.peerAddress),
            .int("network.peer.port", Int64(e.peerPort)),
            .string("network.local.address", e.localAddress),
            .int("network.local.port", Int64(e.localPort)),
            .int("thread.id", Int64(e.tid)),
        ]
        var status = SpanStatus.unset
        if e.failed {
            let name = Self.errorName(e.error)
            attributes.append(.string("error.type", name))
            status = .error(message: e.error > 0 ? "connect failed: \(name) (\(Errno(e.error).text))" : "connect abandoned before it completed")
        }
        return Span(context: .root(sampler), name: "tcp connect", kind: .client,
                    startTimeUnixNano: clock.unixNanos(fromBoot: e.startBootNanos),
                    endTimeUnixNano: clock.unixNanos(fromBoot: e.endBootNanos),
                    attributes: attributes, status: status, resource: resource(e.pid))
    }

    /// The errno's symbolic name (`ECONNREFUSED`), as the C library names it; `closed` for -1.
    public static func errorName(_ error: Int32) -> String {
        error < 0 ? "closed" : Errno(error).name
    }
}
