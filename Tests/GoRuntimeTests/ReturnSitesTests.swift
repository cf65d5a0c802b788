import Foundation
import Testing
@testable import GoRuntime
import Symbols

/// One hand-assembled instruction. `objdump` is what
/// `objdump -D -b binary -mi386:x86-64 --no-show-raw-insn` (binutils 2.40) prints for it;
/// `objdumpAgreesWithHandAssembledLengths` re-checks every length against objdump.
struct X86Case: Sendable, CustomStringConvertible {
    var bytes: [UInt8]
    var isReturn: Bool = false
    var objdump: String

    var description: String { objdump + " [" + bytes.map { String(format: "%02x", $0) }.joined(separator: " ") + "]" }
}

let x86Cases: [X86Case] = [
    // VEX (AVX/AVX2)
    X86Case(bytes: [0xc5, 0xfd, 0x6f, 0x06], objdump: "vmovdqa (%rsi),%ymm0"),
    X86Case(bytes: [0xc4, 0xe2, 0x7d, 0x58, 0xc0], objdump: "vpbroadcastd %xmm0,%ymm0"),
    X86Case(bytes: [0xc4, 0xe3, 0x7d, 0x39, 0xc1, 0x01], objdump: "vextracti128 $0x1,%ymm0,%xmm1"),
    X86Case(bytes: [0xc5, 0xf8, 0x77], objdump: "vzeroupper"),
    X86Case(bytes: [0xc5, 0xf9, 0x70, 0xc1, 0x1b], objdump: "vpshufd $0x1b,%xmm1,%xmm0"),
    X86Case(bytes: [0xc4, 0xe3, 0x79, 0x4a, 0xc2, 0x30], objdump: "vblendvps %xmm3,%xmm2,%xmm0,%xmm0"),
    X86Case(bytes: [0xc4, 0xe3, 0xfb, 0xf0, 0xc1, 0x05], objdump: "rorx $0x5,%rcx,%rax"),
    // EVEX (AVX-512); disp8 is scaled (0x40) but still one byte
    X86Case(bytes: [0x62, 0xf1, 0x7c, 0x48, 0x10, 0x06], objdump: "vmovups (%rsi),%zmm0"),
    X86Case(bytes: [0x62, 0xf1, 0x7c, 0x48, 0x10, 0x46, 0x01], objdump: "vmovups 0x40(%rsi),%zmm0"),
    X86Case(bytes: [0x62, 0xf3, 0x7d, 0x48, 0x39, 0xc1, 0x01], objdump: "vextracti32x4 $0x1,%zmm0,%xmm1"),
    X86Case(bytes: [0x62, 0xf1, 0xfd, 0x48, 0x7f, 0x84, 0x24, 0xc3, 0x00, 0x00, 0x00], objdump: "vmovdqa64 %zmm0,0xc3(%rsp)"),
    // SSE with mandatory 66/F2/F3 prefixes
    X86Case(bytes: [0x66, 0x0f, 0x6f, 0x06], objdump: "movdqa (%rsi),%xmm0"),
    X86Case(bytes: [0xf2, 0x0f, 0x10, 0x05, 0xc3, 0x00, 0x00, 0x00], objdump: "movsd 0xc3(%rip),%xmm0"),
    X86Case(bytes: [0xf3, 0x0f, 0x6f, 0x0e], objdump: "movdqu (%rsi),%xmm1"),
    X86Case(bytes: [0x66, 0x0f, 0x70, 0xc1, 0x1b], objdump: "pshufd $0x1b,%xmm1,%xmm0"),
    X86Case(bytes: [0xf3, 0x48, 0x0f, 0xb8, 0xc1], objdump: "popcnt %rcx,%rax"),
    X86Case(bytes: [0xf3, 0x0f, 0x1e, 0xfa], objdump: "endbr64"),
    // 0F 38 / 0F 3A maps
    X86Case(bytes: [0x66, 0x0f, 0x38, 0x00, 0xc1], objdump: "pshufb %xmm1,%xmm0"),
    X86Case(bytes: [0xf2, 0x48, 0x0f, 0x38, 0xf1, 0xc1], objdump: "crc32 %rcx,%rax"),
    X86Case(bytes: [0x66, 0x0f, 0x3a, 0x0f, 0xc1, 0x08], objdump: "palignr $0x8,%xmm1,%xmm0"),
    X86Case(bytes: [0x66, 0x0f, 0x3a, 0x63, 0x0c, 0x24, 0x0c], objdump: "pcmpistri $0xc,(%rsp),%xmm1"),
    // immediates: a C3 inside must not count as RET
    X86Case(bytes: [0x48, 0xb8, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3], objdump: "movabs $0xc3c3c3c3c3c3c3c3,%rax"),
    X86Case(bytes: [0x66, 0xb8, 0xc3, 0x00], objdump: "mov $0xc3,%ax"),
    X86Case(bytes: [0xf7, 0xc0, 0xc3, 0x00, 0x00, 0x00], objdump: "test $0xc3,%eax"),
    X86Case(bytes: [0x66, 0xf7, 0xc0, 0xc3, 0x00], objdump: "test $0xc3,%ax"),
    X86Case(bytes: [0x48, 0xf7, 0xc1, 0xc3, 0x00, 0x00, 0x00], objdump: "test $0xc3,%rcx"),
    X86Case(bytes: [0xf6, 0xc1, 0xc3], objdump: "test $0xc3,%cl"),
    X86Case(bytes: [0xf7, 0xd0], objdump: "not %eax"),
    X86Case(bytes: [0x66, 0x68, 0xc3, 0x00], objdump: "pushw $0xc3"),
    X86Case(bytes: [0x69, 0xc0, 0xc3, 0x00, 0x00, 0x00], objdump: "imul $0xc3,%eax,%eax"),
    X86Case(bytes: [0xc6, 0x44, 0x24, 0x08, 0xc3], objdump: "movb $0xc3,0x8(%rsp)"),
    X86Case(bytes: [0x66, 0xc7, 0x44, 0x24, 0x08, 0xc3, 0x00], objdump: "movw $0xc3,0x8(%rsp)"),
    X86Case(bytes: [0x48, 0xc7, 0x44, 0x24, 0x08, 0xc3, 0x00, 0x00, 0x00], objdump: "movq $0xc3,0x8(%rsp)"),
    X86Case(bytes: [0x48, 0x83, 0xec, 0xc3], objdump: "sub $0xffffffffffffffc3,%rsp"),
    X86Case(bytes: [0x48, 0x81, 0xec, 0xc3, 0x00, 0x00, 0x00], objdump: "sub $0xc3,%rsp"),
    X86Case(bytes: [0xc8, 0x10, 0x00, 0x00], objdump: "enter $0x10,$0x0"),
    X86Case(bytes: [0x0f, 0xba, 0xe0, 0x03], objdump: "bt $0x3,%eax"),
    X86Case(bytes: [0x48, 0x0f, 0xa4, 0xc2, 0x03], objdump: "shld $0x3,%rax,%rdx"),
    // displacements: a C3 inside must not count as RET
    X86Case(bytes: [0x48, 0x8b, 0x80, 0xc3, 0x00, 0x00, 0x00], objdump: "mov 0xc3(%rax),%rax"),
    X86Case(bytes: [0x8b, 0x44, 0x24, 0xc3], objdump: "mov -0x3d(%rsp),%eax"),
    X86Case(bytes: [0x48, 0x8d, 0x05, 0xc3, 0x00, 0x00, 0x00], objdump: "lea 0xc3(%rip),%rax"),
    X86Case(bytes: [0x8b, 0x04, 0x25, 0xc3, 0x00, 0x00, 0x00], objdump: "mov 0xc3,%eax"),
    X86Case(bytes: [0x64, 0x48, 0x8b, 0x04, 0x25, 0xf8, 0xff, 0xff, 0xff], objdump: "mov %fs:0xfffffffffffffff8,%rax"),
    X86Case(bytes: [0x48, 0xa1, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3], objdump: "movabs 0xc3c3c3c3c3c3c3c3,%rax"),
    X86Case(bytes: [0x67, 0xa1, 0xc3, 0x00, 0x00, 0x00], objdump: "addr32 mov 0xc3,%eax"),
    X86Case(bytes: [0xf0, 0x48, 0x0f, 0xb1, 0x0a], objdump: "lock cmpxchg %rcx,(%rdx)"),
    // branches and system
    X86Case(bytes: [0x0f, 0x84, 0xc3, 0x00, 0x00, 0x00], objdump: "je rel32"),
    X86Case(bytes: [0xe8, 0xc3, 0x00, 0x00, 0x00], objdump: "call rel32"),
    X86Case(bytes: [0x0f, 0x0b], objdump: "ud2"),
    X86Case(bytes: [0x0f, 0x05], objdump: "syscall"),
    // NOP forms and padding
    X86Case(bytes: [0x0f, 0x1f, 0x00], objdump: "nopl (%rax)"),
    X86Case(bytes: [0x0f, 0x1f, 0x44, 0x00, 0x00], objdump: "nopl 0x0(%rax,%rax,1)"),
    X86Case(bytes: [0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00], objdump: "nopw 0x0(%rax,%rax,1)"),
    X86Case(bytes: [0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00], objdump: "cs nopw 0x0(%rax,%rax,1)"),
    X86Case(bytes: [0xcc], objdump: "int3"),
    // returns
    X86Case(bytes: [0xc3], isReturn: true, objdump: "ret"),
    X86Case(bytes: [0x66, 0xc3], isReturn: true, objdump: "retw"),
    X86Case(bytes: [0xf3, 0xc3], isReturn: true, objdump: "repz ret"),
    X86Case(bytes: [0xf2, 0xc3], isReturn: true, objdump: "bnd ret"),
    X86Case(bytes: [0x48, 0xc3], isReturn: true, objdump: "rex.W ret"),
    X86Case(bytes: [0xc2, 0x08, 0x00], isReturn: true, objdump: "ret $0x8"),
    X86Case(bytes: [0xcb], objdump: "lret"),
]

