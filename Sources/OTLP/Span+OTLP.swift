import Foundation
import SwiftProtobuf
import Tracing

/// The instrumentation scope every span of this tool is reported under.
public enum InstrumentationScope {
    /// `InstrumentationScope.name` in OTLP.
    public static let name = "uprobe-trace"
    /// `InstrumentationScope.version` in OTLP; the CLI may override it per request.
    public static let version = "0.1.0"
}

extension Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest {
    /// One export request for `spans`: one `ResourceSpans` per distinct resource, in order of
    /// first appearance, each with a single `ScopeSpans` for this tool.
    public init(spans: [Span], scopeName: String = InstrumentationScope.name,
                scopeVersion: String = InstrumentationScope.version) {
        self.init()
        var order: [Resource] = []
        var groups: [Resource: [Opentelemetry_Proto_Trace_V1_Span]] = [:]
        for span in spans {
            if groups[span.resource] == nil { order.append(span.resource) }
            groups[span.resource, default: []].append(Opentelemetry_Proto_Trace_V1_Span(span))
        }
        var scope = Opentelemetry_Proto_Common_V1_InstrumentationScope()
        scope.name = scopeName
        scope.version = scopeVersion
        resourceSpans = order.map { resource in
            var scopeSpans = Opentelemetry_Proto_Trace_V1_ScopeSpans()
            scopeSpans.scope = scope
            scopeSpans.spans = groups[resource] ?? []
            var rs = Opentelemetry_Proto_Trace_V1_ResourceSpans()
            rs.resource = Opentelemetry_Proto_Resource_V1_Resource(resource)
            rs.scopeSpans = [scopeSpans]
            return rs
        }
    }
}

extension Opentelemetry_Proto_Trace_V1_Span {
    /// The OTLP form of one span; ids as big-endian bytes, times in Unix nanoseconds.
    public init(_ span: Span) {
        self.init()
        traceID = Data(span.traceID.bytes)
        spanID = Data(span.spanID.bytes)
        if let parent = span.parentSpanID { parentSpanID = Data(parent.bytes) }
        traceState = span.traceState
        flags = UInt32(span.traceFlags)
        name = span.name
        kind = Opentelemetry_Proto_Trace_V1_Span.SpanKind(rawValue: span.kind.rawValue) ?? .unspecified
        startTimeUnixNano = span.startTimeUnixNano
        endTimeUnixNano = span.endTimeUnixNano
        attributes = span.attributes.map(Opentelemetry_Proto_Common_V1_KeyValue.init)
        switch span.status {
        case .unset:
            break
        case .ok:
            status.code = .ok
        case .error(let message):
            status.code = .error
            status.message = message
        }
    }
}

extension Opentelemetry_Proto_Resource_V1_Resource {
    /// The OTLP form of a traced process's resource.
    public init(_ resource: Resource) {
        self.init()
        attributes = resource.attributes.map(Opentelemetry_Proto_Common_V1_KeyValue.init)
    }
}

extension Opentelemetry_Proto_Common_V1_KeyValue {
    /// The OTLP form of one attribute.
    public init(_ attribute: Attribute) {
        self.init()
        key = attribute.key
        value = Opentelemetry_Proto_Common_V1_AnyValue(attribute.value)
    }
}

extension Opentelemetry_Proto_Common_V1_AnyValue {
    /// The OTLP form of one attribute value.
    public init(_ value: AttributeValue) {
        self.init()
        switch value {
        case .string(let s): stringValue = s
        case .int(let i): intValue = i
        case .double(let d): doubleValue = d
        case .bool(let b): boolValue = b
        }
    }
}
