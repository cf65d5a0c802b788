import Foundation
import JSONOutput

/// OTLP/JSON encoding of an export request, written by hand because protobuf's canonical JSON
/// mapping (and so SwiftProtobuf's encoder) writes `bytes` as base64, while OTLP/JSON requires
/// trace and span ids as lowercase hex.
///
/// Rules followed (opentelemetry-proto `docs/specification.md`, "JSON Protobuf Encoding"):
/// lowerCamelCase field names; `traceId`/`spanId`/`parentSpanId` as hex; enums as integers;
/// 64-bit integers (`intValue`, `*UnixNano`) as decimal strings; other `bytes` as base64;
/// fields at their default value left out, except a set `AnyValue` member.
public enum OTLPJSON {
    /// One request as a single line of JSON (no newline).
    public static func encode(_ request: Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest) -> String {
        let sink = ByteArraySink()
        var w = JSONWriter(sink)
        w.beginObject()
        w.array("resourceSpans", request.resourceSpans) { w, rs in w.resourceSpans(rs) }
        w.endObject()
        return sink.text
    }
}

/// OTLP/JSON's rules on top of the plain writer, then its messages.
extension JSONWriter {
    /// An array member; an empty one is left out.
    mutating func array<T>(_ key: String, _ items: [T], _ each: (inout Self, T) -> Void) {
        if items.isEmpty { return }
        beginArray(key)
        for item in items { each(&self, item) }
        endArray()
    }

    mutating func string(_ key: String, _ value: String, omitEmpty: Bool) {
        if omitEmpty && value.isEmpty { return }
        string(key, value)
    }

    /// Integers that fit in 32 bits are JSON numbers; 64-bit ones are strings.
    mutating func int32<I: BinaryInteger>(_ key: String, _ value: I, omitZero: Bool = true) {
        if omitZero && value == 0 { return }
        int(key, value)
    }

    mutating func int64<I: BinaryInteger>(_ key: String, _ value: I, omitZero: Bool = true) {
        if omitZero && value == 0 { return }
        string(key, String(value))
    }

    /// Trace and span ids: lowercase hex, not protobuf JSON's base64.
    mutating func hex(_ key: String, _ value: Data) {
        if value.isEmpty { return }
        string(key, value.map { byte in
            let h = String(byte, radix: 16)
            return byte < 16 ? "0" + h : h
        }.joined())
    }

    /// JSON has no NaN or infinities; protobuf's JSON mapping spells them as strings.
    mutating func protobufDouble(_ key: String, _ value: Double) {
        if value.isNaN { return string(key, "NaN") }
        if value.isInfinite { return string(key, value < 0 ? "-Infinity" : "Infinity") }
        double(key, value)
    }

    // MARK: OTLP messages

    mutating func resourceSpans(_ rs: Opentelemetry_Proto_Trace_V1_ResourceSpans) {
        beginObject()
        if rs.hasResource { resource(rs.resource) }
        array("scopeSpans", rs.scopeSpans) { w, ss in w.scopeSpans(ss) }
        string("schemaUrl", rs.schemaURL, omitEmpty: true)
        endObject()
    }

    mutating func scopeSpans(_ ss: Opentelemetry_Proto_Trace_V1_ScopeSpans) {
        beginObject()
        if ss.hasScope { scope(ss.scope) }
        array("spans", ss.spans) { w, span in w.span(span) }
        string("schemaUrl", ss.schemaURL, omitEmpty: true)
        endObject()
    }

    mutating func span(_ s: Opentelemetry_Proto_Trace_V1_Span) {
        beginObject()
        hex("traceId", s.traceID)
        hex("spanId", s.spanID)
        string("traceState", s.traceState, omitEmpty: true)
        hex("parentSpanId", s.parentSpanID)
        int32("flags", s.flags)
        string("name", s.name)
        int32("kind", s.kind.rawValue, omitZero: false)
        int64("startTimeUnixNano", s.startTimeUnixNano, omitZero: false)
        int64("endTimeUnixNano", s.endTimeUnixNano, omitZero: false)
        attributes(s.attributes)
        int32("droppedAttributesCount", s.droppedAttributesCount)
        array("events", s.events) { w, e in
            w.beginObject()
            w.int64("timeUnixNano", e.timeUnixNano, omitZero: false)
            w.string("name", e.name, omitEmpty: true)
            w.attributes(e.attributes)
            w.int32("droppedAttributesCount", e.droppedAttributesCount)
            w.endObject()
        }
        int32("droppedEventsCount", s.droppedEventsCount)
        array("links", s.links) { w, l in
            w.beginObject()
            w.hex("traceId", l.traceID)
            w.hex("spanId", l.spanID)
            w.string("traceState", l.traceState, omitEmpty: true)
            w.attributes(l.attributes)
            w.int32("droppedAttributesCount", l.droppedAttributesCount)
            w.int32("flags", l.flags)
            w.endObject()
        }
        int32("droppedLinksCount", s.droppedLinksCount)
        beginObject("status")
        string("message", s.status.message, omitEmpty: true)
        int32("code", s.status.code.rawValue)
        endObject()
        endObject()
    }

    mutating func resource(_ r: Opentelemetry_Proto_Resource_V1_Resource) {
        beginObject("resource")
        attributes(r.attributes)
        int32("droppedAttributesCount", r.droppedAttributesCount)
        endObject()
    }

    mutating func scope(_ s: Opentelemetry_Proto_Common_V1_InstrumentationScope) {
        beginObject("scope")
        string("name", s.name, omitEmpty: true)
        string("version", s.version, omitEmpty: true)
        attributes(s.attributes)
        int32("droppedAttributesCount", s.droppedAttributesCount)
        endObject()
    }

    mutating func attributes(_ kvs: [Opentelemetry_Proto_Common_V1_KeyValue]) {
        array("attributes", kvs) { w, kv in w.keyValue(kv) }
    }

    mutating func keyValue(_ kv: Opentelemetry_Proto_Common_V1_KeyValue) {
        beginObject()
        string("key", kv.key)
        beginObject("value")
        anyValue(kv.value)
        endObject()
        endObject()
    }

    /// The members of an `AnyValue` object (the caller opens and closes it).
    mutating func anyValue(_ v: Opentelemetry_Proto_Common_V1_AnyValue) {
        switch v.value {
        case .stringValue(let s)?: string("stringValue", s)
        case .boolValue(let b)?: bool("boolValue", b)
        case .intValue(let i)?: int64("intValue", i, omitZero: false)
        case .doubleValue(let d)?: protobufDouble("doubleValue", d)
        case .bytesValue(let d)?: string("bytesValue", d.base64EncodedString())
        case .arrayValue(let a)?:
            beginObject("arrayValue")
            array("values", a.values) { w, v in
                w.beginObject()
                w.anyValue(v)
                w.endObject()
            }
            endObject()
        case .kvlistValue(let l)?:
            beginObject("kvlistValue")
            array("values", l.values) { w, kv in w.keyValue(kv) }
            endObject()
        case .stringValueStrindex?, nil:
            // A profiles-only dictionary reference: meaningless in a trace request.
            break
        }
    }
}
