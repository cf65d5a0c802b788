import Foundation
import Testing
import Tracing
@testable import OTLP

@Suite struct SpanOTLPTests {
    @Test func mapsEverySpanField() throws {
        let span = Fixtures.server()
        let p = Opentelemetry_Proto_Trace_V1_Span(span)
        #expect(p.traceID == Data([0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36]))
        #expect(p.spanID == Data(span.spanID.bytes))
        #expect(p.spanID.count == 8)
        #expect(p.parentSpanID == Data([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]))
        #expect(p.traceState == "rojo=00f067aa0ba902b7")
        #expect(p.name == "GET /api/users")
        #expect(p.kind == .server)
        #expect(p.startTimeUnixNano == 1_700_000_000_123_456_789)
        #expect(p.endTimeUnixNano == 1_700_000_000_135_802_467)
        #expect(p.attributes.map(\.key) == ["http.request.method", "url.path", "url.query",
                                            "http.response.status_code", "test.ratio", "test.flag"])
        #expect(p.attributes[0].value.stringValue == "GET")
        #expect(p.attributes[3].value.intValue == 200)
        #expect(p.attributes[4].value.doubleValue == 0.5)
        #expect(p.attributes[5].value.boolValue == true)
        #expect(!p.hasStatus || p.status.code == .unset)
    }

    @Test func rootSpanHasNoParentAndErrorStatusCarriesMessage() {
        let p = Opentelemetry_Proto_Trace_V1_Span(Fixtures.mysql())
        #expect(p.parentSpanID.isEmpty)
        #expect(p.kind == .client)
        #expect(p.status.code == .error)
        #expect(p.status.message == "Table 'shop.t' doesn't exist")
        var ok = Fixtures.mysql()
        ok.status = .ok
        #expect(Opentelemetry_Proto_Trace_V1_Span(ok).status.code == .ok)
    }

    @Test func everyKindMapsToTheSameNumber() {
        for kind in [SpanKind.unspecified, .internal, .server, .client, .producer, .consumer] {
            var s = Fixtures.server()
            s.kind = kind
            #expect(Opentelemetry_Proto_Trace_V1_Span(s).kind.rawValue == kind.rawValue)
        }
    }

    @Test func groupsSpansByResourceInFirstSeenOrder() {
        let request = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest(
            spans: [Fixtures.server(1), Fixtures.mysql(), Fixtures.server(2)])
        #expect(request.resourceSpans.count == 2)
        let shop = request.resourceSpans[0]
        #expect(shop.resource.attributes.map(\.key) == ["service.name", "process.pid", "telemetry.sdk.name"])
        #expect(shop.resource.attributes[1].value.intValue == 1234)
        #expect(shop.scopeSpans.count == 1)
        #expect(shop.scopeSpans[0].scope.name == "uprobe-trace")
        #expect(shop.scopeSpans[0].scope.version == InstrumentationScope.version)
        #expect(shop.scopeSpans[0].spans.map(\.spanID) == [Data(SpanID(0x00f0_67aa_0ba9_0201).bytes),
                                                          Data(SpanID(0x00f0_67aa_0ba9_0202).bytes)])
        #expect(request.resourceSpans[1].scopeSpans[0].spans.map(\.name) == ["SELECT"])
    }

    @Test func emptyBatchHasNoResourceSpans() {
        #expect(Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest(spans: []).resourceSpans.isEmpty)
    }
}
