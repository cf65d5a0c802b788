/// One decoded x86-64 instruction: only what finding RET sites needs.
public struct X86Instruction: Sendable, Equatable {
    /// Bytes from the first prefix to the end of the last immediate (1...15).
    public var length: Int
    /// A near return: `C3` or `C2 iw`, with any prefixes (`F3 C3` "repz ret",
    /// `66 C3` "retw", `F2 C3` "bnd ret", REX). Far returns (`CA`, `CB`) are not.
    public var isReturn: Bool
    /// For a direct relative JMP, Jcc, CALL, LOOP or JrCXZ: the signed displacement
    /// from the end of the instruction. Lets a caller check that the branches of a
    /// function land on instruction boundaries, i.e. that a linear walk kept sync.
    public var branchDisplacement: Int64?

    public init(length: Int, isReturn: Bool, branchDisplacement: Int64? = nil) {
        self.length = length
        self.isReturn = isReturn
        self.branchDisplacement = branchDisplacement
    }

    /// The branch target as an index into the decoded buffer, for an instruction at `index`.
    public func branchTarget(from index: Int) -> Int64? {
        branchDisplacement.map { Int64(index + length) + $0 }
    }
}

/// An x86-64 instruction *length* decoder.
///
/// Why our own: Go functions must get an entry uprobe on every RET instead of a
/// uretprobe, and a RET byte (`C3`) can sit inside a displacement or an immediate.
/// The only way to find the real ones is to walk the function instruction by
/// instruction, which needs the exact length of each. We do not need operands or
/// mnemonics, so a table-driven length decoder (facts from the Intel SDM opcode
/// maps, Vol. 2 Appendix A) is enough and small.
///
/// Where Intel and AMD disagree (a `66` prefix on `E8`/`E9`/`0F 8x` branches) we
/// follow AMD64 and GNU objdump's default (16-bit displacement); no compiler emits it.
///
/// Every read is bounds-checked; an unknown or invalid opcode, a truncated
/// instruction or one longer than 15 bytes returns nil rather than trapping.
public enum X86Decoder {
    /// The architectural limit; longer byte runs raise #GP on real hardware.
    public static let maxLength = 15

    /// Decodes the instruction that starts at `index`, or nil when the bytes
    /// there are not a valid x86-64 instruction that ends inside `code`.
    public static func decode(_ code: UnsafeRawBufferPointer, at index: Int) -> X86Instruction? {
        guard index >= 0, index < code.count else { return nil }
        var c = Cursor(code: code, start: index)
        guard let isReturn = c.instruction() else { return nil }
        return X86Instruction(length: c.pos - index, isReturn: isReturn, branchDisplacement: c.branchDisplacement)
    }

    /// Convenience for tests and literal byte sequences.
    public static func decode(_ code: [UInt8], at index: Int) -> X86Instruction? {
        code.withUnsafeBytes { decode($0, at: index) }
    }
}

/// Reads one instruction; `instruction()` returns whether it is a RET, or nil.
private struct Cursor {
    let code: UnsafeRawBufferPointer
    let start: Int
    var pos: Int

    /// `66`: operand size 16 (immediates of size z and v shrink to 2 bytes).
    var operandSize16 = false
    /// `67`: 32-bit addressing (moffs shrinks to 4 bytes; ModRM unchanged in 64-bit mode).
    var addressSize32 = false
    /// `F2` seen (a mandatory prefix for a few two-immediate SSE4a forms).
    var repne = false
    /// REX.W of a REX prefix immediately before the opcode.
    var rexW = false
    /// Set by `relative(_:)` for direct branches.
    var branchDisplacement: Int64?

    init(code: UnsafeRawBufferPointer, start: Int) {
        self.code = code
        self.start = start
        self.pos = start
    }

    mutating func next() -> UInt8? {
        guard pos < code.count, pos - start < X86Decoder.maxLength else { return nil }
        defer { pos += 1 }
        return code[pos]
    }

    func peek() -> UInt8? {
        pos < code.count ? code[pos] : nil
    }

    mutating func skip(_ n: Int) -> Bool {
        guard n <= code.count - pos, pos + n - start <= X86Decoder.maxLength else { return false }
        pos += n
        return true
    }

    /// Reads a little-endian signed displacement of `size` bytes (1, 2 or 4).
    mutating func relative(_ size: Int) -> Bool {
        guard size <= code.count - pos else { return false }
        var v: UInt64 = 0
        for k in 0..<size { v |= UInt64(code[pos + k]) << (8 * UInt64(k)) }
        let shift = UInt64(64 - 8 * size)
        guard skip(size) else { return false }
        branchDisplacement = Int64(bitPattern: v << shift) >> Int64(shift)
        return true
    }

    /// Size of an immediate of Intel's type `z` (and of near-branch displacements).
    var immZ: Int { rexW ? 4 : (operandSize16 ? 2 : 4) }

