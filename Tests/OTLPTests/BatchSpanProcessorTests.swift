import Foundation
import Testing
import Tracing
@testable import OTLP

@Suite struct BatchSpanProcessorTests {
    static let fastRetry = RetryPolicy(maxAttempts: 6, initialBackoff: 0.01, maxBackoff: 0.05, jitter: 0.2)

    func httpProcessor(_ url: String, retry: RetryPolicy = fastRetry) -> BatchSpanProcessor {
        BatchSpanProcessor(exporter: OTLPHTTPExporter(configuration: .init(endpoint: URL(string: url + "/v1/traces")!, timeout: 5)),
                           configuration: .init(retry: retry))
    }

    @Test func retriesTransientFailuresThenDeliversOnce() async throws {
        let receiver = try TestHTTPReceiver(script: [
            .init(status: 503), .init(status: 503), .init(status: 429, headers: [("Retry-After", "0")]),
        ])
        defer { receiver.stop() }
        let processor = httpProcessor(receiver.url)
        processor.enqueue(contentsOf: [Fixtures.server(1), Fixtures.server(2), Fixtures.mysql()])
        #expect(await processor.flush(timeout: 10))
        let c = await processor.shutdown(timeout: 5)
        #expect(c.exported == 3)
        #expect(c.retries == 3)
        #expect(c.failedBatches == 0)
        #expect(c.dropped == 0)
        #expect(c.queueDepth == 0)
        #expect(receiver.requests.map(\.answeredStatus) == [503, 503, 429, 200])
        #expect(Set(receiver.requests.map(\.body)).count == 1, "every retry resends the same batch")
        if let text = try External.protocDecode(receiver.requests[3].body) {
            let spanIDs = text.split(separator: "\n").filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix("span_id:") }
            #expect(spanIDs.count == 3)
        }
    }

    @Test func receiverDownRetriesThenDropsCounted() async throws {
        let port = try TestHTTPReceiver.closedPort()
        let processor = httpProcessor("http://127.0.0.1:\(port)", retry: RetryPolicy(maxAttempts: 3, initialBackoff: 0.01, maxBackoff: 0.02))
        processor.enqueue(contentsOf: (1...4).map { Fixtures.server($0) })
        #expect(await processor.flush(timeout: 20))
        let c = await processor.shutdown(timeout: 5)
        #expect(c.exported == 0)
        #expect(c.retries == 2)
        #expect(c.failedBatches == 1)
        #expect(c.droppedExportFailed == 4)
        #expect(c.dropped == 4)
        #expect(c.lastError?.contains("gave up after 3 attempts") == true)
    }

    @Test func permanentErrorIsNotRetried() async throws {
        let receiver = try TestHTTPReceiver(script: [.init(status: 400)])
        defer { receiver.stop() }
        let processor = httpProcessor(receiver.url)
        processor.enqueue(Fixtures.server())
        await processor.flush(timeout: 10)
        let c = await processor.shutdown(timeout: 5)
        #expect(receiver.requests.count == 1)
        #expect(c.retries == 0 && c.failedBatches == 1 && c.droppedExportFailed == 1 && c.exported == 0)
    }

    @Test func partialSuccessCountsRejectedSpans() async throws {
        // ExportTraceServiceResponse{partial_success{rejected_spans: 2, error_message: "bad"}}, encoded by hand.
        let body = Data([0x0a, 0x07, 0x08, 0x02, 0x12, 0x03] + Array("bad".utf8))
        let receiver = try TestHTTPReceiver(script: [.init(status: 200, headers: [("Content-Type", "application/x-protobuf")], body: body)])
        defer { receiver.stop() }
        let processor = httpProcessor(receiver.url)
        processor.enqueue(contentsOf: (1...5).map { Fixtures.server($0) })
        let c = await processor.shutdown(timeout: 5)
        #expect(receiver.requests.count == 1)
        #expect(c.exported == 3 && c.droppedExportFailed == 2 && c.retries == 0)
        #expect(c.lastError == "receiver rejected 2 spans: bad")
    }

    @Test func shutdownDeadlineCutsRetriesShortAndCountsTheRest() async throws {
        let receiver = try TestHTTPReceiver(script: Array(repeating: .init(status: 503), count: 1000))
        defer { receiver.stop() }
        let processor = httpProcessor(receiver.url, retry: RetryPolicy(maxAttempts: 1000, initialBackoff: 0.3, maxBackoff: 0.3))
        processor.enqueue(contentsOf: (1...7).map { Fixtures.server($0) })
        let start = Date()
        let c = await processor.shutdown(timeout: 1)
        let elapsed = Date().timeIntervalSince(start)
        // Without the deadline, 1000 attempts 0.3 s apart would take 300 s; the margin is for a loaded machine.
        #expect(elapsed < 5, "shutdown took \(elapsed) s")
        #expect(c.exported == 0 && c.droppedExportFailed == 7 && c.failedBatches == 1 && c.queueDepth == 0)
        #expect(c.retries >= 1)
    }

    @Test func queueOverflowIsCounted() async throws {
        let exporter = RecordingExporter()
        // Batches larger than the queue and a long delay: nothing leaves before shutdown.
        let processor = BatchSpanProcessor(exporter: exporter,
                                           configuration: .init(maxBatchSize: 100, scheduleDelay: 60, maxQueueSize: 10))
        processor.enqueue(contentsOf: (1...25).map { Fixtures.server($0) })
        var c = processor.counters
        #expect(c.droppedQueueFull == 15)
        #expect(c.queueDepth == 10)
        c = await processor.shutdown(timeout: 5)
        #expect(c.exported == 10)
        #expect(c.dropped == 15)
        #expect(exporter.batches.map(\.count) == [10])
        processor.enqueue(Fixtures.server())
        #expect(processor.counters.droppedQueueFull == 16, "after shutdown, spans are refused and counted")
    }

    @Test func fullBatchesGoOutWithoutWaitingForTheTimer() async throws {
        let exporter = RecordingExporter()
        let processor = BatchSpanProcessor(exporter: exporter, configuration: .init(maxBatchSize: 4, scheduleDelay: 60))
        processor.enqueue(contentsOf: (1...9).map { Fixtures.server($0) })
        let deadline = Date().addingTimeInterval(5)
        while exporter.batches.count < 2, Date() < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(exporter.batches.map(\.count) == [4, 4])
        #expect(processor.counters.queueDepth == 1)
        _ = await processor.shutdown(timeout: 5)
        #expect(exporter.batches.map(\.count) == [4, 4, 1])
        #expect(exporter.batches.flatMap { $0 }.map(\.spanID.value) == (1...9).map { 0x00f0_67aa_0ba9_0200 + $0 })
    }

    @Test func partialBatchGoesOutAfterScheduleDelay() async throws {
        let exporter = RecordingExporter()
        let processor = BatchSpanProcessor(exporter: exporter, configuration: .init(scheduleDelay: 0.2))
        let start = Date()
        processor.enqueue(Fixtures.server())
        while exporter.batches.isEmpty, Date().timeIntervalSince(start) < 5 { try await Task.sleep(for: .milliseconds(5)) }
        let elapsed = Date().timeIntervalSince(start)
        #expect(exporter.batches.count == 1)
        // Not before the delay; after it, within a margin a loaded machine cannot use up.
        #expect(elapsed >= 0.15 && elapsed < 4, "took \(elapsed) s")
        _ = await processor.shutdown(timeout: 1)
    }

    @Test func enqueueNeverBlocksOnASlowExporter() async throws {
        let exporter = RecordingExporter(delay: 3)
        let processor = BatchSpanProcessor(exporter: exporter, configuration: .init(maxBatchSize: 512, maxQueueSize: 10_000))
        let spans = (1...20_000).map { Fixtures.server(UInt64($0)) }
        let start = Date()
        for s in spans { processor.enqueue(s) }
        let elapsed = Date().timeIntervalSince(start)
        // An enqueue that waited for the exporter would take its 3 s delay at least.
        #expect(elapsed < 2.5, "enqueue of 20000 spans took \(elapsed) s")
        let c = processor.counters
        #expect(c.droppedQueueFull + c.queueDepth == 20_000)
        #expect(c.droppedQueueFull >= 20_000 - 10_000 - 512)
        // Shutdown deadline shorter than the exporter: what is left is counted, not lost.
        let final = await processor.shutdown(timeout: 0.5)
        #expect(final.exported + final.dropped + final.queueDepth == 20_000)
        #expect(final.queueDepth == 0)
    }
}
