#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.1 client for OTLP/HTTP: one POST per connection
/// (`Connection: close`), plain `http://` only, with a deadline on every
/// step. It exists so the tool does not load FoundationNetworking, whose
/// libcurl brings in some thirty shared libraries and costs every
/// invocation (`symbols dump` included) milliseconds at start-up.
struct HTTPClient {
    struct Response {
        var status: Int
        /// Header names lowercased.
        var headers: [String: String]
        var body: [UInt8]
    }

    enum Failure: Error, Equatable {
        /// Could not connect, or the connection broke: worth retrying.
        case connection(String)
        case timedOut
        case cancelled
        /// The peer did not speak HTTP/1.x as expected.
        case protocolError(String)
    }

    /// An `http://host[:port]/path` URL, split.
    struct Target: Equatable {
        var host: String
        var port: UInt16
        var path: String

        init?(_ url: String) {
            guard url.lowercased().hasPrefix("http://") else { return nil }
            let rest = url.dropFirst("http://".count)
            let slash = rest.firstIndex(of: "/") ?? rest.endIndex
            var authority = String(rest[..<slash])
            if let at = authority.lastIndex(of: "@") { authority = String(authority[authority.index(after: at)...]) }
            path = slash == rest.endIndex ? "/" : String(rest[slash...])
            if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
                host = String(authority[authority.index(after: authority.startIndex)..<close])
                let after = authority[authority.index(after: close)...]
                if after.isEmpty { port = 80 } else if after.hasPrefix(":"), let p = UInt16(after.dropFirst()) { port = p } else { return nil }
            } else if let colon = authority.lastIndex(of: ":") {
                host = String(authority[..<colon])
                guard let p = UInt16(authority[authority.index(after: colon)...]) else { return nil }
                port = p
            } else {
                host = authority
                port = 80
            }
            if host.isEmpty { return nil }
        }

        var hostHeader: String {
            let h = host.contains(":") ? "[\(host)]" : host
            return port == 80 ? h : "\(h):\(port)"
        }
    }

    /// POSTs `body`; `isCancelled` is polled so a shutdown can stop a stuck request.
    static func post(_ target: Target, headers: [(String, String)], body: [UInt8], timeout: Double,
                     isCancelled: () -> Bool = { false }) throws(Failure) -> Response {
        let deadline = monotonicSeconds() + timeout
        let fd = try connect(target, deadline: deadline, isCancelled: isCancelled)
        defer { close(fd) }
        var head = "POST \(target.path) HTTP/1.1\r\nHost: \(target.hostHeader)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        head += "\r\n"
        try send(fd, Array(head.utf8) + body, deadline: deadline, isCancelled: isCancelled)
        let raw = try receiveAll(fd, deadline: deadline, isCancelled: isCancelled)
        return try parse(raw)
    }

    // MARK: - Socket steps

    private static func connect(_ t: Target, deadline: Double, isCancelled: () -> Bool) throws(Failure) -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(t.host, String(t.port), &hints, &list)
        guard rc == 0, let first = list else {
            throw .connection("cannot resolve \(t.host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address for \(t.host)"
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            ai = a.pointee.ai_next
            let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), a.pointee.ai_protocol)
            if fd < 0 { lastError = errnoText(); continue }
            if Glibc.connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 { return fd }
            if errno != EINPROGRESS { lastError = errnoText(); close(fd); continue }
            do {
                try wait(fd, events: Int16(POLLOUT), deadline: deadline, isCancelled: isCancelled)
            } catch {
                close(fd)
                throw error
            }
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
            if err == 0 { return fd }
            lastError = String(cString: strerror(err))
            close(fd)
        }
        throw .connection("connect to \(t.hostHeader): \(lastError)")
    }

    private static func send(_ fd: Int32, _ bytes: [UInt8], deadline: Double, isCancelled: () -> Bool) throws(Failure) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n > 0 { off += n; continue }
            if n < 0 && (errno == EAGAIN || errno == EINTR) {
                try wait(fd, events: Int16(POLLOUT), deadline: deadline, isCancelled: isCancelled)
                continue
            }
            throw .connection("send: \(errnoText())")
        }
    }

    private static func receiveAll(_ fd: Int32, deadline: Double, isCancelled: () -> Bool) throws(Failure) -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                out.append(contentsOf: buf[0..<n])
                if out.count > 16 << 20 { throw .protocolError("response larger than 16 MiB") }
                // Stop as soon as the whole response is here; do not wait for the server to close.
                if let r = try? parseWithCompleteness(out), r.complete { return out }
                continue
            }
            if n == 0 { return out }
            if errno == EAGAIN || errno == EINTR {
                try wait(fd, events: Int16(POLLIN), deadline: deadline, isCancelled: isCancelled)
                continue
            }
            throw .connection("recv: \(errnoText())")
        }
    }

    private static func wait(_ fd: Int32, events: Int16, deadline: Double, isCancelled: () -> Bool) throws(Failure) {
        while true {
            if isCancelled() { throw .cancelled }
            let left = deadline - monotonicSeconds()
            if left <= 0 { throw .timedOut }
            var p = pollfd(fd: fd, events: events, revents: 0)
            // Short slices so cancellation is noticed promptly.
            let rc = poll(&p, 1, Int32(min(left, 0.1) * 1000) + 1)
            if rc > 0 { return }
            if rc < 0 && errno != EINTR { throw .connection("poll: \(errnoText())") }
        }
    }

    // MARK: - Response parsing

    /// Parses a response; `complete` says whether the whole body is there.
    static func parse(_ raw: [UInt8]) throws(Failure) -> Response {
        try parseWithCompleteness(raw).response
    }

    static func parseWithCompleteness(_ raw: [UInt8]) throws(Failure) -> (response: Response, complete: Bool) {
        guard let end = raw.firstRange(of: [13, 10, 13, 10]) else {
            throw raw.isEmpty ? .connection("connection closed without a response") : .protocolError("incomplete response head")
        }
        let head = String(decoding: raw[..<end.lowerBound], as: UTF8.self)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else {
            throw .protocolError("not an HTTP/1.x status line: \(statusLine.joined(separator: " ").prefix(60))")
        }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let rest = Array(raw[end.upperBound...])
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            var body: [UInt8] = []
            var i = 0
            while true {
                guard let lineEnd = rest[i...].firstRange(of: [13, 10]) else { return (Response(status: status, headers: headers, body: body), false) }
                let sizeText = String(decoding: rest[i..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                    throw .protocolError("bad chunk size")
                }
                let start = lineEnd.upperBound
                if size == 0 { return (Response(status: status, headers: headers, body: body), true) }
                guard start + size + 2 <= rest.count else { return (Response(status: status, headers: headers, body: body), false) }
                body += rest[start..<start + size]
                i = start + size + 2
            }
        }
        if let lengthText = headers["content-length"], let length = Int(lengthText) {
            return (Response(status: status, headers: headers, body: Array(rest.prefix(length))), rest.count >= length)
        }
        // Neither: the body runs to the end of the connection.
        return (Response(status: status, headers: headers, body: rest), false)
    }
}

private func errnoText() -> String { String(cString: strerror(errno)) }

private func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
