/// An incremental HTTP/1.x parser for one direction of one connection: feed
/// it the plaintext in order, split anywhere, and it reports each completed
/// head and each message end. Bodies are counted through (Content-Length,
/// chunk sizes), never stored: a caller that wants a body (the OTLP/HTTP
/// client reading its collector's answer) gets the body bytes passed to it.
///
/// Privacy: only the current partial line is buffered. A header line is
/// dropped as soon as it is complete unless its name is in the kept headers
/// (`HTTPHead.keptHeaders` unless the caller names others), so credential
/// headers never outlive their line.
///
/// A stream whose first bytes cannot start an HTTP/1.x request or status line
/// (SMTP, binary protocols, HTTP/2) is marked `isNotHTTP` at the first byte
/// that rules it out, and everything after is ignored. A later framing error
/// loses sync: bytes are skipped until a chunk starts with a plausible head.
public struct HTTPHeadParser: Sendable {
    /// What one `feed` found, in stream order.
    public enum Event: Sendable, Equatable {
        /// A head was completed by these bytes.
        case head(HTTPHead)
        /// The message whose head came last ended in these bytes.
        case messageEnd
    }

    /// Longest start, header, chunk-size or trailer line accepted.
    public static let maxLineBytes = 16 * 1024

    private enum State: Sendable {
        case startLine
        case headers
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailer
        /// Open-ended body or lost sync: skip until a chunk starts with a head.
        case untilNextHead
        /// Not HTTP, or switched protocols: ignore everything.
        case ignoring
    }

    private var state: State = .startLine
    /// Set while `.untilNextHead` skips a body that runs to the end of the connection
    /// (not bytes skipped after lost sync): those bytes are body.
    private var bodyUntilClose = false
    private let keptHeaders: Set<String>
    private var line: [UInt8] = []
    private var building: HTTPHead?
    /// For a response stream: whether each request sent so far expects a
    /// bodyless response (HEAD), oldest first.
    private var bodylessQueue: [Bool] = []

    /// True once the stream has been found not to be HTTP/1.x.
    public private(set) var isNotHTTP = false
    /// Number of heads parsed so far.
    public private(set) var headCount = 0

    /// `keptHeaders`: lowercased names of the headers a head keeps.
    public init(keptHeaders: Set<String> = HTTPHead.keptHeaders) {
        self.keptHeaders = keptHeaders
    }

    /// True when a framing error lost sync after a head: bytes are skipped
    /// until a chunk starts with a plausible head.
    public var hasLostSync: Bool {
        if case .untilNextHead = state { return !bodyUntilClose }
        return false
    }

    /// True while part of a head has been seen but not its end.
    public var isInsideHead: Bool {
        switch state {
        case .startLine: return !line.isEmpty
        case .headers: return true
        default: return false
        }
    }

    /// Tells a response stream that a request was sent whose response has no
    /// body (`HEAD`), or has the usual framing (`bodyless: false`).
    public mutating func expectResponse(bodyless: Bool) {
        if bodylessQueue.count < 1024 { bodylessQueue.append(bodyless) }
    }

    /// Parses the next bytes of the stream; `missing` more bytes followed
    /// them that were not captured (the capture limit).
    public mutating func feed(_ bytes: [UInt8], missing: Int = 0) -> [Event] {
        feed(bytes, missing: missing, body: { _ in })
    }

