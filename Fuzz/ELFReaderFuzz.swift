// libFuzzer harness for the ELF reader: compiled together with
// Sources/Symbols by Fuzz/run.sh (swiftc -sanitize=fuzzer,address).
// Every parse path a user's file can reach is driven: headers, sections,
// decompression, symbols with versions, notes, address translation.
@_cdecl("LLVMFuzzerTestOneInput")
public func elfReaderFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let elf = try? ELFFile(path: "fuzz", bytes: bytes) else { return 0 }
    _ = elf.buildID
    _ = elf.goBuildID
    _ = elf.debugLink
    for s in elf.sections.prefix(64) { _ = try? elf.data(s) }
    if let symbols = try? elf.symbols() {
        for sym in symbols.prefix(256) {
            _ = elf.fileOffset(of: sym)
            _ = elf.sectionName(of: sym)
            _ = sym.displayName
        }
        if let first = symbols.first { _ = try? elf.lookup(first.displayName) }
    }
    _ = elf.fileOffset(forVirtualAddress: elf.header.entry)
    _ = elf.bytes(atVirtualAddress: elf.header.entry, count: 16)
    return 0
}
