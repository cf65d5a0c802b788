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
