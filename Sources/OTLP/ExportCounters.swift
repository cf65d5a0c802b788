/// What an export pipeline has done so far; the CLI prints it at exit.
public struct ExportCounters: Sendable, Equatable, CustomStringConvertible {
    /// Spans the exporter accepted.
    public var exported: Int = 0
    /// Spans refused because the queue was full.
    public var droppedQueueFull: Int = 0
    /// Spans given up on: permanent errors, retries exhausted, rejected by the receiver
    /// (partial success), or still queued at a shutdown deadline.
    public var droppedExportFailed: Int = 0
    /// Batches that were never delivered.
    public var failedBatches: Int = 0
    /// Retries made (not counting first attempts).
    public var retries: Int = 0
    /// Spans waiting in the queue or in the batch being sent, at the time of reading.
    public var queueDepth: Int = 0
    /// The most recent reason a batch was given up on, for the exit summary.
    public var lastError: String?
    /// Time from a batch's first export attempt to its outcome (delivered, partly
    /// rejected or given up on), retries included: one observation per settled batch.
    public var exportSeconds = LatencyHistogram()

    public init() {}

    /// Every span that will never reach the exporter.
    public var dropped: Int { droppedQueueFull + droppedExportFailed }

    public var description: String {
        "exported \(exported), dropped \(dropped) (queue full \(droppedQueueFull), export failed \(droppedExportFailed)), "
            + "failed batches \(failedBatches), retries \(retries), queued \(queueDepth)"
            + (lastError.map { "; last error: \($0)" } ?? "")
    }
}

/// A histogram of durations in seconds with fixed bucket bounds: what a
/// Prometheus histogram needs (per-bucket counts, sum, count).
public struct LatencyHistogram: Sendable, Equatable {
    /// Upper bounds of the buckets, in seconds; a last bucket (+Inf) takes the rest.
    /// From 1 ms (a local collector) to 30 s (retries with backoff).
    public static let bounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    /// Observations per bucket, not cumulative; one more entry than `bounds` (+Inf).
    public private(set) var counts = [Int](repeating: 0, count: LatencyHistogram.bounds.count + 1)
    /// Sum of every observation, in seconds.
    public private(set) var sum: Double = 0
    /// Number of observations.
    public var count: Int { counts.reduce(0, +) }

    public init() {}

    public mutating func observe(_ seconds: Double) {
        let i = Self.bounds.firstIndex { seconds <= $0 } ?? Self.bounds.count
        counts[i] += 1
        sum += seconds
    }
}
