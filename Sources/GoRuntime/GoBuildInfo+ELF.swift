import Symbols

extension GoBuildInfo {
    /// Finds and parses the build info of a Go ELF binary.
    ///
    /// Looks for the `.go.buildinfo` section; when the section headers are
    /// gone (or renamed), scans the writable PT_LOADs in order for the magic at
    /// 16-byte boundaries (the linker puts it at the start of the writable data:
    /// the first writable segment, or in PIE the one after RELRO).
    public static func load(from elf: ELFFile) throws(GoRuntimeError) -> GoBuildInfo {
        let bytes = try locate(in: elf)
        return try parse(bytes, path: elf.path) { vaddr, count in
            elf.bytes(atVirtualAddress: vaddr, count: count).map { Array($0) }
        }
    }

    /// Convenience: maps `path` and loads its build info.
    public static func load(path: String) throws(GoRuntimeError) -> GoBuildInfo {
        let elf: ELFFile
        do { elf = try ELFFile(path: path) } catch { throw .symbols(error) }
        return try load(from: elf)
    }

    private static func locate(in elf: ELFFile) throws(GoRuntimeError) -> UnsafeRawBufferPointer {
        if let s = elf.section(named: ".go.buildinfo") {
            do { return try elf.rawData(s) } catch { throw .symbols(error) }
        }
        // The first writable segment of a normal build; in PIE the first one is
        // RELRO data (.data.rel.ro) and .go.buildinfo starts the next.
        for seg in elf.programHeaders where seg.type == ProgramHeader.load && seg.flags & 2 != 0 {
            if let data = ByteReader(elf.bytes).slice(seg.offset, seg.fileSize), let at = scan(data) {
                return UnsafeRawBufferPointer(rebasing: data[at...])
            }
        }
        throw .missingSection(path: elf.path, section: ".go.buildinfo")
    }

    /// The offset of the first 16-byte-aligned build-info magic in `data`.
    static func scan(_ data: UnsafeRawBufferPointer) -> Int? {
        var at = 0
        while at + magic.count <= data.count {
            if data[at] == magic[0], UnsafeRawBufferPointer(rebasing: data[at..<(at + magic.count)]).elementsEqual(magic) {
                return at
            }
            at += alignment
        }
        return nil
    }
}
