import Foundation
import Testing
@testable import Symbols

#if canImport(Glibc)
import Glibc
#endif

/// True when this process can do what root-only tests need.
let runningAsRoot = geteuid() == 0
/// Under CI a root-only test that cannot run is a failure, not a skip.
let runningInCI = ProcessInfo.processInfo.environment["CI"] == "true"

@Suite struct ProcessImageTests {
    static let maps = """
    555555554000-555555556000 r--p 00000000 08:01 100  /srv/app/server
    555555556000-55555555a000 r-xp 00002000 08:01 100  /srv/app/server
    55555555a000-55555555b000 r--p 00006000 08:01 100  /srv/app/server
    55555555b000-55555555c000 rw-p 00007000 08:01 100  /srv/app/server
    55555555d000-55555557e000 rw-p 00000000 00:00 0    [heap]
    7ffff7c00000-7ffff7c28000 r--p 00000000 08:01 200  /usr/lib/libssl.so.3
    7ffff7c28000-7ffff7c90000 r-xp 00028000 08:01 200  /usr/lib/libssl.so.3
    7ffff7d00000-7ffff7d01000 r-xp 00000000 08:01 300  /tmp/plugin.so (deleted)
    7ffff7e00000-7ffff7e28000 r--p 00000000 00:2f 200  /usr/lib/libssl.so.3
    7ffff7e28000-7ffff7e90000 r-xp 00028000 00:2f 200  /usr/lib/libssl.so.3
    7ffff7ff0000-7ffff7ff2000 r-xp 00000000 00:00 0    [vdso]
    """

    var image: ProcessImage {
        ProcessImage(pid: 4242, entries: ProcMaps(parsing: Self.maps).entries, mainExecutable: "/srv/app/server")
    }

    @Test func groupsMappingsByFile() {
        let img = image
        #expect(img.objects.map(\.path) == ["/srv/app/server", "/usr/lib/libssl.so.3", "/tmp/plugin.so", "/usr/lib/libssl.so.3"])
        #expect(img.objects[0].mappings.count == 4)
        // Same path and inode on another device (a container's copy) is another object.
        #expect(img.objects[1].device != img.objects[3].device)
        #expect(img.objects[2].isDeleted && !img.objects[0].isDeleted)
        #expect(img.mainExecutableObject?.inode == 100)
        #expect(img.objects[1].basename == "libssl.so.3")
        #expect(img.objects[0].loadAddress == 0x5555_5555_4000)
    }

    @Test func fileOffsetToRuntimeAddressAndBack() throws {
        let img = image
        // 0x2345 is in the r-xp mapping at file offset 0x2000.
        let a = try img.runtimeAddress(forFileOffset: 0x2345, inObject: "/srv/app/server")
        #expect(a == 0x5555_5555_6000 - 0x2000 + 0x2345)
        #expect(img.fileOffset(forRuntimeAddress: a) == FileLocation(path: "/srv/app/server", offset: 0x2345))
        #expect(try img.runtimeAddress(forFileOffset: 0x7010, inObject: "/srv/app/server") == 0x5555_5555_b010)
        // Offset 0 is in the first mapping; an offset past every mapping is not mapped.
        #expect(try img.runtimeAddress(forFileOffset: 0, inObject: "/srv/app/server") == 0x5555_5555_4000)
        #expect(throws: SymbolsError.self) { try img.runtimeAddress(forFileOffset: 0x9000, inObject: "/srv/app/server") }
        #expect(throws: SymbolsError.notMapped(pid: 4242, path: "/nope")) { try img.runtimeAddress(forFileOffset: 0, inObject: "/nope") }
        // Anonymous, pseudo and unmapped addresses have no file.
        #expect(img.fileOffset(forRuntimeAddress: 0x5555_5555_d100) == nil)
        #expect(img.fileOffset(forRuntimeAddress: 0x7fff_f7ff_0010) == nil)
        #expect(img.fileOffset(forRuntimeAddress: 0x1000) == nil)
    }

