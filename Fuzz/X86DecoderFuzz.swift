// libFuzzer harness for the x86-64 length decoder and the RET finder
// (X86Decoder, ReturnSites and GoRuntimeError against the instrumented
// Symbols module; built by Fuzz/run.sh). The input is a function's bytes.
//
// Invariants, each of which a decoder bug would break:
// - an instruction is 1...15 bytes and ends inside the buffer;
// - it decodes the same from an exact-size copy (its length depends on its
//   own bytes only), and not at all from a copy one byte short;
// - the RET finder either fails at an offset inside the code, or returns
//   strictly increasing offsets, each the start of a return instruction;
// - on AArch64 every reported word is a RET and the count is whole words.
@_cdecl("LLVMFuzzerTestOneInput")
public func x86DecoderFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let code = UnsafeRawBufferPointer(start: data, count: size)
    let bytes = Array(code)
    var i = 0
    while i < size, let insn = X86Decoder.decode(code, at: i) {
        precondition((1...X86Decoder.maxLength).contains(insn.length) && i + insn.length <= size, "length \(insn.length) at \(i)")
        let exact = Array(bytes[i..<i + insn.length])
        precondition(X86Decoder.decode(exact, at: 0) == insn, "context-dependent decode at \(i)")
        precondition(X86Decoder.decode(Array(exact.dropLast()), at: 0) == nil, "decoded without its last byte at \(i)")
        i += insn.length
    }
    do {
        let sites = try returnSites(code: code, startOffset: 0x1000)
        for (n, s) in sites.enumerated() {
            precondition(n == 0 || s > sites[n - 1], "RET offsets not increasing")
            precondition(s >= 0x1000 && s < 0x1000 + UInt64(size), "RET offset outside the code")
            precondition(X86Decoder.decode(code, at: Int(s - 0x1000))?.isReturn == true, "not a RET at \(s)")
        }
    } catch {
        guard case .decodeFailed(_, _, let offset) = error else { preconditionFailure("unexpected \(error)") }
        precondition(offset >= 0x1000 && offset < 0x1000 + UInt64(size), "failure offset outside the code")
    }
    if let sites = try? returnSites(code: code, startOffset: 0, instructionSet: .arm64) {
        precondition(size % 4 == 0)
        for s in sites {
            let word = bytes[Int(s)..<Int(s) + 4].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            precondition(s % 4 == 0 && word & 0xFFFF_FC1F == 0xD65F_0000, "not an AArch64 RET at \(s)")
        }
    }
    return 0
}
