import Foundation
import SwiftProtobuf
import Tracing

extension Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest {
    /// The RED histograms as cumulative OTLP metrics: one `ResourceMetrics` per
    /// traced service (resource), one `Metric` per instrument, one data point per
    /// attribute set, all starting at `metrics.startTimeUnixNano`.
    public init(_ series: [(key: RequestSeriesKey, histogram: BucketHistogram)], startTimeUnixNano: UInt64, timeUnixNano: UInt64,
                scopeName: String = InstrumentationScope.name, scopeVersion: String = InstrumentationScope.version) {
        self.init()
        var order: [Resource] = []
        var byResource: [Resource: [RequestInstrument: [Opentelemetry_Proto_Metrics_V1_HistogramDataPoint]]] = [:]
        for (key, histogram) in series {
            if byResource[key.resource] == nil { order.append(key.resource) }
            var point = Opentelemetry_Proto_Metrics_V1_HistogramDataPoint()
            point.attributes = key.attributes.map(Opentelemetry_Proto_Common_V1_KeyValue.init)
            point.startTimeUnixNano = startTimeUnixNano
            point.timeUnixNano = timeUnixNano
            point.count = histogram.count
            point.sum = histogram.sum
            point.bucketCounts = histogram.counts
            point.explicitBounds = histogram.bounds
            if histogram.count > 0 {
                point.min = histogram.min
                point.max = histogram.max
            }
            byResource[key.resource, default: [:]][key.instrument, default: []].append(point)
        }
        var scope = Opentelemetry_Proto_Common_V1_InstrumentationScope()
        scope.name = scopeName
        scope.version = scopeVersion
        resourceMetrics = order.map { resource in
            var scopeMetrics = Opentelemetry_Proto_Metrics_V1_ScopeMetrics()
            scopeMetrics.scope = scope
            scopeMetrics.metrics = (byResource[resource] ?? [:]).sorted { $0.key < $1.key }.map { instrument, points in
                var metric = Opentelemetry_Proto_Metrics_V1_Metric()
                metric.name = instrument.rawValue
                metric.description_p = instrument.description
                metric.unit = "s"
                var h = Opentelemetry_Proto_Metrics_V1_Histogram()
                h.aggregationTemporality = .cumulative
                h.dataPoints = points
                metric.histogram = h
                return metric
            }
            var rm = Opentelemetry_Proto_Metrics_V1_ResourceMetrics()
            rm.resource = Opentelemetry_Proto_Resource_V1_Resource(resource)
            rm.scopeMetrics = [scopeMetrics]
            return rm
        }
    }
}
