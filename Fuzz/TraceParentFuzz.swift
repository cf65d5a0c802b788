// libFuzzer harness for the W3C traceparent parser (TraceParent, with the id
// types from Span.swift; built by Fuzz/run.sh). The input is a header value.
//
// Invariants:
// - for version 00 the parser accepts exactly what the specification allows
//   (checked against a character-by-character reading of the format), and an
//   accepted value re-serialises to the input, which is then all lowercase;
// - for a later version, the first four fields re-serialise to the input's
//   first 55 characters, followed by nothing or a `-`;
// - accepted ids are never zero.
@_cdecl("LLVMFuzzerTestOneInput")
public func traceParentFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let value = String(decoding: bytes, as: UTF8.self)
    let parsed = TraceParent(value)
    if bytes.starts(with: Array("00".utf8)) {
        precondition((parsed != nil) == isValidVersion00(bytes), "parser and specification disagree on \(value)")
    }
    guard let parsed else { return 0 }
    precondition(parsed.traceID != TraceID(high: 0, low: 0) && parsed.parentSpanID != SpanID(0), "zero id accepted: \(value)")
    let version = String(decoding: bytes.prefix(2), as: UTF8.self)
    let flags = String(parsed.flags, radix: 16)
    let serialised = version + "-" + parsed.traceID.hex + "-" + parsed.parentSpanID.hex + "-"
        + (flags.count == 1 ? "0" : "") + flags
    if version == "00" {
        precondition(serialised == value && value == value.lowercased(), "\(value) re-serialised as \(serialised)")
    } else {
        precondition(bytes.count >= 55 && bytes.prefix(55).elementsEqual(serialised.utf8), "\(value) re-serialised as \(serialised)")
        precondition(bytes.count == 55 || bytes[55] == UInt8(ascii: "-"), "\(value): field 4 is longer than 2")
    }
    return 0
}

/// `00-` 32 lowercase hex `-` 16 lowercase hex `-` 2 lowercase hex, ids not all zero.
private func isValidVersion00(_ b: [UInt8]) -> Bool {
    guard b.count == 55 else { return false }
    let isHex = { (c: UInt8) in (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) }
    for (n, c) in b.enumerated() {
        guard [2, 35, 52].contains(n) ? c == UInt8(ascii: "-") : isHex(c) else { return false }
    }
    return b[3..<35].contains { $0 != 0x30 } && b[36..<52].contains { $0 != 0x30 }
}
