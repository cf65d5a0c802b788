import Symbols

/// A Go function found in the pclntab: where it is in memory and where its
/// first instruction is in the file (the uprobe offset).
public struct GoFunction: Sendable, Hashable {
    /// The name as the pclntab spells it: `net/http.(*conn).serve`,
    /// `runtime.memmove` (no `.abi0` suffix for assembly functions),
    /// `pkg.F[...]` for generic instantiations.
    public var name: String
    /// Link-time virtual address of the first instruction.
    public var entry: UInt64
    /// The next function's entry (the functab's final entry for the last
    /// function); may include alignment padding after the last instruction.
    public var end: UInt64
    /// `entry - p_vaddr + p_offset` of the PT_LOAD segment holding `entry`.
    public var fileOffset: UInt64
    /// A compiler-generated wrapper (ABI wrapper, method value). An ABI wrapper
    /// shares its pclntab name with the function it wraps, which is the one to
    /// probe: `.symtab` calls the ABI0 side `X.abi0`, which is the wrapper for a
    /// Go function and the real code for an assembly function. The wrapper is
    /// always emitted after the real function.
    public var isWrapper: Bool

    public init(name: String, entry: UInt64, end: UInt64, fileOffset: UInt64, isWrapper: Bool = false) {
        self.name = name
        self.entry = entry
        self.end = end
        self.fileOffset = fileOffset
        self.isWrapper = isWrapper
    }

    public var size: UInt64 { end - entry }
}

/// Every function of a Go binary, read from its pclntab, with lookup by name
/// and by address.
///
/// Why not `.symtab`: it is gone from binaries built with `-ldflags=-s`, while
/// the pclntab is always there because the runtime needs it.
///
/// Finding the table: the `.gopclntab` section (`.data.rel.ro.gopclntab` in
/// PIE); without section headers, the `runtime.pclntab`..`runtime.epclntab`
/// symbols; without those, a scan of the PT_LOAD segments for a pclntab magic
/// at 8-byte boundaries whose header and functab parse.
///
/// Finding the text base when a 1.18+ header holds textStart = 0 (Go 1.26+): the
/// runtime's module data, as the runtime itself does (`GoModuleData`). Not `.text`
/// (external linking puts C code before `runtime.text`) and not the entry point
/// (the C `_start` there): when the module data cannot be found, loading fails.
public struct GoFunctionTable: Sendable {
    /// Functions in ascending entry order.
    public let functions: [GoFunction]
    public let header: GoPCLNTab.Header
    /// The text base function addresses were computed from (0 before Go 1.18).
    public let textStart: UInt64
    /// How the table was found: a section name, `runtime.pclntab symbol` or `scan`.
    public let source: String
    /// Where `textStart` came from: `pclntab header`, `module data at 0x...`, or
    /// `absolute PCs` before Go 1.18.
    public let textStartSource: String
    private let byName: [String: Int]

    public init(functions: [GoFunction], header: GoPCLNTab.Header, textStart: UInt64, source: String,
                textStartSource: String = "pclntab header") {
        self.functions = functions
        self.header = header
        self.textStart = textStart
        self.source = source
        self.textStartSource = textStartSource
        var byName: [String: Int] = [:]
        byName.reserveCapacity(functions.count)
        // A name occurs more than once for a function and its ABI wrapper, and
        // for generic instantiations (all spelled `F[...]`): prefer a non-wrapper,
        // then the lowest address (wrappers follow what they wrap; and
        // reflect.callMethod, flagged a wrapper itself, comes before its ABI0 wrapper).
        for (i, f) in functions.enumerated() {
            if let j = byName[f.name], !(functions[j].isWrapper && !f.isWrapper) { continue }
            byName[f.name] = i
        }
        self.byName = byName
    }

    /// The function called `name` (pclntab spelling; a trailing `.abi0` is
    /// ignored). When several share the name, the one that is not a wrapper,
    /// then the first; `functions(named:)` lists them all.
    public func function(named name: String) -> GoFunction? {
        if let i = byName[name] { return functions[i] }
        if name.hasSuffix(".abi0"), let i = byName[String(name.dropLast(5))] { return functions[i] }
        return nil
    }

    /// Every function called `name`, in address order.
    public func functions(named name: String) -> [GoFunction] {
        functions.filter { $0.name == name }
    }

