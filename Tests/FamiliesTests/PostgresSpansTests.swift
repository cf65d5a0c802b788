import Foundation
import GoRuntime
import Symbols
import Testing
import TraceEvents
@testable import Families
import Tracing

/// PostgresTracker: send + end records → one span per statement (no root).
@Suite struct PostgresSpansTests {
    func tracker(raw: Bool = false) -> PostgresTracker {
        PostgresTracker(clock: BootClock(), rawLiterals: raw, resource: { pid in
            TracedProcess(pid: pid, executablePath: "/usr/bin/python3").resource(environment: [:])
        })
    }

    func send(_ text: String, at start: UInt64 = 1_000_000, conn: UInt64 = 0x5555, function: PostgresSendEvent.Function = .sendQuery,
              name: String = "", params: Int32 = 0, length: UInt64? = nil) -> PostgresSendEvent {
        PostgresSendEvent(pid: 4321, tid: 4322, startBootNanos: start, connection: conn, function: function, parameterCount: params,
                          statement: function == .sendQueryPrepared ? [] : Array(text.utf8), length: length,
                          name: Array(name.utf8), database: "appdb")
    }

    func end(at start: UInt64 = 1_000_000, _ endNs: UInt64 = 51_000_000, conn: UInt64 = 0x5555, status: Int32 = -1,
             sqlstate: String? = nil) -> PostgresEndEvent {
        PostgresEndEvent(pid: 4321, tid: 4322, startBootNanos: start, endBootNanos: endNs, connection: conn, status: status, sqlstate: sqlstate)
    }

    @Test func selectSpan() throws {
        var t = tracker()
        t.consume(send("SELECT \"Name\" FROM t WHERE a = 'x' AND b = $1"), parent: nil)
        let s_ = t.consume(end())
        let s = try #require(s_)
        #expect(s.kind == .client)
        #expect(s.name == "SELECT")
        #expect(s.attribute("db.system.name") == .string("postgresql"))
        #expect(s.attribute("db.system") == .string("postgresql"))
        #expect(s.attribute("db.operation.name") == .string("SELECT"))
        #expect(s.attribute("db.query.text") == .string("SELECT \"Name\" FROM t WHERE a = ? AND b = $1"))
        #expect(s.attribute("db.namespace") == .string("appdb"))
        #expect(s.attribute("db.response.status_code") == nil)
        #expect(s.status == .unset)
        #expect(s.durationNanos == 50_000_000)
        #expect(s.resource.attribute("process.pid") == .int(4321))
        // The end was consumed: a second one for the same statement makes nothing.
        #expect(t.consume(end()) == nil)
    }

    @Test func errorCarriesSQLSTATE() throws {
        var t = tracker()
        t.consume(send("SELECT * FROM nope"), parent: nil)
        let s_ = t.consume(end(status: 7, sqlstate: "42P01"))
        let s = try #require(s_)
        #expect(s.attribute("db.response.status_code") == .string("42P01"))
        #expect(s.attribute("error.type") == .string("42P01"))
        #expect(s.status == .error(message: "SQLSTATE 42P01"))
    }

    @Test func unknownLayoutIsMarkedNotGuessed() throws {
        var t = tracker()
        t.consume(send("SELECT 1"), parent: nil)
        let s_ = t.consume(end(status: -2))
        let s = try #require(s_)
        #expect(s.status == .unset)
        #expect(s.attribute("uprobe_trace.db.result_unread") == .bool(true))
    }

    @Test func endWithoutItsSendIsDropped() {
        var t = tracker()
        #expect(t.consume(end()) == nil)
        t.consume(send("SELECT 1", at: 5), parent: nil)
        #expect(t.consume(end(at: 4, 10)) == nil, "the start time joins a send and its end")
        #expect(t.consume(end(at: 5, 10)) != nil)
    }

