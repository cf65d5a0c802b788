import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import OTLP
import Synchronization
import Tracing

/// The exporters chosen on the command line, each behind a batching processor
/// so the ring-buffer reader never blocks on I/O.
final class Sinks: Sendable {
    /// `name` for the summary (with the endpoint), `kind` for metric labels: console, otlp-json, otlp-http.
    let processors: [(name: String, kind: String, processor: BatchSpanProcessor)]
    /// The RED histograms of every span, sampled or not (`--metrics-addr` and OTLP metrics).
    let requests: RequestMetrics
    /// OTLP metrics to the same collector as the spans, when one is configured.
    let metrics: (endpoint: String, exporter: PeriodicMetricExporter)?
    /// More metrics for each OTLP export besides the request histograms (the
    /// system family's), added once the session exists.
    let moreMetrics = MetricSources()

    init(console: Bool, jsonPath: String?, endpoint: String?, protocol flag: String? = nil, environment: [String: String],
         requests: RequestMetrics) throws {
        self.requests = requests
        var list: [(String, String, BatchSpanProcessor)] = []
        if console {
            var config = BatchSpanProcessor.Configuration()
            config.scheduleDelay = 0.1
            list.append(("console", "console", BatchSpanProcessor(exporter: ConsoleExporter(), configuration: config)))
        }
        if let jsonPath {
            do {
                list.append(("otlp-json", "otlp-json", BatchSpanProcessor(exporter: try OTLPJSONFileExporter(path: jsonPath))))
            } catch {
                throw CLIError(description: "--otlp-json \(jsonPath): \(error); hint: check that the directory exists and is writable")
            }
        }
        do {
            let traces = try OTLPProtocol.resolve(flag: flag, environment: environment, signal: .traces)
            if let config = try OTLPHTTPConfiguration.resolve(explicitEndpoint: endpoint, environment: environment, protocol: traces) {
                let kind = traces == .grpc ? "otlp-grpc" : "otlp-http"
                list.append(("\(kind) \(config.endpoint.absoluteString)", kind, BatchSpanProcessor(exporter: try Self.exporter(config))))
            }
            metrics = try Self.metricsExporter(endpoint: endpoint, protocol: try OTLPProtocol.resolve(flag: flag, environment: environment, signal: .metrics),
                                               environment: environment, requests: requests, more: moreMetrics)
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError(description: "\(error)", exitCode: 2)
        }
        processors = list
    }

    /// `OTEL_METRIC_EXPORT_INTERVAL` milliseconds (default 60000) between exports
    /// to `…/v1/metrics` of the spans' collector (or `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`).
    static func metricsExporter(endpoint: String?, protocol otlpProtocol: OTLPProtocol, environment: [String: String], requests: RequestMetrics,
                                more: MetricSources) throws -> (endpoint: String, exporter: PeriodicMetricExporter)? {
        guard let config = try OTLPHTTPConfiguration.resolve(explicitEndpoint: endpoint, environment: environment, signal: .metrics,
                                                             protocol: otlpProtocol) else { return nil }
        var interval = 60.0
        if let raw = environment["OTEL_METRIC_EXPORT_INTERVAL"], !raw.isEmpty {
            guard let ms = Double(raw), ms > 0 else {
                throw CLIError(description: "OTEL_METRIC_EXPORT_INTERVAL: '\(raw)' is not a positive number of milliseconds; hint: e.g. 60000", exitCode: 2)
            }
            interval = ms / 1000
        }
        let exporter = PeriodicMetricExporter(exporter: try Self.exporter(config), interval: interval) {
            let now = Self.unixNanos()
            var request = Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest(
                requests.snapshot(), startTimeUnixNano: requests.startTimeUnixNano, timeUnixNano: now)
            request.resourceMetrics += more.collect(startTimeUnixNano: requests.startTimeUnixNano, timeUnixNano: now)
            return request
        }
        return (config.endpoint.absoluteString, exporter)
    }

    /// The OTLP exporter the configuration's protocol names.
    static func exporter(_ config: OTLPHTTPConfiguration) throws -> any SpanExporter & MetricsExporting {
        guard config.protocol == .grpc else { return OTLPHTTPExporter(configuration: config) }
        do {
            return try OTLPGRPCExporter(configuration: config)
        } catch {
            throw CLIError(description: "--otlp-endpoint \(config.endpoint.absoluteString): \(error)", exitCode: 2)
        }
    }

    static func unixNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    func start() { metrics?.exporter.start() }

    /// Every span, before sampling: counted in the request histograms.
    func record(_ span: Span) { requests.record(span) }

    func enqueue(_ span: Span) {
        for p in processors { p.processor.enqueue(span) }
    }

    /// Flushes and stops every processor, waiting at most `timeout` seconds each,
    /// then sends the final metrics (as long again at most).
    func shutdown(timeout: Double) -> (spans: [(name: String, counters: ExportCounters)], metrics: PeriodicMetricExporter.Counters?) {
        let box = Mutex<[(name: String, counters: ExportCounters)]>([])
        let metricsBox = Mutex<PeriodicMetricExporter.Counters?>(nil)
        let done = DispatchSemaphore(value: 0)
        let processors = self.processors
        let metrics = self.metrics?.exporter
        Task {
            for p in processors {
                let counters = await p.processor.shutdown(timeout: timeout)
                box.withLock { $0.append((p.name, counters)) }
            }
            if let metrics {
                let counters = await metrics.shutdown(timeout: timeout)
                metricsBox.withLock { $0 = counters }
            }
            done.signal()
        }
        done.wait()
        return (box.withLock { $0 }, metricsBox.withLock { $0 })
    }
}

/// Producers of OTLP resource metrics beyond the request histograms.
final class MetricSources: Sendable {
    typealias Source = @Sendable (_ start: UInt64, _ now: UInt64) -> [Opentelemetry_Proto_Metrics_V1_ResourceMetrics]
    private let sources = Mutex<[Source]>([])

    func add(_ source: @escaping Source) { sources.withLock { $0.append(source) } }

    func collect(startTimeUnixNano: UInt64, timeUnixNano: UInt64) -> [Opentelemetry_Proto_Metrics_V1_ResourceMetrics] {
        sources.withLock { $0 }.flatMap { $0(startTimeUnixNano, timeUnixNano) }
    }
}

/// A counter the reader thread increments and the main thread reads.
final class Counter: Sendable {
    private let n = Mutex(0)
    func add(_ k: Int) { n.withLock { $0 += k } }
    var value: Int { n.withLock { $0 } }
}
