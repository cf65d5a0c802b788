import Symbols

/// The Go function table (`runtime.pclntab`) parsed from bytes: the header
/// and, for every function, its name and `[entry, end)` address range.
///
/// Why: the pclntab is what the Go runtime itself uses for stack traces, so it
/// survives `-ldflags='-s -w'`, which removes `.symtab`; it is how we find
/// functions in stripped binaries. Names differ from `.symtab` in one way:
/// assembly functions lack the `.abi0` suffix.
///
/// Layouts read (all little-endian; the header starts with a 4-byte magic,
/// two zero bytes, the instruction-size quantum `minLC` and the pointer size):
///
/// | magic        | Go        | header words after byte 8 (pointer-sized)                                                  | functab entry                  |
/// |--------------|-----------|--------------------------------------------------------------------------------------------|--------------------------------|
/// | `0xFFFFFFFB` | 1.2–1.15  | nfunc; functab follows at 8+ptrSize                                                        | (pc, funcoff), pointer-sized  |
/// | `0xFFFFFFFA` | 1.16–1.17 | nfunc, nfiles, funcnameOffset, cuOffset, filetabOffset, pctabOffset, pclnOffset            | (pc, funcoff), pointer-sized  |
/// | `0xFFFFFFF0` | 1.18–1.19 | nfunc, nfiles, textStart, funcnameOffset, cuOffset, filetabOffset, pctabOffset, pclnOffset | (entryoff, funcoff), uint32   |
/// | `0xFFFFFFF1` | 1.20+     | as 1.18                                                                                    | (entryoff, funcoff), uint32   |
///
/// The functab has nfunc+1 entries; the last one holds only the end of the
/// last function. `funcoff` locates a `_func` relative to the functab
/// (relative to the table start for 1.2), whose second field is `nameOff`
/// into the function-name table. From 1.18, PCs are offsets from `textStart`.
/// Go 1.26 writes textStart = 0 (the runtime reads `moduledata.text` instead): callers
/// pass the text base (`GoModuleData`; see `parse(_:textStart:path:section:)`).
public struct GoPCLNTab: Sendable {
    /// Which Go versions wrote the table, by its magic.
    public enum Layout: Sendable, Hashable, CustomStringConvertible {
        case go12, go116, go118, go120

        public var magic: UInt32 {
            switch self {
            case .go12: return 0xFFFF_FFFB
            case .go116: return 0xFFFF_FFFA
            case .go118: return 0xFFFF_FFF0
            case .go120: return 0xFFFF_FFF1
            }
        }

        public init?(magic: UInt32) {
            switch magic {
            case 0xFFFF_FFFB: self = .go12
            case 0xFFFF_FFFA: self = .go116
            case 0xFFFF_FFF0: self = .go118
            case 0xFFFF_FFF1: self = .go120
            default: return nil
            }
        }

        public var description: String {
            switch self {
            case .go12: return "Go 1.2-1.15"
            case .go116: return "Go 1.16-1.17"
            case .go118: return "Go 1.18-1.19"
            case .go120: return "Go 1.20+"
            }
        }

        /// 1.18+ tables hold 32-bit offsets from textStart instead of PCs.
        var usesTextOffsets: Bool { self == .go118 || self == .go120 }
    }

    /// The pclntab header. Offsets are from the start of the table; fields a
    /// layout lacks are 0 (`nfiles`, `cuOffset`, ... for 1.2; `textStart` before 1.18).
    public struct Header: Sendable, Hashable {
        public var layout: Layout
        public var minLC: UInt8
        public var ptrSize: UInt8
        public var nfunc: UInt64
        public var nfiles: UInt64
        public var textStart: UInt64
        public var funcnameOffset: UInt64
        public var cuOffset: UInt64
        public var filetabOffset: UInt64
        public var pctabOffset: UInt64
        /// Where the functab starts (the `_func` structs follow it).
        public var pclnOffset: UInt64

        /// Bytes the header occupies.
        public var size: UInt64 {
            let p = UInt64(ptrSize)
            switch layout {
            case .go12: return 8 + p
            case .go116: return 8 + 7 * p
            case .go118, .go120: return 8 + 8 * p
            }
        }
    }

    /// One function: name and `[entry, end)` as virtual addresses.
    public struct Entry: Sendable, Hashable {
        public var name: String
        public var entry: UInt64
        public var end: UInt64
        /// The `_func.funcID` byte (0 = ordinary function; 1.16+ layouts only,
        /// 0 for 1.2). Its values shift between Go versions; see `wrapperFuncID`.
        public var funcID: UInt8
    }

    public let header: Header
    /// The text base PCs were computed from (0 before Go 1.18, where PCs are absolute).
    public let textStart: UInt64
    /// Functions in functab order (ascending entry).
    public let functions: [Entry]