@Test(arguments: x86Cases)
func decodesHandAssembledInstruction(_ c: X86Case) {
    let insn = X86Decoder.decode(c.bytes, at: 0)
    #expect(insn?.length == c.bytes.count)
    #expect(insn?.isReturn == c.isReturn)
    // Every proper prefix is a truncated instruction, never a shorter valid one read past.
    for n in 1..<c.bytes.count {
        #expect(X86Decoder.decode(Array(c.bytes[..<n]), at: 0) == nil, "truncated to \(n) bytes")
    }
}

@Test func rejectsInvalidAndTruncated() {
    #expect(X86Decoder.decode([0x06], at: 0) == nil)                          // PUSH ES: invalid in 64-bit mode
    #expect(X86Decoder.decode([0x0f, 0x0f, 0xc1, 0xb4], at: 0) == nil)        // 3DNow! PFADD
    #expect(X86Decoder.decode([0xff, 0xff], at: 0) == nil)                    // FF /7
    #expect(X86Decoder.decode([0x48, 0xb8, 0x00], at: 0) == nil)              // imm64 cut short
    #expect(X86Decoder.decode([UInt8](repeating: 0x66, count: 15) + [0x90], at: 0) == nil)  // 16 bytes
    #expect(X86Decoder.decode([UInt8](repeating: 0x66, count: 14) + [0x90], at: 0)?.length == 15)
    #expect(X86Decoder.decode([], at: 0) == nil)
    #expect(X86Decoder.decode([0x90], at: 1) == nil)
    #expect(X86Decoder.decode([0x90], at: -1) == nil)
}

