@testable import Families
import Foundation
import GoRuntime
import Symbols
import Testing

/// Where the OpenSSL probes go: decided from the library's code, without root.
struct OpenSSLPlacementTests {
    static let kernel = KernelRelease(major: 6, minor: 18)

    /// A fake library: each function's bytes at its offset.
    static func place(_ functions: [String: (UInt64, [UInt8])], extra: [UInt64: [UInt8]] = [:]) -> [OpenSSLPlacement] {
        var blobs = extra
        for (_, (off, bytes)) in functions { blobs[off] = bytes }
        let buffers = blobs.mapValues { bytes -> UnsafeRawBufferPointer in
            let p = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
            p.copyBytes(from: bytes)
            return UnsafeRawBufferPointer(p)
        }
        return OpenSSLPlacement.place(offsets: functions.mapValues(\.0), kernel: kernel) { buffers[$0] }
    }

    static func call(to target: UInt64, from site: UInt64) -> [UInt8] {
        let rel = Int32(Int64(target) - Int64(site + 5))
        return [0xE8] + withUnsafeBytes(of: rel.littleEndian, Array.init)
    }

    /// `sub $8,%rsp; call internal` at 0x2000 (read_ex) and `sub $8,%rsp; <prefix>; call internal` at 0x1000 (read).
    static func wrappers(readPrefix: [UInt8] = [], internalEntry: [UInt8] = [0x41, 0x55]) -> [OpenSSLPlacement] {
        let sub: [UInt8] = [0x48, 0x83, 0xEC, 0x08]
        let read = sub + readPrefix + call(to: 0x500, from: 0x1000 + UInt64(4 + readPrefix.count))
        let readEx = sub + call(to: 0x500, from: 0x2004)
        return place(["SSL_read": (0x1000, read), "SSL_read_ex": (0x2000, readEx)], extra: [0x500: internalEntry])
    }

    @Test func internalFunctionWhenBothWrappersForwardTheirArguments() throws {
        let p = try #require(Self.wrappers(readPrefix: [0x48, 0x89, 0xE1]).first)  // mov %rsp,%rcx
        #expect(p.direction == .read && p.internalOffset == 0x500)
        #expect(p.sites.map(\.function) == ["SSL_read", "SSL_read_ex"])
        let deltas: [Int64?] = [0x1000 + 12 - 0x500, 0x2000 + 9 - 0x500]
        #expect(p.sites.map(\.callerDelta) == deltas, "return address − internal entry")
        #expect(p.sites.allSatisfy { $0.probeOffset == 0x500 && $0.instruction?.text == "push %r13" && $0.instruction?.cost == .emulated })
    }

    @Test func entryWhenAnArgumentChanges() throws {
        let p = try #require(Self.wrappers(readPrefix: [0x48, 0x89, 0xD6]).first)  // mov %rdx,%rsi
        #expect(p.internalOffset == nil && p.reason.contains("argument registers"))
        #expect(p.sites.map(\.probeOffset) == [0x1000, 0x2000])
        #expect(p.sites.allSatisfy { $0.instruction?.cost == .singleStepped })
    }

    @Test func entryWhenTheInternalEntryIsSingleStepped() throws {
        let p = try #require(Self.wrappers(internalEntry: [0x48, 0x83, 0xEC, 0x08]).first)
        #expect(p.internalOffset == nil && p.reason.contains("single-stepped"))
    }

    @Test func entryWhenOnlyOneWrapperExists() throws {
        let p = try #require(Self.place(["SSL_write": (0x1000, [0x48, 0x83, 0xEC, 0x08] + Self.call(to: 0x500, from: 0x1004))]).first)
        #expect(p.direction == .write && p.internalOffset == nil && p.sites.map(\.function) == ["SSL_write"])
    }

    /// Debian 12's libssl.so.3 (3.0.x): every wrapper is probed through its internal function.
    @Test func debianLibssl() throws {
        let path = "/lib/x86_64-linux-gnu/libssl.so.3"
        guard FileManager.default.fileExists(atPath: path) else {
            print("skipping: \(path) not installed")
            return
        }
        let lib = try LibraryPlan.resolve(spec: path, defaultNames: [], pid: nil,
                                          functions: ["SSL_read", "SSL_read_ex", "SSL_write", "SSL_write_ex"], flag: "ssl")
        let placements = OpenSSLPlacement.place(offsets: lib.offsets, kernel: Self.kernel) { lib.code(atFileOffset: $0) }
        #expect(placements.map(\.direction) == [.read, .write])
        for p in placements {
            print("\(p.direction): \(p.reason)")
            #expect(p.isInternal, "\(p.reason)")
            #expect(p.sites.allSatisfy { $0.instruction?.cost == .emulated && $0.instruction?.text.hasPrefix("push") == true })
        }
    }
}

/// Where the SSL_free probe goes (`OpenSSLFamily.freeSite`).
struct OpenSSLFreeSiteTests {
    static func site(_ bytes: [UInt8], entry: UInt64 = 0x3b350) -> (offset: UInt64, instruction: ProbeInstruction?) {
        let padded = bytes + [UInt8](repeating: 0x90, count: 32)
        return padded.withUnsafeBytes { raw in OpenSSLFamily.freeSite(entry: entry) { $0 == entry ? raw : nil } }
    }

    @Test func afterTheNullCheckOnDebiansOpenSSL() {
        // Debian's OpenSSL 3.0: test %rdi,%rdi; je rel32; push %r13.
        let s = Self.site([0x48, 0x85, 0xFF, 0x0F, 0x84, 0x97, 0x03, 0x00, 0x00, 0x41, 0x55, 0xB8])
        #expect(s.offset == 0x3b350 + 9 && s.instruction?.cost.isCheap == true && s.instruction?.text.contains("push") == true)
        #expect(Self.site([0x48, 0x85, 0xFF, 0x74, 0x10, 0x55]).offset == 0x3b350 + 5, "je rel8")
    }

    @Test func entryOtherwise() {
        #expect(Self.site([0x55, 0x48, 0x89, 0xE5]).offset == 0x3b350, "push %rbp at the entry: already emulated")
        #expect(Self.site([0x48, 0x85, 0xFF, 0x75, 0x10, 0x55]).offset == 0x3b350, "jne: the probed path would be NULL")
        #expect(Self.site([0x48, 0x85, 0xF6, 0x74, 0x10, 0x55]).offset == 0x3b350, "tests another register")
        #expect(Self.site([0x48, 0x85, 0xFF, 0x74, 0x10, 0x48, 0x8B, 0x07]).offset == 0x3b350, "next one single-stepped too")
    }
}
