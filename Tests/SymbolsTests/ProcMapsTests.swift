import Testing
@testable import Symbols

#if canImport(Glibc)
import Glibc
#endif

/// Parsing tests over literal maps text: no process, no root.
@Suite struct ProcMapsTests {
    static let sample = """
    55d0c9a0b000-55d0c9a0d000 r--p 00000000 08:01 1835017                    /usr/bin/cat
    55d0c9a0d000-55d0c9a12000 r-xp 00002000 08:01 1835017                    /usr/bin/cat
    55d0cb1e4000-55d0cb205000 rw-p 00000000 00:00 0                          [heap]
    7f3a10000000-7f3a10021000 rw-p 00000000 00:00 0 
    7f3a12200000-7f3a12228000 r--p 00000000 fd:01 4194623                    /usr/lib/x86_64-linux-gnu/libc.so.6
    7f3a12228000-7f3a123bd000 r-xp 00028000 fd:01 4194623                    /usr/lib/x86_64-linux-gnu/libc.so.6
    7f3a12400000-7f3a12401000 r-xp 00000000 103:02 77                        /tmp/my dir/lib two  spaces.so (deleted)
    7f3a12500000-7f3a12510000 rw-s 00000000 00:01 2048                       /memfd:wayland-shm (deleted)
    7f3a12600000-7f3a12601000 rw-p 00000000 00:00 0                          [anon:xyz]
    7ffd5c1e0000-7ffd5c201000 rw-p 00000000 00:00 0                          [stack]
    7ffd5c3f2000-7ffd5c3f6000 r--p 00000000 00:00 0                          [vvar]
    7ffd5c3f6000-7ffd5c3f8000 r-xp 00000000 00:00 0                          [vdso]
    ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
    """

    @Test func parsesEveryKindOfLine() {
        let maps = ProcMaps(parsing: Self.sample)
        #expect(maps.skippedLines.isEmpty)
        let e = maps.entries
        #expect(e.count == 13)

        #expect(e[0].start == 0x55d0_c9a0_b000 && e[0].end == 0x55d0_c9a0_d000)
        #expect(e[0].permissions == .init(read: true, write: false, execute: false, shared: false))
        #expect(e[1].permissions.description == "r-xp")
        #expect(e[1].offset == 0x2000)
        #expect(e[1].device == .init(major: 8, minor: 1))
        #expect(e[1].inode == 1_835_017)
        #expect(e[1].path == "/usr/bin/cat" && e[1].kind == .file && !e[1].isDeleted)

        #expect(e[2].path == "[heap]" && e[2].kind == .pseudo)
        // A trailing blank after the inode is not a path.
        #expect(e[3].path == nil && e[3].kind == .anonymous)
        #expect(e[4].device.description == "fd:01")

        #expect(e[6].path == "/tmp/my dir/lib two  spaces.so")
        #expect(e[6].isDeleted && e[6].kind == .file)
        #expect(e[6].device == .init(major: 0x103, minor: 2))
        #expect(e[7].path == "/memfd:wayland-shm" && e[7].isDeleted && e[7].permissions.shared)

        #expect(e[8].path == "[anon:xyz]" && e[8].kind == .pseudo)
        #expect(e[9].path == "[stack]")
        #expect(e[10].path == "[vvar]")
        #expect(e[11].path == "[vdso]" && e[11].kind == .pseudo && e[11].permissions.execute)
        #expect(e[12].start == 0xffff_ffff_ff60_0000 && e[12].path == "[vsyscall]")
        #expect(e[12].permissions == .init(read: false, write: false, execute: true, shared: false))
    }

