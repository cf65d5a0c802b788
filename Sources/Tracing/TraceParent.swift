/// A W3C Trace Context `traceparent` header value
/// (`00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`).
public struct TraceParent: Sendable, Equatable {
    public var traceID: TraceID
    public var parentSpanID: SpanID
    public var flags: UInt8

    /// Parses a version-00 value (or a later version's first four fields; what
    /// such a version appends after another `-` is not ours to check);
    /// nil when malformed or when an id is all zero, as the spec says to ignore it.
    public init?(_ value: String) {
        let parts = value.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].count == 2, parts[0] != "ff", parts[1].count == 32,
              parts[2].count == 16, parts[3].count == 2, parts[0] != "00" || parts.count == 4,
              parts.prefix(4).allSatisfy({ $0.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) } }),
              let high = UInt64(parts[1].prefix(16), radix: 16), let low = UInt64(parts[1].suffix(16), radix: 16),
              let parent = UInt64(parts[2], radix: 16), let flags = UInt8(parts[3], radix: 16),
              high != 0 || low != 0, parent != 0 else { return nil }
        traceID = TraceID(high: high, low: low)
        parentSpanID = SpanID(parent)
        self.flags = flags
    }
}
