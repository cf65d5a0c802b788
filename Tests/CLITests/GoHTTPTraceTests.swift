import Foundation
import Testing

/// `uprobe-trace --go-http` end to end, as root: real BPF, a real Go server
/// built from testdata, real clients. The tool runs as a separate process,
/// exactly as a user runs it.
@Suite(.serialized) struct GoHTTPTraceTests {
    struct Server {
        let bg: Background
        let address: String
        var pid: Int32 { bg.process.processIdentifier }

        /// `cpu`: pin the server (taskset execs it, so the pid is the server's).
        init(_ path: String, cpu: Int? = nil) throws {
            bg = try cpu.map { try Background("/usr/bin/taskset", ["-c", String($0), path]) } ?? Background(path, [])
            let first = try #require(bg.stdout.next())
            address = String(first.dropFirst("listening ".count))
        }
    }

    struct Reply: Decodable {
        let target: String
        let status: Int
        let handler_ns: Int?
        let body_sha: String?
        let headers: [String: String]
        /// The client's own time for the whole exchange, which holds the server span.
        let client_ns: Int64?
    }

    /// Sends `targets` with `concurrency` keep-alive connections (Tests/harness/http_load.py).
    func load(_ address: String, _ targets: [String], concurrency: Int, cpu: Int? = nil) throws -> [Reply] {
        let argv = ["python3", Repo.root.appendingPathComponent("Tests/harness/http_load.py").path, address, String(concurrency)]
        let r = try cpu.map { try run("/usr/bin/taskset", ["-c", String($0), "/usr/bin/env"] + argv, stdin: targets.joined(separator: "\n") + "\n") }
            ?? run("/usr/bin/env", argv, stdin: targets.joined(separator: "\n") + "\n")
        #expect(r.status == 0, "\(r.stderr)")
        return try r.stdout.split(separator: "\n").map { try JSONDecoder().decode(Reply.self, from: Data($0.utf8)) }
    }

    /// A fixed request plan: handler sleeps 0–20 ms, statuses 200/404/500, panics; each target unique.
    /// The kinds are interleaved by a fixed stride so every stretch of the run mixes them.
    func plan(_ n: Int) -> [String] {
        (0..<n).map { i in
            switch (i * 37 + 11) % 20 {
            case 0: return "/panic?id=\(i)"
            case 1, 2, 3: return "/status?code=404&id=\(i)"
            case 4, 5: return "/status?code=500&id=\(i)"
            default: return "/sleep?ms=\((i * 13) % 21)&id=\(i)"
            }
        }
    }

    /// Debian's Go 1.19 (bin/go-server*) and the newest Go of the fixture matrix
    /// (bin/go<NEWEST>/<VARIANT>/go-server): normal, stripped, PIE.
    @Test(arguments: ["go-server", "go-server-stripped", "go-server-pie"] + GoMatrixFixtures.newestServers)
    func oneServerSpanPerRequestWithAccurateTiming(_ name: String) throws {
        guard requireFixtures(), requireRoot(), name.hasPrefix("go-server") || GoMatrixFixtures.require(fixturePath: name) else { return }
        // The server on one core, the load generator on the other: on 2 cores, a
        // server thread preempted by the client between ServeHTTP's entry and the
        // handler's own clock read would count against the tool.
        let server = try Server(Repo.fixture(name), cpu: 1)
        let jsonPath = FileManager.default.temporaryDirectory.appendingPathComponent("spans-\(name.replacingOccurrences(of: "/", with: "-"))-\(getpid()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: jsonPath) }
        // The tool beside the load generator: its reader thread, woken in batches, would
        // otherwise preempt the server between ServeHTTP's entry and the handler's clock read.
        let tracer = try Background("/usr/bin/taskset", ["-c", "0", Repo.tool, "--pid", String(server.pid), "--go-http", "--otlp-json", jsonPath, "--quiet"])
        let attached = tracer.waitForStderr("attached")
        #expect(attached.contains("uprobe-trace: attached"), "\(attached)")

        // Warm-up (first connections, first page faults in server and tool), not measured.
        _ = try load(server.address, (0..<40).map { "/sleep?ms=0&warmup=\($0)" }, concurrency: 8, cpu: 0)
        let targets = plan(200)
        let replies = try load(server.address, targets, concurrency: 8, cpu: 0)
        #expect(replies.count == targets.count)
        usleep(300_000)
        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0, "\(stderr)")
        #expect(stderr.contains("events lost in the kernel: go_http 0"), "\(stderr)")
        #expect(stderr.contains("240 spans"), "\(stderr)")
        // The server's own measurement of each request (its outermost handler).
        var measured: [String: Double] = [:]
        let timings = try run("/usr/bin/curl", ["-s", "http://\(server.address)/_timings"]).stdout
        for line in timings.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let ns = Double(parts[1]) { measured[String(parts[0])] = ns }
        }

