import Foundation
import Testing

/// A scrape of `--metrics-addr`, parsed from the Prometheus text format.
struct Scrape {
    struct Sample { let name: String; let labels: [String: String]; let value: Double }
    var samples: [Sample] = []
    var types: [String: String] = [:]
    var helps: Set<String> = []

    /// Parses the text exposition format 0.0.4; a line that is none of HELP,
    /// TYPE or a sample is recorded as an issue.
    init(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/
        let label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ", maxSplits: 3)
            if line.hasPrefix("# HELP "), words.count == 4 { helps.insert(String(words[2])); continue }
            if line.hasPrefix("# TYPE "), words.count == 4 { types[String(words[2])] = String(words[3]); continue }
            guard let m = line.wholeMatch(of: sampleLine), let value = Double(m.3) else {
                Issue.record("not Prometheus text: \(line)", sourceLocation: sourceLocation)
                continue
            }
            var labels: [String: String] = [:]
            if let body = m.2 { for l in body.matches(of: label) { labels[String(l.1)] = String(l.2) } }
            samples.append(Sample(name: String(m.1), labels: labels, value: value))
        }
    }

    /// The one sample of `name` whose labels include `labels`, or nil.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        let found = samples.filter { s in s.name == name && labels.allSatisfy { k, v in s.labels[k] == v } }
        return found.count == 1 ? found[0].value : nil
    }
}

/// GET on the metrics address with curl: (HTTP status, body).
func scrape(_ address: String, path: String = "/metrics") throws -> (status: Int, body: String) {
    let r = try run("/usr/bin/curl", ["-s", "-m", "5", "-w", "\n%{http_code}", "http://\(address)\(path)"])
    let status = Int(r.stdout.split(separator: "\n").last ?? "") ?? 0
    return (status, String(r.stdout[..<(r.stdout.lastIndex(of: "\n") ?? r.stdout.endIndex)]))
}

/// `uprobe-trace: metrics on http://ADDR/metrics` → ADDR.
func metricsAddress(in stderr: String) -> String? {
    stderr.firstMatch(of: /metrics on http:\/\/(\S+)\/metrics/).map { String($0.1) }
}

