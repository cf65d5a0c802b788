// libFuzzer harness for the HTTP/2 frame parser and the HPACK glue
// (HTTP2FrameParser, HTTP2Stream, HPACKDecoder; built by Fuzz/run.sh). The
// input is one direction of a connection; the first byte chooses whether it
// starts with the client preface, or may (side unknown).
//
// Invariants:
// - no crash; a field's value is reported only for a kept name (privacy);
// - the chunking does not matter: fed whole, in chunks cut where a hash of
//   the input says, and byte by byte (short inputs), the events are the same;
// - a decoder that joined late never reports a wrong value: the input is also
//   cut into header blocks, decoded from the first block by one decoder and
//   from a later block by another that starts with an unknown table; while
//   the first decodes a block without error, every value the second knows
//   is the first's value of the same field.
@_cdecl("LLVMFuzzerTestOneInput")
public func http2StreamFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let mode = bytes.first else { return 0 }
    let body = Array(bytes.dropFirst())
    let clientSide: Bool? = mode & 2 != 0 ? nil : mode & 1 == 1
    var input = body
    if mode & 1 == 1 { input = HTTP2FrameParser.preface + body }

    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }

    func run(_ chunks: [[UInt8]]) -> [HTTP2Stream.Event] {
        var s = HTTP2Stream(fromStart: true, clientSide: clientSide)
        var events: [HTTP2Stream.Event] = []
        for c in chunks { events += s.feed(c) }
        return events
    }
    let whole = run([input])
    check(whole)
    // How a late tracer recognises HTTP/2: any input, with and without uncaptured bytes.
    if HTTP2FrameParser.plausibleFrames(body) {
        var s = HTTP2Stream(fromStart: false, clientSide: false)
        precondition(!s.feed(body).isEmpty || !s.isLost, "whole frames lost sync")
    }
    _ = HTTP2FrameParser.plausibleFrames(body, missing: Int(mode))
    var cuts: [Int] = []
    var h = hash
    if input.count > 1 {
        for _ in 0..<Int(h >> 60) + 1 {
            h = h &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            cuts.append(Int(h >> 33) % input.count)
        }
    }
    cuts = Array(Set(cuts + [0, input.count])).sorted()
    let split = run(zip(cuts, cuts.dropFirst()).map { Array(input[$0..<$1]) })
    precondition(split == whole, "split feed differs: cuts \(cuts)")
    if input.count <= 2048 {
        precondition(run(input.map { [$0] }) == whole, "byte-by-byte feed differs")
    }

    // Late join: blocks cut from the body at the same cuts.
    let blockCuts = Array(Set(cuts.map { max(0, $0 - (input.count - body.count)) } + [0, body.count])).sorted()
    let blocks = zip(blockCuts, blockCuts.dropFirst()).map { body[$0..<$1] }
    guard blocks.count >= 2 else { return 0 }
    let joinAt = Int(hash % UInt64(blocks.count - 1)) + 1
    var full = HPACKDecoder()
    var late = HPACKDecoder(complete: false)
    var fullOK = true
    for (n, block) in blocks.enumerated() {
        let a = full.decode(block)
        check(a.fields)
        fullOK = fullOK && a.ok
        guard n >= joinAt else { continue }
        let b = late.decode(block)
        check(b.fields)
        guard fullOK else { continue }
        precondition(b.fields.count <= a.fields.count, "late decoder found more fields")
        for (x, y) in zip(a.fields, b.fields) {
            if let name = y.name { precondition(name == x.name, "late name \(name) vs \(String(describing: x.name))") }
            if let value = y.value { precondition(value == x.value, "late value \(value) vs \(String(describing: x.value))") }
        }
    }
    return 0
}

private func check(_ fields: [HPACKDecoder.Field]) {
    for f in fields where f.value != nil {
        precondition(f.name.map { HPACKDecoder.keptNames.contains($0) } == true, "value kept for \(String(describing: f.name))")
    }
}

private func check(_ events: [HTTP2Stream.Event]) {
    for case .headers(_, let fields, _, _) in events { check(fields) }
}
