/// The first direct call a (C) function makes, and which registers the code
/// before it may have written: what a planner needs to prove that a probe at
/// that call, or at the entry of the function it calls, sees the caller's
/// entry arguments.
///
/// Why: thin public wrappers such as OpenSSL 3's `SSL_read_ex` start with
/// `sub $8,%rsp` (single-stepped: 20–30 µs per hit under KVM) and then call an
/// internal function with their arguments untouched. The `call` and the
/// callee's `push` are emulated; if no instruction on the way writes an
/// argument register, either sees the same values as the wrapper's entry.
public struct ForwardedCall: Sendable, Hashable {
    /// Bytes from the function's entry to the `call`.
    public let callIndex: Int
    public let call: ProbeInstruction
    /// The call's rel32: the callee is at `callIndex + 5 + displacement` from the
    /// entry, and `-displacement` is (return address − callee entry) at run time.
    public let displacement: Int64
    /// Registers (0 = RAX … 15 = R15) that some instruction before the call may
    /// write on the path that reaches it; conservative (32- and 8-bit writes count).
    public let written: Set<Int>

    /// The SysV argument registers: RDI, RSI, RDX, RCX, R8, R9.
    public static let rdi = 7, rsi = 6, rdx = 2, rcx = 1, r8 = 8, r9 = 9

    /// Bytes from the entry to the instruction after the call (where the callee returns).
    public var returnIndex: Int { callIndex + call.length }
    /// Bytes from the caller's entry to the callee's entry.
    public var calleeIndex: Int64 { Int64(returnIndex) + displacement }
    /// Whether the call sees `registers` as the function's entry did.
    public func preserves(_ registers: [Int]) -> Bool { written.isDisjoint(with: registers) }
}

/// Decodes `code` (a function from its entry) up to its first `call rel32`,
/// collecting the registers written on the way.
///
/// - Returns: nil when an instruction before the call is not one whose effect
///   on registers this knows (then nothing is proven), when control leaves the
///   straight line other than by a forward conditional branch (a `jmp`, `ret`,
///   indirect branch or backward branch), or when no call comes within
///   `maxInstructions`.
public func firstForwardedCall(code: UnsafeRawBufferPointer, startOffset: UInt64 = 0,
                               maxInstructions: Int = 24, kernel: KernelRelease? = nil) -> ForwardedCall? {
    var i = 0
    var written = Set<Int>()
    for _ in 0..<maxInstructions {
        guard let insn = X86Decoder.decode(code, at: i),
              let f = X86Fields(Array(code[i ..< i + insn.length])) else { return nil }
        if f.map == 0, f.opcode == 0xE8, !f.operandSize16 {
            guard let classified = ProbeInstruction(code: code, at: i, fileOffset: startOffset + UInt64(i), kernel: kernel)
            else { return nil }
            return ForwardedCall(callIndex: i, call: classified, displacement: f.branchDisplacement, written: written)
        }
        let isJcc = (f.map == 0 && (0x70...0x7F).contains(f.opcode)) || (f.map == 1 && (0x80...0x8F).contains(f.opcode))
        if isJcc {
            guard f.branchDisplacement > 0 else { return nil }
        } else {
            guard let w = registersWritten(f) else { return nil }
            written.formUnion(w)
        }
        i += insn.length
    }
    return nil
}

/// The general registers `f` writes, or nil when it is not one of the
/// instructions this knows (compiler prologues: stack adjustment, the stack
/// protector load and store, ALU, mov/lea/movsxd, push, pop, test/cmp).
func registersWritten(_ f: X86Fields) -> Set<Int>? {
    guard !f.isVectorEncoded else { return nil }
    let m = f.modRM ?? 0
    let reg = Int((m >> 3) & 7) + (f.rexR ? 8 : 0)
    let rm = Int(m & 7) + (f.rexB ? 8 : 0)
    let toRegister = m >> 6 == 3
    if f.map == 1 {
        switch f.opcode {
        case 0xB6, 0xB7, 0xBE, 0xBF, 0xAF: return [reg]       // movzx, movsx, imul r,r/m
        case 0x40...0x4F: return [reg]                        // cmovcc
        case 0x1F: return []                                  // nopl
        default: return nil
        }
    }
    guard f.map == 0 else { return nil }
    switch f.opcode {
    case 0x03, 0x0B, 0x13, 0x1B, 0x23, 0x2B, 0x33, 0x8B, 0x8D, 0x63, 0x02, 0x0A, 0x22, 0x2A, 0x32, 0x8A:
        return [reg]                                          // op r, r/m; mov; lea; movsxd
    case 0x01, 0x09, 0x11, 0x19, 0x21, 0x29, 0x31, 0x89, 0x00, 0x08, 0x20, 0x28, 0x30, 0x88, 0xC7, 0xC6:
        return toRegister ? [rm] : []                         // op r/m, r; mov r/m, imm: memory writes none
    case 0x80, 0x81, 0x83:
        return (m >> 3) & 7 == 7 || !toRegister ? [] : [rm]   // /7 is cmp
    case 0xC1, 0xD1, 0xD3:
        return toRegister ? [rm] : []                         // shifts
    case 0x84, 0x85, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0xA8, 0xA9, 0x90:
        return []                                             // test, cmp, nop
    case 0xF6, 0xF7:
        return (m >> 3) & 7 == 0 ? [] : nil                   // test r/m, imm; not mul/div
    case 0x50...0x57:
        return []                                             // push: only RSP and memory
    case 0x58...0x5F:
        return [Int(f.opcode - 0x58) + (f.rexB ? 8 : 0)]       // pop
    case 0xB8...0xBF:
        return [Int(f.opcode - 0xB8) + (f.rexB ? 8 : 0)]       // mov r, imm
    case 0x35, 0x2D, 0x25, 0x0D, 0x05:
        return [0]                                            // op eax, imm
    default:
        return nil
    }
}
