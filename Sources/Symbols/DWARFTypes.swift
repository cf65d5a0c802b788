#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CLibDW

/// One member of a struct as DWARF describes it.
public struct DWARFMember: Sendable, Equatable {
    public let name: String
    /// Byte offset from the start of the struct (`DW_AT_data_member_location`).
    public let offset: Int
    /// Size of the member's type in bytes, when DWARF says (or implies, for pointers).
    public let size: Int?
    /// Name of the member's type (`*net/url.URL`, `string`, `int`), if it has one.
    public let typeName: String?

    public init(name: String, offset: Int, size: Int?, typeName: String?) {
        self.name = name
        self.offset = offset
        self.size = size
        self.typeName = typeName
    }
}

/// A struct type found in DWARF: its size and members in declaration order.
public struct DWARFStruct: Sendable, Equatable {
    /// The DWARF name; Go qualifies it with the import path (`net/http.Request`).
    public let name: String
    public let byteSize: Int?
    public let members: [DWARFMember]

    public init(name: String, byteSize: Int?, members: [DWARFMember]) {
        self.name = name
        self.byteSize = byteSize
        self.members = members
    }

    /// The first member called `name`, or nil.
    public func member(named name: String) -> DWARFMember? {
        members.first { $0.name == name }
    }
}

/// One formal parameter (or, in Go, named result) of a function.
public struct DWARFParameter: Sendable, Equatable {
    public let name: String
    public let typeName: String?
    public let size: Int?
    /// Go marks results with `DW_AT_variable_parameter` = true (`~r0`, `~r1`, ...).
    public let isResult: Bool

    public init(name: String, typeName: String?, size: Int?, isResult: Bool) {
        self.name = name
        self.typeName = typeName
        self.size = size
        self.isResult = isResult
    }
}

/// A function (`DW_TAG_subprogram`) and its parameters in declaration order.
public struct DWARFSubprogram: Sendable, Equatable {
    public let name: String
    public let parameters: [DWARFParameter]

    public init(name: String, parameters: [DWARFParameter]) {
        self.name = name
        self.parameters = parameters
    }

    public var arguments: [DWARFParameter] { parameters.filter { !$0.isResult } }
    public var results: [DWARFParameter] { parameters.filter { $0.isResult } }
}

/// The struct layouts and function signatures we asked DWARF for, read from one object.
///
/// Why a snapshot and not a live libdw handle: opening DWARF is the expensive part
/// (Go 1.19 compresses it; `dwarf_begin` spends ~33 ms inflating 9 MB), so every wanted
/// name is collected in one walk over the top-level DIEs of every CU, the handle is
/// closed, and what remains is plain `Sendable` data.
public struct DWARFTypes: Sendable {
    public let path: String
    public let structs: [String: DWARFStruct]
    public let subprograms: [String: DWARFSubprogram]

    public init(path: String, structs: [String: DWARFStruct], subprograms: [String: DWARFSubprogram]) {
        self.path = path
        self.structs = structs
        self.subprograms = subprograms
    }

    /// Reads the named struct types and functions from `path` (via libdw).
    ///
    /// Returns nil when the object carries no DWARF at all (stripped, `go build -ldflags=-w`),
    /// so callers can fall back to something else. Names not found are simply absent.
    /// Throws when the file cannot be read or its DWARF is present but unreadable.
    public static func load(
        path: String,
        structs wantedStructs: Set<String>,
        subprograms wantedSubprograms: Set<String> = []
    ) throws(SymbolsError) -> DWARFTypes? {
        // Our own ELF reader gives precise errors for missing/non-ELF files and
        // tells "no DWARF" apart from "broken DWARF", which libdw's public API does not.
        let elf = try ELFFile(path: path)
        guard elf.section(named: ".debug_info") != nil || elf.section(named: ".zdebug_info") != nil else {
            return nil
        }

        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw MappedFile.openError(path: path, errno: errno) }
        defer { close(fd) }
        guard let dbg = dwarf_begin(fd, DWARF_C_READ) else {
            throw .dwarf(path: path, what: "libdw cannot open the debug info: \(lastDwarfError())")
        }
        defer { dwarf_end(dbg) }

