import Foundation
import Testing
@testable import OTLP
import Tracing

@Suite struct MetricsExportTests {
    typealias C = OTLPHTTPConfiguration

    @Test func metricsGoToV1MetricsOfTheSameCollector() throws {
        #expect(try C.resolve(explicitEndpoint: "http://h:4318", environment: [:], signal: .metrics)?.endpoint.absoluteString == "http://h:4318/v1/metrics")
        #expect(try C.resolve(explicitEndpoint: "http://h:4318/v1/traces", environment: [:], signal: .metrics)?.endpoint.absoluteString == "http://h:4318/v1/metrics")
        #expect(try C.resolve(environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://e:1"], signal: .metrics)?.endpoint.absoluteString == "http://e:1/v1/metrics")
        let env = ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://e:1", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://m:2/custom",
                   "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "a=1", "OTEL_EXPORTER_OTLP_METRICS_HEADERS": "b=2", "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT": "250"]
        let m = try #require(try C.resolve(environment: env, signal: .metrics))
        #expect(m.endpoint.absoluteString == "http://m:2/custom" && m.timeout == 0.25)
        #expect(m.headers.map(\.0) == ["b"], "the traces headers are not the metrics'")
        #expect(try C.resolve(environment: env)?.endpoint.absoluteString == "http://e:1/v1/traces")
    }

    @Test func cumulativeHistogramsPerResourceAndInstrument() {
        let metrics = RequestMetrics(startTimeUnixNano: 100)
        for (service, code, ms) in [("a", 200, 1.0), ("a", 200, 60.0), ("a", 500, 3.0), ("b", 200, 2.0)] {
            metrics.record(Span(traceID: TraceID(high: 1, low: 1), spanID: SpanID(1), name: "GET", kind: .server,
                                startTimeUnixNano: 0, endTimeUnixNano: UInt64(ms * 1e6),
                                attributes: [.string("http.request.method", "GET"), .int("http.response.status_code", Int64(code))],
                                resource: Resource(attributes: [.string("service.name", service)])))
        }
        let r = Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest(metrics.snapshot(), startTimeUnixNano: 100, timeUnixNano: 200)
        #expect(r.resourceMetrics.count == 2)
        let a = r.resourceMetrics.first { $0.resource.attributes.first?.value.stringValue == "a" }
        let metric = a?.scopeMetrics.first?.metrics.first
        #expect(metric?.name == "http.server.request.duration" && metric?.unit == "s")
        #expect(metric?.histogram.aggregationTemporality == .cumulative)
        let points = metric?.histogram.dataPoints ?? []
        #expect(points.map(\.count).sorted() == [1, 2])
        let two = points.first { $0.count == 2 }
        #expect(two?.startTimeUnixNano == 100 && two?.timeUnixNano == 200)
        #expect(two?.bucketCounts.reduce(0, +) == 2 && two?.explicitBounds == RequestInstrument.httpServer.bounds)
        #expect(abs((two?.sum ?? 0) - 0.061) < 1e-9 && two?.min == 0.001 && two?.max == 0.06)
    }
}