    @Test func skipsGarbageLinesAndKeepsTheRest() {
        let text = """
        hello world
        55d0c9a0b000-55d0c9a0d000 r--p 00000000 08:01 17 /bin/a

        zzzz-1000 r--p 00000000 08:01 17 /bin/b
        2000-1000 r--p 00000000 08:01 17 /bin/backwards
        1000-2000 rwzp 00000000 08:01 17 /bin/badperms
        1000-2000 r--p 00000000 0801 17 /bin/baddev
        1000-2000 r--p 00000000 08:01 17x /bin/badinode
        1000-2000 r--p 00000000 08:01 99999999999999999999999 /bin/hugeinode
        10000000000000000-10000000000000001 r--p 00000000 08:01 1 /bin/toowide
        1000-2000 r--p 00000000 08:01 17/bin/nospace
        3000-4000 r-xp 00001000 08:01 18 /bin/c
        """
        let maps = ProcMaps(parsing: text)
        #expect(maps.entries.map(\.path) == ["/bin/a", "/bin/c"])
        #expect(maps.skippedLines == [1, 4, 5, 6, 7, 8, 9, 10, 11])
    }

    @Test func truncatedLastLine() {
        let full = "1000-2000 r--p 00000000 08:01 17 /bin/a\n"
        // Cut anywhere inside the numeric fields: the line is dropped, never a trap.
        let cut = full + "3000-4000 r-xp 0000"
        let maps = ProcMaps(parsing: cut)
        #expect(maps.entries.count == 1)
        #expect(maps.skippedLines == [2])
        // A last line without its newline but complete still parses.
        #expect(ProcMaps.parse(Array((full + "3000-4000 r-xp 00001000 08:01 17 /bin/a").utf8)).count == 2)
        // Every prefix of a valid text parses without trapping.
        let bytes = Array((full + "5000-6000 r-xp 00001000 08:01 17 /bin/a (deleted)\n").utf8)
        for n in 0...bytes.count {
            let entries = ProcMaps.parse(Array(bytes[0..<n]))
            #expect(entries.count <= 2)
        }
    }

    @Test func arbitraryBytesNeverTrap() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789abcdef-: rwxps/[]()\n\t deleted".utf8) + [0, 0xff, 0x0d]
        for _ in 0..<300 {
            let n = Int.random(in: 0..<200, using: &rng)
            let bytes = (0..<n).map { _ in alphabet.randomElement(using: &rng)! }
            _ = ProcMaps(parsing: bytes)
        }
    }

    @Test func escapedNewlineInPath() {
        let e = ProcMaps.parse(Array("1000-2000 r--p 00000000 08:01 17 /tmp/a\\012b\n".utf8))
        #expect(e.first?.path == "/tmp/a\nb")
    }

    @Test func mapFilesName() {
        let e = ProcMaps.parse(Array("7f3a12400000-7f3a12401000 r-xp 00000000 08:01 77 /x\n".utf8))
        #expect(e.first?.mapFilesName == "7f3a12400000-7f3a12401000")
    }

    @Test func readsOwnMaps() throws {
        let maps = try ProcMaps.read(pid: getpid())
        #expect(maps.skippedLines.isEmpty)
        #expect(maps.entries.contains { $0.path == "[stack]" })
        #expect(maps.entries.contains { $0.kind == .file && $0.permissions.execute })
        #expect(try ProcMaps.read(pid: "self").entries.count > 0)
    }

    @Test func nonexistentPID() {
        // pid_max is at most 2^22 on Linux, so this pid cannot exist.
        #expect(throws: SymbolsError.noSuchProcess(pid: 99_999_999)) { try ProcMaps.read(pid: 99_999_999) }
        #expect(throws: SymbolsError.noSuchProcess(pid: 99_999_999)) { try ProcMaps.read(pid: "99999999") }
    }

    @Test(arguments: ["abc", "", "-5", "0", "12x", "1.5", "99999999999"])
    func nonNumericPID(_ text: String) {
        #expect(throws: SymbolsError.invalidPID(text)) { try ProcMaps.read(pid: text) }
    }

    @Test func errorMessagesEndInHints() {
        let errors: [SymbolsError] = [.invalidPID("x"), .noSuchProcess(pid: 1), .processAccessDenied(pid: 1, path: "/proc/1/maps")]
        for e in errors {
            #expect(e.description.contains("; hint: "))
            #expect(!e.description.contains("\n"))
        }
    }
}
