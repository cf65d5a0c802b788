/// Where a span sits in its trace: its ids, its parent's, and the W3C trace
/// flags and `tracestate` it carries on. Ids always come from the kernel's
/// cryptographically secure generator; a trace id received from a caller is
/// kept, never replaced.
public struct SpanContext: Sendable, Hashable {
    public var traceID: TraceID
    public var spanID: SpanID
    /// Nil for a root span.
    public var parentSpanID: SpanID?
    /// W3C trace flags; bit 0 = sampled.
    public var traceFlags: UInt8
    /// W3C `tracestate`, as received.
    public var traceState: String

    public init(traceID: TraceID, spanID: SpanID, parentSpanID: SpanID? = nil, traceFlags: UInt8 = 1, traceState: String = "") {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.traceFlags = traceFlags
        self.traceState = traceState
    }

    public var sampled: Bool { traceFlags & 1 != 0 }

    /// The first span of a new trace; `sampler` decides whether it is recorded.
    public static func root(_ sampler: Sampler) -> SpanContext {
        let id = TraceID.random()
        return SpanContext(traceID: id, spanID: .random(), traceFlags: sampler.samples(id) ? 1 : 0)
    }

    /// A server span's context: the caller's child when `traceparent` is a valid
    /// W3C value (its sampled flag decides, parent-based), else a new root.
    /// `tracestate` is kept only with a valid `traceparent`, as the spec says.
    public static func incoming(traceparent: String?, tracestate: String?, sampler: Sampler) -> SpanContext {
        guard let parent = traceparent.flatMap(TraceParent.init) else { return root(sampler) }
        return SpanContext(traceID: parent.traceID, spanID: .random(), parentSpanID: parent.parentSpanID,
                           traceFlags: parent.flags, traceState: tracestate ?? "")
    }

    /// A new span in the same trace whose parent is this one.
    public func child() -> SpanContext {
        SpanContext(traceID: traceID, spanID: .random(), parentSpanID: spanID, traceFlags: traceFlags, traceState: traceState)
    }
}

/// Decides which new traces are recorded (`--sample-ratio`). Traces that
/// arrive with a `traceparent` follow its sampled flag instead (parent-based).
///
/// The decision is a function of the trace id alone, so every agent that sees
/// the same trace decides the same way: sampled when the id's last 56 bits —
/// the part W3C Trace Context level 2 says is random — fall below
/// `ratio` × 2^56.
public struct Sampler: Sendable, Equatable {
    public let ratio: Double
    private let threshold: UInt64

    public static let always = Sampler(ratio: 1)

    /// `ratio` is clamped to 0...1.
    public init(ratio: Double) {
        let r = ratio.isNaN ? 1 : min(1, max(0, ratio))
        self.ratio = r
        let scale = Double(UInt64(1) << 56)
        threshold = r >= 1 ? UInt64(1) << 56 : UInt64(r * scale)
    }

    public func samples(_ id: TraceID) -> Bool {
        id.low & ((UInt64(1) << 56) - 1) < threshold
    }
}
