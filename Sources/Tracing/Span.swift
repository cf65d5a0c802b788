/// A finished span, in OpenTelemetry's terms, independent of any wire format
/// (the OTLP module maps it to protobuf and JSON).
public struct Span: Sendable, Equatable {
    public var traceID: TraceID
    public var spanID: SpanID
    /// Nil for a root span.
    public var parentSpanID: SpanID?
    /// W3C `tracestate`, kept as received.
    public var traceState: String
    /// W3C trace flags (bit 0: sampled); exported in OTLP's `Span.flags`.
    public var traceFlags: UInt8
    public var name: String
    public var kind: SpanKind
    /// Wall-clock times, nanoseconds since the Unix epoch.
    public var startTimeUnixNano: UInt64
    public var endTimeUnixNano: UInt64
    public var attributes: [Attribute]
    public var status: SpanStatus
    /// The traced process this span came from.
    public var resource: Resource

    public init(traceID: TraceID, spanID: SpanID, parentSpanID: SpanID? = nil, traceState: String = "", traceFlags: UInt8 = 1,
                name: String, kind: SpanKind, startTimeUnixNano: UInt64, endTimeUnixNano: UInt64,
                attributes: [Attribute] = [], status: SpanStatus = .unset, resource: Resource) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.traceState = traceState
        self.traceFlags = traceFlags
        self.name = name
        self.kind = kind
        self.startTimeUnixNano = startTimeUnixNano
        self.endTimeUnixNano = endTimeUnixNano
        self.attributes = attributes
        self.status = status
        self.resource = resource
    }

    /// A span whose ids, parent, flags and `tracestate` are `context`'s.
    public init(context: SpanContext, name: String, kind: SpanKind, startTimeUnixNano: UInt64, endTimeUnixNano: UInt64,
                attributes: [Attribute] = [], status: SpanStatus = .unset, resource: Resource) {
        self.init(traceID: context.traceID, spanID: context.spanID, parentSpanID: context.parentSpanID,
                  traceState: context.traceState, traceFlags: context.traceFlags, name: name, kind: kind,
                  startTimeUnixNano: startTimeUnixNano, endTimeUnixNano: endTimeUnixNano,
                  attributes: attributes, status: status, resource: resource)
    }

    /// Whether the trace is recorded (W3C sampled flag); unsampled spans are not exported.
    public var sampled: Bool { traceFlags & 1 != 0 }

    public var durationNanos: UInt64 { endTimeUnixNano >= startTimeUnixNano ? endTimeUnixNano - startTimeUnixNano : 0 }

    /// The first attribute with this key.
    public func attribute(_ key: String) -> AttributeValue? {
        attributes.first { $0.key == key }?.value
    }
}

/// OTLP's `Span.SpanKind` values.
public enum SpanKind: Int, Sendable, Equatable {
    case unspecified = 0, `internal` = 1, server = 2, client = 3, producer = 4, consumer = 5

    public var name: String {
        switch self {
        case .unspecified: return "UNSPECIFIED"
        case .internal: return "INTERNAL"
        case .server: return "SERVER"
        case .client: return "CLIENT"
        case .producer: return "PRODUCER"
        case .consumer: return "CONSUMER"
        }
    }
}

/// OTLP's `Status`: unset unless the span is known to have failed (or succeeded).
public enum SpanStatus: Sendable, Equatable {
    case unset
    case ok
    case error(message: String)
}

/// An attribute value of the kinds uprobe-trace produces.
public enum AttributeValue: Sendable, Equatable, Hashable, CustomStringConvertible {
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)

    public var description: String {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .bool(let b): return String(b)
        }
    }
}

/// A key/value pair; spans keep them in the order they were added.
public struct Attribute: Sendable, Equatable, Hashable {
    public var key: String
    public var value: AttributeValue

    public init(_ key: String, _ value: AttributeValue) {
        self.key = key
        self.value = value
    }

    public static func string(_ key: String, _ value: String) -> Attribute { Attribute(key, .string(value)) }
    public static func int(_ key: String, _ value: Int64) -> Attribute { Attribute(key, .int(value)) }
    public static func bool(_ key: String, _ value: Bool) -> Attribute { Attribute(key, .bool(value)) }
}

/// What produced a span: one traced process (OTel resource semantic conventions).
public struct Resource: Sendable, Equatable, Hashable {
    public var attributes: [Attribute]

    public init(attributes: [Attribute]) { self.attributes = attributes }

    public func attribute(_ key: String) -> AttributeValue? {
        attributes.first { $0.key == key }?.value
    }
}

/// A 16-byte W3C trace id.
public struct TraceID: Sendable, Hashable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// From the kernel's cryptographically secure generator (getrandom(2)); never all zero.
    public static func random() -> TraceID {
        while true {
            let id = TraceID(high: SecureRandom.shared.next(), low: SecureRandom.shared.next())
            if id.high != 0 || id.low != 0 { return id }
        }
    }

    /// Big-endian bytes, as on the wire.
    public var bytes: [UInt8] { bigEndianBytes(high) + bigEndianBytes(low) }
    /// 32 lowercase hex digits.
    public var hex: String { hex16(high) + hex16(low) }
    public var description: String { hex }
}

/// An 8-byte span id.
public struct SpanID: Sendable, Hashable, CustomStringConvertible {
    public var value: UInt64

    public init(_ value: UInt64) { self.value = value }

    /// From the kernel's cryptographically secure generator; never zero.
    public static func random() -> SpanID {
        while true {
            let v = SecureRandom.shared.next()
            if v != 0 { return SpanID(v) }
        }
    }

    public var bytes: [UInt8] { bigEndianBytes(value) }
    /// 16 lowercase hex digits.
    public var hex: String { hex16(value) }
    public var description: String { hex }
}

func bigEndianBytes(_ v: UInt64) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * $0)) }
}

func hex16(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}
