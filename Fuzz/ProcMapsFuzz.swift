// libFuzzer harness for the /proc/PID/maps parser and the process image
// built from it (compiled with Sources/Symbols by Fuzz/run.sh).
@_cdecl("LLVMFuzzerTestOneInput")
public func procMapsFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let maps = ProcMaps(parsing: UnsafeRawBufferPointer(start: data, count: size))
    let image = ProcessImage(pid: 1, entries: maps.entries, mainExecutable: maps.entries.first?.path)
    for o in image.objects.prefix(32) {
        _ = o.runtimeAddress(forFileOffset: 0x1000)
        if let m = o.mappings.first { _ = o.fileOffset(forRuntimeAddress: m.start &+ 1) }
        _ = image.accessPath(for: o)
    }
    if let e = maps.entries.first { _ = image.fileOffset(forRuntimeAddress: e.start) }
    return 0
}
