#if canImport(Glibc)
import Glibc
#endif

/// What one uprobe hit costs, by how the kernel gets past the probed instruction
/// after the INT3 it wrote there (arch/x86/kernel/uprobes.c).
///
/// Under KVM the difference is large (DESIGN.md, Cost model): the single-step
/// trap is a VM exit, so a hit on a `singleStepped` site costs 20–30 µs while an
/// `emulated` one costs under 1 µs.
public enum UprobeCost: String, Sendable, Hashable, CaseIterable {
    /// `arch_uprobe_analyze_insn` installs emulation ops (`branch_xol_ops`,
    /// `push_xol_ops`): the INT3 handler updates the registers and returns. One trap.
    case emulated
    /// A 5-byte NOP on Linux ≥ 6.18: emulated on the first hit, then rewritten into a
    /// `call` to the uprobe trampoline, which enters the kernel by syscall. No trap at all.
    case optimized
    /// Copied to the XOL page and single-stepped with TF: INT3, then a #DB trap.
    case singleStepped = "single-stepped"
    /// The kernel refuses to place a uprobe here (`uprobe_init_insn` rejects the
    /// opcode or a prefix): attaching fails with ENOTSUPP.
    case rejected

    /// Whether a hit avoids the single-step trap.
    public var isCheap: Bool { self == .emulated || self == .optimized }
}

/// A Linux release as far as uprobe instruction handling changed with it.
public struct KernelRelease: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int

    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// Parses `uname -r` text such as `6.18.44-fc-v1147`; nil if it does not start with `N.M`.
    public init?(_ release: String) {
        let parts = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        guard parts.count == 2, release.first?.isNumber == true else { return nil }
        self.init(major: parts[0], minor: parts[1])
    }

    /// The kernel this process runs on (uname(2)); nil if its release does not parse.
    public static var running: KernelRelease? {
        var u = utsname()
        guard uname(&u) == 0 else { return nil }
        let release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return KernelRelease(release)
    }

    /// The newest rules this code knows: classification for later kernels uses these.
    public static let newestKnown = KernelRelease(major: 6, minor: 19)

    public static func < (a: KernelRelease, b: KernelRelease) -> Bool {
        (a.major, a.minor) < (b.major, b.minor)
    }

    public var description: String { "\(major).\(minor)" }
}

/// The instruction at a probe site, and what a uprobe hit there costs.
///
/// The rules follow arch/x86/kernel/uprobes.c (our reading of it; we share no code):
/// - `branch_setup_xol_ops` emulates `jmp rel8/rel32` (EB, E9), `call rel32` (E8),
///   `jcc rel8/rel32` (70–7F, 0F 80–8F), and NOPs; a branch with a `66` prefix is
///   refused outright.
/// - `push_setup_xol_ops` emulates `push reg` (50–57), alone or with exactly the REX
///   prefix `41` (`push %r8`…`%r15`); `48 55` or `66 55` are single-stepped.
/// - NOPs: `90` with any prefixes before 6.19 (so `pause` and even `41 90`, which is
///   `xchg %eax,%r8d`, count as NOPs there); from 6.16 also the kernel's own
///   multi-byte NOPs (`x86_nops[len]`, `0F 1F ...` up to 8 bytes, byte for byte);
///   from 6.19 `insn_is_nop`: `90` without REX.B or F3, any `0F 1F /0`,
///   `mov %reg,%reg`, `lea 0(%reg),%reg`, `jmp .+0`.
/// - From 6.18 a 5-byte NOP (`90` or `0F 1F /0` form) that does not cross a page is
///   optimised into a call to a trampoline after its first hit.
/// - `uprobe_init_insn` refuses the `26 2E 36 3E` segment and `F0` lock prefixes and
///   opcodes its good-instruction table marks invalid in user space (`int3`, `hlt`,
///   `in`/`out`, `cli`, ...); VEX/EVEX forms are looked up by their opcode byte.
/// - Everything else (cmp, mov, lea, sub, add, xor, pop, endbr64, ret, indirect
///   branches, ...) is single-stepped out of line.
public struct ProbeInstruction: Sendable, Hashable, CustomStringConvertible {
    /// The instruction's bytes.
    public let bytes: [UInt8]
    /// AT&T text such as `push %rbp` or `cmp 0x10(%r14),%rsp`; branch targets are
    /// relative to the instruction (`jbe .+0x363`).
    public let text: String
    /// How the kernel handles a uprobe here on `kernel`.
    public let cost: UprobeCost
    /// The rules `cost` was decided by.
    public let kernel: KernelRelease

