import Testing
import Tracing

/// The PostgreSQL dialect of the SQL sanitizer: what is a literal and what is
/// kept differs from MySQL's rules.
@Suite struct PostgresSQLStatementTests {
    func sanitized(_ s: String) -> String { SQLStatement(s, dialect: .postgresql).sanitized }
    func operation(_ s: String) -> String { SQLStatement(s, dialect: .postgresql).operation }

    @Test func doubleQuotesAreIdentifiers() {
        #expect(sanitized(#"SELECT "Name", "a""b" FROM "My Table" WHERE x = 'v'"#) == #"SELECT "Name", "a""b" FROM "My Table" WHERE x = ?"#)
        // MySQL reads the same quotes as strings.
        #expect(SQLStatement(#"SELECT "Name" FROM t"#).sanitized == "SELECT ? FROM t")
    }

    @Test func strings() {
        #expect(sanitized("SELECT 'it''s', 'a\\' FROM t") == "SELECT ?, ? FROM t") // no backslash escapes in '...'
        #expect(sanitized("SELECT E'it\\'s secret' || e'\\n' AS x") == "SELECT ? || ? AS x")
        #expect(sanitized("SELECT X'1F', B'101', N'abc'") == "SELECT ?, ?, ?")
        #expect(sanitized("SELECT '2024-01-01'::date, INTERVAL '1 day'") == "SELECT ?::date, INTERVAL ?")
    }

    @Test func dollarQuotes() {
        #expect(sanitized("SELECT $$a 'b' $1$$, $fn$ body; $$ inner $$ $fn$ AS f") == "SELECT ?, ? AS f")
        #expect(sanitized("DO $body$ BEGIN RAISE NOTICE 'x'; END $body$") == "DO ?")
        // Unterminated (a truncated capture): the rest is the literal.
        #expect(sanitized("SELECT $q$ secret never ends") == "SELECT ?")
    }

    @Test func placeholdersStayNumbersGo() {
        #expect(sanitized("SELECT * FROM t WHERE a = $1 AND b > $2 + 3.5e2 AND c = -4") == "SELECT * FROM t WHERE a = $1 AND b > $2 + ? AND c = ?")
        #expect(sanitized("SELECT a$b, col1 FROM t2 LIMIT 10") == "SELECT a$b, col1 FROM t2 LIMIT ?")
    }

    @Test func comments() {
        #expect(sanitized("SELECT 1 --no space needed 'x'\nFROM t") == "SELECT ? \nFROM t")
        #expect(sanitized("SELECT /* outer /* nested 'x' */ still comment */ a FROM t") == "SELECT  a FROM t")
        // `#` and `@` are operators in PostgreSQL, not comments or variables.
        #expect(sanitized("SELECT 5 # 3, @ -2") == "SELECT ? # ?, @ ?")
    }

    @Test func operations() {
        #expect(operation("  select pg_sleep(0.05)") == "SELECT")
        #expect(operation("/* c */ UPDATE t SET a = 1") == "UPDATE")
        #expect(operation("WITH x AS (SELECT 1) DELETE FROM t USING x") == "DELETE")
        #expect(operation("$1") == "")
    }
}
