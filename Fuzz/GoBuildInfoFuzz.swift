// libFuzzer harness for the .go.buildinfo parser, both the inline (1.18+)
// and the pointer (pre-1.18) forms; pointers are resolved inside the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func goBuildInfoFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let reader: GoBuildInfo.MemoryReader = { vaddr, count in
        guard vaddr < UInt64(bytes.count), count <= UInt64(bytes.count) - vaddr else { return nil }
        return Array(bytes[Int(vaddr)..<Int(vaddr + count)])
    }
    if let info = try? GoBuildInfo.parse(bytes, readMemory: reader) {
        _ = info.deps.count &+ info.settings.count &+ info.goVersion.utf8.count
    }
    return 0
}