@Test func findsReturnsInAFunctionBody() throws {
    let body: [UInt8] = [
        0x48, 0xb8, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3, // 0:  movabs $0xc3c3..., %rax
        0x74, 0x01,                                                 // 10: je +1
        0xc3,                                                       // 12: ret
        0x48, 0x8b, 0x80, 0xc3, 0x00, 0x00, 0x00,                   // 13: mov 0xc3(%rax),%rax
        0xc2, 0x08, 0x00,                                           // 20: ret $0x8
        0xf7, 0xc0, 0xc3, 0x00, 0x00, 0x00,                         // 23: test $0xc3,%eax
        0xf3, 0xc3,                                                 // 29: repz ret
        0xcc, 0xcc, 0xcc,                                           // 31: int3 padding
    ]
    let sites = try body.withUnsafeBytes { try returnSites(code: $0, startOffset: 0x1000) }
    #expect(sites == [0x100c, 0x1014, 0x101d])
}

@Test func reportsBranchDisplacements() {
    #expect(X86Decoder.decode([0xeb, 0xfe], at: 0)?.branchDisplacement == -2)                          // jmp .
    #expect(X86Decoder.decode([0x74, 0x01], at: 0)?.branchTarget(from: 10) == 13)                       // je +1
    #expect(X86Decoder.decode([0xe8, 0xc3, 0x00, 0x00, 0x00], at: 0)?.branchDisplacement == 0xc3)       // call
    #expect(X86Decoder.decode([0x0f, 0x84, 0xfa, 0xff, 0xff, 0xff], at: 0)?.branchDisplacement == -6)   // je .
    #expect(X86Decoder.decode([0x66, 0xe9, 0x10, 0x00], at: 0)?.branchDisplacement == 0x10)             // jmpw (AMD64 / objdump)
    #expect(X86Decoder.decode([0xc3], at: 0)?.branchDisplacement == nil)
    #expect(X86Decoder.decode([0xff, 0xe0], at: 0)?.branchDisplacement == nil)                          // jmp *%rax
}

