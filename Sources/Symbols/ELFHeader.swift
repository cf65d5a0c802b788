/// The fields of the ELF64 file header that uprobe-trace uses.
public struct ELFHeader: Sendable, Equatable {
    /// `e_type`: 2 = EXEC, 3 = DYN (PIE executables and shared libraries).
    public var type: UInt16
    public var machine: UInt16
    public var entry: UInt64
    public var programHeaderOffset: UInt64
    public var sectionHeaderOffset: UInt64
    public var programHeaderEntrySize: UInt16
    public var programHeaderCount: UInt16
    public var sectionHeaderEntrySize: UInt16
    public var sectionHeaderCount: UInt16
    public var sectionNameTableIndex: UInt16

    public static let size: UInt64 = 64

    public var typeName: String {
        switch type {
        case 0: return "NONE"
        case 1: return "REL"
        case 2: return "EXEC"
        case 3: return "DYN"
        case 4: return "CORE"
        default: return "0x" + String(type, radix: 16)
        }
    }

    public var machineName: String { ELFMachine.name(machine) }
    public var isX86_64: Bool { machine == ELFMachine.x86_64 }
}

/// `e_machine` values we name; the rest print as numbers.
public enum ELFMachine {
    public static let x86_64: UInt16 = 62
    public static let aarch64: UInt16 = 183

    public static func name(_ m: UInt16) -> String {
        switch m {
        case 3: return "x86"
        case 8: return "MIPS"
        case 20: return "PowerPC"
        case 21: return "PowerPC64"
        case 22: return "S390"
        case 40: return "ARM"
        case 62: return "x86-64"
        case 183: return "AArch64"
        case 243: return "RISC-V"
        case 247: return "BPF"
        case 258: return "LoongArch"
        default: return "machine \(m)"
        }
    }
}

/// One `Elf64_Phdr`.
public struct ProgramHeader: Sendable, Equatable {
    public var type: UInt32
    public var flags: UInt32
    public var offset: UInt64
    public var vaddr: UInt64
    public var fileSize: UInt64
    public var memorySize: UInt64
    public var align: UInt64

    public static let load: UInt32 = 1
    public static let note: UInt32 = 4
    public static let tls: UInt32 = 7

    public var isExecutable: Bool { flags & 1 != 0 }
}

/// One `Elf64_Shdr`, with its name resolved.
public struct Section: Sendable, Equatable {
    public var index: Int
    public var name: String
    public var type: UInt32
    public var flags: UInt64
    public var address: UInt64
    public var offset: UInt64
    public var size: UInt64
    public var link: UInt32
    public var info: UInt32
    public var entrySize: UInt64

    public static let typeNoBits: UInt32 = 8
    public static let typeSymtab: UInt32 = 2
    public static let typeDynsym: UInt32 = 11
    public static let typeNote: UInt32 = 7
    public static let typeSymtabShndx: UInt32 = 18
    public static let typeGNUVerdef: UInt32 = 0x6fff_fffd
    public static let typeGNUVerneed: UInt32 = 0x6fff_fffe
    public static let typeGNUVersym: UInt32 = 0x6fff_ffff
    public static let flagCompressed: UInt64 = 0x800
    public static let flagAlloc: UInt64 = 0x2
}
