import Foundation
import Testing

/// `--otlp-protocol grpc` end to end: spans of a traced Go server and the
/// request metrics reach a real OTLP/gRPC receiver (grpcio).
extension GoHTTPTraceTests {
    @Test func spansAndMetricsOverOTLPgRPC() throws {
        guard requireFixtures(), requireRoot(),
              require((try? run("/usr/bin/env", ["python3", "-c", "import grpc, opentelemetry.proto"]).status) == 0,
                      "python grpcio / opentelemetry-proto missing (scripts/setup.sh installs them)") else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grpc-export-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let receiver = try Background("/usr/bin/env", ["python3", Repo.root.appendingPathComponent("Tests/harness/otlp_grpc_receiver.py").path, dir.path])
        defer { receiver.process.terminate() }
        let port = String(try #require(receiver.stdout.next()).dropFirst("listening ".count))
        let server = try Server(Repo.fixture("go-server"))
        let tracer = try Background(Repo.tool, ["--pid", String(server.pid), "--go-http", "--quiet", "--otlp-protocol", "grpc",
                                                "--otlp-endpoint", "http://127.0.0.1:\(port)"], environment: ["OTEL_METRIC_EXPORT_INTERVAL": "500"])
        tracer.watchdog(seconds: 120)
        _ = tracer.waitForStderr("attached")
        let n = 12
        let replies = try load(server.address, (0..<n).map { "/status?code=\($0 % 2 == 0 ? 200 : 503)&i=\($0)" }, concurrency: 2)
        #expect(replies.count == n)
        usleep(1_500_000)
        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0, "\(stderr)")
        #expect(stderr.contains("exported \(n) to otlp-grpc http://127.0.0.1:\(port)"), "\(stderr)")
        #expect(stderr.contains("metrics: ") && stderr.contains(", 0 failed"), "\(stderr)")
        let decode = try run("/usr/bin/env", ["python3", "-c", """
            import glob, sys
            from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as t
            for f in sorted(glob.glob(sys.argv[1] + '/*.pb')):
                r = t.ExportTraceServiceRequest(); r.ParseFromString(open(f, 'rb').read())
                for rs in r.resource_spans:
                    for ss in rs.scope_spans:
                        for s in ss.spans:
                            a = {kv.key: kv.value for kv in s.attributes}
                            print(s.kind, a['http.response.status_code'].int_value)
            """, dir.path])
        let spans = decode.stdout.split(separator: "\n")
        #expect(spans.filter { $0 == "2 200" }.count == n / 2 && spans.filter { $0 == "2 503" }.count == n / 2, "\(spans) \(decode.stderr)")
        let metrics = try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        #expect(metrics.contains("http.server.request.duration"), "\(metrics.prefix(500))")
    }
}