@Test func refusesASweepThatLostSync() {
    // crypto/internal/boring/sig.StandardCrypto (Go 1.19 sig_amd64.s): a JMP over
    // 29 marker bytes to the one RET. A linear sweep swallows that C3 into
    // `mov -0x3cd00e26(%rax),%es` (objdump does the same); the JMP target exposes it.
    let marker: [UInt8] = [0xeb, 0x1d, 0xf4, 0x48, 0xf4, 0x4b, 0xf4,
                           0xba, 0xee, 0x4d, 0xfa, 0x98, 0x51, 0xca, 0x56, 0xa9, 0x11, 0x45, 0xe8, 0x3e, 0x99,
                           0xc5, 0x9c, 0xf9, 0x11, 0xcb, 0x8e, 0x80, 0xda, 0xf1, 0x2f, 0xc3]
    #expect(throws: GoRuntimeError.decodeFailed(path: "p", function: "f", offset: 0x101f)) {
        try marker.withUnsafeBytes { try returnSites(code: $0, startOffset: 0x1000, path: "p", function: "f") }
    }
}

@Test func reportsTheFileOffsetOfAnOverrun() {
    // A function that ends in the middle of `mov $imm32, %eax`.
    let body: [UInt8] = [0x90, 0xc3, 0xb8, 0x01, 0x02]
    #expect(throws: GoRuntimeError.decodeFailed(path: "p", function: "f", offset: 0x2002)) {
        try body.withUnsafeBytes { try returnSites(code: $0, startOffset: 0x2000, path: "p", function: "f") }
    }
}

@Test func findsArm64Returns() throws {
    let words: [UInt32] = [
        0xA9BF7BFD, // stp x29, x30, [sp, #-16]!
        0xD65F03C0, // ret
        0xD65F0200, // ret x16
        0xD61F0200, // br x16: not a return
        0xD63F0200, // blr x16: not a return
        0xD65F0BFF, // retaa: not matched (Go does not emit it)
        0xD65F03C0, // ret
    ]
    let bytes = words.flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> (8 * $0)) } }
    let sites = try bytes.withUnsafeBytes { try returnSites(code: $0, startOffset: 0x10000, instructionSet: .arm64) }
    #expect(sites == [0x10004, 0x10008, 0x10018])
    #expect(throws: GoRuntimeError.self) {
        try bytes.dropLast().withUnsafeBytes { try returnSites(code: $0, startOffset: 0, instructionSet: .arm64) }
    }
}

