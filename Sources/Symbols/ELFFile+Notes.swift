extension ELFFile {
    /// The GNU build-id (NT_GNU_BUILD_ID) as lowercase hex, if the object has one.
    public var buildID: String? {
        note(owner: "GNU", type: 3).map { $0.map { hex2($0) }.joined() }
    }

    /// The Go build ID (`.note.go.buildid`, type 4), present in Go executables.
    public var goBuildID: String? {
        note(owner: "Go", type: 4).map { String(decoding: $0, as: UTF8.self) }
    }

    /// `.gnu_debuglink`: the separate debug file's name and its CRC32.
    public var debugLink: (file: String, crc: UInt32)? {
        guard let s = section(named: ".gnu_debuglink"), let data = try? rawData(s) else { return nil }
        let r = ByteReader(data)
        guard let name = r.cString(0) else { return nil }
        let crcOffset = (UInt64(name.utf8.count) + 1 + 3) & ~3
        guard let crc = r.u32(crcOffset) else { return nil }
        return (name, crc)
    }

    /// The descriptor bytes of the first note with this owner and type, from
    /// SHT_NOTE sections, or PT_NOTE segments when the object has no section headers.
    public func note(owner: String, type: UInt32) -> [UInt8]? {
        var regions: [UnsafeRawBufferPointer] = sections.filter { $0.type == Section.typeNote }.compactMap { try? rawData($0) }
        if regions.isEmpty {
            regions = programHeaders.filter { $0.type == ProgramHeader.note }.compactMap { reader.slice($0.offset, $0.fileSize) }
        }
        for region in regions {
            let r = ByteReader(region)
            var o: UInt64 = 0
            while let nsz = r.u32(o), let dsz = r.u32(o + 4), let t = r.u32(o + 8) {
                let nameStart = o + 12
                let descStart = nameStart + ((UInt64(nsz) + 3) & ~3)
                guard let nameBytes = r.slice(nameStart, UInt64(nsz)), let desc = r.slice(descStart, UInt64(dsz)) else { break }
                let noteName = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
                if noteName == owner && t == type { return Array(desc) }
                o = descStart + ((UInt64(dsz) + 3) & ~3)
            }
        }
        return nil
    }
}

@inline(__always)
func hex2(_ b: UInt8) -> String {
    let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
    return String([digits[Int(b >> 4)], digits[Int(b & 0xf)]])
}
