import Symbols

/// The part of the Go runtime's module data (`runtime.firstmoduledata`, type
/// `runtime.moduledata` in src/runtime/symtab.go) that says where the text is.
///
/// Why: since Go 1.26 the pclntab header no longer holds textStart (it needed a
/// relocation), and the runtime reads `moduledata.text` instead. With external
/// linking (cgo) `.text` starts with C code before `runtime.text`, and the ELF entry
/// point is the C `_start`, so neither the section address nor the entry point is
/// the base; the module data is the one place that states it. We read it as the
/// runtime does, and refuse when it cannot be found: a base that is off by a few
/// bytes puts every uprobe inside an instruction.
///
/// Layout read (pointer-sized words; a slice is three words), unchanged Go 1.16–1.27:
///
/// | word | field | checked against the pclntab |
/// |---|---|---|
/// | 0 | `pcHeader *pcHeader` | == the pclntab's address |
/// | 1–3 | `funcnametab []byte` | data == pclntab + funcnameOffset |
/// | 4–15 | `cutab`, `filetab`, `pctab`, `pclntable` | — |
/// | 16–18 | `ftab []functab` | data == pclntab + pclnOffset, len == nfunc + 1 |
/// | 19 | `findfunctab uintptr` | — |
/// | 20, 21 | `minpc, maxpc` | == text + first / last functab offset |
/// | 22, 23 | `text, etext` | text ≤ minpc, maxpc ≤ etext |
///
/// The module data lives in `.noptrdata` (a writable PT_LOAD). Its pointers need
/// relocations in PIE; both Go's linker and GNU ld also write the value in place,
/// and where a word is 0 the R_*_RELATIVE addend for it is used instead.
///
/// One text section is assumed, as on amd64 and arm64 below the size at which
/// the linker splits text (`textsectmap` has one entry there).
public struct GoModuleData: Sendable, Equatable {
    /// Where the module data is (virtual address).
    public let address: UInt64
    public let minPC: UInt64
    public let maxPC: UInt64
    /// The base every 1.18+ pclntab offset is relative to.
    public let text: UInt64
    public let etext: UInt64

    /// What a candidate must agree with: the pclntab it points to.
    public struct Expectation: Sendable {
        /// The pclntab's virtual address (the `pcHeader` pointer).
        public var pclntab: UInt64
        public var header: GoPCLNTab.Header
        /// The first function's offset from text and the functab's end offset.
        public var firstOffset: UInt64
        public var lastOffset: UInt64

        public init(pclntab: UInt64, header: GoPCLNTab.Header, firstOffset: UInt64, lastOffset: UInt64) {
            self.pclntab = pclntab
            self.header = header
            self.firstOffset = firstOffset
            self.lastOffset = lastOffset
        }
    }

    /// Reads and checks a module data candidate at `address`, where `word(i)` is
    /// its i-th pointer-sized word (relocated). Nil if any check fails.
    public static func parse(at address: UInt64, expecting e: Expectation, word: (UInt64) -> UInt64?) -> GoModuleData? {
        guard word(0) == e.pclntab,
              word(1) == e.pclntab &+ e.header.funcnameOffset,
              word(16) == e.pclntab &+ e.header.pclnOffset,
              word(17) == e.header.nfunc &+ 1,
              let minPC = word(20), let maxPC = word(21), let text = word(22), let etext = word(23),
              text != 0, minPC == text &+ e.firstOffset, maxPC == text &+ e.lastOffset,
              text <= minPC, minPC <= maxPC, maxPC <= etext
        else { return nil }
        return GoModuleData(address: address, minPC: minPC, maxPC: maxPC, text: text, etext: etext)
    }

    /// Finds the module data of `elf` by scanning its writable PT_LOAD segments
    /// for a pointer to the pclntab that passes every check of `parse`.
    ///
    /// Throws `.textStartUnknown` when there is no such candidate, or when two
    /// candidates disagree on the text start.
    public static func locate(in elf: ELFFile, expecting e: Expectation, section: String) throws(GoRuntimeError) -> GoModuleData {
        let p = UInt64(e.header.ptrSize)
        let file = ByteReader(elf.bytes)
        let writable = elf.programHeaders.filter { $0.type == ProgramHeader.load && $0.flags & 2 != 0 }
        func fileWord(_ va: UInt64) -> UInt64? {
            guard let seg = writable.first(where: { va >= $0.vaddr && va &+ p <= $0.vaddr &+ $0.fileSize }) else { return nil }
            let o = va - seg.vaddr + seg.offset
            return p == 8 ? file.u64(o) : file.u32(o).map(UInt64.init)
        }

        var found: [GoModuleData] = []
        for seg in writable {
            guard let data = file.slice(seg.offset, seg.fileSize) else { continue }
            let r = ByteReader(data)
            var o: UInt64 = 0
            while o + p <= UInt64(data.count) {
                defer { o += p }
                let w = p == 8 ? r.u64(o) : r.u32(o).map(UInt64.init)
                guard w == e.pclntab else { continue }
                let address = seg.vaddr + o
                if let md = parse(at: address, expecting: e, word: { fileWord(address &+ $0 &* p) }) {
                    found.append(md)
                }
            }
        }
        if found.isEmpty {
            // A linker that left the words 0 and put the values in RELATIVE addends.
            let relocs = relativeRelocations(elf)
            for (address, addend) in relocs where addend == e.pclntab {
                let word = { (i: UInt64) -> UInt64? in
                    let va = address &+ i &* p
                    if let a = relocs[va] { return a }
                    return fileWord(va)
                }
                if let md = parse(at: address, expecting: e, word: word) { found.append(md) }
            }
        }
        guard let first = found.first else {
            throw .textStartUnknown(path: elf.path, section: section,
                                    what: "no runtime module data pointing at the pclntab (0x\(String(e.pclntab, radix: 16))) in any writable segment")
        }
        if let other = found.first(where: { $0.text != first.text }) {
            throw .textStartUnknown(path: elf.path, section: section,
                                    what: "two module data candidates disagree (text 0x\(String(first.text, radix: 16)) at 0x\(String(first.address, radix: 16)), 0x\(String(other.text, radix: 16)) at 0x\(String(other.address, radix: 16)))")
        }
        return first
    }

    /// R_X86_64_RELATIVE (8) and R_AARCH64_RELATIVE (1027) addends of every SHT_RELA
    /// section, by the address they patch.
    static func relativeRelocations(_ elf: ELFFile) -> [UInt64: UInt64] {
        let relative: UInt64 = elf.header.isX86_64 ? 8 : 1027
        var result: [UInt64: UInt64] = [:]
        for s in elf.sections where s.type == 4 && s.entrySize == 24 {
            guard let data = try? elf.rawData(s) else { continue }
            let r = ByteReader(data)
            var o: UInt64 = 0
            while let offset = r.u64(o), let info = r.u64(o + 8), let addend = r.u64(o + 16) {
                if info & 0xFFFF_FFFF == relative { result[offset] = addend }
                o += 24
            }
        }
        return result
    }
}