// MARK: - Against objdump

let objdumpPath = "/usr/bin/objdump"

/// Runs a program and returns its standard output.
func run(_ path: String, _ arguments: [String]) throws -> [UInt8] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = arguments
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "\(path) exited \(p.terminationStatus)"])
    }
    return [UInt8](data)
}

/// Instruction addresses and RET addresses from `objdump --no-show-raw-insn` output:
/// lines `  401000:\tmnemonic operands`. Parsed as bytes: the Go binary prints ~1M lines.
struct ObjdumpListing {
    var instructions: [UInt64] = []
    var returns: [UInt64] = []

    init(_ text: [UInt8]) {
        // Unsafe pointers: the debug build checks every Array subscript, and this
        // loop sees 20 MB for the Go binary.
        text.withUnsafeBufferPointer { t in
            var i = 0
            while i < t.count {
                var end = i
                while end < t.count && t[end] != 0x0A { end += 1 }
                parseLine(t, i, end)
                i = end + 1
            }
        }
        instructions.sort()
        returns.sort()
    }

    private mutating func parseLine(_ t: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) {
        var i = start
        while i < end && t[i] == 0x20 { i += 1 }
        guard i > start else { return }  // symbol headers start in column 0
        var addr: UInt64 = 0
        var digits = 0
        while i < end, let d = hexValue(t[i]) { addr = addr << 4 | UInt64(d); i += 1; digits += 1 }
        guard digits > 0, i + 1 < end, t[i] == 0x3A, t[i + 1] == 0x09 else { return }
        instructions.append(addr)
        // A near return: a mnemonic token ret/retq/retw/retl, after optional prefixes
        // ("repz ret", "bnd ret", "rex.W ret", "ret $0x8"). Not lret, iretq, sysret.
        var j = i + 2
        while j < end {
            while j < end && t[j] == 0x20 { j += 1 }
            let s = j
            var operand = false
            while j < end && t[j] != 0x20 {
                if t[j] == 0x24 || t[j] == 0x25 || t[j] == 0x3C || t[j] == 0x2C { operand = true }  // $ % < ,
                j += 1
            }
            if operand { return }
            let len = j - s
            if (len == 3 || len == 4) && t[s] == 0x72 && t[s + 1] == 0x65 && t[s + 2] == 0x74
                && (len == 3 || t[s + 3] == 0x71 || t[s + 3] == 0x77 || t[s + 3] == 0x6C) {  // ret, retq/w/l
                returns.append(addr)
                return
            }
        }
    }

    private func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }

    /// The sorted elements of `a` in `lo ..< hi`.
    static func slice(_ a: [UInt64], _ lo: UInt64, _ hi: UInt64) -> ArraySlice<UInt64> {
        func lowerBound(_ x: UInt64) -> Int {
            var l = 0, h = a.count
            while l < h { let m = (l + h) / 2; if a[m] < x { l = m + 1 } else { h = m } }
            return l
        }
        return a[lowerBound(lo)..<lowerBound(hi)]
    }
}

@Test func objdumpAgreesWithHandAssembledLengths() throws {
    guard FileManager.default.isExecutableFile(atPath: objdumpPath) else {
        try requireOrSkip("\(objdumpPath) not found (install binutils)")
        return
    }
    let blob = x86Cases.flatMap(\.bytes)
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("x86cases-\(getpid()).bin")
    try Data(blob).write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    let listing = ObjdumpListing(try run(objdumpPath, ["-D", "-b", "binary", "-mi386:x86-64", "--no-show-raw-insn", file.path]))
    var expected: [UInt64] = []
    var returns: [UInt64] = []
    var offset: UInt64 = 0
    for c in x86Cases {
        expected.append(offset)
        if c.isReturn { returns.append(offset) }
        offset += UInt64(c.bytes.count)
    }
    #expect(listing.instructions == expected)
    #expect(listing.returns == returns)
}

