// libFuzzer harness for the HTTP/1.x head parser (HTTPHead, HTTPHeadParser;
// built by Fuzz/run.sh). The input is one direction of a connection; it is fed
// whole, in chunks cut where a hash of the input says (as SSL reads arrive),
// and, when short, byte by byte.
//
// Invariants:
// - no crash; only kept headers (never Authorization or Cookie) are reported;
//   heads have a known method or a 3-digit status; headCount counts them;
//   a stream found not to be HTTP reported no head;
// - the chunking does not matter: the parser's state machine is the same for
//   any split, except that after losing sync (or an open-ended body) it resyncs
//   only where a chunk starts like a head. So: if no later chunk looks like a
//   head start, the split feed reports exactly what the whole feed reports;
//   otherwise the whole feed's events are a prefix of the split feed's.
@_cdecl("LLVMFuzzerTestOneInput")
public func httpHeadParserFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // FNV-1a of the input: a reproducible choice of cuts and of a HEAD request.
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
    let headFirst = hash & 1 == 1

    func run(_ chunks: [[UInt8]]) -> (events: [HTTPHeadParser.Event], parser: HTTPHeadParser) {
        var p = HTTPHeadParser()
        if headFirst { p.expectResponse(bodyless: true) }
        var events: [HTTPHeadParser.Event] = []
        for c in chunks { events += p.feed(c) }
        return (events, p)
    }

    let whole = run([bytes])
    check(whole.events, whole.parser)

    var cuts: [Int] = []
    var h = hash
    if size > 1 {
        for _ in 0..<Int(h >> 60) + 1 {
            h = h &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            cuts.append(Int(h >> 33) % size)
        }
    }
    cuts = Array(Set(cuts + [0, size])).sorted()
    var chunks = zip(cuts, cuts.dropFirst()).map { Array(bytes[$0..<$1]) }
    compare(whole.events, chunks, run(chunks))
    if size <= 2048 {
        chunks = bytes.map { [$0] }
        compare(whole.events, chunks, run(chunks))
    }
    return 0
}

private func check(_ events: [HTTPHeadParser.Event], _ parser: HTTPHeadParser) {
    var heads = 0
    for case .head(let head) in events {
        heads += 1
        precondition(Set(head.headers.keys).isSubset(of: HTTPHead.keptHeaders), "kept \(head.headers.keys)")
        switch head.startLine {
        case .request(let method, let target, let version):
            precondition(HTTPHeadParser.methods.contains(method) && !target.isEmpty && !target.contains(" "))
            precondition(version == "HTTP/1.1" || version == "HTTP/1.0")
        case .response(let version, let status, _):
            precondition((100...999).contains(status) && (version == "HTTP/1.1" || version == "HTTP/1.0"))
        }
    }
    precondition(heads == parser.headCount, "\(heads) heads reported, headCount \(parser.headCount)")
    precondition(!parser.isNotHTTP || heads == 0, "not HTTP after a head")
}

private func compare(_ whole: [HTTPHeadParser.Event], _ chunks: [[UInt8]], _ split: (events: [HTTPHeadParser.Event], parser: HTTPHeadParser)) {
    check(split.events, split.parser)
    let canResync = chunks.dropFirst().contains { HTTPHeadParser.looksLikeHeadStart($0) }
    if canResync {
        precondition(split.events.count >= whole.count && Array(split.events.prefix(whole.count)) == whole,
                     "split feed lost events of the whole feed: cuts \(chunks.map(\.count))")
    } else {
        precondition(split.events == whole, "split feed differs: cuts \(chunks.map(\.count))\nwhole \(whole)\nsplit \(split.events)")
    }
}