    mutating func instruction() -> Bool? {
        var opcode: UInt8
        prefixes: while true {
            guard let b = next() else { return nil }
            switch b {
            case 0x66:
                operandSize16 = true
                rexW = false  // a REX not directly before the opcode is ignored
            case 0x67:
                addressSize32 = true
                rexW = false
            case 0xF2:
                repne = true
                rexW = false
            case 0xF0, 0xF3, 0x2E, 0x3E, 0x26, 0x64, 0x65, 0x36:
                rexW = false
            case 0x40...0x4F:
                rexW = b & 0x08 != 0
            default:
                opcode = b
                break prefixes
            }
        }
        switch opcode {
        case 0x0F: return twoByteMap() ? false : nil
        case 0xC5: return vex(threeByte: false) ? false : nil
        case 0xC4: return vex(threeByte: true) ? false : nil
        case 0x62: return evex() ? false : nil
        case 0x8F:
            // XOP (AMD) when the would-be ModRM's low five bits name map 8 or above;
            // POP r/m64 (8F /0) otherwise.
            if let b = peek(), b & 0x1F >= 8 { return xop() ? false : nil }
            return modRM() != nil ? false : nil
        case 0xC3: return true
        case 0xC2: return skip(2) ? true : nil
        default: return oneByteMap(opcode) ? false : nil
        }
    }

    /// Reads ModRM and the SIB and displacement it implies; returns the ModRM byte.
    mutating func modRM() -> UInt8? {
        guard let m = next() else { return nil }
        let mod = m >> 6, rm = m & 7
        if mod == 3 { return m }
        var disp = 0
        if rm == 4 {
            guard let sib = next() else { return nil }
            if mod == 0 && sib & 7 == 5 { disp = 4 }  // no base: disp32
        } else if mod == 0 && rm == 5 {
            disp = 4  // RIP-relative
        }
        if mod == 1 { disp = 1 } else if mod == 2 { disp = 4 }
        return skip(disp) ? m : nil
    }

    mutating func modRM(immediate: Int) -> Bool {
        modRM() != nil && skip(immediate)
    }

    // MARK: - One-byte map (SDM Vol. 2 Table A-2)

    mutating func oneByteMap(_ op: UInt8) -> Bool {
        switch op {
        case 0x00...0x3F:
            // ALU rows: 0-3 ModRM, 4 AL,ib, 5 eAX,iz; 6/7 are 64-bit invalid
            // (PUSH/POP seg, DAA, ...) or prefixes already consumed.
            switch op & 7 {
            case 0...3: return modRM() != nil
            case 4: return skip(1)
            case 5: return skip(immZ)
            default: return false
            }
        case 0x50...0x5F: return true                  // PUSH/POP r64
        case 0x60, 0x61: return false                  // PUSHA/POPA: invalid in 64-bit mode
        case 0x63: return modRM() != nil               // MOVSXD
        case 0x68: return skip(immZ)                   // PUSH iz
        case 0x69: return modRM(immediate: immZ)       // IMUL r, r/m, iz
        case 0x6A: return skip(1)                      // PUSH ib
        case 0x6B: return modRM(immediate: 1)          // IMUL r, r/m, ib
        case 0x6C...0x6F: return true                  // INS/OUTS
        case 0x70...0x7F: return relative(1)           // Jcc rel8
        case 0x80, 0x83: return modRM(immediate: 1)    // group 1, ib
        case 0x81: return modRM(immediate: immZ)       // group 1, iz
        case 0x82: return false                        // invalid in 64-bit mode
        case 0x84...0x8E: return modRM() != nil        // TEST/XCHG/MOV/LEA/MOV Sreg
        case 0x90...0x99, 0x9B...0x9F: return true     // NOP/XCHG/CBW/CWD/FWAIT/PUSHF/...
        case 0x9A: return false                        // CALL far: invalid in 64-bit mode
        case 0xA0...0xA3: return skip(addressSize32 ? 4 : 8)  // MOV AL/rAX <-> moffs
        case 0xA4...0xA7, 0xAA...0xAF: return true     // string instructions
        case 0xA8: return skip(1)                      // TEST AL, ib
        case 0xA9: return skip(immZ)                   // TEST rAX, iz
        case 0xB0...0xB7: return skip(1)               // MOV r8, ib
        case 0xB8...0xBF:                              // MOV r, iv (imm64 with REX.W)
            return skip(rexW ? 8 : (operandSize16 ? 2 : 4))
        case 0xC0, 0xC1: return modRM(immediate: 1)    // shift group 2, ib
        case 0xC6: return modRM(immediate: 1)          // MOV r/m8, ib; XABORT ib
        case 0xC7: return modRM(immediate: immZ)       // MOV r/m, iz; XBEGIN rel
        case 0xC8: return skip(3)                      // ENTER iw, ib
        case 0xC9, 0xCB, 0xCC, 0xCF: return true       // LEAVE, RET far, INT3, IRET
        case 0xCA: return skip(2)                      // RET far iw
        case 0xCD: return skip(1)                      // INT ib
        case 0xCE: return false                        // INTO: invalid in 64-bit mode
        case 0xD0...0xD3: return modRM() != nil        // shift group 2 by 1/CL
        case 0xD4...0xD6: return false                 // AAM/AAD/SALC: invalid
        case 0xD7: return true                         // XLAT
        case 0xD8...0xDF: return modRM() != nil        // x87 escape
        case 0xE0...0xE3: return relative(1)           // LOOP/JrCXZ rel8
        case 0xE4...0xE7: return skip(1)               // IN/OUT ib
        case 0xE8, 0xE9: return relative(immZ)         // CALL/JMP rel32
        case 0xEA: return false                        // JMP far: invalid in 64-bit mode
        case 0xEB: return relative(1)                  // JMP rel8
        case 0xEC...0xEF, 0xF1, 0xF4, 0xF5: return true  // IN/OUT DX, INT1, HLT, CMC
        case 0xF6, 0xF7:                               // group 3: TEST (/0, /1) has an immediate
            guard let m = modRM() else { return false }
            let reg = (m >> 3) & 7
            guard reg <= 1 else { return true }
            return skip(op == 0xF6 ? 1 : immZ)
        case 0xF8...0xFD: return true                  // CLC/STC/CLI/STI/CLD/STD
        case 0xFE:                                     // group 4: INC/DEC r/m8 only
            guard let m = modRM() else { return false }
            return (m >> 3) & 7 <= 1
        case 0xFF:                                     // group 5: /7 is undefined
            guard let m = modRM() else { return false }
            return (m >> 3) & 7 != 7
        default:
            return false
        }
    }

