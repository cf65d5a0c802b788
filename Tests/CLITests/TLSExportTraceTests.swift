import Foundation
import Testing

/// Spans to an `https://` collector, end to end: the tool traces every process's
/// libssl (`--ssl` without a pid) while its own exporter talks TLS through the
/// same library. The collector gets the traffic's spans and never a span of the
/// tool's own exports (each of those would be exported again, without end).
/// With a CA that did not sign the collector's certificate: no crash, the
/// spans counted as dropped, and one error line with a hint.
extension LibraryTraceTests {
    @Test func httpsCollectorWithTheWrongCA() throws {
        guard canRun() else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tls-export-wrong-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let certs = try run("/bin/bash", ["-c", """
            set -e; cd '\(dir.path)'
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -subj /CN=test-ca -days 2 2>/dev/null
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.csr -subj /CN=localhost 2>/dev/null
            printf 'subjectAltName=IP:127.0.0.1\\n' > srv.ext
            openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile srv.ext 2>/dev/null
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -out other.pem -subj /CN=other-ca -days 2 2>/dev/null
            mkdir received
            """])
        #expect(certs.status == 0, "\(certs.stderr)")
        let (receiver, port) = try otlpReceiver(dir.appendingPathComponent("received"),
                                                ["--tls", dir.appendingPathComponent("srv.pem").path, dir.appendingPathComponent("srv.key").path])
        defer { receiver.process.terminate() }
        let server = try HTTPSServer()
        defer { server.bg.process.terminate() }
        let tracer = try Background(Repo.tool, ["--ssl", "--pid", String(server.pid), "--quiet", "--otlp-endpoint", "https://127.0.0.1:\(port)"],
                                    environment: ["OTEL_EXPORTER_OTLP_CERTIFICATE": dir.appendingPathComponent("other.pem").path])
        tracer.watchdog(seconds: 120)
        _ = tracer.waitForStderr("attached")
        let n = 5
        #expect(try curl(server.port, (0..<n).map { "/sleep?ms=1&id=\($0)" }).map(\.status) == Array(repeating: "200", count: n))
        usleep(1_500_000)
        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0, "no crash: \(stderr)")
        #expect(stderr.contains("\(n) spans dropped"), "\(stderr)")
        let errors = stderr.split(separator: "\n").filter { $0.contains("last export error") }
        #expect(errors.count == 1 && errors[0].contains("certificate verify failed") && errors[0].contains("hint:"), "\(stderr)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("received").path)) ?? []).filter { $0.hasSuffix(".pb") }.isEmpty)
    }

    @Test func httpsCollectorWhileTracingEveryLibssl() throws {
        guard canRun(), require((try? run("/usr/bin/env", ["python3", "-c", "import opentelemetry.proto"]).status) == 0,
                                "python opentelemetry-proto missing (scripts/setup.sh installs it)") else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tls-export-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let certs = try run("/bin/bash", ["-c", """
            set -e; cd '\(dir.path)'
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -subj /CN=test-ca -days 2 2>/dev/null
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.csr -subj /CN=localhost 2>/dev/null
            printf 'subjectAltName=IP:127.0.0.1\\n' > srv.ext
            openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile srv.ext 2>/dev/null
            mkdir received
            """])
        #expect(certs.status == 0, "\(certs.stderr)")
        let (receiver, port) = try otlpReceiver(dir.appendingPathComponent("received"),
                                                ["--tls", dir.appendingPathComponent("srv.pem").path, dir.appendingPathComponent("srv.key").path])
        defer { receiver.process.terminate() }
        let server = try HTTPSServer()
        defer { server.bg.process.terminate() }

        let tracer = try Background(Repo.tool, ["--ssl", "--quiet", "--otlp-endpoint", "https://127.0.0.1:\(port)"],
                                    environment: ["OTEL_EXPORTER_OTLP_CERTIFICATE": dir.appendingPathComponent("ca.pem").path])
        tracer.watchdog(seconds: 120)
        _ = tracer.waitForStderr("attached")
        let n = 10
        let replies = try curl(server.port, (0..<n).map { "/sleep?ms=1&id=\($0)" })
        #expect(replies.map(\.status) == Array(repeating: "200", count: n))
        usleep(2_500_000)   // two batch intervals: the tool's own exports have passed SSL_write
        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0, "\(stderr)")
        #expect(stderr.contains("0 spans dropped"), "\(stderr)")

        // Every span the collector got, as kind and path.
        let decode = try run("/usr/bin/env", ["python3", "-c", """
            import glob, sys
            from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as t
            for f in sorted(glob.glob(sys.argv[1] + '/*.pb')):
                r = t.ExportTraceServiceRequest(); r.ParseFromString(open(f, 'rb').read())
                for rs in r.resource_spans:
                    for ss in rs.scope_spans:
                        for s in ss.spans:
                            a = {kv.key: kv.value.string_value for kv in s.attributes}
                            print(s.kind, a.get('url.path', '?'))
            """, dir.appendingPathComponent("received").path])
        #expect(decode.status == 0, "\(decode.stderr)")
        let spans = decode.stdout.split(separator: "\n")
        #expect(spans.filter { $0 == "2 /sleep" }.count == n, "server spans: \(spans)")
        #expect(spans.filter { $0 == "3 /sleep" }.count == n, "curl's client spans: \(spans)")
        // The receiver is a traced libssl process too: its SERVER spans of our POSTs
        // are right to be there; a CLIENT span of our own POST must not be.
        #expect(!spans.contains("3 /v1/traces"), "a span of the tool's own export: \(spans)")
        #expect(spans.contains("2 /v1/traces"), "the receiver's side is traced: \(spans)")
    }
}