/// `--metrics-addr` and `--ring-buffer-size` against the Go server fixture, as root.
extension GoHTTPTraceTests {
    @Test func metricsScrapeMatchesWhatTheToolDid() throws {
        guard requireFixtures(), requireRoot() else { return }
        let outDir = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-otlp-\(getpid())")
        try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: outDir) }
        let (receiver, port) = try otlpReceiver(outDir)
        defer { receiver.process.terminate() }
        let server = try Server(Repo.fixture("go-server"))
        let started = Date().timeIntervalSince1970
        // Console (counted on stdout) and OTLP/HTTP (batches counted by the receiver).
        let tracer = try Background(Repo.tool, ["--pid", String(server.pid), "--go-http", "--metrics-addr", "127.0.0.1:0",
                                                "--otlp-endpoint", "http://127.0.0.1:\(port)"])
        let head = tracer.waitForStderr("metrics on")
        let address = try #require(metricsAddress(in: head), "\(head)")
        let probes = try #require(head.firstMatch(of: /attached (\d+) probes/).flatMap { Double($0.1) }, "\(head)")

        // A scraper that sends half a request and stalls: it holds the metrics
        // thread (for at most 2 s), never the ring-buffer readers.
        let (host, mport) = (address[..<address.lastIndex(of: ":")!], address[address.index(after: address.lastIndex(of: ":")!)...])
        let stalled = try Background("/usr/bin/env", ["python3", "-c",
            "import socket, time; s = socket.create_connection(('\(host)', \(mport))); s.send(b'GET /metr'); print('sent', flush=True); time.sleep(30)"])
        defer { stalled.process.terminate() }
        #expect(stalled.stdout.next() == "sent")
        let n = 60
        let replies = try load(server.address, (0..<n).map { "/sleep?ms=\($0 % 3)&m=\($0)" }, concurrency: 4)
        #expect(replies.count == n)
        // Both exporters batch (0.1 s, 1 s): wait until they have sent everything.
        var metrics = Scrape("")
        for _ in 0..<60 {
            let (status, body) = try scrape(address)
            #expect(status == 200)
            metrics = Scrape(body)
            if metrics.value("uprobe_trace_spans_exported_total", ["exporter": "otlp-http"]) == Double(n),
               metrics.value("uprobe_trace_spans_exported_total", ["exporter": "console"]) == Double(n) { break }
            usleep(100_000)
        }
        #expect(tracer.process.isRunning)
        #expect(metrics.value("uprobe_trace_events_received_total", ["family": "go_http"]) == Double(2 * n), "a head record and a span event per request")
        #expect(metrics.value("uprobe_trace_events_lost_total", ["family": "go_http"]) == 0)
        #expect(metrics.value("uprobe_trace_spans_produced_total") == Double(n))
        #expect(metrics.value("uprobe_trace_probes_attached", ["family": "go_http"]) == probes)
        // The kernel's side: run statistics on while serving, every program listed,
        // the programs ran at least once per request; hash maps within capacity.
        #expect(metrics.value("uprobe_trace_bpf_stats_enabled") == 1)
        let runs = metrics.samples.filter { $0.name == "uprobe_trace_bpf_program_runs_total" && $0.labels["family"] == "go_http" }
        #expect(runs.count >= 3 && runs.reduce(0) { $0 + $1.value } >= Double(n), "\(runs.map { ($0.labels["program"] ?? "", $0.value) })")
        let runTime = metrics.samples.filter { $0.name == "uprobe_trace_bpf_program_run_time_seconds_total" }.reduce(0) { $0 + $1.value }
        #expect(runTime > 0 && runTime < 1, "\(runTime) s in BPF for \(n) requests")
        let maps = metrics.samples.filter { $0.name == "uprobe_trace_bpf_map_max_entries" }
        #expect(!maps.isEmpty)
        for m in maps {
            let used = metrics.value("uprobe_trace_bpf_map_entries", m.labels)
            #expect(used != nil && used! >= 0 && used! <= m.value, "\(m.labels): \(used ?? -1) of \(m.value)")
        }
        #expect(Set(maps.map { $0.labels["map"] ?? "" }).count == maps.count, "a shared map listed once")
        #expect(metrics.value("uprobe_trace_export_queue_depth", ["exporter": "otlp-http"]) == 0)
        #expect(metrics.value("uprobe_trace_spans_dropped_total", ["exporter": "otlp-http", "reason": "queue_full"]) == 0)
        let start = try #require(metrics.value("uprobe_trace_process_start_time_seconds"))
        #expect(start >= started - 1 && start <= Date().timeIntervalSince1970, "\(start) vs \(started)")
        // Every family announced, with a known type; every sample belongs to one.
        // The tool's own metrics are prefixed; the request histograms carry their
        // semantic-convention names.
        let requestHistograms = ["http_server_request_duration_seconds", "http_client_request_duration_seconds",
                                 "db_client_operation_duration_seconds", "rpc_server_call_duration_seconds", "rpc_client_call_duration_seconds"]
        #expect(Set(metrics.types.keys.filter { !$0.hasPrefix("uprobe_trace_") }) == Set(requestHistograms))
        for (name, type) in metrics.types {
            #expect(metrics.helps.contains(name))
            #expect(["counter", "gauge", "histogram"].contains(type))
            if type == "counter" { #expect(name.hasSuffix("_total")) }
        }
        for s in metrics.samples {
            let family = s.name.replacing(/_(bucket|sum|count)$/, with: "")
            #expect(metrics.types[s.name] != nil || metrics.types[family] == "histogram", "\(s.name) has no TYPE")
        }
        // The histogram per exporter: cumulative buckets, +Inf = _count = batches.
        let batchFiles = try FileManager.default.contentsOfDirectory(atPath: outDir.path).filter { $0.hasSuffix(".pb") }.count
        for exporter in ["console", "otlp-http"] {
            let buckets = metrics.samples.filter { $0.name == "uprobe_trace_export_duration_seconds_bucket" && $0.labels["exporter"] == exporter }
            #expect(buckets.count > 5)
            let bounds = buckets.map { $0.labels["le"] == "+Inf" ? Double.infinity : Double($0.labels["le"] ?? "") ?? .nan }
            #expect(bounds == bounds.sorted() && bounds.last == .infinity, "\(bounds)")
            #expect(zip(buckets, buckets.dropFirst()).allSatisfy { $0.value <= $1.value }, "buckets are cumulative")
            let count = try #require(metrics.value("uprobe_trace_export_duration_seconds_count", ["exporter": exporter]))
            #expect(buckets.last?.value == count)
            #expect((metrics.value("uprobe_trace_export_duration_seconds_sum", ["exporter": exporter]) ?? -1) >= 0)
            if exporter == "otlp-http" { #expect(count == Double(batchFiles), "one observation per batch the receiver got") }
            else { #expect(count >= 1 && count <= Double(n)) }
        }
        #expect(try scrape(address, path: "/other").status == 404)

        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0, "\(stderr)")
        var printed = 0
        while let line = tracer.stdout.next() { if line.contains("SERVER GET /sleep") { printed += 1 } }
        #expect(Double(printed) == metrics.value("uprobe_trace_spans_exported_total", ["exporter": "console"]), "console lines vs metrics")
        #expect(stderr.contains("\(n) spans") && stderr.contains("events lost in the kernel: go_http 0"), "\(stderr)")
        #expect((try? scrape(address).status) != 200, "the server stops with the tool")
    }

    /// One page of ring buffer and a request flood: events are lost, counted per
    /// family in the kernel, shown in /metrics and at exit, and every request is
    /// either an event or a lost event. The tool stays up and exits cleanly.
    @Test func tinyRingBufferFloodIsCountedNotSilent() throws {
        guard requireFixtures(), requireRoot(),
              require(FileManager.default.isExecutableFile(atPath: "/usr/bin/wrk"), "wrk missing (scripts/setup.sh installs it)") else { return }
        let server = try Server(Repo.fixture("go-server"))
        let tracer = try Background(Repo.tool, ["--pid", String(server.pid), "--go-http", "--quiet",
                                                "--ring-buffer-size", "4096", "--metrics-addr", "127.0.0.1:0"])
        let head = tracer.waitForStderr("metrics on")
        let address = try #require(metricsAddress(in: head), "\(head)")
        // The tool's ring buffer really is one page, and there is one: the fdinfo of
        // its ringbuf map fds (map_type 27 = BPF_MAP_TYPE_RINGBUF; the BPF object
        // holds a second fd of the same map).
        let fdinfo = "/proc/\(tracer.process.processIdentifier)/fdinfo"
        let rings = try FileManager.default.contentsOfDirectory(atPath: fdinfo).compactMap { fd -> String? in
            guard let text = try? String(contentsOfFile: "\(fdinfo)/\(fd)", encoding: .utf8), text.contains("map_type:\t27\n"),
                  let size = text.firstMatch(of: /max_entries:\s+(\d+)/), let id = text.firstMatch(of: /map_id:\s+(\d+)/) else { return nil }
            return "map \(id.1): \(size.1) bytes"
        }
        #expect(Set(rings).count == 1 && rings.first?.hasSuffix(": 4096 bytes") == true, "\(rings)")
        // One wrk thread numbering its requests, so each target is unique and the
        // server's /_timings (one line per distinct URI) counts requests exactly.
        let lua = FileManager.default.temporaryDirectory.appendingPathComponent("flood-\(getpid()).lua").path
        try "n = 0\nrequest = function() n = n + 1; return wrk.format(\"GET\", \"/sleep?ms=0&flood=\" .. n) end\n"
            .write(toFile: lua, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: lua) }
        let wrk = try run("/usr/bin/wrk", ["-t1", "-c64", "-d3s", "-s", lua, "http://\(server.address)/"])
        #expect(wrk.status == 0, "\(wrk.stderr)")
        // Requests wrk abandoned at its deadline may still be finishing in the server.
        usleep(500_000)
        let timings = try run("/usr/bin/curl", ["-s", "http://\(server.address)/_timings"]).stdout
        // The /_timings request went through ServeHTTP too.
        let requests = Double(timings.split(separator: "\n").filter { $0.contains("flood=") }.count + 1)
        #expect(requests > 1000, "\(wrk.stdout)")

        var metrics = Scrape("")
        var received = 0.0, lost = 0.0
        for _ in 0..<50 {  // until the reader has drained the ring buffer
            metrics = Scrape(try scrape(address).body)
            received = metrics.value("uprobe_trace_events_received_total", ["family": "go_http"]) ?? -1
            lost = metrics.value("uprobe_trace_events_lost_total", ["family": "go_http"]) ?? -1
            if received + lost >= 2 * requests { break }
            usleep(100_000)
        }
        print("flood: \(Int(requests)) requests, \(Int(received)) events, \(Int(lost)) lost (4096-byte ring buffer)")
        #expect(lost > 0, "a one-page ring buffer under a flood loses events")
        #expect(received + lost == 2 * requests, "every request is two records (head, span event), each received or lost")
        // A span per span event received; each request's head record may be among the rest.
        let spans = try #require(metrics.value("uprobe_trace_spans_produced_total"))
        #expect(spans <= requests && spans >= received - requests, "\(spans) spans from \(received) records")
        #expect(tracer.process.isRunning && server.bg.process.isRunning)

        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0, "\(stderr)")
        #expect(stderr.contains("\(Int(spans)) spans"), "\(stderr)")
        #expect(stderr.contains("events lost in the kernel: go_http \(Int(lost))\n"), "\(stderr)")
    }

    /// An address already in use fails before anything is attached: one line, a hint, exit 1.
    @Test func metricsAddressInUse() throws {
        guard requireFixtures(), requireRoot() else { return }
        let server = try Server(Repo.fixture("go-server"))
        let r = try tool("--pid", String(server.pid), "--go-http", "--metrics-addr", server.address)
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderrLines.count == 1 && r.stderr.contains("cannot listen") && r.stderr.contains("hint:"), "\(r.stderr)")
    }
}