/// Fails under CI=true, otherwise prints why the test did nothing.
func requireOrSkip(_ reason: String) throws {
    if ProcessInfo.processInfo.environment["CI"] == "true" {
        Issue.record("required in CI: \(reason)")
    } else {
        print("skipped: \(reason)")
    }
}

/// `testdata/bin/NAME`, built by `testdata/build.sh` when missing.
func fixture(_ name: String) throws -> String? {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let path = root.appendingPathComponent("testdata/bin/\(name)").path
    if !FileManager.default.fileExists(atPath: path) {
        _ = try? run("/bin/bash", [root.appendingPathComponent("testdata/build.sh").path])
    }
    guard FileManager.default.fileExists(atPath: path) else {
        try requireOrSkip("\(path) is missing and testdata/build.sh could not build it (needs Go)")
        return nil
    }
    return path
}

/// Decodes every function of `path` and compares each RET and each instruction
/// boundary with objdump's linear sweep, which restarts at every symbol.
/// `dataInCode` names the functions known to hold non-instruction bytes, which
/// `returnSites` must refuse (and only those).
func compareWithObjdump(_ path: String, table: Symbol.Table, dataInCode: (String) -> Bool = { _ in false }) throws {
    guard FileManager.default.isExecutableFile(atPath: objdumpPath) else {
        try requireOrSkip("\(objdumpPath) not found (install binutils)")
        return
    }
    let elf = try ELFFile(path: path)
    var seen = Set<UInt64>()
    let functions = try elf.symbols()
        .filter { $0.table == table && $0.isFunction && $0.isDefined && $0.size > 0 }
        .filter { seen.insert($0.value).inserted }  // aliases share an address
        .sorted { $0.value < $1.value }
    let listing = ObjdumpListing(try run(objdumpPath, ["-d", "--no-show-raw-insn", path]))

    var rets = 0, instructions = 0, mismatches: [String] = [], refused: [String] = []
    var decodeTime = Duration.zero
    let clock = ContinuousClock()
    for f in functions {
        guard let code = elf.bytes(atVirtualAddress: f.value, count: f.size),
              let offset = elf.fileOffset(forVirtualAddress: f.value) else {
            mismatches.append("\(f.name): not file-backed"); continue
        }
        // The walk itself, timed alone: what the tracer pays.
        var ours: [UInt64] = []
        let t0 = clock.now
        do {
            ours = try returnSites(code: code, startOffset: offset, path: path, function: f.name)
            decodeTime += clock.now - t0
        } catch .decodeFailed(_, _, let at) {
            decodeTime += clock.now - t0
            // Refusing is right only where the bytes are not plain code: then
            // objdump's sweep must have lost sync there too.
            let vaddr = at - offset + f.value
            if dataInCode(f.name) && ObjdumpListing.slice(listing.instructions, vaddr, vaddr + 1).isEmpty {
                refused.append(f.name)
            } else {
                mismatches.append("\(f.name): we refused at 0x\(String(vaddr, radix: 16)) (objdump: \(ObjdumpListing.slice(listing.instructions, vaddr, vaddr + 1).isEmpty ? "mid-instruction" : "an instruction"))")
            }
            continue
        } catch {
            mismatches.append("\(error)"); continue
        }
        // Instruction boundaries: catches a length error even where it resyncs before a RET.
        var starts: [UInt64] = []
        var i = 0
        while i < code.count, let insn = X86Decoder.decode(code, at: i) { starts.append(f.value + UInt64(i)); i += insn.length }
        #expect(i == code.count, "\(f.name): walk ended at +\(i) of \(code.count)")

        let theirs = ObjdumpListing.slice(listing.returns, f.value, f.value + f.size).map { $0 - f.value + offset }
        let theirStarts = ObjdumpListing.slice(listing.instructions, f.value, f.value + f.size)
        if ours != theirs {
            mismatches.append("\(f.name): RETs ours \(ours.map { String($0, radix: 16) }) objdump \(theirs.map { String($0, radix: 16) })")
        } else if !starts.elementsEqual(theirStarts) {
            let firstDiff = zip(starts, theirStarts).first { $0 != $1 }.map { String($0.0, radix: 16) } ?? "end"
            mismatches.append("\(f.name): instruction boundaries differ at 0x\(firstDiff)")
        }
        rets += ours.count
        instructions += starts.count
    }
    print("\(path): compared \(functions.count - refused.count) functions, \(rets) RETs, \(instructions) instructions with objdump; RET walk over \(functions.count) functions took \(decodeTime)")
    if !refused.isEmpty { print("  refused (not plain code; objdump lost sync there too): \(refused.joined(separator: ", "))") }
    for m in mismatches.prefix(20) { print("  mismatch: \(m)") }
    #expect(mismatches.isEmpty, "\(mismatches.count) functions differ from objdump, first: \(mismatches.first ?? "")")
    #expect(functions.count > 100)
}

