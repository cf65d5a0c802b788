import Testing
import TraceEvents
@testable import Tracing

@Suite struct SQLStatementTests {
    @Test("sanitizer", arguments: [
        ("SELECT * FROM t WHERE id = 42", "SELECT * FROM t WHERE id = ?"),
        ("SELECT * FROM t WHERE name = 'bob' AND city = \"Paris\"", "SELECT * FROM t WHERE name = ? AND city = ?"),
        ("SELECT 'it''s', 'a\\'b', 'c\\\\' , 1", "SELECT ?, ?, ? , ?"),
        ("SELECT \"say \"\"hi\"\"\"", "SELECT ?"),
        ("SELECT 3.14, .5, 1e10, 2.5E-3, 6e+2, 0x1F, 0b101", "SELECT ?, ?, ?, ?, ?, ?, ?"),
        ("SELECT X'4D7953', x'', B'0101', N'abc', _utf8mb4'xyz'", "SELECT ?, ?, ?, ?, _utf8mb4?"),
        ("SELECT * FROM t WHERE id IN (1, 2, 3)", "SELECT * FROM t WHERE id IN (?, ?, ?)"),
        ("SELECT * FROM t WHERE a = -1 AND b > +2 AND c = (-3)", "SELECT * FROM t WHERE a = ? AND b > ? AND c = (?)"),
        ("SELECT a - 1, a-1, (a) -1, f(x)-2 FROM t LIMIT -5", "SELECT a - ?, a-?, (a) -?, f(x)-? FROM t LIMIT ?"),
        ("SELECT `col 1`, `weird``name`, t1.c2, 1abc FROM `db`.`t`", "SELECT `col 1`, `weird``name`, t1.c2, 1abc FROM `db`.`t`"),
        ("INSERT INTO t (a, b) VALUES (?, ?)", "INSERT INTO t (a, b) VALUES (?, ?)"),
        ("SELECT @a, @@session.sql_mode, $x FROM t", "SELECT @a, @@session.sql_mode, $x FROM t"),
        ("/* user=alice */ SELECT 1 -- trailing 7\n", "SELECT ?"),
        ("SELECT 1 # hash comment 'x'\nFROM dual", "SELECT ? \nFROM dual"),
        ("SELECT 1/*inline*/+2", "SELECT ? +?"),
        ("SELECT 5--6", "SELECT ?-?"),
        ("/*!40101 SET @x = 5 */", "/*!40101 SET @x = ? */"),
        ("SELECT /*+ MAX_EXECUTION_TIME(1000) */ * FROM t", "SELECT /*+ MAX_EXECUTION_TIME(?) */ * FROM t"),
        ("UPDATE t SET a = TRUE, b = NULL WHERE c <> 'é'", "UPDATE t SET a = TRUE, b = NULL WHERE c <> ?"),
        ("SELECT '日本語', 名前 FROM t", "SELECT ?, 名前 FROM t"),
        ("  \n\tSELECT 1  ", "SELECT ?"),
        ("", ""),
    ])
    func sanitize(_ input: String, _ expected: String) {
        #expect(SQLStatement(input).sanitized == expected)
    }

    @Test("sanitizer: truncated or unterminated input", arguments: [
        ("SELECT * FROM t WHERE name = 'secret val", "SELECT * FROM t WHERE name = ?"),
        ("SELECT * FROM t WHERE name = \"abc\\", "SELECT * FROM t WHERE name = ?"),
        ("SELECT 'a\\", "SELECT ?"),
        ("SELECT * FROM `unterminated", "SELECT * FROM `unterminated"),
        ("SELECT 1 /* never closed 'x'", "SELECT ?"),
        ("SELECT 12", "SELECT ?"),
        ("SELECT 1.", "SELECT ?"),
        // MySQL reads digits followed by letters as an identifier (`1e`, `0x`).
        ("SELECT 1e", "SELECT 1e"),
        ("SELECT 0x", "SELECT 0x"),
        ("SELECT X'4D", "SELECT ?"),
        ("SELECT -", "SELECT -"),
        ("/*!", "/*!"),
        ("--", ""),
        ("'", "?"),
        ("\\", "\\"),
    ])
    func sanitizeTruncated(_ input: String, _ expected: String) {
        #expect(SQLStatement(input).sanitized == expected)
    }

    @Test func sanitizerNeverCrashesOnAnyPrefix() {
        let statement = "WITH x AS (SELECT 'a''b', \"c\\\"d\", X'0F', -1.5e-3 FROM `t``u` /*! 5 */ # c\n) SELECT * FROM x -- e"
        let bytes = Array(statement.utf8)
        for n in 0...bytes.count {
            let s = SQLStatement(bytes: Array(bytes[0..<n]))
            _ = s.sanitized
            _ = s.operation
        }
        // Invalid UTF-8 and NULs.
        let junk: [UInt8] = [0xff, 0x27, 0x00, 0xc3, 0x22, 0x5c, 0x60, 0x2f, 0x2a, 0x21, 0x30, 0x78]
        for n in 0...junk.count { _ = SQLStatement(bytes: Array(junk[0..<n])).sanitized }
    }

    @Test func sanitizedStatementKeepsNoLiteral() {
        let s = SQLStatement("SELECT * FROM users WHERE email = 'alice@example.com' AND pin = 1234 AND k = X'DEADBEEF'").sanitized
        for secret in ["alice", "1234", "DEADBEEF"] { #expect(!s.contains(secret), "\(s)") }
    }

    @Test("operation", arguments: [
        ("SELECT 1", "SELECT"),
        ("select * from t", "SELECT"),
        ("  insert into t values (1)", "INSERT"),
        ("Update t set a = 1", "UPDATE"),
        ("DELETE FROM t", "DELETE"),
        ("CREATE TABLE t (a INT)", "CREATE"),
        ("DROP TABLE t", "DROP"),
        ("BEGIN", "BEGIN"),
        ("commit", "COMMIT"),
        ("CALL proc(1)", "CALL"),
        ("SET NAMES utf8mb4", "SET"),
        ("SHOW TABLES", "SHOW"),
        ("/* hint */ -- x\n# y\n SELECT 1", "SELECT"),
        ("((SELECT 1) UNION (SELECT 2))", "SELECT"),
        ("/*!40101 SET @x = 1 */", "SET"),
        ("WITH cte AS (SELECT 1 AS a) SELECT a FROM cte", "SELECT"),
        ("WITH RECURSIVE r (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5), s AS (SELECT 2) DELETE FROM t", "DELETE"),
        ("with c as (select 1) update t join c set t.a = 1", "UPDATE"),
        ("WITH cte AS (SELECT 1", "WITH"),
        ("", ""),
        ("   ", ""),
        ("'just a string'", ""),
        ("; SELECT 1", ""),
    ])
    func operation(_ input: String, _ expected: String) {
        #expect(SQLStatement(input).operation == expected)
    }
}

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
        other[0] = UInt8(UT_EVENT_SSL.rawValue)
        #expect(MySQLEvent(bytes: other) == nil)
        #expect(MySQLEvent(bytes: Array(bytes.prefix(40))) == nil)
    }
}
