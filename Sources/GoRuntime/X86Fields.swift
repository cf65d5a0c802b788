/// The parts of one x86-64 instruction that cost classification and mnemonic text
/// look at: prefixes, REX, opcode map and byte, and where the ModRM byte would be.
///
/// Built only for bytes that `X86Decoder` already accepted, so the length is known
/// and every index below stays inside `bytes`.
struct X86Fields {
    /// The instruction's bytes, first prefix to last immediate.
    let bytes: [UInt8]
    /// Legacy prefixes (`66 67 F0 F2 F3` and segment overrides) in order.
    var prefixes: [UInt8] = []
    /// The REX byte directly before the opcode, 0 when there is none.
    var rex: UInt8 = 0
    /// VEX, EVEX or XOP encoded: the kernel and we treat these as plain opcodes.
    var isVectorEncoded = false
    /// 0: one-byte map; 1: `0F`; 2: `0F 38`; 3: `0F 3A` (also the VEX/EVEX map number).
    var map = 0
    /// The opcode byte within its map.
    var opcode: UInt8 = 0
    /// Index of the byte after the opcode (the ModRM byte, when the opcode has one).
    var afterOpcode = 0

    init?(_ bytes: [UInt8]) {
        self.bytes = bytes
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            switch b {
            case 0x66, 0x67, 0xF0, 0xF2, 0xF3, 0x2E, 0x3E, 0x26, 0x64, 0x65, 0x36:
                prefixes.append(b)
                rex = 0
                i += 1
                continue
            case 0x40...0x4F:
                rex = b
                i += 1
                continue
            default:
                break
            }
            break
        }
        guard i < bytes.count else { return nil }
        switch bytes[i] {
        case 0x0F:
            guard i + 1 < bytes.count else { return nil }
            switch bytes[i + 1] {
            case 0x38, 0x3A:
                guard i + 2 < bytes.count else { return nil }
                map = bytes[i + 1] == 0x38 ? 2 : 3
                opcode = bytes[i + 2]
                afterOpcode = i + 3
            default:
                map = 1
                opcode = bytes[i + 1]
                afterOpcode = i + 2
            }
        case 0xC5 where i + 2 < bytes.count:
            isVectorEncoded = true
            map = 1
            opcode = bytes[i + 2]
            afterOpcode = i + 3
        case 0xC4 where i + 3 < bytes.count, 0x8F where i + 3 < bytes.count && bytes[i + 1] & 0x1F >= 8:
            isVectorEncoded = true
            map = Int(bytes[i + 1] & 0x1F)
            opcode = bytes[i + 3]
            afterOpcode = i + 4
        case 0x62 where i + 4 < bytes.count:
            isVectorEncoded = true
            map = Int(bytes[i + 1] & 0x07)
            opcode = bytes[i + 4]
            afterOpcode = i + 5
        default:
            opcode = bytes[i]
            afterOpcode = i + 1
        }
    }

    var rexW: Bool { rex & 0x08 != 0 }
    var rexR: Bool { rex & 0x04 != 0 }
    var rexX: Bool { rex & 0x02 != 0 }
    var rexB: Bool { rex & 0x01 != 0 }
    var operandSize16: Bool { prefixes.contains(0x66) }

    /// The ModRM byte, for opcodes that have one.
    var modRM: UInt8? { afterOpcode < bytes.count ? bytes[afterOpcode] : nil }
    /// ModRM.reg without REX.R: the opcode extension of group opcodes.
    var modRMReg: Int? { modRM.map { Int(($0 >> 3) & 7) } }

    /// The signed little-endian value of `size` bytes at `index`.
    func signed(at index: Int, size: Int) -> Int64 {
        var v: UInt64 = 0
        for k in 0..<size { v |= UInt64(bytes[index + k]) << (8 * UInt64(k)) }
        let shift = UInt64(64 - 8 * size)
        return Int64(bitPattern: v << shift) >> Int64(shift)
    }

    /// The displacement of a direct relative branch: its last 1, 2 (`66`, no REX.W) or 4 bytes.
    var branchDisplacement: Int64 {
        let short = map == 0 && (opcode == 0xEB || (0x70...0x7F).contains(opcode))
        let size = short ? 1 : (operandSize16 && !rexW ? 2 : 4)
        return signed(at: bytes.count - size, size: size)
    }
}
