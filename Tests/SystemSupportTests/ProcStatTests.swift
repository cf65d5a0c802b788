import Glibc
import Testing
import SystemSupport

@Suite struct ProcStatTests {
    /// A real line (proc(5) layout) whose command name holds a space and a parenthesis.
    static func line(state: String = "S") -> String {
        "4242 (tricky) name) \(state) 1 4242 4242 0 -1 4194560 1234 0 0 0 10 5 0 0 20 0 3 0 987654 "
            + "12345678 900 18446744073709551615 1 1 140733000000000 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
    }

    @Test func fieldsAfterTheLastParenthesis() throws {
        let stat = try #require(ProcStat(parsing: Array(Self.line().utf8)))
        #expect(stat.state == UInt8(ascii: "S") && !stat.isZombie)
        #expect(stat.startTime == 987654)
        #expect(stat.startStack == 140733000000000)
    }

    @Test func zombie() throws {
        #expect(try #require(ProcStat(parsing: Array(Self.line(state: "Z").utf8))).isZombie)
    }

    @Test(arguments: ["", "4242 (x S 1 2", "4242 (x) S 1 2 3", "4242 (x) SS 1"])
    func malformed(_ text: String) {
        #expect(ProcStat(parsing: Array(text.utf8)) == nil)
    }

    @Test func ownProcess() throws {
        let stat = try #require(ProcStat.read(pid: getpid()))
        #expect(!stat.isZombie && stat.startTime > 0 && stat.startStack > 0)
        #expect(ProcStat.read(pid: 99_999_999) == nil)
    }
}
