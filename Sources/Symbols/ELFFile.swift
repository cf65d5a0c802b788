import CZlib

/// A 64-bit little-endian ELF object (executable, PIE or shared library)
/// parsed from bytes: header, program headers, section headers.
///
/// Parsing is strict about bounds and lenient about content: a missing
/// section header table is fine (stripped objects keep their segments),
/// a header pointing past the end of the file is an error naming the path.
public final class ELFFile: @unchecked Sendable {
    public let path: String
    public let storage: MappedFile
    public let header: ELFHeader
    public let programHeaders: [ProgramHeader]
    public let sections: [Section]

    public var bytes: UnsafeRawBufferPointer { storage.bytes }
    var reader: ByteReader { ByteReader(storage.bytes) }

    /// Maps and parses the file at `path`.
    public convenience init(path: String) throws(SymbolsError) {
        try self.init(storage: try MappedFile(path: path))
    }

    /// Parses bytes already in memory; `path` is used in messages only.
    public convenience init(path: String = "<memory>", bytes: [UInt8]) throws(SymbolsError) {
        try self.init(storage: MappedFile(path: path, copying: bytes))
    }

    public init(storage: MappedFile) throws(SymbolsError) {
        self.storage = storage
        self.path = storage.path
        let r = ByteReader(storage.bytes)
        let size = UInt64(storage.bytes.count)
        if size == 0 { throw .emptyFile(path: path) }
        let magic: [UInt8] = [0x7f, 0x45, 0x4c, 0x46]
        if size < 4 {
            if storage.bytes.elementsEqual(magic.prefix(Int(size))) {
                throw .truncated(path: path, what: "ELF identification", needed: 16, size: size)
            }
            throw .notELF(path: path)
        }
        guard r.u32(0) == 0x464c_457f else { throw .notELF(path: path) }
        guard let cls = r.u8(4) else { throw .truncated(path: path, what: "ELF identification", needed: 16, size: size) }
        if cls == 1 { throw .unsupportedClass(path: path) }
        guard cls == 2 else { throw .malformed(path: path, what: "unknown ELF class \(cls)") }
        guard let data = r.u8(5) else { throw .truncated(path: path, what: "ELF identification", needed: 16, size: size) }
        if data == 2 { throw .unsupportedByteOrder(path: path) }
        guard data == 1 else { throw .malformed(path: path, what: "unknown ELF data encoding \(data)") }
        guard size >= ELFHeader.size else {
            throw .truncated(path: path, what: "ELF header", needed: ELFHeader.size, size: size)
        }
        let h = ELFHeader(
            type: r.u16(16)!, machine: r.u16(18)!, entry: r.u64(24)!,
            programHeaderOffset: r.u64(32)!, sectionHeaderOffset: r.u64(40)!,
            programHeaderEntrySize: r.u16(54)!, programHeaderCount: r.u16(56)!,
            sectionHeaderEntrySize: r.u16(58)!, sectionHeaderCount: r.u16(60)!,
            sectionNameTableIndex: r.u16(62)!)
        header = h

        var phdrs: [ProgramHeader] = []
        if h.programHeaderCount > 0 {
            guard h.programHeaderEntrySize >= 56 else {
                throw .malformed(path: path, what: "program header entry size \(h.programHeaderEntrySize) < 56")
            }
            let total = UInt64(h.programHeaderCount) * UInt64(h.programHeaderEntrySize)
            guard r.contains(h.programHeaderOffset, total) else {
                throw .truncated(path: path, what: "program header table at offset \(h.programHeaderOffset)",
                                 needed: h.programHeaderOffset &+ total, size: size)
            }
            phdrs.reserveCapacity(Int(h.programHeaderCount))
            for i in 0..<UInt64(h.programHeaderCount) {
                let o = h.programHeaderOffset + i * UInt64(h.programHeaderEntrySize)
                phdrs.append(ProgramHeader(
                    type: r.u32(o)!, flags: r.u32(o + 4)!, offset: r.u64(o + 8)!, vaddr: r.u64(o + 16)!,
                    fileSize: r.u64(o + 32)!, memorySize: r.u64(o + 40)!, align: r.u64(o + 48)!))
            }
        }
        programHeaders = phdrs
        sections = try Self.parseSections(r, header: h, path: storage.path, size: size)
    }

