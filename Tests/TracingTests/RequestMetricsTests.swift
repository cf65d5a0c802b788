import Testing
@testable import Tracing

@Suite struct RequestMetricsTests {
    let service = Resource(attributes: [.string("service.name", "shop"), .int("process.pid", 7)])

    func span(_ kind: SpanKind, _ attributes: [Attribute], ms: Double, sampled: Bool = true) -> Span {
        Span(traceID: TraceID(high: 1, low: 2), spanID: SpanID(3), traceFlags: sampled ? 1 : 0, name: "x", kind: kind,
             startTimeUnixNano: 1_000_000_000, endTimeUnixNano: 1_000_000_000 + UInt64(ms * 1e6),
             attributes: attributes, resource: service)
    }

    @Test func eachSpanFeedsItsInstrumentWithBoundedAttributes() {
        let m = RequestMetrics(startTimeUnixNano: 1)
        let get200: [Attribute] = [.string("http.request.method", "GET"), .int("http.response.status_code", 200),
                                   .string("url.path", "/users/1234"), .string("url.query", "a=1")]
        m.record(span(.server, get200, ms: 3))
        m.record(span(.server, get200.map { $0.key == "url.path" ? .string("url.path", "/users/99") : $0 }, ms: 30, sampled: false))
        m.record(span(.client, [.string("db.system.name", "mysql"), .string("db.operation.name", "SELECT"),
                                .string("db.query.text", "SELECT ?")], ms: 0.5))
        m.record(span(.client, [.string("network.peer.address", "10.0.0.1"), .string("network.transport", "tcp")], ms: 1))
        m.record(span(.server, [.string("rpc.system", "grpc"), .string("rpc.service", "a.B"), .string("rpc.method", "C"),
                                .int("rpc.grpc.status_code", 5)], ms: 2))
        let all = m.snapshot()
        #expect(all.map(\.key.instrument) == [.dbClient, .httpServer, .rpcServer], "the tcp span feeds nothing")
        let http = all[1]
        // Two paths, one series: a path is not a route.
        #expect(http.key.attributes.map(\.key) == ["http.request.method", "http.response.status_code"])
        #expect(http.histogram.count == 2 && http.histogram.counts[0] == 1, "3 ms in the first bucket (≤ 5 ms)")
        #expect(http.histogram.counts[RequestInstrument.httpServer.bounds.firstIndex(of: 0.05)!] == 1, "30 ms in (25 ms, 50 ms]")
        #expect(abs(http.histogram.sum - 0.033) < 1e-9)
        #expect(all[0].histogram.counts[0] == 1 && all[0].key.attributes.allSatisfy { $0.key != "db.query.text" })
    }

    @Test func seriesBeyondTheLimitGoToOneOverflowSeries() {
        let m = RequestMetrics(startTimeUnixNano: 1, maxSeries: 3)
        for code in 200..<210 {
            m.record(span(.server, [.string("http.request.method", "GET"), .int("http.response.status_code", Int64(code))], ms: 1))
        }
        let all = m.snapshot()
        #expect(all.count == 4)
        let overflow = all.filter { $0.key.attributes == [RequestMetrics.overflowAttribute] }
        #expect(overflow.count == 1 && overflow[0].histogram.count == 7)
        #expect(all.reduce(0) { $0 + $1.histogram.count } == 10, "nothing observed is lost")
    }
}
