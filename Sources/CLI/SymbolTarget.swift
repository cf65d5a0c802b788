import Symbols

/// An object opened for `symbols dump`/`resolve`, with the process it is
/// mapped in when `--pid` was given.
struct SymbolTarget {
    let path: String
    let elf: ELFFile
    let pid: Int32?
    /// Runtime address = file offset + bias, from the process's mapping of this object.
    let runtimeBias: ((UInt64) -> UInt64?)?

    /// Opens `spec` (a path or a bare library name). With a pid, the object is
    /// the one that process maps, opened through /proc/PID/root or map_files.
    static func open(_ spec: String, pid: Int32?) throws -> SymbolTarget {
        guard let pid else {
            let path = try LibraryLocator.resolveTarget(spec)
            return SymbolTarget(path: path, elf: try ELFFile(path: path), pid: nil, runtimeBias: nil)
        }
        let image = try ProcessImage(pid: pid)
        let object = try image.object(forTarget: spec)
        let elf = try image.openObject(object)
        return SymbolTarget(path: object.path, elf: elf, pid: pid,
                            runtimeBias: { object.runtimeAddress(forFileOffset: $0) })
    }

    func warnIfNotAttachable() {
        if !elf.header.isX86_64 {
            Log.note("\(path) is \(elf.header.machineName), not x86-64: symbols are listed, but uprobe-trace cannot attach to it on this machine")
        }
    }

    /// Up to three defined names near `name`: those containing it, else those
    /// sharing the longest prefix with it (a typo late in the name).
    func suggestions(for name: String) throws -> [String] {
        let bare = (name.split(separator: "@").first.map(String.init) ?? name).lowercased()
        let defined = try elf.symbols().filter(\.isDefined)
        var seen = Set<String>()
        var containing: [String] = []
        for sym in defined where sym.name.lowercased().contains(bare) && seen.insert(sym.displayName).inserted {
            containing.append(sym.displayName)
            if containing.count == 3 { return containing }
        }
        if !containing.isEmpty { return containing }
        let query = Array(bare.utf8)
        func shared(_ s: String) -> Int { zip(query, s.lowercased().utf8).prefix { $0 == $1 }.count }
        let ranked = defined.map { ($0.displayName, shared($0.name)) }
            .filter { $0.1 >= min(4, query.count) }
            .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
        var result: [String] = []
        for (n, _) in ranked where seen.insert(n).inserted {
            result.append(n)
            if result.count == 3 { break }
        }
        return result
    }

    func runtimeAddress(_ sym: Symbol) -> UInt64? {
        guard let runtimeBias, let off = elf.fileOffset(of: sym) else { return nil }
        return runtimeBias(off)
    }

    /// Writes the whole answer to stdout: one JSON document, or the table
    /// (preceded by the object line when `objectHeader`). `extra` adds a section
    /// after the header: it gets the JSON writer in JSON mode, else nil.
    func emit(_ symbols: [Symbol], json: Bool, objectHeader: Bool,
              extra: (Output, inout JSONWriter?) -> Void = { _, _ in }) {
        let out = Output()
        if json {
            var w: JSONWriter? = JSONWriter(out)
            w!.beginObject()
            writeHeader(&w!)
            extra(out, &w)
            w!.beginArray("symbols")
            for sym in symbols { write(sym, to: &w!) }
            w!.endArray()
            w!.endObject()
            out.byte(10)
        } else {
            var none: JSONWriter?
            if objectHeader { printHeader(out) }
            extra(out, &none)
            printTable(symbols, to: out)
        }
        out.flush()
    }

    func writeHeader(_ w: inout JSONWriter) {
        w.string("path", path)
        w.string("build_id", elf.buildID)
        w.string("type", elf.header.typeName)
        w.string("machine", elf.header.machineName)
        if let pid { w.int("pid", pid) }
    }

    func write(_ sym: Symbol, to w: inout JSONWriter) {
        w.beginObject()
        w.string("name", sym.name)
        w.string("version", sym.version)
        if sym.version != nil { w.bool("version_default", !sym.versionHidden) }
        w.string("type", sym.typeName)
        w.string("bind", sym.bindName)
        w.int("size", sym.size)
        w.int("address", sym.isDefined ? sym.value : nil)
        w.int("file_offset", elf.fileOffset(of: sym))
        w.string("section", elf.sectionName(of: sym))
        w.string("table", sym.table.rawValue)
        if pid != nil { w.int("runtime_address", runtimeAddress(sym)) }
        w.endObject()
    }

    func printHeader(_ out: Output) {
        out.line("\(path): ELF64 \(elf.header.typeName) \(elf.header.machineName)"
                 + (elf.buildID.map { ", build-id \($0)" } ?? ""))
        if let link = elf.debugLink { out.line("debuglink: \(link.file) (crc32 0x\(String(link.crc, radix: 16)))") }
    }

    func printTable(_ symbols: [Symbol], to out: Output) {
        let names = symbols.map(\.displayName)
        let nameWidth = min(max(names.map(\.utf8.count).max() ?? 4, 4), 60)
        var header = pad("NAME", nameWidth) + "  TYPE    BIND    " + lpad("SIZE", 8) + "  " + lpad("ADDRESS", 18)
            + "  " + lpad("FILE OFFSET", 12) + "  SECTION"
        if pid != nil { header += "  RUNTIME" }
        out.line(header)
        for (sym, name) in zip(symbols, names) {
            var line = pad(name, nameWidth) + "  " + pad(sym.typeName, 6) + "  " + pad(sym.bindName, 6) + "  "
                + lpad(String(sym.size), 8) + "  " + lpad(sym.isDefined ? hex(sym.value) : "-", 18) + "  "
                + lpad(elf.fileOffset(of: sym).map(hex) ?? "-", 12) + "  " + elf.sectionName(of: sym)
            if pid != nil { line += "  " + (runtimeAddress(sym).map(hex) ?? "-") }
            out.line(line)
        }
    }
}

func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

func pad(_ s: String, _ n: Int) -> String {
    let c = s.utf8.count
    return c >= n ? s : s + String(repeating: " ", count: n - c)
}

func lpad(_ s: String, _ n: Int) -> String {
    let c = s.utf8.count
    return c >= n ? s : String(repeating: " ", count: n - c) + s
}