    public var length: Int { bytes.count }
    public var description: String { "\(text) [\(cost.rawValue)]" }

    /// Decodes and classifies the instruction at `index` of `code`; nil when the
    /// bytes there are not a valid instruction (the uprobe would be refused too).
    ///
    /// - Parameters:
    ///   - fileOffset: the file offset of `code[index]`, when known. Only the page
    ///     offset matters (a 5-byte NOP crossing a page is not optimised); file
    ///     offset and virtual address agree modulo the page size in any ELF.
    ///   - kernel: whose rules to apply; the running kernel, else the newest known.
    public init?(code: UnsafeRawBufferPointer, at index: Int, fileOffset: UInt64? = nil,
                 kernel: KernelRelease? = nil) {
        guard let insn = X86Decoder.decode(code, at: index),
              let fields = X86Fields(Array(code[index ..< index + insn.length])) else { return nil }
        let k = kernel ?? KernelRelease.running ?? .newestKnown
        self.bytes = fields.bytes
        self.text = X86Text.text(fields)
        self.kernel = k
        self.cost = Self.classify(fields, fileOffset: fileOffset, kernel: k)
    }

    /// Convenience for literal byte sequences.
    public init?(_ bytes: [UInt8], fileOffset: UInt64? = nil, kernel: KernelRelease? = nil) {
        guard let v = bytes.withUnsafeBytes({ ProbeInstruction(code: $0, at: 0, fileOffset: fileOffset, kernel: kernel) }) else { return nil }
        self = v
    }

    // MARK: - Classification

    /// One-byte opcodes `uprobe_init_insn` refuses in 64-bit processes
    /// (zero bits of its `good_insns_64` table).
    static let invalidOneByte: Set<UInt8> = [
        0x06, 0x07, 0x0E, 0x16, 0x17, 0x1E, 0x1F, 0x27, 0x2F, 0x37, 0x3F, 0x60, 0x61, 0x62,
        0x6C, 0x6D, 0x6E, 0x6F, 0x82, 0x9A, 0xCC, 0xCD, 0xCE, 0xCF, 0xD4, 0xD5, 0xD6,
        0xE4, 0xE5, 0xE6, 0xE7, 0xEA, 0xEC, 0xED, 0xEE, 0xEF, 0xF1, 0xF4, 0xFA, 0xFB,
    ]

