import Testing
import TraceEvents
@testable import Families
import Tracing

@Suite struct MySQLSpansTests {
    func builder(raw: Bool = false) -> MySQLSpans {
        MySQLSpans(clock: BootClock(), rawLiterals: raw, resource: { pid in
            TracedProcess(pid: pid, executablePath: "/usr/bin/python3").resource(environment: [:])
        })
    }

    func event(_ text: String, result: Int64 = 0, length: UInt64? = nil) -> MySQLEvent {
        MySQLEvent(pid: 4321, tid: 4322, startBootNanos: 1_000_000, endBootNanos: 51_000_000, handle: 0x5555,
                   result: result, length: length, statement: Array(text.utf8))
    }

    @Test func selectSpan() {
        let s = builder().span(for: event("SELECT * FROM t WHERE name = 'bob'"))
        #expect(s.kind == .client)
        #expect(s.name == "SELECT")
        #expect(s.attribute("db.system.name") == .string("mysql"))
        #expect(s.attribute("db.system") == .string("mysql"))
        #expect(s.attribute("db.operation.name") == .string("SELECT"))
        #expect(s.attribute("db.query.text") == .string("SELECT * FROM t WHERE name = ?"))
        #expect(s.attribute("uprobe_trace.db.query.truncated") == nil)
        #expect(s.attribute("error.type") == nil)
        #expect(s.status == .unset)
        #expect(s.durationNanos == 50_000_000)
        #expect(s.resource.attribute("process.pid") == .int(4321))
    }

    @Test func rawLiterals() {
        let s = builder(raw: true).span(for: event("SELECT * FROM t WHERE name = 'bob'"))
        #expect(s.attribute("db.query.text") == .string("SELECT * FROM t WHERE name = 'bob'"))
    }

    @Test func errorSpan() {
        let s = builder().span(for: event("SELECT * FROM no_such_table", result: 1))
        #expect(s.attribute("error.type") == .string("mysql_error"))
        #expect(s.status == .error(message: "mysql_real_query returned 1"))
    }

    @Test func truncatedSpan() {
        let s = builder().span(for: event("INSERT INTO t VALUES (1, 'ab", length: 4096))
        #expect(s.name == "INSERT")
        #expect(s.attribute("db.query.text") == .string("INSERT INTO t VALUES (?, ?"))
        #expect(s.attribute("uprobe_trace.db.query.truncated") == .bool(true))
        #expect(s.attribute("uprobe_trace.db.query.length") == .int(4096))
        // NUL-terminated beyond the capture: length unknown.
        let u = builder().span(for: event("SELECT 1", length: UInt64.max))
        #expect(u.attribute("uprobe_trace.db.query.truncated") == .bool(true))
        #expect(u.attribute("uprobe_trace.db.query.length") == nil)
    }

    @Test func noOperation() {
        #expect(builder().span(for: event("")).name == "mysql")
    }

    @Test func decodeEvent() {
        var e = ut_mysql_event()
        e.h.kind = UInt32(UT_EVENT_MYSQL_QUERY.rawValue)
        e.h.tgid = 10
        e.h.tid = 11
        e.h.start_ns = 100
        e.h.end_ns = 250
        e.mysql = 0xabc
        e.result = -1
        e.length = 20
        e.captured = 8
        var bytes = withUnsafeBytes(of: e) { [UInt8]($0) }
        #expect(bytes.count == Int(UT_SIZEOF_MYSQL_EVENT.rawValue))
        #expect(MemoryLayout<ut_mysql_event>.offset(of: \.mysql) == 40)
        #expect(MemoryLayout<ut_mysql_event>.offset(of: \.length) == 56)
        #expect(MemoryLayout<ut_mysql_event>.offset(of: \.captured) == 64)
        bytes += Array("SELECT 1".utf8)
        let d = MySQLEvent(bytes: bytes)
        #expect(d == MySQLEvent(pid: 10, tid: 11, startBootNanos: 100, endBootNanos: 250, handle: 0xabc,
                                result: -1, length: 20, statement: Array("SELECT 1".utf8)))
        #expect(d?.truncated == true && d?.failed == true)
        // Claims more bytes than it has; wrong kind; too short.
        #expect(MySQLEvent(bytes: Array(bytes.dropLast())) == nil)
        var other = bytes
        withUnsafeBytes(of: UInt32(UT_EVENT_SSL.rawValue).littleEndian) { other.replaceSubrange(0..<4, with: $0) }
        #expect(MySQLEvent(bytes: other) == nil)
        #expect(MySQLEvent(bytes: Array(bytes.prefix(40))) == nil)
    }
}
