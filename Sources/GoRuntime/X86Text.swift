/// AT&T-syntax text for the instructions found at probe sites: prologues
/// (`cmp 0x10(%r14),%rsp`, `push %rbp`, `sub $0x18,%rsp`), branches, NOPs,
/// `endbr64`, RETs, and the common integer ALU, MOV and LEA forms.
///
/// Only for people reading `symbols dump`: nothing decides on this text. An
/// instruction outside the subset prints as its opcode (`(0f b6)`); its length
/// and cost class are still exact, since they come from the decoder and the
/// classifier. Branch targets print relative to the instruction's own start,
/// as GNU as writes them (`jbe .+0x363`), because a probe site is listed by file
/// offset while objdump prints virtual addresses.
enum X86Text {
    static let conditions = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"]
    static let alu = ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"]
    static let reg64 = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
    static let reg32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"]
    static let reg16 = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di", "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w"]
    static let reg8 = ["al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil", "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b"]
    static let reg8Legacy = ["al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"]

    static func hex(_ v: Int64) -> String {
        v < 0 ? "-0x" + String(UInt64(-v), radix: 16) : "0x" + String(v, radix: 16)
    }

    /// The text of the instruction `f` (already length-checked by `X86Decoder`).
    static func text(_ f: X86Fields) -> String {
        if let t = known(f) { return t }
        let opcodeBytes: [UInt8] = f.map == 0 ? [f.opcode] : f.map == 1 ? [0x0F, f.opcode] : [0x0F, f.map == 2 ? 0x38 : 0x3A, f.opcode]
        return "(" + (f.isVectorEncoded ? "vex " : "") + opcodeBytes.map { byteHex($0) }.joined(separator: " ") + ")"
    }

    static func byteHex(_ b: UInt8) -> String {
        b < 16 ? "0" + String(b, radix: 16) : String(b, radix: 16)
    }

    private static func known(_ f: X86Fields) -> String? {
        if f.isVectorEncoded { return f.map == 1 && f.opcode == 0x77 ? "vzeroupper" : nil }
        let op = f.opcode
        let size = f.rexW ? 8 : (f.operandSize16 ? 2 : 4)
        if f.map == 1 {
            switch op {
            case 0x80...0x8F: return "j" + conditions[Int(op & 0xF)] + " " + target(f)
            case 0x1E where f.prefixes.contains(0xF3) && f.bytes.last == 0xFA: return "endbr64"
            case 0x1F:
                guard let m = memory(f, size: size) else { return nil }
                return "nop" + suffix(size) + " " + m.text
            case 0x0B: return "ud2"
            case 0x05: return "syscall"
            case 0xAF:
                guard let m = memory(f, size: size) else { return nil }
                return "imul " + m.text + "," + register(m.reg, size: size)
            case 0xB6, 0xB7, 0xBE, 0xBF:
                let from = op & 1 == 0 ? 1 : 2
                guard let m = memory(f, size: from) else { return nil }
                return (op < 0xB8 ? "movz" : "movs") + suffix(from) + suffix(size) + " " + m.text + "," + register(m.reg, size: size)
            default: return nil
            }
        }
        guard f.map == 0 else { return nil }
        switch op {
        case 0x50...0x57, 0x58...0x5F:
            let r = Int(op & 7) + (f.rexB ? 8 : 0)
            return (op < 0x58 ? "push " : "pop ") + register(r, size: f.operandSize16 ? 2 : 8)
        case 0x70...0x7F: return "j" + conditions[Int(op & 0xF)] + " " + target(f)
        case 0xEB, 0xE9: return "jmp " + target(f)
        case 0xE8: return "call " + target(f)
        case 0xC3: return f.prefixes.contains(0xF3) ? "repz ret" : "ret"
        case 0xC2: return "ret $" + hex(Int64(f.bytes[f.bytes.count - 2]) | Int64(f.bytes[f.bytes.count - 1]) << 8)
        case 0xC9: return "leave"
        case 0xCC: return "int3"
        case 0x90:
            if f.prefixes.contains(0xF3) { return "pause" }
            if f.rexB { return "xchg %" + (f.rexW ? "rax" : "eax") + "," + register(8, size: size) }
            return f.operandSize16 ? "xchg %ax,%ax" : "nop"
        case 0x00...0x3F where op & 7 <= 3:
            let byteForm = op & 1 == 0
            let s = byteForm ? 1 : size
            guard let m = memory(f, size: s) else { return nil }
            let r = register(m.reg, size: s, f: f)
            return alu[Int(op >> 3)] + " " + (op & 2 == 0 ? r + "," + m.text : m.text + "," + r)
        case 0x80, 0x81, 0x83:
            let s = op == 0x80 ? 1 : size
            guard let m = memory(f, size: s), let ext = f.modRMReg else { return nil }
            let imm = f.signed(at: m.end, size: op == 0x81 ? min(s, 4) : 1)
            return alu[ext] + (m.isRegister ? "" : suffix(s)) + " $" + hex(imm) + "," + m.text
        case 0x84, 0x85, 0x88, 0x89, 0x8A, 0x8B:
            let s = op & 1 == 0 ? 1 : size
            guard let m = memory(f, size: s) else { return nil }
            let r = register(m.reg, size: s, f: f)
            let name = op < 0x88 ? "test" : "mov"
            return name + " " + (op & 2 == 0 || op < 0x88 ? r + "," + m.text : m.text + "," + r)
        case 0x8D:
            guard let m = memory(f, size: size) else { return nil }
            return "lea " + m.text + "," + register(m.reg, size: size)
        case 0x63:
            guard let m = memory(f, size: 4) else { return nil }
            return "movslq " + m.text + "," + register(m.reg, size: size)
        case 0xC6, 0xC7:
            let s = op == 0xC6 ? 1 : size
            guard f.modRMReg == 0, let m = memory(f, size: s) else { return nil }
            let imm = f.signed(at: m.end, size: min(s, 4))
            return "mov" + (m.isRegister ? "" : suffix(s)) + " $" + hex(imm) + "," + m.text
        case 0xB8...0xBF:
            let r = Int(op & 7) + (f.rexB ? 8 : 0)
            let immSize = f.rexW ? 8 : (f.operandSize16 ? 2 : 4)
            let imm = f.signed(at: f.afterOpcode, size: immSize)
            return (f.rexW ? "movabs" : "mov") + " $" + hex(immSize == 8 ? imm : Int64(UInt64(bitPattern: imm) & (immSize == 4 ? 0xFFFF_FFFF : 0xFFFF))) + "," + register(r, size: size)
        case 0xFF:
            guard let ext = f.modRMReg, ext != 7, let m = memory(f, size: ext == 2 || ext == 4 || ext == 6 ? 8 : size) else { return nil }
            let names = ["inc", "dec", "call", "lcall", "jmp", "ljmp", "push"]
            return names[ext] + (ext == 2 || ext == 4 ? " *" : " ") + m.text
        default:
            return nil
        }
    }

