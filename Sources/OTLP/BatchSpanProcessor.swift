import Foundation
import Synchronization
import Tracing

/// A bounded queue and a worker that sends spans to an exporter in batches, retrying
/// transient failures with backoff.
///
/// `enqueue` never blocks and never waits for I/O: it takes a lock for an append and, when a
/// batch is full, wakes the worker. When the queue is full the span is dropped and counted in
/// ``ExportCounters/droppedQueueFull``. One batch is in flight at a time, so spans reach the
/// exporter in the order they were enqueued.
public final class BatchSpanProcessor: Sendable {
    /// Batching, queueing and retry limits.
    public struct Configuration: Sendable, Equatable {
        /// Spans per export request, at most.
        public var maxBatchSize: Int
        /// Longest a span waits in the queue before a partial batch is sent, in seconds.
        public var scheduleDelay: Double
        /// Spans held (not counting the batch in flight) before new ones are dropped.
        public var maxQueueSize: Int
        public var retry: RetryPolicy

        public init(maxBatchSize: Int = 512, scheduleDelay: Double = 1, maxQueueSize: Int = 10_000,
                    retry: RetryPolicy = RetryPolicy()) {
            self.maxBatchSize = max(1, maxBatchSize)
            self.scheduleDelay = scheduleDelay
            self.maxQueueSize = max(1, maxQueueSize)
            self.retry = retry
        }
    }

    private struct State {
        var queue: [Span] = []
        /// When the oldest queued span arrived.
        var oldestEnqueued: ContinuousClock.Instant?
        var inFlight = 0
        var counters = ExportCounters()
        var waiter: CheckedContinuation<Void, Never>?
        /// Flush requests not yet satisfied; the worker sends partial batches while > 0.
        var flushRequests = 0
        var shuttingDown = false
        /// Past this, the worker stops retrying and drops what is left.
        var deadline: ContinuousClock.Instant?
        /// Set when shutdown gave up waiting; the worker then stops touching the counters.
        var abandoned = false
        var workerDone = false
        var exporterShutDown = false
    }

    public let configuration: Configuration
    private let exporter: any SpanExporter
    private let state = Mutex(State())
    private let worker = Mutex<Task<Void, Never>?>(nil)

    /// Starts the worker. Call ``shutdown(timeout:)`` before exit to send what is queued (the
    /// worker runs, and keeps the processor alive, until then).
    public init(exporter: any SpanExporter, configuration: Configuration = Configuration()) {
        self.exporter = exporter
        self.configuration = configuration
        let task = Task.detached { [self] in await self.run() }
        worker.withLock { $0 = task }
    }

    /// Queues one span; drops and counts it when the queue is full. Never blocks.
    public func enqueue(_ span: Span) {
        enqueue(contentsOf: CollectionOfOne(span))
    }

    /// Queues spans; those that do not fit are dropped and counted. Never blocks.
    public func enqueue<S: Sequence>(contentsOf spans: S) where S.Element == Span {
        let now = ContinuousClock.now
        let toWake: CheckedContinuation<Void, Never>? = state.withLock { s in
            let closed = s.shuttingDown && (s.workerDone || s.abandoned)
            for span in spans {
                if closed || s.queue.count >= configuration.maxQueueSize {
                    s.counters.droppedQueueFull += 1
                    continue
                }
                if s.queue.isEmpty { s.oldestEnqueued = now }
                s.queue.append(span)
            }
            guard s.queue.count >= configuration.maxBatchSize, let w = s.waiter else { return nil }
            s.waiter = nil
            return w
        }
        toWake?.resume()
    }

    /// A snapshot of the counters; `queueDepth` includes the batch in flight.
    public var counters: ExportCounters {
        state.withLock { s in
            var c = s.counters
            c.queueDepth = s.queue.count + s.inFlight
            return c
        }
    }

