import Foundation
import Testing

/// `uprobe-trace --go-http` on Go servers and clients speaking HTTP/2 over TLS,
/// as root: the testdata server run with -tls-cert/-tls-key (HTTP/2 by ALPN),
/// built by Go 1.19 (net/http's bundled h2 server) and by the newest Go
/// (net/http/internal/http2), normal and stripped (offsets from the table);
/// curl --http2 and the testdata Go client as clients.
@Suite(.serialized) struct GoHTTP2TraceTests {
    /// Oldest and newest toolchain of the fixture matrix.
    static let toolchains = [GoMatrixFixtures.toolchains.first, GoMatrixFixtures.toolchains.last].compactMap { $0?.minor }

    /// A self-signed certificate and key made for this test with openssl.
    struct Certificate {
        let dir: URL
        var cert: String { dir.appendingPathComponent("cert.pem").path }
        var key: String { dir.appendingPathComponent("key.pem").path }

        init(_ name: String) throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("uprobe-trace-h2-\(name)-\(getpid())")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let r = try run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                                                 "-keyout", dir.appendingPathComponent("key.pem").path,
                                                 "-out", dir.appendingPathComponent("cert.pem").path])
            #expect(r.status == 0, "openssl: \(r.stderr)")
        }

        func remove() { try? FileManager.default.removeItem(at: dir) }
    }

    /// The testdata server serving TLS; `cpu` pins it (taskset execs it, so the pid is the server's).
    struct TLSServer {
        let bg: Background
        let port: String
        var pid: Int32 { bg.process.processIdentifier }

        init(_ path: String, _ cert: Certificate, cpu: Int? = nil) throws {
            let args = [path, "-tls-cert", cert.cert, "-tls-key", cert.key]
            bg = try cpu.map { try Background("/usr/bin/taskset", ["-c", String($0)] + args) } ?? Background(path, Array(args.dropFirst()))
            let first = try #require(bg.stdout.next())
            port = String(first.split(separator: ":").last ?? "")
        }

        var base: String { "https://127.0.0.1:\(port)" }

        /// The server's own measurement of each request URI so far, in ns.
        func timings() throws -> [String: Int64] {
            var out: [String: Int64] = [:]
            for line in try run("/usr/bin/curl", ["-sk", "\(base)/_timings"]).stdout.split(separator: "\n") {
                let parts = line.split(separator: " ")
                if parts.count == 2, let ns = Int64(parts[1]) { out[String(parts[0])] = ns }
            }
            return out
        }
    }

    /// 100 targets: statuses 200/201/404/503, sleeps 0–10 ms, every one unique (`tag`).
    static func plan(_ tag: String) -> [(target: String, status: Int)] {
        (0..<100).map { i in
            switch (i * 7 + 3) % 6 {
            case 0: return ("/status?code=201&\(tag)=\(i)", 201)
            case 1: return ("/status?code=404&\(tag)=\(i)", 404)
            case 2: return ("/status?code=503&\(tag)=\(i)", 503)
            case 3: return ("/status?code=200&\(tag)=\(i)", 200)
            default: return ("/sleep?ms=\(i % 11)&\(tag)=\(i)", 200)
            }
        }
    }

    /// One curl process for all `targets` (one connection, requests one after another);
    /// returns "STATUS VERSION" per target.
    static func curl(_ base: String, _ targets: [String], _ proto: String, headers: [String] = []) throws -> [String] {
        var args = ["-sk", proto, "-w", "%{http_code} %{http_version}\\n"] + headers.flatMap { ["-H", $0] }
        for t in targets { args += ["-o", "/dev/null", base + t] }
        let r = try run("/usr/bin/curl", args)
        #expect(r.status == 0, "curl: \(r.stderr)")
        return r.stdout.split(separator: "\n").map(String.init)
    }

    /// SERVER spans by "path?query".
    static func serverSpans(_ path: String) throws -> [String: [[String: Any]]] {
        var out: [String: [[String: Any]]] = [:]
        for s in try spans(inJSONLines: path) where s["kind"] as? Int == 2 {
            let a = attributes(s)
            out[(a["url.path"] ?? "?") + (a["url.query"].map { "?" + $0 } ?? ""), default: []].append(s)
        }
        return out
    }

    @Test(arguments: toolchains.flatMap { minor in ["normal", "stripped"].map { (minor, $0) } })
    func http2ServerSpans(_ minor: String, _ variant: String) throws {
        guard requireRoot(), let path = GoMatrixFixtures.require(minor, variant) else { return }
        let cert = try Certificate("server-\(minor)-\(variant)")
        defer { cert.remove() }
        // The server unpinned: its handler goroutines start on whichever P is free, as in
        // production; the tool on CPU 0.
        let server = try TLSServer(path, cert)
        let jsonPath = cert.dir.appendingPathComponent("spans.jsonl").path
        let tracer = try Background("/usr/bin/taskset", ["-c", "0", Repo.tool, "--pid", String(server.pid), "--go-http", "--otlp-json", jsonPath, "--quiet"])
        tracer.watchdog(seconds: 120)
        let attached = tracer.waitForStderr("attached")
        #expect(attached.contains("processHeaders") && attached.contains("runHandler.func1"), "\(attached)")
        #expect(!attached.contains("not traced"), "\(attached)")

        // Warm-up (connection, page faults), not measured.
        _ = try Self.curl(server.base, (0..<20).map { "/sleep?ms=0&warmup=\($0)" }, "--http2")
        let h2 = Self.plan("h2")
        let h2Replies = try Self.curl(server.base, h2.map(\.target), "--http2")
        #expect(h2Replies == h2.map { "\($0.status) 2" }, "curl saw HTTP/2 and these statuses")
        let h1 = Self.plan("h1")
        let h1Replies = try Self.curl(server.base, h1.map(\.target), "--http1.1")
        #expect(h1Replies == h1.map { "\($0.status) 1.1" })
        // Trace context in the HEADERS frame: each request its own caller.
        let callers = (0..<5).map { i in (trace: String(format: "4bf92f3577b34da6a3ce929d0e0e%04x", i + 1), span: String(format: "00f067aa0ba9%04x", i + 1)) }
        for (i, c) in callers.enumerated() {
            _ = try Self.curl(server.base, ["/status?code=202&tp=\(i)"], "--http2",
                              headers: ["traceparent: 00-\(c.trace)-\(c.span)-01", "tracestate: vendor=v\(i)"])
        }
        usleep(300_000)
        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0, "\(stderr)")
        #expect(stderr.contains("events lost in the kernel: go_http 0"), "\(stderr)")
        let own = try server.timings()
        let byTarget = try Self.serverSpans(jsonPath)

        var pairs: [(span: Int64, own: Int64)] = []
        for (plan, version) in [(h2, "2"), (h1, nil)] {
            for (target, code) in plan {
                let matches = byTarget[target] ?? []
                #expect(matches.count == 1, "one SERVER span for \(target), got \(matches.count)")
                guard let span = matches.first else { continue }
                let a = attributes(span)
                #expect(a["http.request.method"] == "GET")
                #expect(a["http.response.status_code"] == String(code), "\(target): \(a)")
                #expect(a["network.protocol.version"] == version, "\(target): \(a)")
                #expect(((span["status"] as? [String: Any])?["code"] as? Int == 2) == (code >= 500), "\(target)")
                guard version != nil, let (start, end) = spanTimes(span), let handler = own[target] else { continue }
                // The handler runs inside the span; 20 µs for boot-to-wall-clock conversion.
                #expect(end - start + 20_000 >= handler, "\(target): span \(end - start) ns < handler \(handler) ns")
                pairs.append((end - start, handler))
            }
        }
        let h2Count = byTarget.filter { $0.key.contains("&h2=") }.values.reduce(0) { $0 + $1.count }
        #expect(h2Count == 100, "exactly 100 HTTP/2 SERVER spans, got \(h2Count)")
        #expect(pairs.count == 100, "the server measured every HTTP/2 request")
        let accuracy = TimingAccuracy(pairs)
        print("go\(minor) \(variant) HTTP/2: \(accuracy.summary)")
        accuracy.expectAccurate()

        for (i, c) in callers.enumerated() {
            let span = try #require(byTarget["/status?code=202&tp=\(i)"]?.first, "traceparent request \(i)")
            #expect(span["traceId"] as? String == c.trace, "the caller's trace")
            #expect(span["parentSpanId"] as? String == c.span, "the caller's span is the parent")
            #expect(span["traceState"] as? String == "vendor=v\(i)", "\(span)")
        }
        #expect(server.bg.process.isRunning)
    }

    /// The testdata Go client over TLS (HTTP/2 by ALPN, -insecure) to the TLS server:
    /// one CLIENT span per request with the status the client got, and the server's
    /// SERVER spans beside them.
    @Test(arguments: toolchains)
    func http2ClientSpans(_ minor: String) throws {
        guard requireRoot(), let serverPath = GoMatrixFixtures.require(minor, "normal"),
              let clientPath = GoMatrixFixtures.require(minor, "normal", "client") else { return }
        let cert = try Certificate("client-\(minor)")
        defer { cert.remove() }
        let server = try TLSServer(serverPath, cert)
        let jsonPath = cert.dir.appendingPathComponent("spans.jsonl").path
        // The client is a copy here: a uprobe on the fixture file would fire in every process of that inode.
        let client = cert.dir.appendingPathComponent("go-client").path
        try FileManager.default.copyItem(atPath: clientPath, toPath: client)
        let tracer = try Background(Repo.tool, ["--exe", client, "--pid", String(server.pid), "--go-http", "--otlp-json", jsonPath, "--quiet"])
        tracer.watchdog(seconds: 60)
        _ = tracer.waitForStderr("attached")
        _ = tracer.waitForStderr("attached")
        let codes = [200, 201, 404, 503]
        let urls = codes.map { "\(server.base)/status?code=\($0)" } + ["\(server.base)/sleep?ms=3"]
        let r = try run(client, ["-insecure", "-proto", "-n", "3"] + urls)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines == (codes + [200]).flatMap { Array(repeating: "\($0) HTTP/2.0", count: 3) }, "the client spoke HTTP/2: \(lines)")
        usleep(300_000)
        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0, "\(stderr)")
        let all = try spans(inJSONLines: jsonPath)
        let clientSpans = all.filter { $0["kind"] as? Int == 3 }
        #expect(clientSpans.count == 15, "\(clientSpans.count) CLIENT spans")
        var statuses: [String: Int] = [:]
        for s in clientSpans { statuses[attributes(s)["http.response.status_code"] ?? "none", default: 0] += 1 }
        #expect(statuses == ["200": 6, "201": 3, "404": 3, "503": 3], "\(statuses)")
        #expect(clientSpans.filter { ($0["status"] as? [String: Any])?["code"] as? Int == 2 }.count == 6, "404 and 503 are client errors")
        let serverSpans = all.filter { $0["kind"] as? Int == 2 }
        #expect(serverSpans.count == 15 && serverSpans.allSatisfy { attributes($0)["network.protocol.version"] == "2" }, "\(serverSpans.count) SERVER spans")
        // Cross-process parent/child over HTTP/2 (by TCP ports and stream id): Go >= 1.21,
        // whose stream goroutine names the roundTrip goroutine in g.parentGoid.
        let minorNumber = Int(minor.split(separator: ".").last ?? "") ?? 0
        var joined = 0
        for s in serverSpans {
            let parent = clientSpans.first { $0["spanId"] as? String == s["parentSpanId"] as? String && $0["traceId"] as? String == s["traceId"] as? String }
            if let parent {
                joined += 1
                #expect(attributes(parent)["url.query"] == attributes(s)["url.query"], "a server span's parent is the client call of the same URL")
            }
        }
        #expect(joined == (minorNumber >= 21 ? 15 : 0), "go\(minor): \(joined) of 15 SERVER spans are children of their CLIENT span")
    }

    /// Every per-request HTTP/2 probe is on an emulated instruction (the entry's
    /// push on Go >= 1.21, the stack-check jbe on 1.19), as `symbols dump` plans them.
    @Test(arguments: toolchains)
    func http2ProbesAreEmulated(_ minor: String) throws {
        guard let path = GoMatrixFixtures.require(minor, "stripped") else { return }
        let r = try run(Repo.tool, ["symbols", "dump", path, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let go = try #require(try json(r.stdout)["go"] as? [String: Any])
        let probes = try #require(go["go_http_probes"] as? [[String: Any]], "\(go.keys)")
        for program in ["go_h2_headers", "go_h2_handler_end", "go_server_entry"] {
            let sites = probes.filter { $0["program"] as? String == program }
            #expect(sites.count == 1, "\(program): \(sites)")
            #expect(sites.allSatisfy { ["emulated", "optimized"].contains($0["cost"] as? String ?? "") }, "\(program): \(sites)")
        }
    }

    /// Cleartext HTTP/2 with prior knowledge (-h2c: Server.Protocols, Go >= 1.24):
    /// the same h2 server code, so the same spans; HTTP/1.1 on the same port stays HTTP/1.
    @Test func h2cServerSpans() throws {
        guard requireRoot(), let minor = Self.toolchains.last, let path = GoMatrixFixtures.require(minor, "normal") else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("uprobe-trace-h2c-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let server = try Background(path, ["-h2c"])
        let address = String(try #require(server.stdout.next()).dropFirst("listening ".count))
        let jsonPath = dir.appendingPathComponent("spans.jsonl").path
        let tracer = try Background(Repo.tool, ["--pid", String(server.process.processIdentifier), "--go-http", "--otlp-json", jsonPath, "--quiet"])
        tracer.watchdog(seconds: 60)
        _ = tracer.waitForStderr("attached")
        let codes = [200, 201, 404, 503]
        // One curl per request: curl 7.88 fails a second prior-knowledge request on a reused connection.
        let h2 = try codes.flatMap { try Self.curl("http://\(address)", ["/status?code=\($0)&h2c=1"], "--http2-prior-knowledge",
                                                   headers: ["traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"]) }
        #expect(h2 == codes.map { "\($0) 2" })
        let h1 = try Self.curl("http://\(address)", codes.map { "/status?code=\($0)&h1=1" }, "--http1.1")
        #expect(h1 == codes.map { "\($0) 1.1" })
        usleep(300_000)
        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0, "\(stderr)")
        let byTarget = try Self.serverSpans(jsonPath)
        for code in codes {
            let s2 = try #require(byTarget["/status?code=\(code)&h2c=1"]?.first, "h2c \(code)")
            #expect(attributes(s2)["http.response.status_code"] == String(code))
            #expect(attributes(s2)["network.protocol.version"] == "2")
            #expect(s2["traceId"] as? String == "4bf92f3577b34da6a3ce929d0e0e4736" && s2["parentSpanId"] as? String == "00f067aa0ba902b7")
            let s1 = try #require(byTarget["/status?code=\(code)&h1=1"]?.first, "h1 \(code)")
            #expect(attributes(s1)["http.response.status_code"] == String(code))
            #expect(attributes(s1)["network.protocol.version"] == nil)
        }
        #expect(byTarget.values.reduce(0) { $0 + $1.count } == 8)
        server.process.terminate()
    }

    /// Every toolchain of the matrix (normal build): statuses, HTTP/2 and a handler
    /// panic (the stream is reset; the span is an error with status 500).
    @Test(arguments: GoMatrixFixtures.toolchains.map(\.minor))
    func http2EveryToolchain(_ minor: String) throws {
        guard requireRoot(), let path = GoMatrixFixtures.require(minor, "normal") else { return }
        let cert = try Certificate("every-\(minor)")
        defer { cert.remove() }
        let server = try TLSServer(path, cert)
        let jsonPath = cert.dir.appendingPathComponent("spans.jsonl").path
        let tracer = try Background(Repo.tool, ["--pid", String(server.pid), "--go-http", "--otlp-json", jsonPath, "--quiet"])
        tracer.watchdog(seconds: 60)
        let attached = tracer.waitForStderr("attached")
        #expect(attached.contains("processHeaders") && !attached.contains("not traced"), "\(attached)")
        let codes = [200, 201, 404, 503]
        let replies = try Self.curl(server.base, codes.map { "/status?code=\($0)&every=1" } + ["/sleep?ms=2&every=1"], "--http2")
        #expect(replies == codes.map { "\($0) 2" } + ["200 2"])
        // curl reports the reset stream as an error (exit 92): only the span matters here.
        _ = try run("/usr/bin/curl", ["-sk", "--http2", "-o", "/dev/null", "\(server.base)/panic?every=1"])
        usleep(300_000)
        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0, "\(stderr)")
        let byTarget = try Self.serverSpans(jsonPath)
        for (target, code) in zip(codes.map { "/status?code=\($0)&every=1" } + ["/sleep?ms=2&every=1", "/panic?every=1"], codes + [200, 500]) {
            let spans = byTarget[target] ?? []
            #expect(spans.count == 1, "go\(minor) \(target): \(spans.count) spans")
            guard let span = spans.first else { continue }
            #expect(attributes(span)["http.response.status_code"] == String(code), "go\(minor) \(target)")
            #expect(attributes(span)["network.protocol.version"] == "2")
            if target.hasPrefix("/panic") { #expect(attributes(span)["error.type"] == "panic", "go\(minor)") }
        }
        #expect(byTarget.values.reduce(0) { $0 + $1.count } == 6, "go\(minor): \(byTarget.keys.sorted())")
    }
}
