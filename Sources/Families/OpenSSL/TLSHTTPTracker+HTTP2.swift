import Tracing

/// HTTP/2 inside the TLS plaintext: one `HTTP2Connection` per (pid, `SSL*`)
/// connection found to speak it, one span per stream, by the rules of
/// HTTP/1 over TLS: a SERVER span from the return of the read that completes
/// the request's header block to the return of the write that ends the
/// response (END_STREAM); a CLIENT span from the entry of the write carrying
/// the request's HEADERS to the return of the read that completes the
/// response's (non-1xx) header block. RST_STREAM, and GOAWAY for the streams
/// it names, end streams with an error.
///
/// A tracer that joined a connection after its start has not seen the HPACK
/// insertions made before: fields that refer to them are unknown, and the
/// span is marked `uprobe_trace.incomplete` without them.
struct HTTP2Connection: Sendable {
    struct Exchange: Sendable {
        var request: HTTPHead
        var requestComplete: Bool
        var start: UInt64
        var tid: UInt32
        var context: SpanContext
        var status: Int?
        var responded = false
        var responseComplete = true
    }

    /// True when the connection was seen from its first byte (its preface).
    var fromStart: Bool
    /// The role its first bytes showed (the preface written: client; read, or SETTINGS written: server).
    var startRole: TLSHTTPTracker.Role?
    var writes: HTTP2Stream
    var reads: HTTP2Stream
    var streams: [UInt32: Exchange] = [:]

    /// Most streams awaiting their end on one connection (the oldest go first).
    static let maxStreams = 256

    /// HTTP/2 when a connection's first plaintext is the client preface (in
    /// the direction it went), a server's SETTINGS written, or, for a
    /// connection already running, a run of whole frames.
    static func detect(_ e: SSLEvent) -> HTTP2Connection? {
        if startsWithPreface(e.data) {
            let client = e.direction == .write
            return HTTP2Connection(fromStart: true, startRole: client ? .client : .server,
                                   writes: HTTP2Stream(fromStart: true, clientSide: client),
                                   reads: HTTP2Stream(fromStart: true, clientSide: !client))
        }
        if e.direction == .write, HTTP2FrameParser.startsWithSettings(e.data) {
            // A server sends its SETTINGS as soon as the connection is up, before it reads the client's preface.
            return HTTP2Connection(fromStart: true, startRole: .server, writes: HTTP2Stream(fromStart: true, clientSide: false),
                                   reads: HTTP2Stream(fromStart: true, clientSide: true))
        }
        if !HTTPHeadParser.looksLikeHeadStart(e.data), HTTP2FrameParser.plausibleFrames(e.data, missing: e.missingBytes) {
            return HTTP2Connection(fromStart: false, startRole: nil, writes: HTTP2Stream(fromStart: false, clientSide: false),
                                   reads: HTTP2Stream(fromStart: false, clientSide: false))
        }
        return nil
    }

    /// The preface, or as much of it as a short first chunk holds (at least `PRI `).
    static func startsWithPreface(_ data: [UInt8]) -> Bool {
        let n = min(data.count, HTTP2FrameParser.preface.count)
        return n >= 4 && data.prefix(n).elementsEqual(HTTP2FrameParser.preface.prefix(n))
    }

    /// The fields a span uses, from a decoded header block.
    struct Fields {
        var method: String?
        var path: String?
        var authority: String?
        var status: Int?
        var traceparent: String?
        var tracestate: String?
        var unknown = false

        init(_ fields: [HPACKDecoder.Field]) {
            for f in fields {
                switch f.name {
                case ":method": method = f.value
                case ":path": path = f.value
                case ":authority": authority = f.value
                case "host": if authority == nil { authority = f.value }
                case ":status": status = f.value.flatMap { Int($0) }
                case "traceparent": traceparent = f.value
                case "tracestate": tracestate = f.value
                case nil: unknown = true
                default: break
                }
            }
        }

        var isRequest: Bool { method != nil || path != nil }

        var head: HTTPHead {
            var headers: [String: String] = [:]
            if let authority { headers["host"] = authority }
            if let traceparent { headers["traceparent"] = traceparent }
            if let tracestate { headers["tracestate"] = tracestate }
            return HTTPHead(startLine: .request(method: method ?? "", target: path ?? "", version: "HTTP/2"), headers: headers)
        }
    }

    /// RFC 9113 section 7 error code names.
    static func errorName(_ code: UInt32) -> String {
        let names = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT", "STREAM_CLOSED",
                     "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
                     "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"]
        return Int(code) < names.count ? names[Int(code)] : "0x\(String(code, radix: 16))"
    }
}

