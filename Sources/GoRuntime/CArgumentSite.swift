/// Where a C function's entry probe can sit cheaply: the entry itself when its
/// first instruction is emulated, else the first emulated instruction of its
/// straight-line start, provided nothing before it writes the argument
/// registers the probe reads and no branch of the function lands between the
/// entry and it (then every call passes it exactly once, with its arguments).
///
/// Why: libpq 15's `PQsendQuery` is `mov $1,%edx; jmp PQsendQueryInternal`:
/// its entry would be single-stepped (~25 µs under KVM), the `jmp` after it is
/// emulated and sees RDI and RSI as the caller passed them.
public struct CArgumentSite: Sendable, Hashable {
    /// Bytes from the entry to the site.
    public let index: Int
    public let instruction: ProbeInstruction

    /// - Parameters:
    ///   - code: the function's bytes from its entry; `count` of them are its body
    ///     (the symbol size), searched for branches into the skipped instructions.
    ///   - startOffset: the entry's file offset (page position of 5-byte NOPs).
    ///   - preserving: registers (0 = RAX … 15 = R15, `ForwardedCall.rdi` …) the probe reads.
    /// - Returns: nil when neither the entry nor a later instruction qualifies
    ///   within `maxInstructions` (the caller then probes the entry, single-stepped).
    public static func find(code: UnsafeRawBufferPointer, startOffset: UInt64, preserving: [Int],
                            maxInstructions: Int = 6, kernel: KernelRelease? = nil) -> CArgumentSite? {
        var i = 0
        for _ in 0..<maxInstructions {
            guard let insn = ProbeInstruction(code: code, at: i, fileOffset: startOffset + UInt64(i), kernel: kernel) else { return nil }
            if insn.cost.isCheap {
                guard i == 0 || !hasBranch(into: 1...i, code: code) else { return nil }
                return CArgumentSite(index: i, instruction: insn)
            }
            guard let f = X86Fields(insn.bytes), let written = registersWritten(f),
                  written.isDisjoint(with: preserving) else { return nil }
            i += insn.length
        }
        return nil
    }

    /// Whether a direct branch anywhere in `code` targets an index in `range`;
    /// also true when the linear walk loses sync (then nothing is proven).
    static func hasBranch(into range: ClosedRange<Int>, code: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        while i < code.count {
            guard let insn = X86Decoder.decode(code, at: i) else { return true }
            if let target = insn.branchTarget(from: i), target >= Int64(range.lowerBound), target <= Int64(range.upperBound) { return true }
            i += insn.length
        }
        return false
    }
}

/// The memory operand of one decoded instruction, for reading a struct field
/// offset out of a small accessor function (`mov 0x28(%rdi),%eax; ret`).
public struct X86MemoryAccess: Sendable, Hashable {
    /// Bytes from the start of the decoded buffer to the instruction.
    public let index: Int
    /// 0: one-byte opcode map; 1: `0F`.
    public let map: Int
    public let opcode: UInt8
    public let rexW: Bool
    /// ModRM.reg with REX.R: the register operand or opcode extension.
    public let reg: Int
    /// The base register (0 = RAX … 15 = R15); nil for RIP-relative or absolute.
    public let base: Int?
    /// Whether a SIB index register takes part.
    public let hasIndex: Bool
    public let displacement: Int64

    /// The instructions of `code` from its start (at most `maxInstructions`,
    /// walking straight through branches) that have a memory ModRM operand.
    public static func scan(_ code: UnsafeRawBufferPointer, maxInstructions: Int = 32) -> [X86MemoryAccess] {
        var out: [X86MemoryAccess] = []
        var i = 0
        for _ in 0..<maxInstructions {
            guard let insn = X86Decoder.decode(code, at: i), let f = X86Fields(Array(code[i ..< i + insn.length])) else { break }
            if let a = access(f, index: i) { out.append(a) }
            i += insn.length
        }
        return out
    }

    /// A register operand `op $imm8,%reg` (`83 /n ib`) at the same walk: (index, extension, register, immediate).
    public static func immediates(_ code: UnsafeRawBufferPointer, maxInstructions: Int = 32) -> [(index: Int, ext: Int, register: Int, value: Int64)] {
        var out: [(Int, Int, Int, Int64)] = []
        var i = 0
        for _ in 0..<maxInstructions {
            guard let insn = X86Decoder.decode(code, at: i), let f = X86Fields(Array(code[i ..< i + insn.length])) else { break }
            if f.map == 0, f.opcode == 0x83, let m = f.modRM, m >> 6 == 3 {
                out.append((i, Int((m >> 3) & 7), Int(m & 7) + (f.rexB ? 8 : 0), f.signed(at: f.bytes.count - 1, size: 1)))
            }
            i += insn.length
        }
        return out
    }

    private static func access(_ f: X86Fields, index: Int) -> X86MemoryAccess? {
        guard !f.isVectorEncoded, f.map <= 1, let m = f.modRM else { return nil }
        let mod = m >> 6
        guard mod != 3 else { return nil }
        let reg = Int((m >> 3) & 7) + (f.rexR ? 8 : 0)
        var at = f.afterOpcode + 1
        var base: Int? = Int(m & 7) + (f.rexB ? 8 : 0)
        var hasIndex = false
        if m & 7 == 4 {
            guard at < f.bytes.count else { return nil }
            let sib = f.bytes[at]
            at += 1
            hasIndex = (sib >> 3) & 7 != 4 || f.rexX
            base = Int(sib & 7) + (f.rexB ? 8 : 0)
            if mod == 0 && sib & 7 == 5 { base = nil; return nil }
        } else if mod == 0 && m & 7 == 5 {
            return nil // RIP-relative
        }
        let size = mod == 1 ? 1 : (mod == 2 ? 4 : 0)
        guard at + size <= f.bytes.count else { return nil }
        let disp = size == 0 ? 0 : f.signed(at: at, size: size)
        return X86MemoryAccess(index: index, map: f.map, opcode: f.opcode, rexW: f.rexW, reg: reg, base: base,
                               hasIndex: hasIndex, displacement: disp)
    }
}
