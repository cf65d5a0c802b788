extension ELFFile {
    /// Every named symbol of `.symtab` then `.dynsym`, with GNU versions
    /// attached to `.dynsym` entries.
    public func symbols() throws(SymbolsError) -> [Symbol] {
        var out: [Symbol] = []
        for s in sections where s.type == Section.typeSymtab {
            try readTable(s, table: .symtab, into: &out)
        }
        for s in sections where s.type == Section.typeDynsym {
            try readTable(s, table: .dynsym, into: &out)
        }
        return out
    }

    /// Defined symbols whose name (bare, or with `@VER`/`@@VER`) is `name`.
    /// `.symtab` and `.dynsym` copies of the same symbol collapse to one.
    public func lookup(_ name: String) throws(SymbolsError) -> [Symbol] {
        var bare = name
        var wantVersion: String?
        if let at = name.firstIndex(of: "@") {
            bare = String(name[..<at])
            wantVersion = String(name[at...].drop { $0 == "@" })
        }
        var found: [Symbol] = []
        for sym in try symbols() where sym.isDefined && sym.name == bare {
            if let wantVersion, sym.version != wantVersion { continue }
            if found.contains(where: { $0.value == sym.value && $0.name == sym.name }) {
                // Prefer the .dynsym copy: it carries the version.
                if sym.table == .dynsym, let i = found.firstIndex(where: { $0.value == sym.value }) { found[i] = sym }
                continue
            }
            found.append(sym)
        }
        return found
    }

    /// The name of the section a symbol is defined in, as readelf prints `Ndx`.
    public func sectionName(of sym: Symbol) -> String {
        switch sym.sectionIndex {
        case Symbol.undefinedSection: return "UND"
        case Symbol.absoluteSection: return "ABS"
        case Symbol.commonSection: return "COMMON"
        default:
            let i = Int(sym.sectionIndex)
            return i < sections.count ? sections[i].name : "#\(i)"
        }
    }

    /// The uprobe file offset of a defined symbol, nil for undefined,
    /// absolute, TLS and bss-only symbols.
    public func fileOffset(of sym: Symbol) -> UInt64? {
        guard sym.isDefined, sym.sectionIndex < Symbol.absoluteSection || sym.sectionIndex == Symbol.extendedIndex,
              sym.typeCode != 6 else { return nil }
        return fileOffset(forVirtualAddress: sym.value)
    }

    private func readTable(_ s: Section, table: Symbol.Table, into out: inout [Symbol]) throws(SymbolsError) {
        let data = try rawData(s)
        let r = ByteReader(data)
        guard Int(s.link) < sections.count else {
            throw .malformed(path: path, what: "\(s.name) links to section \(s.link), which does not exist")
        }
        let strtab = try rawData(sections[Int(s.link)])
        let strings = ByteReader(strtab)
        let es = s.entrySize == 0 ? 24 : s.entrySize
        guard es >= 24 else { throw .malformed(path: path, what: "\(s.name) entry size \(es) < 24") }
        let count = UInt64(data.count) / es
        let versions = table == .dynsym ? try versionTable(for: s) : nil
        let shndx = try extendedIndexTable(for: s)
        out.reserveCapacity(out.count + Int(count))
        // Entry 0 is the reserved null symbol.
        var i: UInt64 = 1
        while i < count {
            let o = i * es
            let nameOff = UInt64(r.u32(o)!)
            let info = r.u8(o + 4)!
            let type = info & 0xf
            // Section and file symbols name sections and source files, not code.
            if nameOff != 0, type != 3 {
                var sym = Symbol(
                    name: strings.cString(nameOff) ?? "", version: nil, versionHidden: false,
                    info: info, other: r.u8(o + 5)!, sectionIndex: r.u16(o + 6)!,
                    value: r.u64(o + 8)!, size: r.u64(o + 16)!, table: table)
                if sym.sectionIndex == Symbol.extendedIndex, let shndx, let real = shndx.u32(i * 4) {
                    sym.sectionIndex = UInt16(truncatingIfNeeded: min(real, 0xfeff))
                }
                if let versions {
                    versions.apply(index: Int(i), to: &sym)
                }
                if !sym.name.isEmpty { out.append(sym) }
            }
            i += 1
        }
    }

    private func extendedIndexTable(for symtab: Section) throws(SymbolsError) -> ByteReader? {
        guard let x = sections.first(where: { $0.type == Section.typeSymtabShndx && Int($0.link) == symtab.index }) else { return nil }
        return ByteReader(try rawData(x))
    }

    /// GNU versioning for `.dynsym`: `.gnu.version` (one half-word per symbol)
    /// indexing names defined in `.gnu.version_d` or required in `.gnu.version_r`.
    private func versionTable(for dynsym: Section) throws(SymbolsError) -> VersionTable? {
        guard let versym = sections.first(where: { $0.type == Section.typeGNUVersym }) else { return nil }
        var names: [UInt16: (name: String, defined: Bool)] = [:]
        // Elf64_Verdef: vd_ndx at 4, vd_aux at 12 (the first Verdaux's vda_name names it).
        if let d = try versionSection(Section.typeGNUVerdef) {
            for o in Self.chain(d.records, from: 0, nextAt: 16) {
                if let ndx = d.records.u16(o + 4), let aux = d.records.u32(o + 12),
                   let nameOff = d.records.u32(o + UInt64(aux)), let name = d.strings.cString(UInt64(nameOff)) {
                    names[ndx & 0x7fff] = (name, true)
                }
            }
        }
        // Elf64_Verneed: vn_cnt at 2, vn_aux at 8; its Elf64_Vernaux: vna_other at 6, vna_name at 8.
        if let d = try versionSection(Section.typeGNUVerneed) {
            for o in Self.chain(d.records, from: 0, nextAt: 12) {
                guard let cnt = d.records.u16(o + 2), let aux = d.records.u32(o + 8) else { continue }
                for a in Self.chain(d.records, from: o + UInt64(aux), nextAt: 12, limit: Int(cnt)) {
                    if let other = d.records.u16(a + 6), let nameOff = d.records.u32(a + 8),
                       let name = d.strings.cString(UInt64(nameOff)) {
                        names[other & 0x7fff] = (name, false)
                    }
                }
            }
        }
        return VersionTable(versym: ByteReader(try rawData(versym)), names: names)
    }

    /// A `.gnu.version_d` / `.gnu.version_r` section and the string table its `sh_link` names.
    private func versionSection(_ type: UInt32) throws(SymbolsError) -> (records: ByteReader, strings: ByteReader)? {
        guard let s = sections.first(where: { $0.type == type }), Int(s.link) < sections.count else { return nil }
        return (ByteReader(try rawData(s)), ByteReader(try rawData(sections[Int(s.link)])))
    }

    /// The offsets of a chain of version records (`Verdef`, `Verneed`, `Vernaux`):
    /// each holds, at `nextAt`, the distance to the next one, 0 in the last.
    /// At most `limit` records, so a looping chain ends.
    private static func chain(_ r: ByteReader, from start: UInt64, nextAt: UInt64, limit: Int = 65536) -> [UInt64] {
        var out: [UInt64] = []
        var o = start
        while out.count < limit, let next = r.u32(o + nextAt) {
            out.append(o)
            if next == 0 { break }
            o += UInt64(next)
        }
        return out
    }
}

struct VersionTable {
    let versym: ByteReader
    let names: [UInt16: (name: String, defined: Bool)]

    func apply(index: Int, to sym: inout Symbol) {
        guard let raw = versym.u16(UInt64(index) * 2) else { return }
        let ndx = raw & 0x7fff
        // 0 = local, 1 = global unversioned (the base definition).
        guard ndx > 1, let entry = names[ndx] else { return }
        sym.version = entry.name
        // readelf: '@@' for the default version of a defined symbol, '@' for hidden ones and references.
        sym.versionHidden = (raw & 0x8000) != 0 || !sym.isDefined || !entry.defined
    }
}