        var walker = DIEWalker(wantedStructs: wantedStructs, wantedSubprograms: wantedSubprograms)
        try walker.walk(dbg, path: path)
        return DWARFTypes(path: path, structs: walker.structs, subprograms: walker.subprograms)
    }

    /// The struct called `name`, or nil if DWARF did not describe it.
    public func structType(_ name: String) -> DWARFStruct? { structs[name] }

    /// The function called `name`, or nil if DWARF did not describe it.
    public func subprogram(_ name: String) -> DWARFSubprogram? { subprograms[name] }
}

private func lastDwarfError() -> String {
    guard let m = dwarf_errmsg(-1) else { return "unknown libdw error" }
    return String(cString: m)
}

/// One pass over the top-level DIEs of every CU, picking out the wanted names.
private struct DIEWalker {
    let wantedStructs: Set<String>
    let wantedSubprograms: Set<String>
    var structs: [String: DWARFStruct] = [:]
    var subprograms: [String: DWARFSubprogram] = [:]

    init(wantedStructs: Set<String>, wantedSubprograms: Set<String>) {
        self.wantedStructs = wantedStructs
        self.wantedSubprograms = wantedSubprograms
    }

    private var done: Bool {
        structs.count == wantedStructs.count && subprograms.count == wantedSubprograms.count
    }

    mutating func walk(_ dbg: OpaquePointer, path: String) throws(SymbolsError) {
        if wantedStructs.isEmpty && wantedSubprograms.isEmpty { return }
        var offset: Dwarf_Off = 0
        var next: Dwarf_Off = 0
        var headerSize: Int = 0
        while !done {
            let rc = dwarf_nextcu(dbg, offset, &next, &headerSize, nil, nil, nil)
            if rc == 1 { break }
            if rc != 0 {
                throw .dwarf(path: path, what: "bad compilation unit header at 0x\(String(offset, radix: 16)): \(lastDwarfError())")
            }
            var cu = Dwarf_Die()
            if dwarf_offdie(dbg, offset + Dwarf_Off(headerSize), &cu) != nil {
                visitChildren(of: &cu)
            }
            offset = next
        }
    }

    private mutating func visitChildren(of cu: inout Dwarf_Die) {
        var die = Dwarf_Die()
        guard dwarf_child(&cu, &die) == 0 else { return }
        while true {
            visit(&die)
            if done { return }
            // dwarf_siblingof(&die, &die) would be overlapping inout access in Swift.
            var sibling = Dwarf_Die()
            guard dwarf_siblingof(&die, &sibling) == 0 else { return }
            die = sibling
        }
    }

    private mutating func visit(_ die: inout Dwarf_Die) {
        let tag = dwarf_tag(&die)
        switch tag {
        case Int32(DW_TAG_structure_type), Int32(DW_TAG_class_type), Int32(DW_TAG_union_type):
            guard !wantedStructs.isEmpty, let name = dieName(&die),
                  wantedStructs.contains(name), structs[name] == nil,
                  !flag(&die, DW_AT_declaration)
            else { return }
            structs[name] = readStruct(&die, name: name)
        case Int32(DW_TAG_subprogram):
            guard !wantedSubprograms.isEmpty, let name = dieName(&die),
                  wantedSubprograms.contains(name), subprograms[name] == nil,
                  !flag(&die, DW_AT_declaration)
            else { return }
            subprograms[name] = readSubprogram(&die, name: name)
        default:
            return
        }
    }

    private func readStruct(_ die: inout Dwarf_Die, name: String) -> DWARFStruct {
        var size: Dwarf_Word = 0
        let byteSize = dwarf_aggregate_size(&die, &size) == 0 ? Int(size) : nil
        var members: [DWARFMember] = []
        forEachChild(of: &die) { child in
            guard dwarf_tag(&child) == Int32(DW_TAG_member) else { return }
            let type = referencedType(&child)
            members.append(DWARFMember(
                name: dieName(&child) ?? "",
                offset: memberOffset(&child),
                size: type.size,
                typeName: type.name))
        }
        return DWARFStruct(name: name, byteSize: byteSize, members: members)
    }

