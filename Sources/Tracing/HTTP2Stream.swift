/// One direction of an HTTP/2 connection, from plaintext to what the tracer
/// uses: frames (`HTTP2FrameParser`), header blocks reassembled from HEADERS
/// and CONTINUATION and decoded (`HPACKDecoder`), stream ends and resets.
public struct HTTP2Stream: Sendable {
    /// What one `feed` found, in stream order.
    public enum Event: Sendable, Equatable {
        /// A complete header block on `stream`. `complete` is false when some
        /// field could not be known (lost table entries, a damaged block).
        case headers(stream: UInt32, fields: [HPACKDecoder.Field], complete: Bool, endStream: Bool)
        /// A DATA frame with END_STREAM.
        case endStream(stream: UInt32)
        /// RST_STREAM with its error code.
        case reset(stream: UInt32, code: UInt32)
        /// GOAWAY: streams above `lastStream` were not processed.
        case goAway(lastStream: UInt32, code: UInt32)
    }

    private var frames: HTTP2FrameParser
    private var hpack: HPACKDecoder
    /// A header block awaiting its CONTINUATION frames.
    private var block: (stream: UInt32, endStream: Bool, bytes: [UInt8], damaged: Bool, push: Bool)?

    /// `fromStart`: the connection is seen from its first byte (the client
    /// side then starts with the preface, `clientSide`; when that side is
    /// not known yet, the preface may or may not come).
    public init(fromStart: Bool, clientSide: Bool?) {
        frames = HTTP2FrameParser(expectPreface: fromStart && clientSide == true, prefaceOptional: fromStart && clientSide == nil)
        hpack = HPACKDecoder(complete: fromStart)
    }

    /// True once frame boundaries were lost: nothing more is reported.
    public var isLost: Bool { frames.isLost }
    public var isAtFrameStart: Bool { frames.isAtFrameStart && block == nil }

    public mutating func feed(_ bytes: [UInt8], missing: Int = 0) -> [Event] {
        var events: [Event] = []
        for f in frames.feed(bytes, missing: missing) { frame(f, &events) }
        return events
    }

    // MARK: Private

    private mutating func frame(_ f: HTTP2Frame, _ events: inout [Event]) {
        if var b = block {
            // RFC 9113 6.10: only CONTINUATION of the same stream may follow.
            guard f.kind == .continuation, f.stream == b.stream else {
                block = nil
                hpack.loseTable()
                return frame(f, &events)
            }
            b.bytes += f.payload
            b.damaged = b.damaged || f.truncated
            block = b
            if f.has(HTTP2Frame.endHeaders) { finishBlock(&events) }
            return
        }
        switch f.kind {
        case .headers, .pushPromise:
            let push = f.kind == .pushPromise
            var p = f.payload[...]
            var damaged = f.truncated
            if f.has(HTTP2Frame.padded) {
                if let pad = p.first, Int(pad) < p.count { p = p.dropFirst().dropLast(Int(pad)) } else { damaged = true; p = [] }
            }
            if !push && f.has(HTTP2Frame.priorityFlag) { if p.count >= 5 { p = p.dropFirst(5) } else { damaged = true } }
            if push { if p.count >= 4 { p = p.dropFirst(4) } else { damaged = true } }
            block = (f.stream, f.has(HTTP2Frame.endStream) && !push, Array(p), damaged, push)
            if f.has(HTTP2Frame.endHeaders) { finishBlock(&events) }
        case .data:
            if f.has(HTTP2Frame.endStream) { events.append(.endStream(stream: f.stream)) }
        case .rstStream:
            events.append(.reset(stream: f.stream, code: f.payload.count >= 4 ? Self.u32(f.payload, 0) : 0))
        case .goAway:
            if f.payload.count >= 8 {
                events.append(.goAway(lastStream: Self.u32(f.payload, 0) & 0x7FFF_FFFF, code: Self.u32(f.payload, 4)))
            }
        default:
            break
        }
    }

    private mutating func finishBlock(_ events: inout [Event]) {
        guard let b = block else { return }
        block = nil
        if b.damaged {
            // Part of the block was not seen: its insertions are unknown.
            hpack.loseTable()
            if !b.push { events.append(.headers(stream: b.stream, fields: [], complete: false, endStream: b.endStream)) }
            return
        }
        let (fields, ok) = hpack.decode(b.bytes[...])
        guard !b.push else { return }
        let complete = ok && fields.allSatisfy { $0.name != nil && ($0.value != nil || !HPACKDecoder.keptNames.contains($0.name!)) }
        events.append(.headers(stream: b.stream, fields: fields, complete: complete, endStream: b.endStream))
    }

    private static func u32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }
}