    /// The function whose `[entry, end)` holds `address`.
    public func function(containing address: UInt64) -> GoFunction? {
        var lo = 0
        var hi = functions.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if functions[mid].entry <= address { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0 else { return nil }
        let f = functions[lo - 1]
        return address < f.end ? f : nil
    }

    /// Convenience: maps `path` and loads its function table.
    public static func load(path: String) throws(GoRuntimeError) -> GoFunctionTable {
        let elf: ELFFile
        do { elf = try ELFFile(path: path) } catch { throw .symbols(error) }
        return try load(from: elf)
    }

    /// Finds and parses the pclntab of a Go ELF binary and gives every
    /// function its file offset.
    public static func load(from elf: ELFFile) throws(GoRuntimeError) -> GoFunctionTable {
        let (bytes, address, source) = try locate(in: elf)
        var table: GoPCLNTab
        var textStartSource = "pclntab header"
        let header = try GoPCLNTab.parseHeader(bytes, path: elf.path, section: source)
        if header.layout == .go118 || header.layout == .go120, header.textStart == 0 {
            // Offsets only, then the base the module data names.
            let offsets = try GoPCLNTab.parse(bytes, textStart: 0, path: elf.path, section: source)
            guard let first = offsets.functions.first, let last = offsets.functions.last else {
                throw .malformed(path: elf.path, section: source, what: "no functions")
            }
            let md = try GoModuleData.locate(
                in: elf, expecting: .init(pclntab: address, header: header, firstOffset: first.entry, lastOffset: last.end),
                section: source)
            table = try GoPCLNTab.parse(bytes, textStart: md.text, path: elf.path, section: source)
            textStartSource = "module data at 0x\(String(md.address, radix: 16))"
        } else {
            table = try GoPCLNTab.parse(bytes, path: elf.path, section: source)
            if !header.layout.usesTextOffsets { textStartSource = "absolute PCs" }
        }
        let wrapperID = table.wrapperFuncID
        var functions: [GoFunction] = []
        functions.reserveCapacity(table.functions.count)
        for f in table.functions {
            guard let off = elf.fileOffset(forVirtualAddress: f.entry) else {
                throw .malformed(path: elf.path, section: source,
                                 what: "\(f.name) at 0x\(String(f.entry, radix: 16)) is in no PT_LOAD segment")
            }
            functions.append(GoFunction(name: f.name, entry: f.entry, end: f.end, fileOffset: off,
                                        isWrapper: wrapperID != nil && f.funcID == wrapperID))
        }
        return GoFunctionTable(functions: functions, header: table.header, textStart: table.textStart, source: source,
                               textStartSource: textStartSource)
    }

    /// The table's bytes, its virtual address and how it was found.
    private static func locate(in elf: ELFFile) throws(GoRuntimeError) -> (UnsafeRawBufferPointer, UInt64, String) {
        for name in [".gopclntab", ".data.rel.ro.gopclntab"] {
            if let s = elf.section(named: name) {
                do { return (try elf.rawData(s), s.address, name) } catch { throw .symbols(error) }
            }
        }
        if let syms = try? elf.symbols(),
           let start = syms.first(where: { $0.name == "runtime.pclntab" && $0.isDefined })?.value,
           let end = syms.first(where: { $0.name == "runtime.epclntab" && $0.isDefined })?.value,
           end > start, let b = elf.bytes(atVirtualAddress: start, count: end - start) {
            return (b, start, "runtime.pclntab symbol")
        }
        if let (b, address) = scan(elf) { return (b, address, "scan") }
        if elf.section(named: ".go.buildinfo") != nil {
            throw .missingSection(path: elf.path, section: ".gopclntab")
        }
        throw .notGo(path: elf.path)
    }

    /// The first 8-byte-aligned place in a file-backed PT_LOAD where a
    /// pclntab header and functab parse; read-only segments first, since
    /// that is where the linker puts it (RELRO data in PIE).
    private static func scan(_ elf: ELFFile) -> (UnsafeRawBufferPointer, UInt64)? {
        let loads = elf.programHeaders.filter { $0.type == ProgramHeader.load && !$0.isExecutable }
            + elf.programHeaders.filter { $0.type == ProgramHeader.load && $0.isExecutable }
        let file = ByteReader(elf.bytes)
        for seg in loads {
            guard let data = file.slice(seg.offset, seg.fileSize) else { continue }
            let r = ByteReader(data)
            var o: UInt64 = 0
            while o + 16 <= UInt64(data.count) {
                defer { o += 8 }
                guard let m = r.u32(o), GoPCLNTab.Layout(magic: m) != nil, r.u16(o + 4) == 0 else { continue }
                let candidate = UnsafeRawBufferPointer(rebasing: data[Int(o)...])
                // A table with textStart 0 still parses here: offsets are enough to accept it.
                if let t = try? GoPCLNTab.parse(candidate, textStart: 0), !t.functions.isEmpty {
                    return (candidate, seg.vaddr + o)
                }
            }
        }
        return nil
    }
}
