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

    public init() {}

    /// Every span that will never reach the exporter.
    public var dropped: Int { droppedQueueFull + droppedExportFailed }

    public var description: String {
        "exported \(exported), dropped \(dropped) (queue full \(droppedQueueFull), export failed \(droppedExportFailed)), "
            + "failed batches \(failedBatches), retries \(retries), queued \(queueDepth)"
            + (lastError.map { "; last error: \($0)" } ?? "")
    }
}