    @Test func preparedStatementsCarryTheirText() throws {
        var t = tracker()
        t.consume(send("INSERT INTO t VALUES ($1, 'k')", at: 1, function: .sendPrepare, name: "ins", params: 1), parent: nil)
        let p_ = t.consume(end(at: 1, 2))
        let p = try #require(p_)
        #expect(p.name == "PREPARE")
        #expect(p.attribute("db.query.text") == .string("INSERT INTO t VALUES ($1, ?)"))
        #expect(p.attribute("uprobe_trace.db.prepared_statement") == .string("ins"))
        t.consume(send("", at: 3, function: .sendQueryPrepared, name: "ins", params: 1), parent: nil)
        let e_ = t.consume(end(at: 3, 4))
        let e = try #require(e_)
        #expect(e.name == "INSERT")
        #expect(e.attribute("db.query.text") == .string("INSERT INTO t VALUES ($1, ?)"))
        #expect(e.attribute("uprobe_trace.db.query.parameter_count") == .int(1))
        // Another connection's statement of the same name is not known.
        t.consume(send("", at: 5, conn: 0x7777, function: .sendQueryPrepared, name: "ins"), parent: nil)
        let o_ = t.consume(end(at: 5, 6, conn: 0x7777))
        let o = try #require(o_)
        #expect(o.name == "EXECUTE")
        #expect(o.attribute("db.query.text") == nil)
    }

    @Test func inFlightIsBounded() throws {
        var t = tracker()
        let n = PostgresTracker.inFlightLimit + 10
        for i in 0..<n { t.consume(send("SELECT 1", at: UInt64(i + 1), conn: UInt64(i + 1)), parent: nil) }
        // The oldest were forgotten, the newest still end.
        let old = t.consume(end(at: 1, 2, conn: 1))
        #expect(old == nil)
        let last = t.consume(end(at: UInt64(n), UInt64(n + 1), conn: UInt64(n)))
        #expect(last != nil)
    }

    @Test func truncatedAndRaw() throws {
        var t = tracker(raw: true)
        t.consume(send("SELECT 'abc", length: 5000), parent: nil)
        let s_ = t.consume(end())
        let s = try #require(s_)
        #expect(s.attribute("db.query.text") == .string("SELECT 'abc"))
        #expect(s.attribute("uprobe_trace.db.query.truncated") == .bool(true))
        #expect(s.attribute("uprobe_trace.db.query.length") == .int(5000))
    }

    @Test func childOfTheThreadsServerSpan() throws {
        var t = tracker()
        let server = SpanContext.root(.always)
        t.consume(send("SELECT 1"), parent: server)
        let s_ = t.consume(end())
        let s = try #require(s_)
        #expect(s.traceID == server.traceID)
        #expect(s.parentSpanID == server.spanID)
    }

    @Test func recordsRoundTrip() throws {
        var e = ut_pg_send_event()
        e.h.kind = UInt32(UT_EVENT_PG_SEND.rawValue)
        e.h.tgid = 9
        e.conn = 0xABC
        e.function = UInt32(UT_PG_SEND_QUERY_PARAMS.rawValue)
        e.n_params = 2
        e.length = 8
        e.captured = 8
        e.db_len = 3
        withUnsafeMutableBytes(of: &e.db) { $0.copyBytes(from: Array("app".utf8)) }
        var bytes = withUnsafeBytes(of: e) { [UInt8]($0) } + Array("SELECT 1".utf8)
        let d = try #require(PostgresSendEvent(bytes: bytes))
        #expect(d.function == .sendQueryParams && d.parameterCount == 2 && d.database == "app" && d.statement == Array("SELECT 1".utf8))
        bytes.removeLast()
        #expect(PostgresSendEvent(bytes: bytes) == nil, "claims more bytes than it carries")

        var x = ut_pg_end_event()
        x.h.kind = UInt32(UT_EVENT_PG_END.rawValue)
        x.status = 7
        withUnsafeMutableBytes(of: &x.sqlstate) { $0.copyBytes(from: Array("23505".utf8)) }
        let y = try #require(withUnsafeBytes(of: x) { PostgresEndEvent(bytes: $0) })
        #expect(y.failed && y.sqlstate == "23505")
        withUnsafeMutableBytes(of: &x.sqlstate) { $0.copyBytes(from: Array("2\u{1}505".utf8)) }
        #expect(withUnsafeBytes(of: x) { PostgresEndEvent(bytes: $0) }?.sqlstate == nil, "not a SQLSTATE: not exported")
    }
}

