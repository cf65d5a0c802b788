import Foundation
import Testing

/// Traces, not just spans (issue 6), end to end as root: two Go servers from
/// testdata (a frontend whose /call handler calls a backend with net/http),
/// curl sending W3C `traceparent` headers, one uprobe-trace run over both.
@Suite(.serialized) struct TraceContextTests {
    func pid(_ span: [String: Any]) -> String { attributes(span["_resource"] as? [String: Any] ?? [:])["process.pid"] ?? "?" }
    func parent(_ span: [String: Any]) -> String { span["parentSpanId"] as? String ?? "" }
    func query(_ span: [String: Any]) -> String { attributes(span)["url.query"] ?? "" }

    /// Stripped: every struct offset (read buffer, goroutine, TCP ports) from the Go-version table.
    @Test(arguments: ["go-server", "go-server-stripped"])
    func goFrontendBackendFormOneTrace(_ binary: String) throws {
        guard requireFixtures(), requireRoot() else { return }
        let backend = try GoHTTPTraceTests.Server(Repo.fixture(binary))
        let frontend = try GoHTTPTraceTests.Server(Repo.fixture(binary))
        let jsonPath = FileManager.default.temporaryDirectory.appendingPathComponent("context-\(getpid()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: jsonPath) }
        let tracer = try Background(Repo.tool, ["--pid", "\(frontend.pid),\(backend.pid)", "--go-http", "--otlp-json", jsonPath, "--quiet"])
        _ = tracer.waitForStderr("attached")
        _ = tracer.waitForStderr("attached")

        // The caller's span ids, one trace per request so each is told apart.
        let sameGoroutine = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
        let newGoroutine = ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
        func curl(_ target: String, _ headers: [String]) throws {
            let r = try run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}"] + headers.flatMap { ["-H", $0] } + ["http://\(frontend.address)\(target)"])
            #expect(r.stdout == "200", "\(target): \(r.stdout) \(r.stderr)")
        }
        let upstream = "http://\(backend.address)/hello"
        try curl("/call?id=same&url=\(upstream)", ["traceparent: 00-\(sameGoroutine.0)-\(sameGoroutine.1)-01",
                                                    "tracestate: congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"])
        try curl("/call?id=go&go=1&url=\(upstream)", ["traceparent: 00-\(newGoroutine.0)-\(newGoroutine.1)-01"])
        // Malformed values: each is ignored, the request starts a new trace.
        let malformed = [
            "wrong-length": "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "uppercase": "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "version-ff": "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "zero-trace": "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "zero-parent": "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "extra-field-v00": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-zz",
        ]
        for (name, value) in malformed { try curl("/hello?bad=\(name)", ["traceparent: \(value)"]) }
        // Not sampled by the caller: parent-based sampling records nothing of it.
        try curl("/call?id=unsampled&url=\(upstream)", ["traceparent: 00-5bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"])
        usleep(300_000)
        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0, "\(stderr)")
        #expect(stderr.contains("3 not sampled"), "\(stderr)")

        let all = try spans(inJSONLines: jsonPath)
        let fe = String(frontend.pid), be = String(backend.pid)
        for (id, caller) in [("same", sameGoroutine), ("go", newGoroutine)] {
            let server = try #require(all.first { pid($0) == fe && $0["kind"] as? Int == 2 && query($0).hasPrefix("id=\(id)&") }, "frontend SERVER \(id)")
            #expect(server["traceId"] as? String == caller.0, "\(id): the caller's trace")
            #expect(parent(server) == caller.1, "\(id): child of the curl span")
            let inTrace = all.filter { $0["traceId"] as? String == caller.0 }
            #expect(inTrace.count == 3, "\(id): \(inTrace.map { $0["name"] ?? "" })")
            let client = try #require(inTrace.first { pid($0) == fe && $0["kind"] as? Int == 3 }, "frontend CLIENT \(id)")
            #expect(parent(client) == server["spanId"] as? String, "\(id): CLIENT is the SERVER span's child")
            let back = try #require(inTrace.first { pid($0) == be && $0["kind"] as? Int == 2 }, "backend SERVER \(id)")
            #expect(parent(back) == client["spanId"] as? String, "\(id): backend SERVER is the CLIENT span's child")
            #expect(attributes(back)["url.path"] == "/hello")
            #expect(server["traceState"] as? String ?? "" == (id == "same" ? "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7" : ""))
            #expect(Set(inTrace.compactMap { $0["spanId"] as? String }).count == 3)
        }
        var roots = Set<String>()
        for name in malformed.keys {
            let span = try #require(all.first { query($0) == "bad=\(name)" }, "\(name)")
            #expect(parent(span).isEmpty, "\(name): a root span")
            let trace = span["traceId"] as? String ?? ""
            #expect(trace.count == 32 && trace != sameGoroutine.0 && trace != String(repeating: "0", count: 32), "\(name): \(trace)")
            roots.insert(trace)
        }
        #expect(roots.count == malformed.count, "each malformed request starts its own trace")
        #expect(!all.contains { query($0).contains("unsampled") || ($0["traceId"] as? String)?.hasPrefix("5bf92f") == true })
    }

    /// Issue 7 item 7: `--sample-ratio` by trace id for new traces; requests with a
    /// traceparent follow its sampled flag (parent-based).
    @Test func sampleRatio() throws {
        guard requireFixtures(), requireRoot() else { return }
        let server = try GoHTTPTraceTests.Server(Repo.fixture("go-server"))
        let jsonPath = FileManager.default.temporaryDirectory.appendingPathComponent("sampling-\(getpid()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: jsonPath) }
        let tracer = try Background(Repo.tool, ["--pid", String(server.pid), "--go-http", "--otlp-json", jsonPath, "--quiet", "--sample-ratio", "0.25"])
        _ = tracer.waitForStderr("attached")
        let n = 400
        let replies = try GoHTTPTraceTests().load(server.address, (0..<n).map { "/hello?id=\($0)" }, concurrency: 4)
        #expect(replies.count == n)
        // Sampled by their caller: recorded whatever the ratio; not sampled: never.
        for (i, flags) in ["01", "01", "00"].enumerated() {
            let r = try run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-H", "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e473\(i)-00f067aa0ba902b7-\(flags)",
                                              "http://\(server.address)/hello?parent=\(i)"])
            #expect(r.status == 0)
        }
        usleep(300_000)
        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0, "\(stderr)")
        let all = try spans(inJSONLines: jsonPath)
        let roots = all.filter { query($0).hasPrefix("id=") }
        // Binomial(400, 0.25): mean 100, sd 8.7; 55...145 is beyond 5 sd.
        #expect(roots.count > 55 && roots.count < 145, "\(roots.count) of \(n) new traces recorded at 0.25")
        #expect(stderr.contains("\(n - roots.count + 1) not sampled"), "\(stderr)")
        for span in roots {
            // The rule: the trace id's last 56 bits below 0.25 × 2^56.
            let id = span["traceId"] as? String ?? ""
            let low56 = UInt64(id.suffix(14), radix: 16) ?? .max
            #expect(low56 < (UInt64(1) << 54), "\(id) recorded")
        }
        #expect(all.filter { query($0).hasPrefix("parent=") }.map(query).sorted() == ["parent=0", "parent=1"])
    }
}