extension TLSHTTPTracker {
    /// Whether this call's plaintext starts another connection on a reused
    /// `SSL*` whose `SSL_free` was not seen: an HTTP/1 head where HTTP/2
    /// frames were, or the HTTP/2 preface where HTTP/1 was.
    func startsAnew(_ c: Connection, _ e: SSLEvent) -> Bool {
        guard c.seen, e.direction != .free else { return false }
        if let h2 = c.h2 {
            let stream = e.direction == .write ? h2.writes : h2.reads
            return (stream.isAtFrameStart || stream.isLost) && HTTPHeadParser.looksLikeHeadStart(e.data)
        }
        let parser = e.direction == .write ? c.writes : c.reads
        return !parser.isInsideHead && e.data.count >= HTTP2FrameParser.preface.count && HTTP2Connection.startsWithPreface(e.data)
    }

    mutating func http2(_ e: SSLEvent, _ c: inout Connection, _ spans: inout [Span]) {
        guard var h = c.h2 else { return }
        let events = e.direction == .write ? h.writes.feed(e.data, missing: e.missingBytes) : h.reads.feed(e.data, missing: e.missingBytes)
        for event in events {
            switch event {
            case .headers(let id, let fields, let complete, let endStream):
                let f = HTTP2Connection.Fields(fields)
                if c.role == nil {
                    // Joined mid-connection: the side that sends requests is the client.
                    if f.isRequest { c.role = e.direction == .write ? .client : .server }
                    else if f.status != nil { c.role = e.direction == .write ? .server : .client }
                    else { continue }
                }
                let server = c.role == .server
                if server == (e.direction == .read) {
                    guard h.streams[id] == nil else { continue } // trailers
                    if h.streams.count >= HTTP2Connection.maxStreams, let oldest = h.streams.keys.min() {
                        leave(h.streams.removeValue(forKey: oldest)!, pid: e.pid)
                    }
                    let context: SpanContext
                    if server {
                        context = SpanContext.incoming(traceparent: f.traceparent, tracestate: f.tracestate, sampler: sampler)
                        if activeServers.count >= maxConnections { activeServers.removeAll() }
                        activeServers[ThreadKey(pid: e.pid, tid: e.tid)] = context
                    } else {
                        context = activeServers[ThreadKey(pid: e.pid, tid: e.tid)]?.child() ?? .root(sampler)
                    }
                    h.streams[id] = HTTP2Connection.Exchange(
                        request: f.head, requestComplete: complete && f.method != nil && f.path != nil,
                        start: server ? e.endBootNanos : e.startBootNanos, tid: e.tid, context: context)
                } else {
                    guard var x = h.streams[id], !x.responded else { continue }
                    if let s = f.status, s < 200 { continue } // 1xx: the final head follows
                    x.status = f.status
                    x.responded = true
                    x.responseComplete = complete && f.status != nil
                    if !server || endStream {
                        h.streams[id] = nil
                        spans.append(http2Span(x, server: server, end: e.endBootNanos, pid: e.pid))
                    } else {
                        h.streams[id] = x
                    }
                }
            case .endStream(let id):
                // The server's response ends with its last DATA frame.
                guard c.role == .server, e.direction == .write, let x = h.streams[id], x.responded else { continue }
                h.streams[id] = nil
                spans.append(http2Span(x, server: true, end: e.endBootNanos, pid: e.pid))
            case .reset(let id, let code):
                guard let x = h.streams.removeValue(forKey: id) else { continue }
                spans.append(http2Span(x, server: c.role == .server, end: e.endBootNanos, pid: e.pid,
                                       failure: ("RST_STREAM", HTTP2Connection.errorName(code))))
            case .goAway(let last, let code):
                for id in h.streams.keys.sorted() where id > last || code != 0 {
                    let x = h.streams.removeValue(forKey: id)!
                    spans.append(http2Span(x, server: c.role == .server, end: e.endBootNanos, pid: e.pid,
                                           failure: ("GOAWAY", HTTP2Connection.errorName(code))))
                }
            }
        }
        c.h2 = h
    }

    mutating func leave(_ x: HTTP2Connection.Exchange, pid: UInt32) {
        let key = ThreadKey(pid: pid, tid: x.tid)
        if activeServers[key]?.spanID == x.context.spanID { activeServers[key] = nil }
    }

    private mutating func http2Span(_ x: HTTP2Connection.Exchange, server: Bool, end: UInt64, pid: UInt32,
                                    failure: (kind: String, code: String)? = nil) -> Span {
        if server { leave(x, pid: pid) }
        return span(kind: server ? .server : .client, request: x.request, status: x.status ?? 0, start: x.start, end: end,
                    pid: pid, tid: x.tid, context: x.context, incomplete: !x.requestComplete || (x.responded && !x.responseComplete),
                    failure: failure)
    }
}
