import Foundation

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
        var w = Writer()
        w.object { w in
            w.array("resourceSpans", request.resourceSpans) { w, rs in w.resourceSpans(rs) }
        }
        return w.out
    }

    struct Writer {
        var out = ""
        /// Whether the next member of the current object or array needs a comma first.
        private var needsComma = false

        mutating func object(_ body: (inout Writer) -> Void) {
            out += "{"
            needsComma = false
            body(&self)
            out += "}"
            needsComma = true
        }

        mutating func key(_ k: String) {
            if needsComma { out += "," }
            out += "\"\(k)\":"
            needsComma = false
        }

        mutating func array<T>(_ k: String, _ items: [T], omitEmpty: Bool = true, _ each: (inout Writer, T) -> Void) {
            if omitEmpty && items.isEmpty { return }
            key(k)
            out += "["
            needsComma = false
            for item in items {
                if needsComma { out += "," }
                needsComma = false
                each(&self, item)
                needsComma = true
            }
            out += "]"
            needsComma = true
        }

        mutating func string(_ k: String, _ v: String, omitEmpty: Bool = true) {
            if omitEmpty && v.isEmpty { return }
            key(k)
            out += Self.quoted(v)
            needsComma = true
        }

        /// Integers that fit in 32 bits are JSON numbers; 64-bit ones are strings.
        mutating func int32<I: BinaryInteger>(_ k: String, _ v: I, omitZero: Bool = true) {
            if omitZero && v == 0 { return }
            key(k)
            out += String(v)
            needsComma = true
        }

        mutating func int64<I: BinaryInteger>(_ k: String, _ v: I, omitZero: Bool = true) {
            if omitZero && v == 0 { return }
            key(k)
            out += "\"\(v)\""
            needsComma = true
        }

        mutating func hex(_ k: String, _ v: Data) {
            if v.isEmpty { return }
            string(k, v.map { byte in
                let h = String(byte, radix: 16)
                return byte < 16 ? "0" + h : h
            }.joined())
        }

        mutating func raw(_ k: String, _ json: String) {
            key(k)
            out += json
            needsComma = true
        }

        static func quoted(_ s: String) -> String {
            var r = "\""
            r.reserveCapacity(s.utf8.count + 2)
            for u in s.unicodeScalars {
                switch u {
                case "\"": r += "\\\""
                case "\\": r += "\\\\"
                case "\n": r += "\\n"
                case "\r": r += "\\r"
                case "\t": r += "\\t"
                case _ where u.value < 0x20 || u.value == 0x2028 || u.value == 0x2029:
                    let h = String(u.value, radix: 16)
                    r += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                default: r.unicodeScalars.append(u)
                }
            }
            return r + "\""
        }

        /// JSON has no NaN or infinities; protobuf's JSON mapping spells them as strings.
        static func number(_ d: Double) -> String {
            if d.isNaN { return "\"NaN\"" }
            if d.isInfinite { return d < 0 ? "\"-Infinity\"" : "\"Infinity\"" }
            if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
            return "\(d)"
        }

        // MARK: OTLP messages

        mutating func resourceSpans(_ rs: Opentelemetry_Proto_Trace_V1_ResourceSpans) {
            object { w in
                if rs.hasResource {
                    w.key("resource")
                    w.object { w in
                        w.attributes(rs.resource.attributes)
                        w.int32("droppedAttributesCount", rs.resource.droppedAttributesCount)
                    }
                }
                w.array("scopeSpans", rs.scopeSpans) { w, ss in w.scopeSpans(ss) }
                w.string("schemaUrl", rs.schemaURL)
            }
        }

        mutating func scopeSpans(_ ss: Opentelemetry_Proto_Trace_V1_ScopeSpans) {
            object { w in
                if ss.hasScope {
                    w.key("scope")
                    w.object { w in
                        w.string("name", ss.scope.name)
                        w.string("version", ss.scope.version)
                        w.attributes(ss.scope.attributes)
                        w.int32("droppedAttributesCount", ss.scope.droppedAttributesCount)
                    }
                }
                w.array("spans", ss.spans) { w, span in w.span(span) }
                w.string("schemaUrl", ss.schemaURL)
            }
        }

        mutating func span(_ s: Opentelemetry_Proto_Trace_V1_Span) {
            object { w in
                w.hex("traceId", s.traceID)
                w.hex("spanId", s.spanID)
                w.string("traceState", s.traceState)
                w.hex("parentSpanId", s.parentSpanID)
                w.int32("flags", s.flags)
                w.string("name", s.name, omitEmpty: false)
                w.int32("kind", s.kind.rawValue, omitZero: false)
                w.int64("startTimeUnixNano", s.startTimeUnixNano, omitZero: false)
                w.int64("endTimeUnixNano", s.endTimeUnixNano, omitZero: false)
                w.attributes(s.attributes)
                w.int32("droppedAttributesCount", s.droppedAttributesCount)
                w.array("events", s.events) { w, e in
                    w.object { w in
                        w.int64("timeUnixNano", e.timeUnixNano, omitZero: false)
                        w.string("name", e.name)
                        w.attributes(e.attributes)
                        w.int32("droppedAttributesCount", e.droppedAttributesCount)
                    }
                }
                w.int32("droppedEventsCount", s.droppedEventsCount)
                w.array("links", s.links) { w, l in
                    w.object { w in
                        w.hex("traceId", l.traceID)
                        w.hex("spanId", l.spanID)
                        w.string("traceState", l.traceState)
                        w.attributes(l.attributes)
                        w.int32("droppedAttributesCount", l.droppedAttributesCount)
                        w.int32("flags", l.flags)
                    }
                }
                w.int32("droppedLinksCount", s.droppedLinksCount)
                w.key("status")
                w.object { w in
                    w.string("message", s.status.message)
                    w.int32("code", s.status.code.rawValue)
                }
            }
        }

        mutating func attributes(_ kvs: [Opentelemetry_Proto_Common_V1_KeyValue]) {
            array("attributes", kvs) { w, kv in w.keyValue(kv) }
        }

        mutating func keyValue(_ kv: Opentelemetry_Proto_Common_V1_KeyValue) {
            object { w in
                w.string("key", kv.key, omitEmpty: false)
                w.key("value")
                w.anyValue(kv.value)
            }
        }

        mutating func anyValue(_ v: Opentelemetry_Proto_Common_V1_AnyValue) {
            object { w in
                switch v.value {
                case .stringValue(let s)?: w.string("stringValue", s, omitEmpty: false)
                case .boolValue(let b)?: w.raw("boolValue", b ? "true" : "false")
                case .intValue(let i)?: w.int64("intValue", i, omitZero: false)
                case .doubleValue(let d)?: w.raw("doubleValue", Self.number(d))
                case .bytesValue(let d)?: w.string("bytesValue", d.base64EncodedString(), omitEmpty: false)
                case .arrayValue(let a)?:
                    w.key("arrayValue")
                    w.object { w in w.array("values", a.values) { w, v in w.anyValue(v) } }
                case .kvlistValue(let l)?:
                    w.key("kvlistValue")
                    w.object { w in w.array("values", l.values) { w, kv in w.keyValue(kv) } }
                case .stringValueStrindex?, nil:
                    // A profiles-only dictionary reference: meaningless in a trace request.
                    break
                }
            }
        }
    }
}