/// Where the probes go in the host's libpq and the struct offsets decoded from
/// its accessors, against libpq-dev's own header (testdata/postgres/pg_offsets.c).
@Suite struct PostgresLayoutTests {
    static let libpq = "/usr/lib/x86_64-linux-gnu/libpq.so.5"

    static func available() -> Bool {
        let ok = FileManager.default.fileExists(atPath: libpq) && FileManager.default.fileExists(atPath: "/usr/include/postgresql/internal/libpq-int.h")
        if !ok {
            if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("libpq5 / libpq-dev missing (scripts/setup.sh installs them)") }
            else { print("skipping libpq layout test: libpq5 / libpq-dev not installed") }
        }
        return ok
    }

    @Test func offsetsMatchLibpqIntH() throws {
        guard Self.available() else { return }
        let dir = GoHTTPTestSupport.testdata.appendingPathComponent("postgres")
        let exe = FileManager.default.temporaryDirectory.appendingPathComponent("ut-pg-offsets-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: exe) }
        let (status, out) = GoHTTPTestSupport.run("/usr/bin/gcc", ["-I/usr/include/postgresql", "-I/usr/include/postgresql/internal",
                                                                   "-I", dir.appendingPathComponent("stub").path,
                                                                   dir.appendingPathComponent("pg_offsets.c").path, "-o", exe])
        try #require(status == 0, "gcc: \(out)")
        let (rc, text) = GoHTTPTestSupport.run(exe, [])
        try #require(rc == 0)
        let truth = text.split(whereSeparator: \.isWhitespace).compactMap { Int32($0) }
        let layout = PostgresFamily.layout(of: try ELFFile(path: Self.libpq))
        print("libpq layout decoded: \(layout.config); libpq-int.h: \(truth)")
        #expect([layout.resultStatus, layout.resultErrFields, layout.fieldNext, layout.fieldCode, layout.fieldContents, layout.connDBName, layout.connAsyncStatus] == truth)
        #expect(layout.notes.isEmpty)
    }

    @Test func unknownAccessorsLeaveOffsetsUnread() {
        // `xor %eax,%eax; ret` for all four: nothing to learn, nothing guessed.
        let code: [UInt8] = [0x31, 0xC0, 0xC3]
        let layout = code.withUnsafeBytes { bytes in PostgresLayout { _ in bytes } }
        #expect(layout.config.result_status == 0 && layout.config.result_err_fields == 0 && layout.config.conn_db_name == 0 && layout.config.conn_async_status == 0)
        #expect(layout.notes.count == 3)
    }

    @Test func sitesAreEmulated() throws {
        guard Self.available() else { return }
        let elf = try ELFFile(path: Self.libpq)
        let sites = PostgresFamily.sites(in: elf)
        for s in sites { print("libpq site: \(s.function) +\(s.siteOffset - s.entryOffset) \(s.instruction?.description ?? "?"): \(s.reason)") }
        #expect(Set(sites.map(\.function)) == Set(PostgresFamily.functions))
        #expect(sites.allSatisfy { $0.instruction?.cost.isCheap == true }, "every libpq site emulated on Debian's libpq 15")
        // PQsendQuery starts with `mov $1,%edx`: its probe goes on the `jmp` after it.
        let q = try #require(sites.first { $0.function == "PQsendQuery" })
        if q.siteOffset != q.entryOffset { #expect(q.instruction?.text.hasPrefix("jmp") == true) }
        // The entries, for comparison: asked for with entrySites.
        let entries = PostgresFamily.sites(in: elf, entrySites: true)
        #expect(entries.allSatisfy { $0.siteOffset == $0.entryOffset })
    }
}