    // MARK: - Two-byte map 0F (SDM Vol. 2 Tables)

    mutating func twoByteMap() -> Bool {
        guard let op = next() else { return false }
        switch op {
        case 0x38:                                     // three-byte map 0F 38: ModRM, no immediate
            guard next() != nil else { return false }
            return modRM() != nil
        case 0x3A:                                     // three-byte map 0F 3A: ModRM + ib
            guard next() != nil else { return false }
            return modRM(immediate: 1)
        case 0x0F:                                     // 3DNow!: not supported
            return false
        case 0x04, 0x0A, 0x0C, 0x24...0x27, 0x36, 0x39, 0x3B...0x3F, 0x7A, 0x7B, 0xA6, 0xA7:
            return false                               // unassigned
        case 0x05...0x09, 0x0B, 0x0E, 0x30...0x35, 0x37, 0x77, 0xA0...0xA2, 0xA8...0xAA, 0xC8...0xCF:
            return true                                // SYSCALL, UD2, RDTSC, EMMS, CPUID, BSWAP, ...
        case 0x80...0x8F:                              // Jcc rel32
            return relative(immZ)
        case 0x70...0x73, 0xA4, 0xAC, 0xBA, 0xC2, 0xC4...0xC6:
            return modRM(immediate: 1)                 // PSHUF*, shift groups, SHLD/SHRD, BT ib, CMPPS, PINSRW, PEXTRW, SHUFPS
        case 0x78:                                     // VMREAD; with 66/F2: SSE4a EXTRQ/INSERTQ ib, ib
            return modRM(immediate: (operandSize16 || repne) ? 2 : 0)
        default:
            return modRM() != nil
        }
    }

    /// Whether a VEX/EVEX map-1 (0F) opcode takes an imm8, as its legacy form does.
    static func map1HasImm8(_ op: UInt8) -> Bool {
        switch op {
        case 0x70...0x73, 0xC2, 0xC4...0xC6: return true
        default: return false
        }
    }

    // MARK: - VEX, EVEX, XOP

    /// `C5 [R vvvv L pp]` (map 0F) or `C4 [RXB mmmmm] [W vvvv L pp]`, then opcode.
    mutating func vex(threeByte: Bool) -> Bool {
        var map: UInt8 = 1
        guard let p0 = next() else { return false }
        if threeByte {
            map = p0 & 0x1F
            guard next() != nil else { return false }
        }
        guard let op = next() else { return false }
        switch map {
        case 1:
            if op == 0x77 { return true }              // VZEROUPPER/VZEROALL: no ModRM
            return modRM(immediate: Cursor.map1HasImm8(op) ? 1 : 0)
        case 2: return modRM() != nil
        case 3: return modRM(immediate: 1)             // includes the is4 register byte of VBLENDV*
        default: return false
        }
    }

    /// `62 P0 P1 P2 opcode ModRM`: AVX-512. Compressed disp8 is still one byte.
    mutating func evex() -> Bool {
        guard let p0 = next(), let p1 = next(), next() != nil, let op = next() else { return false }
        guard p1 & 0x04 != 0 else { return false }      // fixed bit; 0 would not be EVEX
        switch p0 & 0x07 {
        case 1: return modRM(immediate: Cursor.map1HasImm8(op) ? 1 : 0)
        case 2, 5, 6: return modRM() != nil           // 0F38, MAP5/MAP6 (FP16)
        case 3: return modRM(immediate: 1)
        default: return false
        }
    }

    /// `8F [RXB mmmmm] [W vvvv L pp] opcode ModRM`: AMD XOP maps 8 (ib), 9, A (id).
    mutating func xop() -> Bool {
        guard let p0 = next(), next() != nil, next() != nil else { return false }
        switch p0 & 0x1F {
        case 8: return modRM(immediate: 1)
        case 9: return modRM() != nil
        case 0x0A: return modRM(immediate: 4)
        default: return false
        }
    }
}
