import Foundation
import Testing
import Tracing
@testable import OTLP

@Suite struct LatencyHistogramTests {
    @Test func bucketsTakeTheirUpperBoundAndTheRestGoesToInfinity() {
        var h = LatencyHistogram()
        for s in [0.0, 0.001, 0.0011, 0.3, 30, 31] { h.observe(s) }
        #expect(h.count == 6)
        #expect(abs(h.sum - 61.3021) < 1e-9)
        #expect(h.counts[0] == 2, "le 0.001 holds 0 and 0.001 itself")
        #expect(h.counts[1] == 1, "0.0011 is above 0.001")
        #expect(h.counts[LatencyHistogram.bounds.firstIndex(of: 0.5)!] == 1)
        #expect(h.counts[LatencyHistogram.bounds.firstIndex(of: 30)!] == 1)
        #expect(h.counts.last == 1, "+Inf")
    }

    /// One observation per settled batch, delivered or not, retries included in its time.
    @Test func processorObservesEachBatchOnceWithItsRetries() async throws {
        let receiver = try TestHTTPReceiver(script: [.init(status: 503), .init(status: 200), .init(status: 400)])
        defer { receiver.stop() }
        let retry = RetryPolicy(maxAttempts: 3, initialBackoff: 0.05, maxBackoff: 0.05, jitter: 0)
        let processor = BatchSpanProcessor(exporter: OTLPHTTPExporter(configuration: .init(endpoint: URL(string: receiver.url + "/v1/traces")!, timeout: 5)),
                                           configuration: .init(retry: retry))
        processor.enqueue(Fixtures.server(1))
        #expect(await processor.flush(timeout: 10))
        processor.enqueue(Fixtures.server(2))
        #expect(await processor.flush(timeout: 10))
        let c = await processor.shutdown(timeout: 5)
        #expect(c.exported == 1 && c.failedBatches == 1 && c.retries == 1)
        #expect(c.exportSeconds.count == 2, "the delivered batch and the refused one")
        #expect(c.exportSeconds.sum >= 0.05, "the first batch waited 50 ms before its retry: \(c.exportSeconds.sum)")
    }
}
