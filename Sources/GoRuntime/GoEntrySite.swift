/// Where to put the entry probe of a Go function so that a hit is cheap and
/// still means "the function was called, with these arguments".
///
/// Why not simply the first instruction: a Go function with a stack check starts
/// with `cmp 0x10(%r14),%rsp` (or `lea -N(%rsp),%r12; cmp 0x10(%r14),%r12` for a
/// big frame), which the kernel single-steps: 20–30 µs per hit under KVM. What
/// follows the check is cheaper and equivalent:
///
/// - Go ≥ 1.21: `jbe morestack; push %rbp; mov %rsp,%rbp; sub $N,%rsp`. The
///   `push %rbp` is emulated and runs exactly once per call: when the stack must
///   grow, `jbe` leaves for the morestack tail, which jumps back to the entry, and
///   only the second pass falls through to `push`. At the push every argument
///   register, R14 (g) and RSP are as they were at the entry (cmp, lea into the
///   scratch R12 and jbe write none of them).
/// - Go 1.17–1.20: the frame pointer is saved with `mov %rbp,N(%rsp)` after
///   `sub $N,%rsp`; there is no push. The emulated site is the stack-check `jbe`
///   itself, with the same registers, but it runs once more after every stack
///   growth (`mayRepeat`): the BPF side must count one call per goroutine until
///   that call's return, e.g. ignore an entry for a goroutine whose previous entry
///   at the same site has no return yet and whose stack pointer moved.
/// - No stack check (NOSPLIT or small leaf functions, most assembly): the entry
///   itself, cheap if it is (`push %rbp` in Go ≥ 1.21), otherwise marked
///   single-stepped: nothing later runs exactly once with the same registers.
public struct GoEntrySite: Sendable, Hashable {
    /// How the site relates to the function's entry.
    public enum Kind: String, Sendable, Hashable {
        /// The `push %rbp` right after the stack check: once per call.
        case afterStackCheck = "after-stack-check"
        /// The stack-check branch: once per call plus once per stack growth.
        case stackCheckBranch = "stack-check-branch"
        /// The function's first instruction.
        case entry
    }

    /// File offset of the site.
    public let fileOffset: UInt64
    /// Bytes from the function's entry to the site.
    public let distance: Int
    public let instruction: ProbeInstruction
    public let kind: Kind
    /// One sentence saying why this site, for `symbols dump`.
    public let reason: String

    /// Whether the site can fire more than once for one call (see `stackCheckBranch`).
    public var mayRepeat: Bool { kind == .stackCheckBranch }
    public var cost: UprobeCost { instruction.cost }
}

/// The cheapest exact entry site of one Go function (x86-64); see `GoEntrySite`.
///
/// - Parameters:
///   - code: the function's bytes from its entry (the first 64 are enough).
///   - startOffset: the file offset of `code[0]`.
///   - goVersion: the binary's Go version (`go1.19.8`); only for the reason text,
///     since the prologue is recognised by its instructions.
///   - kernel: whose uprobe rules classify the instructions (default: the running kernel).
/// - Returns: nil when the first instruction does not decode.
public func goEntrySite(code: UnsafeRawBufferPointer, startOffset: UInt64, goVersion: String? = nil,
                        kernel: KernelRelease? = nil) -> GoEntrySite? {
    guard let first = ProbeInstruction(code: code, at: 0, fileOffset: startOffset, kernel: kernel) else { return nil }
    func site(_ index: Int, _ insn: ProbeInstruction, _ kind: GoEntrySite.Kind, _ reason: String) -> GoEntrySite {
        GoEntrySite(fileOffset: startOffset + UInt64(index), distance: index, instruction: insn, kind: kind, reason: reason)
    }
    if first.cost.isCheap {
        return site(0, first, .entry, "the entry instruction is \(first.cost.rawValue)")
    }
    guard let (jbeIndex, jbe) = stackCheckBranch(code, startOffset: startOffset, kernel: kernel) else {
        return site(0, first, .entry, "no emulated site with the same meaning: no stack check (NOSPLIT, leaf or assembly function)")
    }
    let nextIndex = jbeIndex + jbe.length
    if let next = ProbeInstruction(code: code, at: nextIndex, fileOffset: startOffset + UInt64(nextIndex), kernel: kernel),
       next.bytes == [0x55], next.cost.isCheap {
        return site(nextIndex, next, .afterStackCheck, "push %rbp after the stack check: once per call, arguments and R14 intact")
    }
    let version = goVersion.map { " (\($0))" } ?? ""
    guard jbe.cost.isCheap else {
        return site(0, first, .entry, "no emulated site with the same meaning: the stack-check branch is \(jbe.cost.rawValue)")
    }
    return site(jbeIndex, jbe, .stackCheckBranch,
                "stack-check branch: no push %rbp after it\(version), runs again after morestack; deduplicate")
}