    @Test func accessPaths() {
        let img = image
        #expect(img.accessPath(for: img.objects[0]) == "/proc/4242/root/srv/app/server")
        #expect(img.accessPath(for: img.objects[2]) == "/proc/4242/map_files/7ffff7d00000-7ffff7d01000")
    }

    @Test func ownImage() throws {
        let img = try ProcessImage(pid: getpid())
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        #expect(img.mainExecutable == exe)
        #expect(img.mainExecutableObject != nil)
        #expect(try ProcessImage(pid: "self").pid == getpid())
        #expect(throws: SymbolsError.noSuchProcess(pid: 99_999_999)) { try ProcessImage(pid: 99_999_999) }
        #expect(throws: SymbolsError.invalidPID("pid1")) { try ProcessImage(pid: "pid1") }
    }

    /// The runtime ↔ file-offset math against the dynamic linker: a libc function's
    /// address from dlsym must equal its .dynsym file offset carried through our maps.
    @Test(arguments: ["getenv", "qsort", "fopen", "abort"])
    func libcFunctionAddressMatchesDlsym(_ name: String) throws {
        guard let handle = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD) else {
            Issue.record("libc.so.6 is not loaded in the test process")
            return
        }
        defer { dlclose(handle) }
        guard let address = dlsym(handle, name) as UnsafeMutableRawPointer? else {
            Issue.record("dlsym found no \(name) in libc.so.6")
            return
        }
        let runtime = UInt64(UInt(bitPattern: address))

        let img = try ProcessImage(pid: getpid())
        let libc = try LibraryLocator.findMapped("libc.so.6", in: img)
        let elf = try img.openObject(libc)
        let sym = try #require(try elf.lookup(name).first { $0.table == .dynsym })
        // An IFUNC's dlsym answer is the chosen implementation, not the symbol.
        try #require(sym.typeCode != 10, "\(name) is an IFUNC in this libc")
        let fileOffset = try #require(elf.fileOffset(of: sym))

        #expect(try img.runtimeAddress(forFileOffset: fileOffset, inObject: libc.path) == runtime)
        #expect(img.fileOffset(forRuntimeAddress: runtime) == FileLocation(path: libc.path, offset: fileOffset))
    }

    /// A program whose file is deleted while it runs is still opened, through
    /// /proc/PID/map_files, and is byte-for-byte the original (same build-id).
    @Test(.enabled(if: runningAsRoot || runningInCI, "needs root to read /proc/PID/map_files"))
    func deletedExecutableOpensThroughMapFiles() throws {
        guard runningAsRoot else {
            Issue.record("CI=true but not running as root: /proc/PID/map_files needs CAP_SYS_ADMIN")
            return
        }
        let original = "/usr/bin/sleep"
        let originalID = try #require(try ELFFile(path: original).buildID)

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("procmaps-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let copy = dir.appendingPathComponent("sleep copy")
        try FileManager.default.copyItem(atPath: original, toPath: copy.path)

        let child = Process()
        child.executableURL = copy
        child.arguments = ["30"]
        try child.run()
        let pid = child.processIdentifier
        defer {
            kill(pid, SIGKILL)
            child.waitUntilExit()
        }
        // Wait until the exec has happened (the child maps the copy).
        var image: ProcessImage?
        for _ in 0..<200 {
            if let img = try? ProcessImage(pid: pid), img.object(path: copy.path) != nil {
                image = img
                break
            }
            usleep(10_000)
        }
        try #require(image != nil, "child never mapped \(copy.path)")

        try FileManager.default.removeItem(at: copy)
        let img = try ProcessImage(pid: pid)
        #expect(img.mainExecutable == copy.path)
        let object = try #require(img.object(path: copy.path))
        #expect(object.isDeleted)
        #expect(img.accessPath(for: object).hasPrefix("/proc/\(pid)/map_files/"))
        let elf = try img.openObject(object)
        #expect(elf.buildID == originalID)
        // The deleted file is the whole file, not just one mapping's bytes.
        #expect(elf.bytes.count == (try FileManager.default.attributesOfItem(atPath: original)[.size] as? Int))
    }
}