    /// The funcID the compiler gives generated wrappers (ABI0<->ABIInternal
    /// wrappers, method-value wrappers), or nil if none is seen.
    ///
    /// Why: an ABI wrapper has the same pclntab name as the function it wraps
    /// (`.symtab` calls it `X.abi0`), so a name can occur twice. The wrapper id
    /// is the last of the funcID enumeration and moves when Go adds special
    /// runtime functions (21 in Go 1.18–1.22, 22 from 1.23), so it is found
    /// from the data: each special runtime function has its own id and occurs
    /// once, while wrappers number in the hundreds in any real binary.
    public var wrapperFuncID: UInt8? {
        var counts = [Int](repeating: 0, count: 256)
        for f in functions where f.funcID != 0 { counts[Int(f.funcID)] += 1 }
        guard let (id, n) = counts.enumerated().max(by: { $0.element < $1.element }), n > 1 else { return nil }
        return UInt8(id)
    }

    /// Reads the header only. Throws for a wrong magic, a pointer size other
    /// than 4 or 8, a header cut short, or offsets that point past the end.
    public static func parseHeader(
        _ bytes: UnsafeRawBufferPointer, path: String = "<memory>", section: String = ".gopclntab"
    ) throws(GoRuntimeError) -> Header {
        let r = ByteReader(bytes)
        func malformed(_ what: String) -> GoRuntimeError { .malformed(path: path, section: section, what: what) }
        guard let magic = r.u32(0), let pad = r.u16(4), let minLC = r.u8(6), let ptrSize = r.u8(7) else {
            throw malformed("\(bytes.count) bytes, shorter than the 8-byte header start")
        }
        guard let layout = Layout(magic: magic) else {
            if Layout(magic: magic.byteSwapped) != nil {
                throw .unsupportedLayout(path: path, section: section, what: "big-endian pclntab")
            }
            throw .unsupportedLayout(path: path, section: section,
                                     what: "unknown pclntab magic 0x\(String(magic, radix: 16))")
        }
        guard pad == 0 else { throw malformed("header bytes 4-5 are 0x\(String(pad, radix: 16)), not zero") }
        guard minLC == 1 || minLC == 2 || minLC == 4 else { throw malformed("instruction quantum \(minLC) is not 1, 2 or 4") }
        guard ptrSize == 4 || ptrSize == 8 else { throw malformed("pointer size \(ptrSize) is neither 4 nor 8") }
        let p = UInt64(ptrSize)
        func word(_ i: UInt64) throws(GoRuntimeError) -> UInt64 {
            let o = 8 + i * p
            let v = p == 8 ? r.u64(o) : r.u32(o).map(UInt64.init)
            guard let v else { throw malformed("header cut short at byte \(o) of \(bytes.count)") }
            return v
        }
        var h = Header(layout: layout, minLC: minLC, ptrSize: ptrSize, nfunc: try word(0), nfiles: 0, textStart: 0,
                       funcnameOffset: 0, cuOffset: 0, filetabOffset: 0, pctabOffset: 0, pclnOffset: 0)
        switch layout {
        case .go12:
            h.pclnOffset = 8 + p
        case .go116:
            h.nfiles = try word(1)
            h.funcnameOffset = try word(2)
            h.cuOffset = try word(3)
            h.filetabOffset = try word(4)
            h.pctabOffset = try word(5)
            h.pclnOffset = try word(6)
        case .go118, .go120:
            h.nfiles = try word(1)
            h.textStart = try word(2)
            h.funcnameOffset = try word(3)
            h.cuOffset = try word(4)
            h.filetabOffset = try word(5)
            h.pctabOffset = try word(6)
            h.pclnOffset = try word(7)
        }
        let size = UInt64(bytes.count)
        let named: [(String, UInt64)] = [
            ("funcnameOffset", h.funcnameOffset), ("cuOffset", h.cuOffset), ("filetabOffset", h.filetabOffset),
            ("pctabOffset", h.pctabOffset), ("pclnOffset", h.pclnOffset),
        ]
        for (name, v) in named where v > size {
            throw malformed("\(name) 0x\(String(v, radix: 16)) is past the end (0x\(String(size, radix: 16)) bytes)")
        }
        return h
    }

