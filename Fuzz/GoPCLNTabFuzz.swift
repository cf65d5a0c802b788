// libFuzzer harness for the pclntab parser (compiled with Sources/GoRuntime
// against a fuzz-instrumented Symbols module by Fuzz/run.sh).
@_cdecl("LLVMFuzzerTestOneInput")
public func goPCLNTabFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    // The first byte chooses whether a text base is supplied (Go 1.26's textStart = 0 case).
    let textStart: UInt64? = size > 0 && data[0] & 1 == 1 ? 0x401000 : nil
    if let table = try? GoPCLNTab.parse(bytes, textStart: textStart) {
        for f in table.functions.prefix(64) { _ = f.name.utf8.count &+ Int(truncatingIfNeeded: f.end &- f.entry) }
    }
    return 0
}