@Test func goServerReturnSitesMatchObjdump() throws {
    guard let path = try fixture("go-server") else { return }
    try compareWithObjdump(path, table: .symtab, dataInCode: isGoMarker)
}

/// Go 1.19 `crypto/internal/boring/sig/sig_amd64.s`: functions that are a JMP over
/// magic `BYTE`s to a RET, so tools can tell which crypto a binary links.
func isGoMarker(_ name: String) -> Bool {
    name.hasPrefix("crypto/internal/boring/sig.")
}

@Test func goClientReturnSitesMatchObjdump() throws {
    guard let path = try fixture("go-client") else { return }
    try compareWithObjdump(path, table: .symtab, dataInCode: isGoMarker)
}

@Test func goServerPIEReturnSitesMatchObjdump() throws {
    guard let path = try fixture("go-server-pie") else { return }
    try compareWithObjdump(path, table: .symtab, dataInCode: isGoMarker)
}

@Test func returnSitesOfALoadedGoFunction() throws {
    guard let path = try fixture("go-server") else { return }
    let elf = try ELFFile(path: path)
    let main = try #require(try elf.lookup("main.main").first)
    let sites = try returnSites(in: elf, function: main.value, end: main.value + main.size, name: "main.main")
    let start = try #require(elf.fileOffset(forVirtualAddress: main.value))
    #expect(!sites.isEmpty)
    #expect(sites.allSatisfy { $0 >= start && $0 < start + main.size })
    #expect(throws: GoRuntimeError.self) {
        try returnSites(in: elf, function: main.value, end: main.value, name: "main.main")
    }
}

@Test func libcReturnSitesMatchObjdump() throws {
    let path = "/lib/x86_64-linux-gnu/libc.so.6"
    guard FileManager.default.fileExists(atPath: path) else {
        print("skipped: \(path) not found")
        return
    }
    try compareWithObjdump(path, table: .dynsym)
}

/// The x86 fuzz seeds (whole Go functions) and any input the fuzzer once
/// crashed on (testdata/fuzz/x86-regressions): decoding never traps, and every
/// reported site is a RET. The seeds, being real functions, decode to the end.
@Test func x86FuzzCorpus() throws {
    let fuzz = GoFixtures.testdata.appendingPathComponent("fuzz")
    let seeds = try FileManager.default.contentsOfDirectory(atPath: fuzz.appendingPathComponent("x86").path)
    let found = (try? FileManager.default.contentsOfDirectory(atPath: fuzz.appendingPathComponent("x86-regressions").path)) ?? []
    #expect(!seeds.isEmpty)
    for (dir, name) in seeds.map({ ("x86", $0) }) + found.map({ ("x86-regressions", $0) }) {
        let code = [UInt8](try Data(contentsOf: fuzz.appendingPathComponent(dir).appendingPathComponent(name)))
        let sites = code.withUnsafeBytes { try? returnSites(code: $0, startOffset: 0) }
        if dir == "x86" { #expect(sites != nil, "\(name): a whole Go function decodes to its end") }
        for s in sites ?? [] { #expect(X86Decoder.decode(code, at: Int(s))?.isReturn == true, "\(name) at \(s)") }
    }
}