    /// Parses the header, the functab, every `_func` and every name.
    ///
    /// - Parameters:
    ///   - bytes: the table from its magic; trailing bytes are ignored, so a
    ///     scan may pass everything up to the end of a segment.
    ///   - textStart: the text base to use when a 1.18+ header holds 0 (Go 1.26+
    ///     writes 0 and relies on the runtime to fill it in). Ignored when the
    ///     header has a value, and for older layouts. When nil and needed, throws.
    ///   - path, section: used in error messages only.
    public static func parse(
        _ bytes: UnsafeRawBufferPointer, textStart: UInt64? = nil,
        path: String = "<memory>", section: String = ".gopclntab"
    ) throws(GoRuntimeError) -> GoPCLNTab {
        let h = try parseHeader(bytes, path: path, section: section)
        let r = ByteReader(bytes)
        func malformed(_ what: String) -> GoRuntimeError { .malformed(path: path, section: section, what: what) }
        let size = UInt64(bytes.count)
        let p = UInt64(h.ptrSize)

        var base: UInt64 = 0
        if h.layout.usesTextOffsets {
            if h.textStart != 0 {
                base = h.textStart
            } else if let textStart {
                base = textStart
            } else {
                throw .unsupportedLayout(
                    path: path, section: section,
                    what: "textStart is 0 (Go 1.26+ leaves it to the runtime) and no text base was given")
            }
        }

        // Field width inside the functab; where names and _func structs are found.
        let field: UInt64 = h.layout.usesTextOffsets ? 4 : p
        let funcBase = h.layout == .go12 ? 0 : h.pclnOffset
        let nameBase = h.layout == .go12 ? 0 : h.funcnameOffset
        let entrySize = 2 * field
        // _func: entry, then eight 32-bit fields (nameOff, args, deferreturn, pcsp,
        // pcfile, pcln, npcdata, cuOffset), 1.20 adds startLine, then funcID.
        let funcIDOffset: UInt64? = switch h.layout {
        case .go12: nil
        case .go116, .go118: field + 32
        case .go120: field + 36
        }
        guard h.pclnOffset <= size, h.nfunc < (size - h.pclnOffset) / entrySize else {
            throw malformed("functab of \(h.nfunc) functions at 0x\(String(h.pclnOffset, radix: 16)) does not fit in \(size) bytes")
        }
        func readField(_ o: UInt64) -> UInt64? {
            field == 8 ? r.u64(o) : r.u32(o).map(UInt64.init)
        }

        var functions: [Entry] = []
        functions.reserveCapacity(Int(h.nfunc))
        var previous: UInt64 = 0
        var i: UInt64 = 0
        while i < h.nfunc {
            let o = h.pclnOffset + i * entrySize
            // In bounds: checked against nfunc above.
            let pc = readField(o)!
            let funcoff = readField(o + field)!
            let nextPC = readField(o + entrySize)!
            guard pc >= previous, nextPC >= pc else {
                throw malformed("functab entry \(i) (0x\(String(pc, radix: 16))) is out of order")
            }
            previous = pc
            let (fo, overflow) = funcBase.addingReportingOverflow(funcoff)
            // _func: entry (uint32 offset from 1.18, a pointer before), then nameOff int32.
            let nameField = fo &+ field
            guard !overflow, let rawName = r.u32(nameField) else {
                throw malformed("_func of functab entry \(i) at 0x\(String(fo, radix: 16)) is past the end")
            }
            let nameOff = Int32(bitPattern: rawName)
            guard nameOff >= 0, let name = cString(r, at: nameBase + UInt64(nameOff)) else {
                throw malformed("name of function \(i) (nameOff \(nameOff)) is not inside the table")
            }
            let (entry, o1) = base.addingReportingOverflow(pc)
            let (end, o2) = base.addingReportingOverflow(nextPC)
            guard !o1, !o2 else { throw malformed("function \(i) address overflows") }
            functions.append(Entry(name: name, entry: entry, end: end,
                                   funcID: funcIDOffset.flatMap { r.u8(fo &+ $0) } ?? 0))
            i += 1
        }
        return GoPCLNTab(header: h, textStart: base, functions: functions)
    }

    /// `[UInt8]` convenience for tests and fuzzing.
    public static func parse(
        _ bytes: [UInt8], textStart: UInt64? = nil, path: String = "<memory>", section: String = ".gopclntab"
    ) throws(GoRuntimeError) -> GoPCLNTab {
        let result: Result<GoPCLNTab, GoRuntimeError> = bytes.withUnsafeBytes { b in
            Result { () throws(GoRuntimeError) in try parse(b, textStart: textStart, path: path, section: section) }
        }
        return try result.get()
    }

    /// A NUL-terminated name; nil when it starts or runs past the end.
    private static func cString(_ r: ByteReader, at offset: UInt64) -> String? {
        guard offset < UInt64(r.bytes.count) else { return nil }
        let start = Int(offset)
        let rest = UnsafeRawBufferPointer(rebasing: r.bytes[start...])
        guard let nul = rest.firstIndex(of: 0) else { return nil }
        return String(decoding: UnsafeRawBufferPointer(rebasing: rest[..<nul]), as: UTF8.self)
    }
}