/// The `jbe` (or `jb`) that ends a Go stack check in the first few instructions:
/// a `cmp 0x10(%reg),%rsp|%r12` (g.stackguard0 is at offset 16 in every Go
/// version) directly followed by a conditional branch forward to the morestack tail.
/// Only instructions that write no argument register may come before the `cmp`
/// (`lea`/`mov`/`sub` into R12, as big-frame checks do, or a TLS load of g).
private func stackCheckBranch(_ code: UnsafeRawBufferPointer, startOffset: UInt64,
                              kernel: KernelRelease?) -> (Int, ProbeInstruction)? {
    var i = 0
    for _ in 0..<5 {
        guard let insn = X86Decoder.decode(code, at: i),
              let f = X86Fields(Array(code[i ..< i + insn.length])) else { return nil }
        let next = i + insn.length
        if isStackGuardCompare(f) {
            guard let branch = X86Decoder.decode(code, at: next),
                  let bf = X86Fields(Array(code[next ..< next + branch.length])),
                  (bf.map == 0 && (bf.opcode == 0x76 || bf.opcode == 0x72)) || (bf.map == 1 && (bf.opcode == 0x86 || bf.opcode == 0x82)),
                  bf.branchDisplacement > 0,
                  let classified = ProbeInstruction(code: code, at: next, fileOffset: startOffset + UInt64(next), kernel: kernel)
            else { return nil }
            return (next, classified)
        }
        guard writesOnlyScratch(f) else { return nil }
        i = next
    }
    return nil
}

/// `cmp 0x10(%reg),%rsp` or `cmp 0x10(%reg),%r12` (`REX.W 3B /r`, disp8 16).
private func isStackGuardCompare(_ f: X86Fields) -> Bool {
    guard f.map == 0, f.opcode == 0x3B, f.rexW, let m = f.modRM, m >> 6 == 1, m & 7 != 4,
          f.afterOpcode + 1 < f.bytes.count, f.bytes[f.afterOpcode + 1] == 0x10 else { return false }
    let reg = Int((m >> 3) & 7) + (f.rexR ? 8 : 0)
    return reg == 4 || reg == 12
}

/// Instructions a Go prologue runs before the stack-guard compare: `lea`/`mov`/`sub`
/// whose destination is R12 or R13 (scratch in ABIInternal), `mov %fs:...,%rcx` (an
/// ABI0 function loading g; its arguments are on the stack), and a forward `jb`
/// (the overflow check of huge frames).
private func writesOnlyScratch(_ f: X86Fields) -> Bool {
    guard f.map == 0, !f.isVectorEncoded else { return false }
    switch f.opcode {
    case 0x8D, 0x8B:
        guard let m = f.modRM else { return false }
        let reg = Int((m >> 3) & 7) + (f.rexR ? 8 : 0)
        return reg == 12 || reg == 13 || (f.opcode == 0x8B && f.prefixes.contains(0x64))
    case 0x89:
        guard let m = f.modRM, m >> 6 == 3 else { return false }
        let rm = Int(m & 7) + (f.rexB ? 8 : 0)
        return rm == 12 || rm == 13
    case 0x81, 0x83:
        guard let m = f.modRM, m >> 6 == 3, (m >> 3) & 7 == 5 else { return false }
        let rm = Int(m & 7) + (f.rexB ? 8 : 0)
        return rm == 12 || rm == 13
    case 0x72:
        return f.branchDisplacement > 0
    default:
        return false
    }
}