    private static func parseSections(_ r: ByteReader, header h: ELFHeader, path: String, size: UInt64) throws(SymbolsError) -> [Section] {
        guard h.sectionHeaderOffset != 0 else { return [] }
        guard h.sectionHeaderEntrySize >= 64 else {
            if h.sectionHeaderCount == 0 { return [] }
            throw .malformed(path: path, what: "section header entry size \(h.sectionHeaderEntrySize) < 64")
        }
        let es = UInt64(h.sectionHeaderEntrySize)
        // With 0xff00 or more sections, e_shnum is 0 and the real count is in section 0's sh_size.
        var count = UInt64(h.sectionHeaderCount)
        if count == 0 {
            guard let real = r.u64(h.sectionHeaderOffset + 32) else {
                throw .truncated(path: path, what: "section header table", needed: h.sectionHeaderOffset &+ es, size: size)
            }
            count = real
        }
        guard r.contains(h.sectionHeaderOffset, count &* es), count < 1 << 24 else {
            throw .truncated(path: path, what: "section header table at offset \(h.sectionHeaderOffset)",
                             needed: h.sectionHeaderOffset &+ count &* es, size: size)
        }
        var raw: [(nameOff: UInt32, s: Section)] = []
        raw.reserveCapacity(Int(count))
        for i in 0..<count {
            let o = h.sectionHeaderOffset + i * es
            raw.append((r.u32(o)!, Section(
                index: Int(i), name: "", type: r.u32(o + 4)!, flags: r.u64(o + 8)!, address: r.u64(o + 16)!,
                offset: r.u64(o + 24)!, size: r.u64(o + 32)!, link: r.u32(o + 40)!, info: r.u32(o + 44)!,
                entrySize: r.u64(o + 56)!)))
        }
        var strIndex = UInt64(h.sectionNameTableIndex)
        if strIndex == 0xffff, let first = raw.first { strIndex = UInt64(first.s.link) }
        var result: [Section] = []
        result.reserveCapacity(raw.count)
        let names: Section? = strIndex < count ? raw[Int(strIndex)].s : nil
        if let names, names.type != Section.typeNoBits, !r.contains(names.offset, names.size) {
            throw .truncated(path: path, what: "section name table", needed: names.offset &+ names.size, size: size)
        }
        for (nameOff, var s) in raw {
            if let names, UInt64(nameOff) < names.size {
                s.name = r.cString(names.offset + UInt64(nameOff)) ?? ""
            }
            result.append(s)
        }
        return result
    }

    // MARK: - Sections

    public func section(named name: String) -> Section? {
        sections.first { $0.name == name }
    }

    /// The raw bytes of a section as stored in the file (still compressed if it is).
    public func rawData(_ s: Section) throws(SymbolsError) -> UnsafeRawBufferPointer {
        if s.type == Section.typeNoBits { return UnsafeRawBufferPointer(start: nil, count: 0) }
        guard let b = reader.slice(s.offset, s.size) else {
            throw .truncated(path: path, what: "section \(s.name) at offset \(s.offset)",
                             needed: s.offset &+ s.size, size: UInt64(bytes.count))
        }
        return b
    }

