import Foundation
import Testing

/// `uprobe-trace --ssl` on HTTP/2 inside TLS, as root, with real programs:
/// Debian's nginx (`http2` on, one process, private prefix, config, port and
/// self-made certificate) and curl (`--http2`, traced library-wide), with
/// HTTP/1.1 connections to the same nginx interleaved with the h2 ones.
@Suite(.serialized) struct NginxHTTP2Tests {
    static let nginx = "/usr/sbin/nginx"

    /// A private nginx in a temporary directory, stopped when dropped.
    final class Nginx {
        let dir: URL
        let port: Int
        let bg: Background
        var pid: Int32 { bg.process.processIdentifier }

        init() throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("ut-nginx-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            port = try Self.freePort()
            let p = dir.path
            let cert = try run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(p)/key.pem",
                                                     "-out", "\(p)/cert.pem", "-days", "2", "-subj", "/CN=localhost"])
            guard cert.status == 0 else { throw NSError(domain: "openssl req: \(cert.stderr)", code: 1) }
            // bookworm's nginx 1.22: `listen ... ssl http2` (no `http2 on;` yet). One process
            // (master_process off) serves h2 and HTTP/1.1 connections on one event loop.
            let conf = """
            daemon off;
            master_process off;
            worker_processes 1;
            pid \(p)/nginx.pid;
            error_log \(p)/error.log;
            events { worker_connections 256; }
            http {
              access_log \(p)/access.log;
              client_body_temp_path \(p)/body; proxy_temp_path \(p)/proxy; fastcgi_temp_path \(p)/fastcgi;
              uwsgi_temp_path \(p)/uwsgi; scgi_temp_path \(p)/scgi;
              server {
                listen 127.0.0.1:\(port) ssl http2;
                ssl_certificate \(p)/cert.pem;
                ssl_certificate_key \(p)/key.pem;
                location /ok { return 200 "ok\\n"; }
                location /busy { return 503 "busy\\n"; }
                location / { return 404 "missing\\n"; }
              }
            }
            """
            try conf.write(to: dir.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
            bg = try Background(NginxHTTP2Tests.nginx, ["-p", p, "-c", "\(p)/nginx.conf", "-e", "\(p)/error.log"])
            for _ in 0..<100 {
                if (try? run("/usr/bin/curl", ["-sk", "-o", "/dev/null", "https://127.0.0.1:\(port)/ok"]))?.status == 0 { return }
                usleep(50_000)
            }
            throw NSError(domain: "nginx did not answer on \(port): \((try? String(contentsOf: dir.appendingPathComponent("error.log"), encoding: .utf8)) ?? "")", code: 1)
        }

