import Symbols

/// The instruction sets whose RET instructions we can find.
public enum InstructionSet: Sendable, Equatable {
    case x86_64
    case arm64

    /// The instruction set of an ELF `e_machine`, nil for the ones we do not decode.
    public init?(elfMachine: UInt16) {
        switch elfMachine {
        case ELFMachine.x86_64: self = .x86_64
        case ELFMachine.aarch64: self = .arm64
        default: return nil
        }
    }
}

/// The file offsets of every return instruction of one function.
///
/// Why: a uretprobe rewrites the return address on the stack, and the Go runtime
/// copies goroutine stacks (and walks them for GC and panics), so a rewritten
/// address crashes the program. For Go we put an entry uprobe on each RET instead.
/// Missing one RET loses that return's event, so the walk must cover the function
/// from its first byte to exactly its end, or fail.
///
/// - Parameters:
///   - code: the function's bytes, first to last (symbol size, not padded).
///   - startOffset: the file offset of `code[0]`; results are `startOffset + index`.
///   - instructionSet: how to decode `code`.
///   - path, function: only for the error message.
/// - Throws: `GoRuntimeError.decodeFailed` with the file offset of the first
///   instruction that is invalid or would run past the end of `code`, or (x86-64)
///   of a branch target that falls inside a decoded instruction.
public func returnSites(
    code: UnsafeRawBufferPointer,
    startOffset: UInt64,
    instructionSet: InstructionSet = .x86_64,
    path: String = "<memory>",
    function: String = "<code>"
) throws(GoRuntimeError) -> [UInt64] {
    switch instructionSet {
    case .x86_64:
        // A linear sweep, checked against the function's own control flow: every
        // direct branch that lands inside the function must land on an instruction
        // the sweep found. If one does not, bytes that are not code (Go assembly
        // `BYTE` markers such as crypto/internal/boring/sig) threw the sweep off,
        // and RETs it reports could sit inside real instructions, where a uprobe
        // would corrupt them; so we fail instead of guessing.
        var sites: [UInt64] = []
        var isStart = [Bool](repeating: false, count: code.count)
        var targets: [Int] = []
        var i = 0
        while i < code.count {
            guard let insn = X86Decoder.decode(code, at: i) else {
                throw .decodeFailed(path: path, function: function, offset: startOffset + UInt64(i))
            }
            isStart[i] = true
            if insn.isReturn { sites.append(startOffset + UInt64(i)) }
            if let t = insn.branchTarget(from: i), t >= 0, t < Int64(code.count) { targets.append(Int(t)) }
            i += insn.length
        }
        if let lost = targets.filter({ !isStart[$0] }).min() {
            throw .decodeFailed(path: path, function: function, offset: startOffset + UInt64(lost))
        }
        return sites
    case .arm64:
        // Fixed-width words; a trailing partial word means wrong bounds, not code.
        guard code.count % 4 == 0 else {
            throw .decodeFailed(path: path, function: function, offset: startOffset + UInt64(code.count / 4 * 4))
        }
        var sites: [UInt64] = []
        var i = 0
        while i < code.count {
            let word = UInt32(code[i]) | UInt32(code[i + 1]) << 8 | UInt32(code[i + 2]) << 16 | UInt32(code[i + 3]) << 24
            if isArm64Return(word) { sites.append(startOffset + UInt64(i)) }
            i += 4
        }
        return sites
    }
}

/// `RET Xn` (C6.2.254): `1101 0110 0101 1111 0000 00 Rn 00000`; plain `ret` is
/// `RET X30` = 0xD65F03C0. The pointer-authenticating RETAA/RETAB (0xD65F0BFF,
/// 0xD65F0FFF) fall outside this mask; Go does not emit them.
@inline(__always)
func isArm64Return(_ word: UInt32) -> Bool {
    word & 0xFFFF_FC1F == 0xD65F_0000
}

/// The file offsets of every RET of the function at virtual addresses
/// `entry ..< end` of `elf`, decoded for the ELF's machine.
///
/// - Throws: `GoRuntimeError.malformed` when the range is not file-backed
///   (a symbol outside every PT_LOAD), `.unsupportedLayout` for a machine other
///   than x86-64 and AArch64, `.decodeFailed` when the walk cannot reach `end`.
public func returnSites(in elf: ELFFile, function entry: UInt64, end: UInt64, name: String) throws(GoRuntimeError) -> [UInt64] {
    guard let isa = InstructionSet(elfMachine: elf.header.machine) else {
        throw .unsupportedLayout(path: elf.path, section: ".text",
                                 what: "RET sites are found only for x86-64 and AArch64, not \(elf.header.machineName)")
    }
    guard end > entry,
          let code = elf.bytes(atVirtualAddress: entry, count: end - entry),
          let offset = elf.fileOffset(forVirtualAddress: entry) else {
        throw .malformed(path: elf.path, section: ".text",
                         what: "\(name) at 0x\(String(entry, radix: 16))..<0x\(String(end, radix: 16)) is not in the file")
    }
    return try returnSites(code: code, startOffset: offset, instructionSet: isa, path: elf.path, function: name)
}

extension GoBinary {
    /// The file offsets of the direct calls (`call rel32`) `function` makes to
    /// `callee`, found by decoding its code from the entry (x86-64 only; the
    /// scan stops at the first instruction that does not decode).
    public func callSites(_ elf: ELFFile, _ function: GoFunction, _ callee: String) -> [UInt64] {
        guard elf.header.machine == ELFMachine.x86_64, let target = functions.function(named: callee),
              let code = elf.bytes(atVirtualAddress: function.entry, count: function.end - function.entry) else { return [] }
        var sites: [UInt64] = []
        var i = 0
        while i < code.count, let insn = X86Decoder.decode(code, at: i) {
            if code[i] == 0xE8, insn.length == 5, let f = X86Fields(Array(code[i ..< i + 5])), f.map == 0,
               Int64(function.entry) + Int64(i + 5) + f.branchDisplacement == Int64(target.entry) {
                sites.append(function.fileOffset + UInt64(i))
            }
            i += insn.length
        }
        return sites
    }

    /// Whether `function` makes a direct call to `callee`.
    public func calls(_ elf: ELFFile, _ function: GoFunction, _ callee: String) -> Bool {
        !callSites(elf, function, callee).isEmpty
    }
}