    /// Sends everything queued now, without waiting for full batches. Returns true when the
    /// queue drained (delivered or given up on) within `timeout` seconds.
    @discardableResult
    public func flush(timeout: Double) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(timeout)
        state.withLock { $0.flushRequests += 1 }
        wake()
        defer { state.withLock { $0.flushRequests -= 1 } }
        while ContinuousClock.now < deadline {
            let drained = state.withLock { $0.queue.isEmpty && $0.inFlight == 0 }
            if drained { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return state.withLock { $0.queue.isEmpty && $0.inFlight == 0 }
    }

    /// Stops accepting work, sends what is queued (retrying only until the deadline), shuts the
    /// exporter down and returns the final counters. Spans still undelivered after `timeout`
    /// seconds are counted as dropped. Safe to call more than once.
    @discardableResult
    public func shutdown(timeout: Double) async -> ExportCounters {
        let deadline = ContinuousClock.now + .seconds(timeout)
        state.withLock { s in
            s.shuttingDown = true
            s.deadline = min(s.deadline ?? deadline, deadline)
        }
        wake()
        while ContinuousClock.now < deadline, !state.withLock({ $0.workerDone }) {
            try? await Task.sleep(for: .milliseconds(5))
        }
        let gaveUp: Bool = state.withLock { s in
            guard !s.workerDone, !s.abandoned else { return false }
            s.abandoned = true
            let left = s.queue.count + s.inFlight
            if left > 0 {
                s.counters.droppedExportFailed += left
                s.counters.failedBatches += 1
                s.counters.lastError = "shutdown deadline of \(timeout) s passed with \(left) spans unsent"
            }
            s.queue.removeAll()
            s.inFlight = 0
            return true
        }
        if gaveUp { worker.withLock { $0 }?.cancel() }
        let shutExporter = state.withLock { s -> Bool in
            defer { s.exporterShutDown = true }
            return !s.exporterShutDown
        }
        if shutExporter { await exporter.shutdown() }
        return counters
    }

    // MARK: - Worker

    private func wake() {
        let w: CheckedContinuation<Void, Never>? = state.withLock { s in
            defer { s.waiter = nil }
            return s.waiter
        }
        w?.resume()
    }

    private func isReady(_ s: State, now: ContinuousClock.Instant) -> Bool {
        // Shutting down: drain, then the worker stops. A flush with nothing queued is
        // already satisfied: counting it as ready made the worker spin (a new timer task
        // per turn) for as long as flush() polled, starving everything else.
        if s.shuttingDown { return true }
        if s.queue.isEmpty { return false }
        if s.flushRequests > 0 { return true }
        if s.queue.count >= configuration.maxBatchSize { return true }
        if let oldest = s.oldestEnqueued, !s.queue.isEmpty,
           now >= oldest + .seconds(configuration.scheduleDelay) { return true }
        return false
    }

    /// Returns when a batch is due: full, old enough, flushed, or shutting down.
    private func waitForWork() async {
        while true {
            let now = ContinuousClock.now
            let wakeAt: ContinuousClock.Instant = state.withLock { s in
                if let oldest = s.oldestEnqueued, !s.queue.isEmpty {
                    return oldest + .seconds(configuration.scheduleDelay)
                }
                return now + .seconds(configuration.scheduleDelay)
            }
            let timer = Task { [weak self] in
                try? await Task.sleep(until: wakeAt, clock: .continuous)
                if !Task.isCancelled { self?.wake() }
            }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { s -> Bool in
                    if isReady(s, now: ContinuousClock.now) { return true }
                    s.waiter = c
                    return false
                }
                if ready { c.resume() }
            }
            timer.cancel()
            if state.withLock({ isReady($0, now: ContinuousClock.now) }) { return }
        }
    }

    private func run() async {
        while true {
            await waitForWork()
            // Send batches until nothing more is due.
            while true {
                let batch: [Span]? = state.withLock { s in
                    guard !s.abandoned, !s.queue.isEmpty, isReady(s, now: ContinuousClock.now) else { return nil }
                    let n = min(configuration.maxBatchSize, s.queue.count)
                    let batch = Array(s.queue.prefix(n))
                    s.queue.removeFirst(n)
                    s.inFlight = n
                    s.oldestEnqueued = s.queue.isEmpty ? nil : ContinuousClock.now
                    return batch
                }
                guard let batch else { break }
                await send(batch)
            }
            let stop = state.withLock { s -> Bool in
                guard s.abandoned || (s.shuttingDown && s.queue.isEmpty) else { return false }
                s.workerDone = true
                return true
            }
            if stop { return }
        }
    }

    /// Exports one batch, retrying retryable failures; settles the counters either way.
    private func send(_ batch: [Span]) async {
        let started = ContinuousClock.now
        func elapsed() -> Double {
            let d = ContinuousClock.now - started
            return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
        var attempt = 1
        while true {
            let failure: String
            do {
                try await exporter.export(batch)
                state.withLock { s in
                    guard !s.abandoned else { return }
                    s.counters.exported += batch.count
                    s.counters.exportSeconds.observe(elapsed())
                    s.inFlight = 0
                }
                return
            } catch ExportError.partiallyRejected(let rejected, let message) {
                state.withLock { s in
                    guard !s.abandoned else { return }
                    let dropped = min(rejected, batch.count)
                    s.counters.exported += batch.count - dropped
                    s.counters.droppedExportFailed += dropped
                    s.counters.lastError = ExportError.partiallyRejected(rejected: rejected, message: message).description
                    s.counters.exportSeconds.observe(elapsed())
                    s.inFlight = 0
                }
                return
            } catch ExportError.retryable(let reason, let retryAfter) {
                let delay = configuration.retry.delay(beforeRetry: attempt, retryAfter: retryAfter)
                let deadline = state.withLock { $0.deadline }
                let pastDeadline = deadline.map { ContinuousClock.now + .seconds(delay) > $0 } ?? false
                if attempt < configuration.retry.maxAttempts, !pastDeadline, !Task.isCancelled {
                    state.withLock { $0.counters.retries += 1 }
                    try? await Task.sleep(for: .seconds(delay))
                    attempt += 1
                    continue
                }
                failure = "\(reason); gave up after \(attempt) attempt\(attempt == 1 ? "" : "s")"
                    + (pastDeadline ? " (shutdown deadline)" : "")
            } catch {
                failure = String(describing: error)
            }
            state.withLock { s in
                guard !s.abandoned else { return }
                s.counters.droppedExportFailed += batch.count
                s.counters.failedBatches += 1
                s.counters.lastError = failure
                s.counters.exportSeconds.observe(elapsed())
                s.inFlight = 0
            }
            return
        }
    }
}
