/// The end of a Go server connection's read buffer, up to where the request
/// head net/http just parsed ends (the bytes of a `GoHeadEvent`).
public enum RequestHeadWindow {
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
    public static func traceHeaders(endingAt window: [UInt8]) -> (traceparent: String?, tracestate: String?) {
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
            let name = line[line.startIndex..<colon]
            if equalsIgnoringCase(name, "traceparent") {
                traceparents.append(trimmed(line[(colon + 1)...]))
            } else if equalsIgnoringCase(name, "tracestate") {
                tracestates.append(trimmed(line[(colon + 1)...]))
            }
        }
        return (traceparents.count == 1 ? traceparents[0] : nil,
                tracestates.isEmpty ? nil : tracestates.joined(separator: ","))
    }

    /// ASCII case-insensitive comparison with a lowercase name (no String made per header).
    private static func equalsIgnoringCase(_ bytes: ArraySlice<UInt8>, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        return lowercase.withUTF8Buffer { name in
            zip(bytes, name).allSatisfy { b, n in (b >= 65 && b <= 90 ? b | 0x20 : b) == n }
        }
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
        // As net/textproto trims a header value: spaces, tabs and carriage returns.
        while let f = s.first, f == 32 || f == 9 || f == 13 { s = s.dropFirst() }
        while let l = s.last, l == 32 || l == 9 || l == 13 { s = s.dropLast() }
        return String(decoding: s, as: UTF8.self)
    }
}
