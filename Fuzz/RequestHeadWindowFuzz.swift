// libFuzzer harness for RequestHeadWindow (the Go server read-buffer window
// whose trace headers become a span's parent; built by Fuzz/run.sh). The input
// is the window's bytes.
//
// Invariants:
// - a traceparent found is the trimmed (space, tab, CR) value of a `traceparent:` line of the
//   input (names case-insensitive), and occurs on exactly one such line of the
//   part the parser kept;
// - an earlier pipelined request in front of the window — whatever its
//   headers — never changes what is found when the window itself begins with
//   a request line;
// - it never traps, whatever the bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func requestHeadWindowFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let window = Array(UnsafeBufferPointer(start: data, count: size))
    let found = RequestHeadWindow.traceHeaders(endingAt: window)
    if let value = found.traceparent {
        // Byte-level (grapheme clusters would glue a space to a combining mark).
        let trimSet: Set<UInt8> = [0x20, 0x09, 0x0D]
        let matching = window.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).filter { line in
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return false }
            guard String(decoding: line[line.startIndex..<colon], as: UTF8.self).lowercased() == "traceparent" else { return false }
            var v = line[(colon + 1)...]
            while let f = v.first, trimSet.contains(f) { v = v.dropFirst() }
            while let l = v.last, trimSet.contains(l) { v = v.dropLast() }
            return String(decoding: v, as: UTF8.self) == value
        }
        precondition(!matching.isEmpty, "traceparent \(value) is on no line of the window")
    }
    let requestLine = Array("GET / HTTP/1.1\r\n".utf8)
    let earlier = Array("POST /earlier HTTP/1.1\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\ntracestate: x=1\r\n\r\n".utf8)
    let current = requestLine + window
    let alone = RequestHeadWindow.traceHeaders(endingAt: current)
    let pipelined = RequestHeadWindow.traceHeaders(endingAt: earlier + current)
    precondition(alone.traceparent == pipelined.traceparent && alone.tracestate == pipelined.tracestate,
                 "an earlier request changed the result: \(alone) vs \(pipelined)")
    return 0
}
