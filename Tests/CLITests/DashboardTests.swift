import Foundation
import Testing

/// `deploy/grafana/uprobe-trace.json` against a real Prometheus (Debian's,
/// started here with a private config and data directory) scraping the tool
/// while it traces real traffic: a TLS server whose requests run MySQL queries,
/// some of them answered 500. Every panel's query must return data through
/// Prometheus's HTTP API, and every counter of the tool a panel reads must
/// exist from the first scrape.
extension LibraryTraceTests {
    static let dashboard = Repo.root.appendingPathComponent("deploy/grafana/uprobe-trace.json")

    /// Every query of the dashboard with Grafana's variables as a user's "All" gives them.
    static func panelQueries() throws -> [(title: String, expr: String)] {
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dashboard)) as? [String: Any])
        return (json["panels"] as? [[String: Any]] ?? []).flatMap { panel in
            (panel["targets"] as? [[String: Any]] ?? []).map { (panel["title"] as? String ?? "?", $0["expr"] as? String ?? "") }
        }
    }

    @Test func dashboardQueriesReturnDataFromARealPrometheus() throws {
        guard canRun(), require(FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus"),
                                "prometheus missing (scripts/setup.sh installs Debian's)") else { return }
        let queries = try Self.panelQueries()
        #expect(queries.count >= 10)
        for (title, expr) in queries {
            // No job or instance is hard-coded: each selector takes the variables.
            #expect(!expr.contains("job=\"") && !expr.contains("instance=\""), "\(title)")
            for selector in expr.matches(of: /\{([^}]*)\}/) where !selector.1.isEmpty && !selector.1.hasPrefix("{") {
                #expect(selector.1.contains("job=~\"$job\"") && selector.1.contains("instance=~\"$instance\""), "\(title): \(selector.0)")
            }
        }
        try withMariaDB { socket in
            let server = try HTTPSServer(mysqlSocket: socket)
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dashboard-\(getpid())")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let tracer = try Background(Repo.tool, ["--ssl", "--mysql", "--quiet", "--metrics-addr", "127.0.0.1:0",
                                                    "--otlp-json", dir.appendingPathComponent("spans.jsonl").path])
            tracer.watchdog(seconds: 240)
            _ = tracer.waitForStderr("attached")
            let address = try #require(metricsAddress(in: tracer.waitForStderr("metrics on")))

            // The tool's counters a panel reads exist before any traffic.
            let first = Scrape(try scrape(address).body)
            let names = Set(first.samples.map(\.name))
            for (title, expr) in queries {
                for m in expr.matches(of: /uprobe_trace_[a-z_]+/) {
                    #expect(names.contains(String(m.0)), "\(title): \(m.0) absent before traffic")
                }
            }

            let port = try freePort()
            let config = dir.appendingPathComponent("prometheus.yml")
            try """
            global: {scrape_interval: 1s, evaluation_interval: 1s}
            scrape_configs:
              - job_name: uprobe-trace-under-test
                static_configs: [{targets: ["\(address)"]}]
            """.write(to: config, atomically: true, encoding: .utf8)
            let prometheus = try Background("/usr/bin/prometheus", ["--config.file=\(config.path)", "--storage.tsdb.path=\(dir.appendingPathComponent("data").path)",
                                                                    "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn"])
            defer { prometheus.process.terminate(); prometheus.process.waitUntilExit() }

            // Traffic for ~12 s: queries, errors, plain requests.
            let end = Date().addingTimeInterval(12)
            var i = 0
            while Date() < end {
                let r = try curl(server.port, ["/query?id=\(i)", "/status?code=500&id=\(i)", "/sleep?ms=2&id=\(i)"])
                #expect(r.map(\.status) == ["200", "500", "200"])
                i += 1
                usleep(200_000)
            }
            var missing: [String] = []
            for (title, expr) in queries {
                let q = expr.replacingOccurrences(of: "$__rate_interval", with: "10s")
                    .replacingOccurrences(of: "$job", with: ".+").replacingOccurrences(of: "$instance", with: ".+")
                    .replacingOccurrences(of: "$service", with: ".+")
                let r = try run("/usr/bin/curl", ["-sG", "-m", "10", "http://127.0.0.1:\(port)/api/v1/query", "--data-urlencode", "query=\(q)"])
                let body = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(title): \(r.stdout)")
                let result = (body["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? []
                let values = result.compactMap { ($0["value"] as? [Any])?.last as? String }.compactMap(Double.init)
                print("dashboard panel \"\(title)\": \(result.count) series, values \(values.prefix(4))")
                if body["status"] as? String != "success" || values.isEmpty || values.allSatisfy({ $0.isNaN }) { missing.append(title) }
            }
            #expect(missing.isEmpty, "panels without data: \(missing)")
            let (status, stderr) = tracer.interruptAndWait()
            #expect(status == 0, "\(stderr)")
        }
    }

    /// A TCP port nobody listens on now.
    func freePort() throws -> Int {
        let r = try run("/usr/bin/env", ["python3", "-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"])
        return try #require(Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
    }
}