    /// The kernel's `x86_nops[len]` for 64-bit kernels (arch/x86/include/asm/nops.h).
    static let kernelNops: [[UInt8]] = [
        [0x90],
        [0x66, 0x90],
        [0x0F, 0x1F, 0x00],
        [0x0F, 0x1F, 0x40, 0x00],
        [0x0F, 0x1F, 0x44, 0x00, 0x00],
        [0x66, 0x0F, 0x1F, 0x44, 0x00, 0x00],
        [0x0F, 0x1F, 0x80, 0x00, 0x00, 0x00, 0x00],
        [0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
    ]

    static func classify(_ f: X86Fields, fileOffset: UInt64?, kernel k: KernelRelease) -> UprobeCost {
        if f.prefixes.contains(where: { [0x26, 0x2E, 0x36, 0x3E, 0xF0].contains($0) }) { return .rejected }
        if (f.map == 0 || f.isVectorEncoded) && invalidOneByte.contains(f.opcode) { return .rejected }
        if f.map == 0 && f.opcode == 0x8E && f.modRMReg == 2 { return .rejected }  // mov to %ss masks exceptions

        // can_optimize() is checked apart from the emulation ops: a 5-byte NOPL the
        // emulator does not take is single-stepped once, then optimised all the same.
        let crossesPage = fileOffset.map { $0 % 4096 > 4096 - 5 } ?? false
        if k >= KernelRelease(major: 6, minor: 18), f.bytes.count == 5, !crossesPage,
           k >= KernelRelease(major: 6, minor: 19) ? isNopByInsnIsNop(f) : isFiveByteNop(f) {
            return .optimized
        }
        if isNop(f, kernel: k) { return .emulated }
        if f.isVectorEncoded { return .singleStepped }
        let isBranch = (f.map == 0 && [0xEB, 0xE9, 0xE8].contains(f.opcode))
            || (f.map == 0 && (0x70...0x7F).contains(f.opcode))
            || (f.map == 1 && (0x80...0x8F).contains(f.opcode))
        if isBranch { return f.operandSize16 ? .rejected : .emulated }
        if f.map == 0 && (0x50...0x57).contains(f.opcode) {
            let onlyOpcode = f.bytes.count == 1
            let r8to15 = f.bytes.count == 2 && f.bytes[0] == 0x41
            return onlyOpcode || r8to15 ? .emulated : .singleStepped
        }
        return .singleStepped
    }

    /// Whether `branch_setup_xol_ops` takes `f` for a NOP on kernel `k`.
    static func isNop(_ f: X86Fields, kernel k: KernelRelease) -> Bool {
        if k >= KernelRelease(major: 6, minor: 19) { return isNopByInsnIsNop(f) }
        if f.map == 0 && f.opcode == 0x90 && !f.isVectorEncoded { return true }
        if k >= KernelRelease(major: 6, minor: 16), f.bytes.count <= kernelNops.count,
           f.bytes == kernelNops[f.bytes.count - 1] { return true }
        return false
    }

    /// The 6.19 `insn_is_nop` (arch/x86/lib/insn-eval.c): no false positives, so
    /// `xchg %r8,%rax` (`41 90`) and `pause` (`F3 90`) are not NOPs.
    static func isNopByInsnIsNop(_ f: X86Fields) -> Bool {
        guard !f.isVectorEncoded else { return false }
        let modrm = f.modRM ?? 0
        let mod = modrm >> 6
        let reg = Int((modrm >> 3) & 7) + (f.rexR ? 8 : 0)
        let rm = Int(modrm & 7) + (f.rexB ? 8 : 0)
        let nativeSize = f.rexW && !f.operandSize16
        switch (f.map, f.opcode) {
        case (1, 0x1F): return (modrm >> 3) & 7 == 0
        case (0, 0x90): return !f.rexB && !f.prefixes.contains(0xF3)
        case (0, 0xE9), (0, 0xEB): return f.branchDisplacement == 0
        case (0, 0x89): return mod == 3 && nativeSize && reg == rm
        case (0, 0x8D):
            guard mod == 1 || mod == 2, nativeSize, f.prefixes.allSatisfy({ $0 == 0x3E }) else { return false }
            var end = f.afterOpcode + 1
            var base = rm
            if modrm & 7 == 4 {
                let sib = f.bytes[end]
                end += 1
                let index = Int((sib >> 3) & 7) + (f.rexX ? 8 : 0)
                guard sib >> 6 == 0, index == 4 else { return false }
                base = Int(sib & 7) + (f.rexB ? 8 : 0)
            }
            return f.signed(at: end, size: mod == 1 ? 1 : 4) == 0 && base == reg
        default: return false
        }
    }

    /// `90` alone or with prefixes, or NOPL `0F 1F /0`: what the 6.18 optimiser accepts.
    static func isFiveByteNop(_ f: X86Fields) -> Bool {
        (f.map == 0 && f.opcode == 0x90) || (f.map == 1 && f.opcode == 0x1F && f.modRMReg == 0)
    }
}