    private func readSubprogram(_ die: inout Dwarf_Die, name: String) -> DWARFSubprogram {
        var params: [DWARFParameter] = []
        forEachChild(of: &die) { child in
            guard dwarf_tag(&child) == Int32(DW_TAG_formal_parameter) else { return }
            let type = referencedType(&child)
            params.append(DWARFParameter(
                name: dieName(&child) ?? "",
                typeName: type.name,
                size: type.size,
                isResult: flag(&child, DW_AT_variable_parameter)))
        }
        return DWARFSubprogram(name: name, parameters: params)
    }
}

private func forEachChild(of die: inout Dwarf_Die, _ body: (inout Dwarf_Die) -> Void) {
    var child = Dwarf_Die()
    guard dwarf_child(&die, &child) == 0 else { return }
    while true {
        body(&child)
        var sibling = Dwarf_Die()
        guard dwarf_siblingof(&child, &sibling) == 0 else { return }
        child = sibling
    }
}

private func dieName(_ die: inout Dwarf_Die) -> String? {
    guard let c = dwarf_diename(&die) else { return nil }
    return String(cString: c)
}

private func flag(_ die: inout Dwarf_Die, _ attribute: Int) -> Bool {
    var attr = Dwarf_Attribute()
    guard dwarf_attr_integrate(&die, UInt32(attribute), &attr) != nil else { return false }
    var value = false
    return dwarf_formflag(&attr, &value) == 0 && value
}

/// `DW_AT_data_member_location`: a constant in DWARF 3+, a `DW_OP_plus_uconst`
/// expression in DWARF 2; absent (0) for union members.
private func memberOffset(_ die: inout Dwarf_Die) -> Int {
    var attr = Dwarf_Attribute()
    guard dwarf_attr(&die, UInt32(DW_AT_data_member_location), &attr) != nil else { return 0 }
    var value: Dwarf_Word = 0
    if dwarf_formudata(&attr, &value) == 0 { return Int(value) }
    var ops: UnsafeMutablePointer<Dwarf_Op>?
    var count = 0
    if dwarf_getlocation(&attr, &ops, &count) == 0, count == 1, let op = ops?.pointee,
       op.atom == UInt8(DW_OP_plus_uconst) {
        return Int(op.number)
    }
    return 0
}

/// Name and size of the type a member or parameter refers to (`DW_AT_type`).
private func referencedType(_ die: inout Dwarf_Die) -> (name: String?, size: Int?) {
    var attr = Dwarf_Attribute()
    guard dwarf_attr_integrate(&die, UInt32(DW_AT_type), &attr) != nil else { return (nil, nil) }
    var type = Dwarf_Die()
    guard dwarf_formref_die(&attr, &type) != nil else { return (nil, nil) }
    return (dieName(&type), typeSize(&type))
}

private func typeSize(_ die: inout Dwarf_Die) -> Int? {
    var peeled = Dwarf_Die()
    var type = dwarf_peel_type(&die, &peeled) == 0 ? peeled : die
    var size: Dwarf_Word = 0
    if dwarf_aggregate_size(&type, &size) == 0 { return Int(size) }
    switch dwarf_tag(&type) {
    case Int32(DW_TAG_pointer_type), Int32(DW_TAG_reference_type),
         Int32(DW_TAG_rvalue_reference_type), Int32(DW_TAG_ptr_to_member_type):
        var cu = Dwarf_Die()
        var addressSize: UInt8 = 0
        if dwarf_diecu(&type, &cu, &addressSize, nil) != nil, addressSize > 0 {
            return Int(addressSize)
        }
        return MemoryLayout<UnsafeRawPointer>.size
    default:
        let n = dwarf_bytesize(&type)
        return n >= 0 ? Int(n) : nil
    }
}
