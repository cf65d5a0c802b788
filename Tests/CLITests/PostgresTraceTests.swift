import Foundation
import Testing

/// `uprobe-trace` on libpq end to end, as root, as a user runs it: a private
/// PostgreSQL 15 cluster (testdata/postgres/pg.sh), Debian's python3 with
/// psycopg2 (libpq.so.5), the tool's own binary and its OTLP JSON output.
@Suite(.serialized) struct PostgresTraceTests {
    static let python = "/usr/bin/python3"

    /// A private cluster for the duration of `body`, given its libpq connection string;
    /// always stopped (`pg_ctl stop -m immediate`) and removed.
    func withPostgres(_ body: (_ dir: String, _ port: Int) throws -> Void) throws {
        guard requireRoot(),
              require(FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/15/bin/postgres"), "postgresql (15) missing"),
              require((try? run(Self.python, ["-c", "import psycopg2"]).status) == 0, "python3-psycopg2 missing") else { return }
        var template = Array("/tmp/uprobe-trace-pgcli-XXXXXX".utf8CString)
        let dir = try #require(mkdtemp(&template).map { String(cString: $0) })
        let port = 20000 + Int(getpid() % 20000) + Int.random(in: 5000..<9000)
        let script = Repo.testdata.appendingPathComponent("postgres/pg.sh").path
        defer { _ = try? run("/bin/bash", [script, "stop", dir]); try? FileManager.default.removeItem(atPath: dir) }
        let started = try run("/bin/bash", [script, "start", dir, String(port), String(getpid())])
        try #require(started.status == 0, "\(started.stderr)")
        try body(dir, port)
    }

    /// `--pid` alone: the family is detected from libpq in the maps; the
    /// statements of run_statements.py (psycopg2 sync and async, libpq's
    /// PQexecParams, PQprepare/PQexecPrepared, PQsendQuery*) come out one span each.
    @Test func autoDetectedStatementSpans() throws {
        try withPostgres { dir, port in
            let go = dir + "/go"
            let client = try Background(Self.python, [Repo.testdata.appendingPathComponent("postgres/run_statements.py").path,
                                                      "--host", dir, "--port", String(port), "--wait-file", go])
            defer { client.process.terminate() }
            let ready = try #require(client.stdout.next())
            let pid = try #require(Int32(ready.dropFirst("ready ".count)), "\(ready)")
            let jsonPath = FileManager.default.temporaryDirectory.appendingPathComponent("pg-auto-\(getpid()).jsonl").path
            defer { try? FileManager.default.removeItem(atPath: jsonPath) }
            let tracer = try Background(Repo.tool, ["--pid", String(pid), "--otlp-json", jsonPath, "--quiet"])
            tracer.watchdog(seconds: 90)
            // Auto-detection attaches ssl (python's _ssl) too: wait for the libpq line.
            let attached = tracer.waitForStderr("probes to /usr/lib/x86_64-linux-gnu/libpq.so.5")
            #expect(attached.contains("postgres applies") && attached.contains("libpq.so.5"), "\(attached)")

            #expect(FileManager.default.createFile(atPath: go, contents: Data()))
            var lines: [[String: Any]] = []
            while let line = client.stdout.next() { lines.append(try json(line)) }
            #expect(lines.count == 24)
            lines.removeAll { $0["traced"] as? Bool == false } // pipeline statements after the first: no span
            usleep(300_000)
            let (status, stderr) = tracer.interruptAndWait()
            #expect(status == 0, "\(stderr)")
            let sql = try spans(inJSONLines: jsonPath).filter { attributes($0)["db.system.name"] == "postgresql" }
                .sorted { (spanTimes($0)?.start ?? 0) < (spanTimes($1)?.start ?? 0) }
            #expect(sql.count == lines.count, "\(sql.map { attributes($0)["db.query.text"] ?? "" })")
            for (o, s) in zip(lines, sql) {
                let a = attributes(s)
                let expect = o["expect"] as? String ?? ""
                if expect.utf8.count < 900 { #expect(a["db.query.text"] == expect) }
                #expect(a["db.operation.name"] == o["operation"] as? String)
                #expect(a["db.namespace"] == "postgres")
                #expect(s["kind"] as? Int == 3, "CLIENT")
                let failed = (s["status"] as? [String: Any])?["code"] as? Int == 2
                #expect(failed == !(o["ok"] as? Bool ?? true), "\(expect)")
                #expect(a["db.response.status_code"] == o["sqlstate"] as? String, "\(expect)")
            }
            #expect(!(try String(contentsOfFile: jsonPath, encoding: .utf8)).contains("secret"), "no literal or parameter value exported")
        }
    }

    /// The Python HTTPS server runs a psycopg2 query per /pgquery request on the
    /// handling thread: the query's span is the child of that request's TLS
    /// SERVER span, which continues the caller's traceparent.
    @Test func postgresSpanIsChildOfTLSServerSpan() throws {
        guard requireFixtures(), require(FileManager.default.isExecutableFile(atPath: "/usr/bin/curl"), "curl missing") else { return }
        try withPostgres { dir, port in
            let server = try Background(Self.python, [Repo.testdata.appendingPathComponent("python/https_server.py").path,
                                                      "--pg-dsn", "host=\(dir) port=\(port) user=postgres dbname=postgres"])
            defer { server.process.terminate() }
            let httpsPort = String(try #require(server.stdout.next()).dropFirst("listening ".count))
            let json = FileManager.default.temporaryDirectory.appendingPathComponent("tls-pg-\(getpid()).jsonl").path
            defer { try? FileManager.default.removeItem(atPath: json) }
            let tracer = try Background(Repo.tool, ["--ssl", "--postgres", "--otlp-json", json, "--quiet"])
            tracer.watchdog(seconds: 90)
            _ = tracer.waitForStderr("attached")
            let attached = tracer.waitForStderr("attached")
            #expect(attached.contains("libpq.so.5"), "\(attached)")
            let (trace, caller) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
            let r = try run("/usr/bin/curl", ["-sk", "-w", "%{http_code}\n", "-H", "traceparent: 00-\(trace)-\(caller)-01",
                                              "-o", "/dev/null", "https://127.0.0.1:\(httpsPort)/pgquery?id=1", "--next",
                                              "-sk", "-w", "%{http_code}\n", "-o", "/dev/null", "https://127.0.0.1:\(httpsPort)/pgquery?id=2"])
            #expect(r.stdout.split(separator: "\n") == ["200", "200"], "\(r.stdout) \(r.stderr)")
            usleep(300_000)
            let (status, stderr) = tracer.interruptAndWait()
            #expect(status == 0, "\(stderr)")
            let pid = String(server.process.processIdentifier)
            let all = try spans(inJSONLines: json).filter { attributes($0["_resource"] as? [String: Any] ?? [:])["process.pid"] == pid }
            let servers = all.filter { $0["kind"] as? Int == 2 }
            let path = { (s: [String: Any]) in "\(attributes(s)["url.path"] ?? "")?\(attributes(s)["url.query"] ?? "")" }
            let first = try #require(servers.first { path($0) == "/pgquery?id=1" }, "\(servers.map(path))")
            let second = try #require(servers.first { path($0) == "/pgquery?id=2" }, "\(servers.map(path))")
            #expect(first["traceId"] as? String == trace && first["parentSpanId"] as? String == caller)
            let queries = all.filter { attributes($0)["db.system.name"] == "postgresql" }
            for server in [first, second] {
                let children = queries.filter { $0["parentSpanId"] as? String == server["spanId"] as? String }
                #expect(children.count == 1 && children.allSatisfy { $0["traceId"] as? String == server["traceId"] as? String },
                        "\(path(server)): \(children.map { attributes($0)["db.query.text"] ?? "" })")
                #expect(children.first.map { attributes($0)["db.query.text"] } == "SELECT ?, pg_sleep(?)")
            }
            #expect(queries.count == 2, "\(queries.map { attributes($0)["db.query.text"] ?? "" })")
        }
    }
}