        let all = try spans(inJSONLines: jsonPath).filter { $0["kind"] as? Int == 2 && attributes($0)["url.query"]?.hasPrefix("ms=0&warmup=") != true }
        var byTarget: [String: [[String: Any]]] = [:]
        for s in all {
            let a = attributes(s)
            let target = (a["url.path"] ?? "?") + (a["url.query"].map { "?" + $0 } ?? "")
            byTarget[target, default: []].append(s)
        }
        var pairs: [(span: Int64, own: Int64)] = []
        for reply in replies {
            let matches = byTarget[reply.target] ?? []
            #expect(matches.count == 1, "one SERVER span for \(reply.target), got \(matches.count)")
            guard let span = matches.first else { continue }
            let a = attributes(span)
            #expect(a["http.request.method"] == "GET")
            let expectedStatus = reply.target.hasPrefix("/panic") ? 500 : reply.status
            #expect(a["http.response.status_code"] == String(expectedStatus), "\(reply.target): \(a)")
            if reply.target.hasPrefix("/panic") { #expect(a["error.type"] == "panic") }
            if expectedStatus >= 500 { #expect((span["status"] as? [String: Any])?["code"] as? Int == 2) }
            guard let (start, end) = spanTimes(span) else { continue }
            // Order, whatever the load: the handler runs inside ServeHTTP, and ServeHTTP
            // inside the client's exchange (the response is flushed after it returns).
            // 20 µs for converting kernel boot time to wall-clock time.
            if let handler = measured[reply.target] {
                #expect(end - start + 20_000 >= Int64(handler), "\(reply.target): span \(end - start) ns < handler \(Int64(handler)) ns")
                pairs.append((end - start, Int64(handler)))
            }
            if let client = reply.client_ns {
                #expect(end - start <= client + 20_000, "\(reply.target): span \(end - start) ns > client's \(client) ns")
            }
        }
        #expect(byTarget.values.reduce(0) { $0 + $1.count } == targets.count, "no extra SERVER spans")
        #expect(pairs.count > 180, "every request but the panics was measured by the server")
        let accuracy = TimingAccuracy(pairs)
        print("\(name): \(accuracy.summary)")
        accuracy.expectAccurate()
        // The resource names the process.
        let resource = try #require(all.first?["_resource"] as? [String: Any])
        #expect(attributes(resource)["process.pid"] == String(server.pid))
        #expect(attributes(resource)["process.runtime.version"]?.hasPrefix("go1.") == true)
        #expect(server.bg.process.isRunning)
    }

    /// The Go client, traced through its executable (it starts after the probes are in).
    @Test func clientSpans() throws {
        guard requireFixtures(), requireRoot() else { return }
        let server = try Server(Repo.fixture("go-server"))
        let jsonPath = FileManager.default.temporaryDirectory.appendingPathComponent("client-\(getpid()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: jsonPath) }
        let tracer = try Background(Repo.tool, ["--exe", Repo.fixture("go-client"), "--go-http", "--otlp-json", jsonPath])
        _ = tracer.waitForStderr("attached")
        let urls = ["/status?code=200", "/status?code=404", "/status?code=503", "/sleep?ms=2"].map { "http://\(server.address)\($0)" }
        let client = try run(Repo.fixture("go-client"), ["-n", "3"] + urls + ["http://127.0.0.1:1/refused"])
        #expect(client.stdout.split(separator: "\n").count == 15)
        usleep(300_000)
        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0, "\(stderr)")
        let clientSpans = try spans(inJSONLines: jsonPath).filter { $0["kind"] as? Int == 3 }
        #expect(clientSpans.count == 15, "\(clientSpans.count) CLIENT spans")
        var statuses: [String: Int] = [:]
        for s in clientSpans { statuses[attributes(s)["http.response.status_code"] ?? "error", default: 0] += 1 }
        #expect(statuses == ["200": 6, "404": 3, "503": 3, "error": 3], "\(statuses)")
        let errors = clientSpans.filter { ($0["status"] as? [String: Any])?["code"] as? Int == 2 }
        #expect(errors.count == 9, "404, 503 and refused are client errors")
    }

    /// OTLP/HTTP to a receiver; an independent decoder (protoc) reads what arrived.
    @Test func otlpHTTPExportDecodesWithProtoc() throws {
        guard requireFixtures(), requireRoot() else { return }
        let protoRoot = [ProcessInfo.processInfo.environment["OTLP_PROTO_ROOT"],
                         Repo.root.deletingLastPathComponent().appendingPathComponent("shared/opentelemetry-proto").path,
                         "/work/shared/opentelemetry-proto"].compactMap { $0 }
            .first { FileManager.default.fileExists(atPath: $0 + "/opentelemetry/proto") } ?? "../shared/opentelemetry-proto"
        guard require(FileManager.default.fileExists(atPath: protoRoot), "\(protoRoot) missing"),
              require(FileManager.default.isExecutableFile(atPath: "/usr/bin/protoc"), "protoc missing (apt install protobuf-compiler)") else { return }
        let outDir = FileManager.default.temporaryDirectory.appendingPathComponent("otlp-\(getpid())")
        try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: outDir) }
        let (receiver, port) = try otlpReceiver(outDir)
        defer { receiver.process.terminate() }
        let server = try Server(Repo.fixture("go-server"))
        let tracer = try Background(Repo.tool, ["--pid", String(server.pid), "--go-http", "--quiet", "--otlp-endpoint", "http://127.0.0.1:\(port)"],
                                    environment: ["OTEL_EXPORTER_OTLP_HEADERS": "x-team=tracing", "OTEL_SERVICE_NAME": "checkout"])
        _ = tracer.waitForStderr("attached")
        let replies = try load(server.address, (0..<20).map { "/sleep?ms=1&n=\($0)" }, concurrency: 2)
        #expect(replies.count == 20)
        usleep(300_000)
        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0, "\(stderr)")
        #expect(stderr.contains("20 to otlp-http"), "\(stderr)")

        var decoded = ""
        for f in try FileManager.default.contentsOfDirectory(atPath: outDir.path) where f.hasSuffix(".pb") {
            let r = try run("/bin/sh", ["-c", "protoc --decode opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest -I '\(protoRoot)' opentelemetry/proto/collector/trace/v1/trace_service.proto < '\(outDir.path)/\(f)'"])
            #expect(r.status == 0, "\(r.stderr)")
            decoded += r.stdout
        }
        #expect(decoded.components(separatedBy: "kind: SPAN_KIND_SERVER").count - 1 == 20, "\(decoded.prefix(2000))")
        #expect(decoded.contains("string_value: \"checkout\""))
        #expect(decoded.contains("key: \"url.query\""))
        for n in 0..<20 { #expect(decoded.contains("string_value: \"ms=1&n=\(n)\"")) }
        let headers = try String(contentsOfFile: outDir.appendingPathComponent("headers.txt").path, encoding: .utf8)
        #expect(headers.contains("'x-team': 'tracing'") || headers.contains("'X-Team': 'tracing'"), "\(headers)")
    }

    /// The OTLP JSON file follows the OTLP JSON encoding: hex ids, string int64s, integer enums.
    @Test func otlpJSONFileIsValidOTLPJSON() throws {
        guard requireFixtures(), requireRoot() else { return }
        let server = try Server(Repo.fixture("go-server"))
        let jsonPath = FileManager.default.temporaryDirectory.appendingPathComponent("valid-\(getpid()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: jsonPath) }
        let tracer = try Background(Repo.tool, ["--pid", String(server.pid), "--go-http", "--quiet", "--otlp-json", jsonPath])
        _ = tracer.waitForStderr("attached")
        _ = try load(server.address, ["/sleep?ms=1", "/status?code=500", "/panic"], concurrency: 1)
        usleep(300_000)
        _ = tracer.interruptAndWait()
        let all = try spans(inJSONLines: jsonPath)
        #expect(all.count == 3)
        let hex = try Regex("^[0-9a-f]+$")
        for s in all {
            let trace = try #require(s["traceId"] as? String), span = try #require(s["spanId"] as? String)
            #expect(trace.count == 32 && trace.wholeMatch(of: hex) != nil)
            #expect(span.count == 16 && span.wholeMatch(of: hex) != nil)
            #expect(s["startTimeUnixNano"] is String && s["endTimeUnixNano"] is String)
            #expect(s["kind"] is Int)
            for kv in s["attributes"] as? [[String: Any]] ?? [] {
                if let v = kv["value"] as? [String: Any], let i = v["intValue"] { #expect(i is String, "int64 as string: \(kv)") }
            }
        }
    }

    /// 10,000 requests with the tool attached: the server lives and every
    /// response is byte-identical (status, headers but Date, body) to the untraced run.
    /// On Debian's Go 1.19 and the newest Go of the matrix (stripped: offsets from the table).
    @Test(arguments: ["go-server"] + GoMatrixFixtures.newestServers.filter { $0.contains("/stripped/") })
    func tracedServerIsUnharmed(_ name: String) throws {
        guard requireFixtures(), requireRoot(), name.hasPrefix("go-server") || GoMatrixFixtures.require(fixturePath: name) else { return }
        let server = try Server(Repo.fixture(name))
        let targets = (0..<10_000).map { i in ["/sleep?ms=0", "/status?code=404", "/status?code=201", "/sleep?ms=0&q=\(i % 7)"][i % 4] }
        func fingerprint(_ replies: [Reply]) -> [String] {
            replies.map { "\($0.target) \($0.status) \($0.body_sha ?? "-") \($0.headers.sorted { $0.key < $1.key })" }.sorted()
        }
        let untraced = fingerprint(try load(server.address, targets, concurrency: 8))
        let tracer = try Background(Repo.tool, ["--pid", String(server.pid), "--go-http", "--quiet"])
        _ = tracer.waitForStderr("attached")
        let footprint = try KernelFootprint.take(tool: tracer.process.processIdentifier, traced: [server.pid])
        let traced = fingerprint(try load(server.address, targets, concurrency: 8))
        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0)
        #expect(stderr.contains("10000 spans"), "\(stderr)")
        #expect(untraced.count == 10_000 && traced == untraced, "responses differ under tracing")
        #expect(server.bg.process.isRunning)
        // Nothing of ours remains: no program, link or uprobe, and the server's text is as on disk.
        try footprint.expectReleased(traced: [server.pid])
    }

    /// A pid that is not Go, and a traced process that exits.
    @Test func notGoAndProcessExit() throws {
        guard requireFixtures(), requireRoot() else { return }
        let c = Process()
        c.executableURL = URL(fileURLWithPath: Repo.fixture("fixture-pie"))
        c.arguments = ["--wait"]
        c.standardInput = Pipe()
        try c.run()
        defer { c.terminate() }
        let r = try tool("--pid", String(c.processIdentifier), "--go-http")
        #expect(r.status == 1)
        #expect(r.stderrLines.count == 1 && r.stderr.contains("is not a Go program"), "\(r.stderr)")

        let server = try Server(Repo.fixture("go-server"))
        let tracer = try Background(Repo.tool, ["--pid", String(server.pid), "--go-http", "--quiet"])
        _ = tracer.waitForStderr("attached")
        _ = try load(server.address, ["/sleep?ms=1"], concurrency: 1)
        server.bg.process.terminate()
        server.bg.process.waitUntilExit()
        // It reports at once; removing 34 uprobes then takes the kernel ~5 s (one RCU grace period each).
        let deadline = Date().addingTimeInterval(15)
        while tracer.process.isRunning && Date() < deadline { usleep(50_000) }
        #expect(!tracer.process.isRunning, "the tool exits when the traced pid does")
        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0)
        #expect(stderr.contains("exited") && stderr.contains("1 spans"), "\(stderr)")
    }

    @Test func needsRootIsExit77() throws {
        guard requireFixtures(), getuid() == 0 else { return }
        let server = try Server(Repo.fixture("go-server"))
        // As nobody, opening the process is refused before any BPF call.
        let r = try run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", Repo.tool, "--exe", Repo.fixture("go-server"), "--go-http"])
        #expect(r.status == 77, "\(r.stderr)")
        #expect(r.stderrLines.count == 1 && r.stderr.contains("hint:"), "\(r.stderr)")
        _ = server
    }
}
