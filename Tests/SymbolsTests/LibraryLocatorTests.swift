import Foundation
import Testing
@testable import Symbols

#if canImport(Glibc)
import Glibc
#endif

@Suite struct LibraryLocatorTests {
    @Test(arguments: [
        ("libssl.so.3", "libssl.so*", true),
        ("libssl.so.1.1", "libssl.so", true),
        ("libssl.so", "libssl.so*", true),
        ("libssl.so.3", "libssl.so.3", true),
        ("libssl.so.3.0.2", "libssl.so.3", true),
        ("libssl3.so", "libssl.so*", false),
        ("libssl.so.3", "libssl.so.1", false),
        ("libmariadb.so.3", "libmariadb.so*", true),
        ("libmysqlclient.so.21", "libmysqlclient.so*", true),
        ("libmysqlclient_r.so.21", "libmysqlclient.so*", false),
        ("libssl.so.3", "*", false),
    ])
    func nameMatching(_ basename: String, _ pattern: String, _ expected: Bool) {
        #expect(LibraryLocator.matches(basename: basename, pattern: pattern) == expected)
    }

    @Test func findsMappedLibraries() throws {
        let maps = """
        7f0000000000-7f0000001000 r--p 00000000 08:01 10 /usr/lib/x86_64-linux-gnu/libc.so.6
        7f0000100000-7f0000101000 r-xp 00000000 08:01 11 /usr/lib/x86_64-linux-gnu/libmariadb.so.3
        7f0000200000-7f0000201000 r-xp 00000000 08:01 12 /opt/ssl/lib/libssl.so.1.1
        """
        let img = ProcessImage(pid: 7, entries: ProcMaps.parse(Array(maps.utf8)), mainExecutable: nil)
        #expect(try LibraryLocator.findMapped("libssl.so*", in: img).path == "/opt/ssl/lib/libssl.so.1.1")
        #expect(try LibraryLocator.findMapped(["libmysqlclient.so*", "libmariadb.so*"], in: img).inode == 11)
        #expect(throws: SymbolsError.libraryNotFound(name: "libcrypto.so*", pid: 7)) {
            try LibraryLocator.findMapped("libcrypto.so*", in: img)
        }
    }

    // MARK: - ld.so.cache

    /// Builds a cache file: optional old-format table, then the 1.1 table.
    static func cacheBytes(_ libs: [(String, String, Int32, UInt64)], withOldTable: Bool) -> [UInt8] {
        func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        var prefix: [UInt8] = []
        if withOldTable {
            // Three 12-byte old entries: 16 + 36 = 52, so the new table starts after padding, at 56.
            prefix = Array("ld.so-1.7.0".utf8) + [0] + le(UInt32(3)) + [UInt8](repeating: 0, count: 36)
            while prefix.count % 8 != 0 { prefix.append(0) }
        }
        let headerSize = 48, entrySize = 24
        var strings: [UInt8] = []
        var entries: [UInt8] = []
        let stringsBase = headerSize + libs.count * entrySize
        for (name, path, flags, hwcap) in libs {
            let k = stringsBase + strings.count
            strings += Array(name.utf8) + [0]
            let v = stringsBase + strings.count
            strings += Array(path.utf8) + [0]
            entries += le(flags) + le(UInt32(k)) + le(UInt32(v)) + le(UInt32(0)) + le(hwcap)
        }
        var header = Array("glibc-ld.so.cache1.1".utf8) + le(UInt32(libs.count)) + le(UInt32(strings.count))
        header += [2, 0, 0, 0] + le(UInt32(0)) + [UInt8](repeating: 0, count: 12)
        return prefix + header + entries + strings
    }

    static let libs: [(String, String, Int32, UInt64)] = [
        ("libssl.so.3", "/lib/x86_64-linux-gnu/libssl.so.3", 0x0303, 0),
        ("libssl.so.3", "/lib/i386-linux-gnu/libssl.so.3", 0x0003, 0),
        ("libfoo.so.2", "/opt/lib/libfoo.so.2", 0x0303, 0),
        ("libfoo.so.10", "/opt/lib/libfoo.so.10", 0x0303, 0),
        ("libc.so.6", "/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libc.so.6", 0x0303, 1 << 62),
        ("libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6", 0x0303, 0),
    ]

    @Test(arguments: [false, true])
    func parsesSyntheticCache(withOldTable: Bool) throws {
        let cache = try LDSOCache(parsing: Self.cacheBytes(Self.libs, withOldTable: withOldTable))
        #expect(cache.entries.count == Self.libs.count)
        #expect(cache.entries[1].flags == 3 && !cache.entries[1].isForThisHost)
        #expect(cache.path(forName: "libssl.so.3") == "/lib/x86_64-linux-gnu/libssl.so.3")
        #expect(cache.path(forName: "libc.so.6") == "/lib/x86_64-linux-gnu/libc.so.6")
        #expect(cache.path(forName: "libfoo.so") == nil)

        let locator = LibraryLocator(cache: cache, directories: [])
        // Unversioned name: the highest version, numerically.
        #expect(try locator.resolve("libfoo.so") == "/opt/lib/libfoo.so.10")
        #expect(throws: SymbolsError.libraryNotFound(name: "libbar.so", pid: nil)) { try locator.resolve("libbar.so") }
    }

    @Test func rejectsBadCaches() {
        let good = Self.cacheBytes(Self.libs, withOldTable: true)
        #expect(throws: SymbolsError.self) { try LDSOCache(parsing: Array("not a cache".utf8)) }
        #expect(throws: SymbolsError.self) { try LDSOCache(parsing: [UInt8]()) }
        // Every truncation is an error or a smaller table, never a trap.
        for n in stride(from: 0, to: good.count, by: 7) {
            _ = try? LDSOCache(parsing: Array(good[0..<n]))
        }
        // A string offset past the end.
        var bad = Self.cacheBytes(Self.libs, withOldTable: false)
        bad[48 + 4] = 0xff
        bad[48 + 5] = 0xff
        bad[48 + 6] = 0xff
        #expect(throws: SymbolsError.self) { try LDSOCache(parsing: bad) }
    }

    /// `ldconfig -p` lines: `\tNAME (FLAGS[, hwcap...]) => PATH`.
    static func ldconfigListing() throws -> [(name: String, flags: String, path: String)] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/sbin/ldconfig")
        p.arguments = ["-p"]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            guard let arrow = line.range(of: " => "), let open = line.firstIndex(of: "(") else { return nil }
            let name = line[..<open].trimmingCharacters(in: .whitespaces)
            let flags = String(line[line.index(after: open)..<(line[open...].firstIndex(of: ")") ?? arrow.lowerBound)])
            return (name, flags, String(line[arrow.upperBound...]))
        }
    }

    @Test(arguments: ["libc.so.6", "libssl.so.3"])
    func hostCacheAgreesWithLdconfig(_ name: String) throws {
        let cache = try LDSOCache.load()
        let expected = try Self.ldconfigListing().first { $0.name == name && $0.flags == "libc6,x86-64" }
        let want = try #require(expected, "ldconfig -p does not list \(name)")
        #expect(cache.path(forName: name) == want.path)
        #expect(try LibraryLocator.host().resolve(name) == want.path)
    }

    @Test func hostCacheHasEveryLdconfigEntry() throws {
        let cache = try LDSOCache.load()
        let listed = try Self.ldconfigListing()
        #expect(cache.entries.count == listed.count)
        #expect(Set(cache.entries.map { "\($0.name)=\($0.path)" }) == Set(listed.map { "\($0.name)=\($0.path)" }))
    }

    @Test func directoryFallbackPicksVersionedFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("liblocator-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for n in ["libzz.so.1", "libzz.so.1.9", "libzz.so.1.10", "libzzz.so.5", "libzz.so.old"] {
            _ = FileManager.default.createFile(atPath: dir.appendingPathComponent(n).path, contents: Data([0x7f]))
        }
        let locator = LibraryLocator(cache: nil, directories: ["/nonexistent", dir.path])
        #expect(try locator.resolve("libzz.so") == dir.path + "/libzz.so.1.10")
        #expect(try locator.resolve("libzz.so.1") == dir.path + "/libzz.so.1")
        #expect(throws: SymbolsError.libraryNotFound(name: "libyy.so", pid: nil)) { try locator.resolve("libyy.so") }
    }

    @Test func resolveTarget() throws {
        #expect(try LibraryLocator.resolveTarget("./server") == "./server")
        #expect(try LibraryLocator.resolveTarget("/no/such/file") == "/no/such/file")
        let libc = try LibraryLocator.resolveTarget("libc.so.6")
        #expect(libc.hasSuffix("/libc.so.6") && FileManager.default.fileExists(atPath: libc))
        // Bare unversioned names resolve (to the dev symlink or the highest version).
        let ssl = try LibraryLocator.resolveTarget("libssl.so")
        #expect(ssl.contains("/libssl.so"))
        #expect(try ELFFile(path: ssl).lookup("SSL_read").isEmpty == false)
        #expect(throws: SymbolsError.libraryNotFound(name: "libdoesnotexist.so", pid: nil)) {
            try LibraryLocator.resolveTarget("libdoesnotexist.so")
        }
    }
}