    private static func suffix(_ size: Int) -> String {
        switch size { case 1: "b"; case 2: "w"; case 8: "q"; default: "l" }
    }

    private static func target(_ f: X86Fields) -> String {
        let rel = f.branchDisplacement + Int64(f.bytes.count)
        return rel < 0 ? ".-0x" + String(UInt64(-rel), radix: 16) : ".+0x" + String(rel, radix: 16)
    }

    private static func register(_ r: Int, size: Int, f: X86Fields? = nil) -> String {
        switch size {
        case 8: return "%" + reg64[r]
        case 2: return "%" + reg16[r]
        case 1: return "%" + ((f?.rex ?? 0) == 0 && r < 8 ? reg8Legacy[r] : reg8[r])
        default: return "%" + reg32[r]
        }
    }

    /// The r/m operand of the ModRM at `f.afterOpcode`, the full ModRM.reg
    /// register number, and the index just past the displacement.
    private static func memory(_ f: X86Fields, size: Int) -> (text: String, reg: Int, end: Int, isRegister: Bool)? {
        let b = f.bytes
        var i = f.afterOpcode
        guard i < b.count else { return nil }
        let m = b[i]
        i += 1
        let mod = m >> 6
        let reg = Int((m >> 3) & 7) + (f.rexR ? 8 : 0)
        var rm = Int(m & 7)
        if mod == 3 {
            return (register(rm + (f.rexB ? 8 : 0), size: size, f: f), reg, i, true)
        }
        var base: String?
        var index = ""
        var dispSize = mod == 1 ? 1 : (mod == 2 ? 4 : 0)
        var ripRelative = false
        if rm == 4 {
            guard i < b.count else { return nil }
            let sib = b[i]
            i += 1
            let idx = Int((sib >> 3) & 7) + (f.rexX ? 8 : 0)
            if idx != 4 { index = ",%" + reg64[idx] + "," + String(1 << Int(sib >> 6)) }
            rm = Int(sib & 7)
            if rm == 5 && mod == 0 { dispSize = 4 } else { base = reg64[rm + (f.rexB ? 8 : 0)] }
        } else if rm == 5 && mod == 0 {
            dispSize = 4
            ripRelative = true
        } else {
            base = reg64[rm + (f.rexB ? 8 : 0)]
        }
        guard i + dispSize <= b.count else { return nil }
        let disp = dispSize == 0 ? 0 : f.signed(at: i, size: dispSize)
        i += dispSize
        let segment = f.prefixes.contains(0x64) ? "%fs:" : (f.prefixes.contains(0x65) ? "%gs:" : "")
        var text = segment
        if dispSize > 0 { text += hex(disp) }
        if ripRelative {
            text += "(%rip)"
        } else if base != nil || !index.isEmpty {
            text += "(" + (base.map { "%" + $0 } ?? "") + index + ")"
        }
        return (text, reg, i, false)
    }
}
