import TraceEvents

/// Names one Go HTTP request: the process, its goroutine, and the boot time
/// its entry probe fired (`struct ut_go_request_ref`).
public struct GoRequestRef: Sendable, Hashable {
    public var pid: UInt32
    public var goid: UInt64
    public var startBootNanos: UInt64

    public init(pid: UInt32, goid: UInt64, startBootNanos: UInt64) {
        self.pid = pid
        self.goid = goid
        self.startBootNanos = startBootNanos
    }

    /// Nil for the all-zero "none".
    init?(_ r: ut_go_request_ref) {
        guard r.start_ns != 0 else { return nil }
        self.init(pid: r.tgid, goid: r.goid, startBootNanos: r.start_ns)
    }
}

/// A decoded `struct ut_go_head_event` and its bytes: a Go server request has
/// begun (sent at ServeHTTP entry, before anything its handler does).
public struct GoHeadEvent: Sendable, Equatable {
    /// The server request (the same pid, goid and start as its later `GoHTTPEvent`).
    public var request: GoRequestRef
    /// The traced client (another process on this host) that sent it, and that client's own parent.
    public var parent: GoRequestRef?
    public var grandparent: GoRequestRef?
    /// The end of the connection's read buffer up to where the request head ends.
    public var bytes: [UInt8]

    public init(request: GoRequestRef, parent: GoRequestRef? = nil, grandparent: GoRequestRef? = nil, bytes: [UInt8]) {
        self.request = request
        self.parent = parent
        self.grandparent = grandparent
        self.bytes = bytes
    }

    /// Decodes one ring-buffer record; nil if it is not a head record or is cut short.
    public init?(bytes raw: UnsafeRawBufferPointer) {
        let size = MemoryLayout<ut_go_head_event>.size
        guard raw.count >= size else { return nil }
        var e = ut_go_head_event()
        withUnsafeMutableBytes(of: &e) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0..<size])) }
        guard e.h.kind == UInt32(UT_EVENT_GO_HTTP_HEAD.rawValue), Int(e.captured) <= raw.count - size else { return nil }
        request = GoRequestRef(pid: e.h.tgid, goid: e.h.goid, startBootNanos: e.h.start_ns)
        parent = GoRequestRef(e.parent)
        grandparent = GoRequestRef(e.grandparent)
        bytes = [UInt8](raw[size..<(size + Int(e.captured))])
    }

    /// The `traceparent` and `tracestate` header values of the request head at
    /// the end of `bytes` (nil when absent; nil `traceparent` when it occurs more than once).
    public var traceHeaders: (traceparent: String?, tracestate: String?) {
        GoHeadEvent.traceHeaders(inHeadEndingAt: bytes)
    }

    /// Finds the current request's header lines in a window of a Go server's
    /// read buffer that ends right after the head's blank line.
    ///
    /// The window starts at the buffer's beginning, so it may hold earlier
    /// requests of the connection (pipelining) before this one; and when a
    /// head arrived in several reads, bufio slid the unread part to the
    /// buffer's start, so the window may begin at a header line of this head
    /// (its request line already overwritten). So: walk the lines backwards
    /// from the end and stop at this request's request line (a header line
    /// never starts with `METHOD SP` and ends with ` HTTP/1.x`), at the blank
    /// line ending an earlier head, or at the window's start.
    static func traceHeaders(inHeadEndingAt window: [UInt8]) -> (traceparent: String?, tracestate: String?) {
        var lines: [ArraySlice<UInt8>] = []
        var end = window.endIndex
        // Drop the head's terminating blank line(s).
        while end > window.startIndex, window[end - 1] == UInt8(ascii: "\n") || window[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        var i = end
        while i > window.startIndex {
            var start = i
            while start > window.startIndex, window[start - 1] != UInt8(ascii: "\n") { start -= 1 }
            var line = window[start..<i]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            if line.isEmpty || isRequestLine(line) { break }
            lines.append(line)
            i = start > window.startIndex ? start - 1 : start
            if start == window.startIndex { break }
        }
        var traceparents: [String] = []
        var tracestates: [String] = []
        for line in lines.reversed() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let name = String(decoding: line[line.startIndex..<colon], as: UTF8.self).lowercased()
            guard name == "traceparent" || name == "tracestate" else { continue }
            let value = trimmed(line[(colon + 1)...])
            if name == "traceparent" { traceparents.append(value) } else { tracestates.append(value) }
        }
        return (traceparents.count == 1 ? traceparents[0] : nil,
                tracestates.isEmpty ? nil : tracestates.joined(separator: ","))
    }

    /// `TOKEN SP target SP HTTP/1.d`.
    private static func isRequestLine(_ line: ArraySlice<UInt8>) -> Bool {
        guard line.count >= 14, let space = line.firstIndex(of: UInt8(ascii: " ")), space > line.startIndex else { return false }
        let method = line[line.startIndex..<space]
        guard method.allSatisfy({ (65...90).contains($0) }) else { return false }
        let suffix = line.suffix(9)
        return suffix.starts(with: " HTTP/1.".utf8) && (48...57).contains(suffix.last!)
    }

    private static func trimmed(_ s: ArraySlice<UInt8>) -> String {
        var s = s
        while let f = s.first, f == 32 || f == 9 { s = s.dropFirst() }
        while let l = s.last, l == 32 || l == 9 { s = s.dropLast() }
        return String(decoding: s, as: UTF8.self)
    }
}