    /// The contents of a section, decompressed when it is SHF_COMPRESSED
    /// (zlib) or a legacy `.zdebug_*` section.
    public func data(_ s: Section) throws(SymbolsError) -> [UInt8] {
        let raw = try rawData(s)
        if s.flags & Section.flagCompressed != 0 {
            let r = ByteReader(raw)
            // Elf64_Chdr: ch_type, ch_reserved, ch_size, ch_addralign (24 bytes).
            guard raw.count >= 24, let type = r.u32(0), let full = r.u64(8) else {
                throw .compressedSection(path: path, section: s.name, why: "compression header cut short")
            }
            guard type == 1 else {
                throw .compressedSection(path: path, section: s.name,
                                         why: type == 2 ? "zstd is not supported" : "unknown compression type \(type)")
            }
            return try inflate(UnsafeRawBufferPointer(rebasing: raw[24...]), expected: full, section: s.name)
        }
        if s.name.hasPrefix(".zdebug"), raw.count >= 12, raw.starts(with: Array("ZLIB".utf8)) {
            var full: UInt64 = 0
            for i in 4..<12 { full = full << 8 | UInt64(raw[i]) }
            return try inflate(UnsafeRawBufferPointer(rebasing: raw[12...]), expected: full, section: s.name)
        }
        return Array(raw)
    }

    private func inflate(_ input: UnsafeRawBufferPointer, expected: UInt64, section: String) throws(SymbolsError) -> [UInt8] {
        // zlib cannot expand more than ~1032:1; a larger claim is corrupt (and
        // would make us allocate gigabytes on a fuzzer's or attacker's say-so).
        guard expected <= UInt64(input.count) * 1100 + 4096 else {
            throw .compressedSection(path: path, section: section, why: "implausible size \(expected)")
        }
        var out = [UInt8](repeating: 0, count: Int(expected))
        var outLen = uLongf(expected)
        let rc = out.withUnsafeMutableBytes { o in
            uncompress(o.baseAddress?.assumingMemoryBound(to: Bytef.self), &outLen,
                       input.baseAddress?.assumingMemoryBound(to: Bytef.self), uLong(input.count))
        }
        guard rc == Z_OK, outLen == expected else {
            throw .compressedSection(path: path, section: section, why: "zlib error \(rc)")
        }
        return out
    }

    // MARK: - Addresses

    /// The PT_LOAD segment whose file-backed bytes contain `vaddr`.
    public func loadSegment(containing vaddr: UInt64) -> ProgramHeader? {
        programHeaders.first {
            $0.type == ProgramHeader.load && vaddr >= $0.vaddr && vaddr - $0.vaddr < $0.fileSize
        }
    }

    /// The uprobe offset of a virtual address: `vaddr - p_vaddr + p_offset`
    /// of the PT_LOAD segment that holds it, or nil where no file bytes back it.
    public func fileOffset(forVirtualAddress vaddr: UInt64) -> UInt64? {
        guard let seg = loadSegment(containing: vaddr) else { return nil }
        return vaddr - seg.vaddr + seg.offset
    }

    /// The virtual address that file offset `offset` is loaded at, if any.
    public func virtualAddress(forFileOffset offset: UInt64) -> UInt64? {
        guard let seg = programHeaders.first(where: {
            $0.type == ProgramHeader.load && offset >= $0.offset && offset - $0.offset < $0.fileSize
        }) else { return nil }
        return offset - seg.offset + seg.vaddr
    }

    /// `count` bytes of the loaded image at `vaddr`, when file-backed.
    public func bytes(atVirtualAddress vaddr: UInt64, count: UInt64) -> UnsafeRawBufferPointer? {
        guard let seg = loadSegment(containing: vaddr), vaddr - seg.vaddr <= seg.fileSize,
              count <= seg.fileSize - (vaddr - seg.vaddr) else { return nil }
        return reader.slice(vaddr - seg.vaddr + seg.offset, count)
    }

    /// The lowest p_vaddr of any PT_LOAD (0 for most shared libraries and PIE).
    public var loadBias: UInt64 {
        programHeaders.filter { $0.type == ProgramHeader.load }.map(\.vaddr).min() ?? 0
    }
}