/// Bad values of the two options: usage errors before any probe.
@Suite struct SelfMetricsOptionTests {
    @Test(arguments: [["--metrics-addr", "9464"], ["--metrics-addr", "localhost"], ["--metrics-addr", "127.0.0.1:99999"],
                      ["--metrics-addr", "::1:9464"], ["--ring-buffer-size", "1000"], ["--ring-buffer-size", "2048"],
                      ["--ring-buffer-size", "0"], ["--ring-buffer-size", "lots"]])
    func badValueIsAUsageError(_ args: [String]) throws {
        let r = try run(Repo.tool, ["--pid", "1", "--go-http"] + args)
        #expect(r.status == 2, "\(args): \(r.stderr)")
        #expect(r.stderrLines.count == 1 && r.stderr.contains(args[0]) && r.stderr.contains("hint:"), "\(args): \(r.stderr)")
    }
}

/// The metrics address faces the node's network: idle connections (more than
/// the server keeps open), a slowloris, a 2 MB request head and garbage bytes
/// must never keep a scrape out, and the tool keeps tracing through all of it.
extension GoHTTPTraceTests {
    @Test func hostileMetricsClientsNeverStarveAScrape() throws {
        guard requireFixtures(), requireRoot() else { return }
        let server = try Server(Repo.fixture("go-server"))
        let tracer = try Background(Repo.tool, ["--pid", String(server.pid), "--go-http", "--metrics-addr", "127.0.0.1:0", "--quiet"])
        tracer.watchdog(seconds: 120)
        let head = tracer.waitForStderr("metrics on")
        let address = try #require(metricsAddress(in: head), "\(head)")
        let colon = address.lastIndex(of: ":")!
        let r = try run("/usr/bin/python3", [Repo.root.appendingPathComponent("testdata/python/metrics_abuse.py").path,
                                              String(address[..<colon]), String(address[address.index(after: colon)...]), "200"])
        #expect(r.status == 0, "\(r.stderr)")
        let seen = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)")
        print("metrics server under abuse: \(r.stdout)")
        for key in ["scrape_beside_idle", "scrape_beside_slowloris", "scrape_after"] {
            let s = try #require(seen[key] as? [String: Any], "\(key)")
            #expect(s["status"] as? Int == 200 && s["has_metrics"] as? Bool == true, "\(key): \(s)")
            // One connection at a time took 2 s per idle client (400 s for these 200);
            // served together, a scrape takes milliseconds. 5 s leaves room for load.
            #expect((s["seconds"] as? Double ?? 99) < 5, "\(key): \(s)")
        }
        #expect(seen["big_head_status"] as? Int == 431, "\(seen)")
        #expect(seen["garbage_status"] as? Int == 400, "\(seen)")
        // Cut at its 2 s deadline, not after the ~11 s it would take to send everything.
        let slow = seen["slowloris_closed_after"] as? Double ?? -1
        #expect(slow >= 1.5 && slow < 8, "slowloris closed after \(slow) s")

