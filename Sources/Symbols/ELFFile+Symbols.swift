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
        if let verdef = sections.first(where: { $0.type == Section.typeGNUVerdef }), Int(verdef.link) < sections.count {
            let r = ByteReader(try rawData(verdef))
            let str = ByteReader(try rawData(sections[Int(verdef.link)]))
            var o: UInt64 = 0
            var guardCount = 0
            while guardCount < 65536, let ndx = r.u16(o + 4), let aux = r.u32(o + 12), let next = r.u32(o + 16) {
                if let nameOff = r.u32(o + UInt64(aux)), let name = str.cString(UInt64(nameOff)) {
                    names[ndx & 0x7fff] = (name, true)
                }
                if next == 0 { break }
                o += UInt64(next)
                guardCount += 1
            }
        }
        if let verneed = sections.first(where: { $0.type == Section.typeGNUVerneed }), Int(verneed.link) < sections.count {
            let r = ByteReader(try rawData(verneed))
            let str = ByteReader(try rawData(sections[Int(verneed.link)]))
            var o: UInt64 = 0
            var guardCount = 0
            while guardCount < 65536, let cnt = r.u16(o + 2), let aux = r.u32(o + 8), let next = r.u32(o + 12) {
                var a = o + UInt64(aux)
                for _ in 0..<cnt {
                    guard let other = r.u16(a + 6), let nameOff = r.u32(a + 8), let anext = r.u32(a + 12) else { break }
                    if let name = str.cString(UInt64(nameOff)) { names[other & 0x7fff] = (name, false) }
                    if anext == 0 { break }
                    a += UInt64(anext)
                }
                if next == 0 { break }
                o += UInt64(next)
                guardCount += 1
            }
        }
        return VersionTable(versym: ByteReader(try rawData(versym)), names: names)
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
