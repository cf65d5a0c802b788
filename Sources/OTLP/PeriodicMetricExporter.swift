import Foundation
import Synchronization
import Tracing

/// Where OTLP metrics requests go: OTLP/HTTP or OTLP/gRPC.
public protocol MetricsExporting: Sendable {
    func export(metrics request: Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest) async throws(ExportError)
    func shutdown() async
}

/// Sends the cumulative request metrics to an OTLP/HTTP receiver every
/// `interval` seconds (`OTEL_METRIC_EXPORT_INTERVAL`), and once more at
/// shutdown. Retryable failures are retried with the spans' backoff until the
/// next export is due; since every export carries totals since start, a
/// skipped one loses nothing that the next does not carry.
public final class PeriodicMetricExporter: Sendable {
    public struct Counters: Sendable, Equatable {
        /// Requests the receiver accepted.
        public var exports = 0
        /// Exports given up (permanent error, or retries ran into the next export).
        public var failures = 0
        public var lastError: String?
    }

    public let interval: Double
    private let exporter: any MetricsExporting
    private let retry: RetryPolicy
    private let collect: @Sendable () -> Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest
    private let counters = Mutex(Counters())
    private let worker = Mutex<Task<Void, Never>?>(nil)

    public init(exporter: any MetricsExporting, interval: Double, retry: RetryPolicy = RetryPolicy(),
                collect: @escaping @Sendable () -> Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest) {
        self.exporter = exporter
        self.interval = max(0.01, interval)
        self.retry = retry
        self.collect = collect
    }

    public var current: Counters { counters.withLock { $0 } }

    /// Starts the timer; the first export is one interval from now.
    public func start() {
        let task = Task.detached { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(interval))
                if Task.isCancelled { break }
                await exportOnce(deadline: ContinuousClock.now + .seconds(interval))
            }
        }
        worker.withLock { $0 = task }
    }

    /// Stops the timer and sends the final totals, retrying until `timeout` seconds.
    public func shutdown(timeout: Double) async -> Counters {
        worker.withLock { $0?.cancel() }
        await exportOnce(deadline: ContinuousClock.now + .seconds(timeout))
        await exporter.shutdown()
        return current
    }

    private func exportOnce(deadline: ContinuousClock.Instant) async {
        let request = collect()
        var attempt = 1
        while true {
            do {
                try await exporter.export(metrics: request)
                counters.withLock { $0.exports += 1 }
                return
            } catch ExportError.retryable(let reason, let retryAfter) {
                let delay = retry.delay(beforeRetry: attempt, retryAfter: retryAfter)
                attempt += 1
                if attempt > retry.maxAttempts || ContinuousClock.now + .seconds(delay) >= deadline {
                    counters.withLock { $0.failures += 1; $0.lastError = reason }
                    return
                }
                try? await Task.sleep(for: .seconds(delay))
            } catch {
                counters.withLock { $0.failures += 1; $0.lastError = "\(error)" }
                return
            }
        }
    }
}