    /// `feed`, also passing each run of body bytes (chunk data without the
    /// chunk framing) to `body` in stream order.
    public mutating func feed(_ bytes: [UInt8], missing: Int = 0, body: (ArraySlice<UInt8>) -> Void) -> [Event] {
        var events: [Event] = []
        if case .untilNextHead = state {
            guard Self.looksLikeHeadStart(bytes) else {
                if bodyUntilClose { body(bytes[...]) }
                return []
            }
            state = .startLine
            bodyUntilClose = false
            line.removeAll(keepingCapacity: true)
        }
        var i = 0
        loop: while i < bytes.count {
            switch state {
            case .ignoring:
                return events
            case .untilNextHead:
                if bodyUntilClose { body(bytes[i...]) }
                return events
            case .startLine, .headers, .chunkSize, .chunkDataEnd, .trailer:
                let lf = bytes[i...].firstIndex(of: 10)
                let end = lf ?? bytes.count
                guard line.count + (end - i) <= Self.maxLineBytes else {
                    fail()
                    break loop
                }
                line.append(contentsOf: bytes[i..<end])
                guard let lf else {
                    // A lone CR may be half of a stray CRLF between messages.
                    if case .startLine = state, line != [13], !Self.plausibleStartPrefix(line) { fail() }
                    break loop
                }
                i = lf + 1
                if line.last == 13 { line.removeLast() }
                let complete = line
                line.removeAll(keepingCapacity: true)
                lineDone(complete, &events)
            case .body(let remaining):
                let take = min(remaining, bytes.count - i)
                body(bytes[i..<i + take])
                i += take
                if take == remaining {
                    state = .startLine
                    events.append(.messageEnd)
                } else {
                    state = .body(remaining: remaining - take)
                }
            case .chunkData(let remaining):
                let take = min(remaining, bytes.count - i)
                body(bytes[i..<i + take])
                i += take
                state = take == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - take)
            }
        }
        if missing > 0 { skip(missing, &events) }
        return events
    }

    // MARK: Private

    private mutating func lineDone(_ l: [UInt8], _ events: inout [Event]) {
        switch state {
        case .startLine:
            if l.isEmpty { return } // stray CRLF between messages (RFC 9112 section 2.2)
            guard let start = Self.parseStartLine(l) else { return fail() }
            building = HTTPHead(startLine: start)
            state = .headers
        case .headers:
            if l.isEmpty { return headDone(&events) }
            guard var head = building else { return fail() }
            if l.first == 32 || l.first == 9 { return } // obsolete line folding: ignored
            guard let colon = l.firstIndex(of: 58), colon > 0,
                  !l[..<colon].contains(where: { $0 <= 32 || $0 >= 127 }) else { return fail() }
            let name = String(decoding: l[..<colon], as: UTF8.self).lowercased()
            guard keptHeaders.contains(name) else { return }
            let value = trimOWS(String(decoding: l[(colon + 1)...], as: UTF8.self))
            if let old = head.headers[name] {
                if name == "content-length" {
                    if old != value { return fail() }
                } else {
                    head.headers[name] = old + ", " + value
                }
            } else {
                head.headers[name] = value
            }
            building = head
        case .chunkSize:
            let digits = l.prefix { $0 != 59 && $0 != 32 && $0 != 9 } // ';' extensions, whitespace
            guard !digits.isEmpty, digits.count <= 15, digits.allSatisfy(Self.isHexDigit),
                  let size = Int(String(decoding: digits, as: UTF8.self), radix: 16) else { return fail() }
            state = size == 0 ? .trailer : .chunkData(remaining: size)
        case .chunkDataEnd:
            guard l.isEmpty else { return fail() }
            state = .chunkSize
        case .trailer:
            if l.isEmpty {
                state = .startLine
                events.append(.messageEnd)
            }
        case .body, .chunkData, .untilNextHead, .ignoring:
            break
        }
    }

    private mutating func headDone(_ events: inout [Event]) {
        guard var head = building else { return fail() }
        building = nil
        let chunked = head.header("transfer-encoding")?.lowercased().split(separator: ",").last
            .map { trimOWS(String($0)) } == "chunked"
        var length: Int?
        if let cl = head.header("content-length") {
            guard let n = Int(cl), n >= 0 else { return fail() }
            length = n
        }
        switch head.startLine {
        case .request:
            head.framing = chunked ? .chunked : (length ?? 0) > 0 ? .length(length!) : .none
        case .response(_, let status, _):
            var bodyless = status < 200 || status == 204 || status == 304
            if status >= 200, !bodylessQueue.isEmpty, bodylessQueue.removeFirst() { bodyless = true }
            if bodyless {
                head.framing = .none
            } else if chunked {
                head.framing = .chunked
            } else if let length {
                head.framing = length > 0 ? .length(length) : .none
            } else {
                head.framing = .untilClose
            }
        }
        headCount += 1
        events.append(.head(head))
        switch head.framing {
        case .none:
            events.append(.messageEnd)
            state = head.status == 101 ? .ignoring : .startLine
        case .length(let n): state = .body(remaining: n)
        case .chunked: state = .chunkSize
        case .untilClose:
            state = .untilNextHead
            bodyUntilClose = true
        }
    }

    /// Skips `n` uncaptured bytes: fine inside a counted body, else sync is lost.
    private mutating func skip(_ n: Int, _ events: inout [Event]) {
        switch state {
        case .body(let remaining) where n <= remaining:
            if n == remaining {
                state = .startLine
                events.append(.messageEnd)
            } else {
                state = .body(remaining: remaining - n)
            }
        case .chunkData(let remaining) where n < remaining:
            state = .chunkData(remaining: remaining - n)
        case .ignoring, .untilNextHead:
            break
        default:
            line.removeAll(keepingCapacity: true)
            building = nil
            state = .untilNextHead
            bodyUntilClose = false
        }
    }

    private mutating func fail() {
        line.removeAll(keepingCapacity: false)
        building = nil
        bodyUntilClose = false
        if headCount == 0 {
            isNotHTTP = true
            state = .ignoring
        } else {
            state = .untilNextHead
        }
    }

    /// Methods a request line may start with (RFC 9110 plus PATCH).
    static let methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]
    private static let startPrefixes: [[UInt8]] = methods.map { Array(($0 + " ").utf8) } + [Array("HTTP/1.".utf8)]

    /// Whether `l` (a start line so far, no LF) can still become one: a known
    /// method and a space, or `HTTP/1.`, then printable bytes only.
    static func plausibleStartPrefix<C: Collection<UInt8>>(_ l: C) -> Bool {
        let matches = startPrefixes.contains { p in
            l.count <= p.count ? p.starts(with: l) : l.starts(with: p)
        }
        guard matches else { return false }
        for (n, b) in l.enumerated() where (b < 32 && !(b == 13 && n == l.count - 1)) || b == 127 {
            return false
        }
        return true
    }

    /// Whether a chunk can begin a new message (resync after an open-ended body).
    public static func looksLikeHeadStart(_ bytes: [UInt8]) -> Bool {
        guard !bytes.isEmpty else { return false }
        let lf = bytes.firstIndex(of: 10) ?? bytes.count
        return plausibleStartPrefix(bytes[..<min(lf, 32)])
    }

    static func parseStartLine(_ l: [UInt8]) -> HTTPHead.StartLine? {
        // A complete line (its CRLF removed) holds no CR; `plausibleStartPrefix`
        // allows one at the end only because a read can split CR from LF.
        guard plausibleStartPrefix(l), !l.contains(13) else { return nil }
        let parts = l.split(separator: 32, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2 else { return nil }
        let first = String(decoding: parts[0], as: UTF8.self)
        if first.hasPrefix("HTTP/") {
            guard isVersion(first), parts[1].count == 3, let code = Int(String(decoding: parts[1], as: UTF8.self)),
                  code >= 100 else { return nil }
            let reason = parts.count == 3 ? String(decoding: parts[2], as: UTF8.self) : ""
            return .response(version: first, status: code, reason: reason)
        }
        guard parts.count == 3, !parts[1].isEmpty, !parts[2].contains(32) else { return nil }
        let version = String(decoding: parts[2], as: UTF8.self)
        guard isVersion(version) else { return nil }
        return .request(method: first, target: String(decoding: parts[1], as: UTF8.self), version: version)
    }

    private static func isHexDigit(_ b: UInt8) -> Bool {
        (48...57).contains(b) || (65...70).contains(b) || (97...102).contains(b)
    }

    private static func isVersion(_ s: String) -> Bool { s == "HTTP/1.1" || s == "HTTP/1.0" }
}

/// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
func trimOWS(_ s: String) -> String {
    let u = s.utf8
    guard let first = u.firstIndex(where: { $0 != 32 && $0 != 9 }) else { return "" }
    let last = u.lastIndex(where: { $0 != 32 && $0 != 9 })!
    return String(s[first...last])
}