        static func freePort() throws -> Int {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            let ok = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
            }
            guard ok else { throw NSError(domain: "no free port", code: 1) }
            return Int(UInt16(bigEndian: addr.sin_port))
        }

        deinit {
            // Without a master process nginx keeps the signal mask it inherited
            // (the test runner blocks SIGQUIT and SIGTERM): it has nothing to save.
            if bg.process.isRunning { kill(bg.process.processIdentifier, SIGKILL) }
            bg.process.waitUntilExit()
            try? FileManager.default.removeItem(at: dir)
        }
    }

    func canRun() -> Bool {
        requireFixtures() && requireRoot()
            && require(FileManager.default.isExecutableFile(atPath: Self.nginx), "nginx missing (scripts/setup.sh installs it)")
            && require(FileManager.default.isExecutableFile(atPath: "/usr/bin/curl"), "curl missing")
            && require(FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "openssl CLI missing")
    }

    /// 200, 404 and 503 in turn, each target unique.
    static func targets(_ n: Int, tag: String) -> [(path: String, code: String)] {
        (0..<n).map { i in
            switch i % 3 {
            case 0: return ("/ok/\(tag)?id=\(i)", "200")
            case 1: return ("/missing/\(tag)?id=\(i)", "404")
            default: return ("/busy/\(tag)?id=\(i)", "503")
            }
        }
    }

    /// One curl process, one connection, all targets in turn: (HTTP version, status) of each.
    static func curl(_ port: Int, _ targets: [String], _ options: [String]) throws -> [String] {
        try run("/usr/bin/curl", curlArguments(port, targets, options)).stdout.split(separator: "\n").map(String.init)
    }

    static func curlArguments(_ port: Int, _ targets: [String], _ options: [String]) -> [String] {
        var args = ["-sk", "-w", "%{http_version} %{http_code}\n"] + options
        for t in targets { args += ["-o", "/dev/null", "https://127.0.0.1:\(port)\(t)"] }
        return args
    }

    func target(_ span: [String: Any]) -> String {
        let a = attributes(span)
        return (a["url.path"] ?? "?") + (a["url.query"].map { "?" + $0 } ?? "")
    }

    @Test func http2AndHTTP1SpansFromNginxAndCurl() throws {
        guard canRun() else { return }
        let server = try Nginx()
        let json = server.dir.appendingPathComponent("spans.jsonl").path
        let tracer = try Background(Repo.tool, ["--ssl", "--otlp-json", json, "--quiet"])
        tracer.watchdog(seconds: 240)
        let attached = tracer.waitForStderr("attached")
        #expect(attached.contains("libssl.so.3 (every process)") && attached.contains("SSL_free"), "\(attached)")

        // 100 h2 requests on one connection, while HTTP/1.1 and h2 connections, one
        // request each, alternate beside it: the worker interleaves them, and frees
        // and reuses SSL objects between them.
        let h2 = Self.targets(100, tag: "h2")
        let alternating = Self.targets(40, tag: "alt")
        let h2Curl = try Background("/usr/bin/curl", Self.curlArguments(server.port, h2.map(\.path), ["--http2"]))
        h2Curl.watchdog(seconds: 120)
        var altResults: [String] = []
        for (i, t) in alternating.enumerated() {
            altResults += try Self.curl(server.port, [t.path], [i % 2 == 0 ? "--http1.1" : "--http2"])
        }
        var h2Results: [String] = []
        while let line = h2Curl.stdout.next() { h2Results.append(line) }
        #expect(h2Curl.waitForExit().status == 0)
        // Keep-alive HTTP/1.1 too: 30 requests on one connection.
        let keepAlive = Self.targets(30, tag: "h1")
        let h1Results = try Self.curl(server.port, keepAlive.map(\.path), ["--http1.1"])
        // A caller's trace context.
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736", caller = "00f067aa0ba902b7"
        let tp = try Self.curl(server.port, ["/ok/traced"], ["--http2", "-H", "traceparent: 00-\(trace)-\(caller)-01"])

        #expect(h2Results == h2.map { "2 \($0.code)" })
        #expect(altResults == alternating.enumerated().map { "\($0.offset % 2 == 0 ? "1.1" : "2") \($0.element.code)" })
        #expect(h1Results == keepAlive.map { "1.1 \($0.code)" })
        #expect(tp == ["2 200"])
        usleep(300_000)
        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0, "\(stderr)")
        #expect(stderr.contains("events lost in the kernel: openssl 0"), "\(stderr)")

        let all = try spans(inJSONLines: json)
        let pid = String(server.pid)
        let serverSpans = all.filter { $0["kind"] as? Int == 2 && attributes($0["_resource"] as? [String: Any] ?? [:])["process.pid"] == pid }
        // curl processes (a one-request curl may exit before its name is read): by the URL they asked for.
        let clientSpans = all.filter {
            $0["kind"] as? Int == 3 && attributes($0)["url.full"]?.hasPrefix("https://127.0.0.1:\(server.port)/") == true
        }
        func check(_ plan: [(path: String, code: String)], version: (Int) -> String, sourceLocation: SourceLocation = #_sourceLocation) {
            for (i, t) in plan.enumerated() {
                let s = serverSpans.filter { target($0) == t.path }
                let c = clientSpans.filter { target($0) == t.path }
                #expect(s.count == 1 && c.count == 1, "\(t.path): \(s.count) server, \(c.count) client spans", sourceLocation: sourceLocation)
                for span in s + c {
                    let a = attributes(span)
                    #expect(a["http.request.method"] == "GET" && a["http.response.status_code"] == t.code
                            && a["network.protocol.version"] == version(i) && a["uprobe_trace.incomplete"] == nil,
                            "\(t.path): \(a)", sourceLocation: sourceLocation)
                }
                if let s = s.first {
                    let a = attributes(s)
                    #expect(s["name"] as? String == "GET " + a["url.path", default: "?"])
                    #expect(a["server.address"] == "127.0.0.1" && a["server.port"] == String(server.port), "\(a)")
                    let failed = (s["status"] as? [String: Any])?["code"] as? Int == 2
                    #expect(failed == (t.code == "503"), "\(t.path): server status \(String(describing: s["status"]))")
                }
            }
        }
        check(h2, version: { _ in "2" })
        check(alternating, version: { $0 % 2 == 0 ? "1.1" : "2" })
        check(keepAlive, version: { _ in "1.1" })
        let traced = serverSpans.filter { target($0) == "/ok/traced" }
        #expect(traced.count == 1)
        #expect(traced.first?["traceId"] as? String == trace && traced.first?["parentSpanId"] as? String == caller,
                "incoming traceparent joined: \(String(describing: traced.first))")
        #expect(serverSpans.count == 100 + 40 + 30 + 1, "SERVER spans: \(serverSpans.count)")
        // Privacy: bodies never leave the tool.
        let text = try String(contentsOfFile: json, encoding: .utf8)
        #expect(!text.contains("busy\\n") && !text.contains("missing\\n"), "response bodies are never exported")
    }

    /// A tracer that attaches while an h2 connection runs has not seen the HPACK
    /// insertions before it: curl's :authority (and user-agent, accept) come from
    /// the dynamic table, so those spans lack them and are marked incomplete; no
    /// span carries a value of another request.
    @Test func attachedMidConnectionSpansAreIncompleteNeverWrong() throws {
        guard canRun() else { return }
        let server = try Nginx()
        let plan = Self.targets(60, tag: "mid")
        // 5 transfers a second on one connection: about 12 s, with the tracer attaching in between.
        let curl = try Background("/usr/bin/curl", Self.curlArguments(server.port, plan.map(\.path), ["--http2", "--rate", "5/s"]))
        curl.watchdog(seconds: 120)
        // The tracer comes once nginx has served a few of them (its access log, a line per request).
        let log = server.dir.appendingPathComponent("access.log").path
        for _ in 0..<200 {
            if ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").filter({ $0.contains("/mid?") }).count >= 3 { break }
            usleep(20_000)
        }
        let json = server.dir.appendingPathComponent("mid.jsonl").path
        let tracer = try Background(Repo.tool, ["--ssl", "--otlp-json", json, "--quiet"])
        tracer.watchdog(seconds: 120)
        _ = tracer.waitForStderr("attached")
        var results: [String] = []
        while let line = curl.stdout.next() { results.append(line) }
        #expect(curl.waitForExit().status == 0)
        #expect(results == plan.map { "2 \($0.code)" })
        usleep(300_000)
        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0, "\(stderr)")

        let all = try spans(inJSONLines: json)
        let pid = String(server.pid)
        let serverSpans = all.filter { $0["kind"] as? Int == 2 && attributes($0["_resource"] as? [String: Any] ?? [:])["process.pid"] == pid }
        let clientSpans = all.filter { $0["kind"] as? Int == 3 && attributes($0)["url.path"]?.hasSuffix("/mid") == true }
        let codes = Dictionary(plan.map { ($0.path, $0.code) }, uniquingKeysWith: { a, _ in a })
        #expect(serverSpans.count >= 3 && serverSpans.count <= plan.count - 3, "server spans after attach: \(serverSpans.count)")
        var incomplete = 0
        for span in serverSpans + clientSpans {
            let a = attributes(span)
            if a["uprobe_trace.incomplete"] != nil { incomplete += 1 } // a JSON boolValue true
            else { #expect(a["server.address"] == "127.0.0.1", "complete spans have every field: \(a)") }
            // Whatever is known is right: the path is one curl asked for, with its status.
            if a["url.path"] != nil {
                let t = target(span)
                #expect(codes[t] != nil && a["http.response.status_code"] == codes[t], "\(t): \(a)")
            }
        }
        #expect(incomplete > 0, "curl's :authority comes from the table set before the tracer came")
        print("attached mid-connection: \(serverSpans.count) server, \(clientSpans.count) client spans, \(incomplete) incomplete")
    }
}