        #expect(try run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://\(server.address)/sleep?ms=0"]).stdout == "200")
        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0, "\(stderr)")
        #expect(stderr.contains("1 spans"), "the tool kept tracing: \(stderr)")
    }
}

/// RED metrics count every request, not the sampled ones: a known mix with
/// `--sample-ratio 0.1` gives exact counts per (method, status) on /metrics and
/// in the OTLP metrics the collector receives (periodically and at exit).
extension GoHTTPTraceTests {
    @Test func requestHistogramsCountEveryRequestWhateverIsSampled() throws {
        guard requireFixtures(), requireRoot(),
              require((try? run("/usr/bin/env", ["python3", "-c", "import opentelemetry.proto"]).status) == 0,
                      "python opentelemetry-proto missing (scripts/setup.sh installs it)") else { return }
        let outDir = FileManager.default.temporaryDirectory.appendingPathComponent("red-otlp-\(getpid())")
        try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: outDir) }
        let (receiver, port) = try otlpReceiver(outDir)
        defer { receiver.process.terminate() }
        let server = try Server(Repo.fixture("go-server"))
        let tracer = try Background(Repo.tool, ["--pid", String(server.pid), "--go-http", "--metrics-addr", "127.0.0.1:0",
                                                "--sample-ratio", "0.1", "--quiet", "--otlp-endpoint", "http://127.0.0.1:\(port)"],
                                    environment: ["OTEL_METRIC_EXPORT_INTERVAL": "300"])
        tracer.watchdog(seconds: 120)
        let address = try #require(metricsAddress(in: tracer.waitForStderr("metrics on")))
        // Announced before any request: a dashboard sees 0, not "no data".
        let before = try scrape(address).body
        for name in ["http_server_request_duration_seconds", "http_client_request_duration_seconds", "db_client_operation_duration_seconds"] {
            #expect(before.contains("# TYPE \(name) histogram"), "\(name)")
        }
        let mix = [200: 37, 404: 21, 503: 12]
        let targets = mix.flatMap { code, n in (0..<n).map { "/status?code=\(code)&i=\($0)" } }.shuffled()
        let replies = try load(server.address, targets, concurrency: 4)
        #expect(replies.count == targets.count)
        let series = { (code: Int) in ["http_request_method": "GET", "http_response_status_code": String(code), "service_name": "go-server"] }
        var metrics = Scrape("")
        for _ in 0..<50 {
            metrics = Scrape(try scrape(address).body)
            if mix.allSatisfy({ metrics.value("http_server_request_duration_seconds_count", series($0.key)) == Double($0.value) }) { break }
            usleep(100_000)
        }
        for (code, n) in mix {
            #expect(metrics.value("http_server_request_duration_seconds_count", series(code)) == Double(n), "status \(code)")
            var inf = series(code); inf["le"] = "+Inf"
            #expect(metrics.value("http_server_request_duration_seconds_bucket", inf) == Double(n))
            let sum = metrics.value("http_server_request_duration_seconds_sum", series(code)) ?? -1
            #expect(sum > 0 && sum < Double(n), "\(sum) s for \(n) requests")
        }
        #expect(metrics.samples.filter { $0.name == "http_server_request_duration_seconds_count" }.allSatisfy { $0.labels["url_path"] == nil })
        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0, "\(stderr)")
        let exported = stderr.firstMatch(of: /(\d+) spans \(/).flatMap { Int($0.1) } ?? -1
        #expect(exported < targets.count && stderr.contains("not sampled"), "the ratio applied to spans: \(stderr)")
        #expect(stderr.contains("metrics: ") && stderr.contains("/v1/metrics, 0 failed"), "\(stderr)")

        // The collector's view: the last (final) export carries the same totals.
        let lines = try String(contentsOf: outDir.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(lines.count >= 2, "periodic exports and the final one: \(lines.count)")
        let last = try #require(try JSONSerialization.jsonObject(with: Data(lines.last!.utf8)) as? [String: Any])
        var counts: [Int: Int] = [:]
        for rm in last["resourceMetrics"] as? [[String: Any]] ?? [] {
            let resource = (rm["resource"] as? [String: Any])?["attributes"] as? [[String: Any]] ?? []
            #expect(resource.contains { $0["key"] as? String == "service.name" })
            for sm in rm["scopeMetrics"] as? [[String: Any]] ?? [] {
                for m in sm["metrics"] as? [[String: Any]] ?? [] where m["name"] as? String == "http.server.request.duration" {
                    #expect(m["unit"] as? String == "s")
                    let h = try #require(m["histogram"] as? [String: Any])
                    #expect(h["aggregationTemporality"] as? String == "AGGREGATION_TEMPORALITY_CUMULATIVE")
                    for p in h["dataPoints"] as? [[String: Any]] ?? [] {
                        let attrs = p["attributes"] as? [[String: Any]] ?? []
                        let code = attrs.first { $0["key"] as? String == "http.response.status_code" }
                            .flatMap { ($0["value"] as? [String: Any])?["intValue"] as? String }.flatMap { Int($0) } ?? -1
                        let n = Int(p["count"] as? String ?? "") ?? -1
                        let buckets = (p["bucketCounts"] as? [String] ?? []).compactMap { Int($0) }
                        #expect(buckets.reduce(0, +) == n && buckets.count == (p["explicitBounds"] as? [Double] ?? []).count + 1)
                        counts[code, default: 0] += n
                    }
                }
            }
        }
        #expect(counts == mix, "OTLP counts per status: \(counts)")
    }
}
