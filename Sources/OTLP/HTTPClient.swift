#if canImport(Glibc)
import Glibc
#endif
import SystemSupport
import Tracing

/// A minimal HTTP/1.1 client for OTLP/HTTP: one POST per connection
/// (`Connection: close`), `http://` or `https://` (the system's OpenSSL,
/// loaded on first use: see `TLSConnection`), with a deadline on every step. It exists so the tool does not load FoundationNetworking, whose
/// libcurl brings in some thirty shared libraries and costs every
/// invocation (`symbols dump` included) milliseconds at start-up.
///
/// The response is framed by `HTTPHeadParser`, the fuzzed parser the TLS
/// tracing uses, so there is one HTTP/1 framing implementation.
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
        /// TLS could not be set up: certificate files, verification, handshake.
        case tls(String)
    }

    /// An `http(s)://host[:port]/path` URL, split.
    struct Target: Equatable {
        var host: String
        var port: UInt16
        var path: String
        var tls = false

        init?(_ url: String) {
            let lower = url.lowercased()
            guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else { return nil }
            tls = lower.hasPrefix("https://")
            let defaultPort: UInt16 = tls ? 443 : 80
            let rest = url.dropFirst(tls ? "https://".count : "http://".count)
            let slash = rest.firstIndex(of: "/") ?? rest.endIndex
            var authority = String(rest[..<slash])
            if let at = authority.lastIndex(of: "@") { authority = String(authority[authority.index(after: at)...]) }
            path = slash == rest.endIndex ? "/" : String(rest[slash...])
            if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
                host = String(authority[authority.index(after: authority.startIndex)..<close])
                let after = authority[authority.index(after: close)...]
                if after.isEmpty { port = defaultPort } else if after.hasPrefix(":"), let p = UInt16(after.dropFirst()) { port = p } else { return nil }
            } else if let colon = authority.lastIndex(of: ":") {
                host = String(authority[..<colon])
                guard let p = UInt16(authority[authority.index(after: colon)...]) else { return nil }
                port = p
            } else {
                host = authority
                port = defaultPort
            }
            if host.isEmpty { return nil }
        }

        var hostHeader: String {
            let h = host.contains(":") ? "[\(host)]" : host
            return port == (tls ? 443 : 80) ? h : "\(h):\(port)"
        }
    }

    /// POSTs `body`; `isCancelled` is polled so a shutdown can stop a stuck request.
    static func post(_ target: Target, headers: [(String, String)], body: [UInt8], timeout: Double,
                     tls: TLSSettings = TLSSettings(), isCancelled: () -> Bool = { false }) throws(Failure) -> Response {
        let deadline = monotonicSeconds() + timeout
        let fd = try connect(target, deadline: deadline, isCancelled: isCancelled)
        defer { close(fd) }
        let session = target.tls ? try TLSConnection(fd: fd, host: target.host, settings: tls, deadline: deadline, isCancelled: isCancelled) : nil
        var head = "POST \(target.path) HTTP/1.1\r\nHost: \(target.hostHeader)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        head += "\r\n"
        if let session {
            try session.write(Array(head.utf8) + body, fd: fd, deadline: deadline, isCancelled: isCancelled)
            return try receive(deadline: deadline) { (buf) throws(Failure) -> Int in
                try session.read(into: &buf, fd: fd, deadline: deadline, isCancelled: isCancelled)
            }
        }
        try send(fd, Array(head.utf8) + body, deadline: deadline, isCancelled: isCancelled)
        return try receive(fd, deadline: deadline, isCancelled: isCancelled)
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
            if fd < 0 { lastError = Errno.current.text; continue }
            if Glibc.connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 { return fd }
            if errno != EINPROGRESS { lastError = Errno.current.text; close(fd); continue }
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
            lastError = Errno(err).text
            close(fd)
        }
        throw .connection("connect to \(t.hostHeader): \(lastError)")
    }

    private static func send(_ fd: Int32, _ bytes: [UInt8], deadline: Double, isCancelled: () -> Bool) throws(Failure) {
        var off = 0
        while off < bytes.count {
            let n = retryingEINTR { bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) } }
            if n > 0 { off += n; continue }
            if n < 0 && errno == EAGAIN {
                try wait(fd, events: Int16(POLLOUT), deadline: deadline, isCancelled: isCancelled)
                continue
            }
            throw .connection("send: \(Errno.current.text)")
        }
    }

    /// Reads until the response is complete or the server closes the connection.
    private static func receive(_ fd: Int32, deadline: Double, isCancelled: () -> Bool) throws(Failure) -> Response {
        try receive(deadline: deadline) { (buf) throws(Failure) -> Int in
            while true {
                let n = retryingEINTR { buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) } }
                if n >= 0 { return n }
                if errno != EAGAIN { throw .connection("recv: \(Errno.current.text)") }
                try wait(fd, events: Int16(POLLIN), deadline: deadline, isCancelled: isCancelled)
            }
        }
    }

    /// The response from `read` (bytes into the buffer, 0 at the end), stopping
    /// as soon as it is whole rather than waiting for the server to close.
    private static func receive(deadline: Double, read: (inout [UInt8]) throws(Failure) -> Int) throws(Failure) -> Response {
        var reader = ResponseReader()
        var buf = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = try read(&buf)
            if n == 0 { return try reader.response() }
            try reader.feed(Array(buf[0..<n]))
            if reader.isComplete { return try reader.response() }
        }
    }

    private static func wait(_ fd: Int32, events: Int16, deadline: Double, isCancelled: () -> Bool) throws(Failure) {
        switch waitForDescriptor(fd, events: events, deadline: deadline, shouldStop: isCancelled) {
        case .ready: return
        case .timedOut: throw .timedOut
        case .stopped: throw .cancelled
        case .failed(let e): throw .connection("poll: \(e.text)")
        }
    }

    // MARK: - Response parsing

    /// Parses a whole response, as read up to the end of the connection.
    static func parse(_ raw: [UInt8]) throws(Failure) -> Response {
        try parseWithCompleteness(raw).response
    }

    /// Parses a response; `complete` says whether the whole body is there.
    static func parseWithCompleteness(_ raw: [UInt8]) throws(Failure) -> (response: Response, complete: Bool) {
        var reader = ResponseReader()
        try reader.feed(raw)
        return (try reader.response(), reader.isComplete)
    }
}

/// One response, fed as it arrives: `HTTPHeadParser` frames it, this keeps
/// the final (non-1xx) head and its body.
struct ResponseReader {
    /// The headers the exporter reads, besides the framing ones the parser keeps anyway.
    static let keptHeaders = HTTPHead.keptHeaders.union(["retry-after"])
    /// Larger answers are not what a collector sends.
    static let maxBytes = 16 << 20

    private var parser = HTTPHeadParser(keptHeaders: keptHeaders)
    private var received: [UInt8] = []
    private var head: HTTPHead?
    private var body: [UInt8] = []
    /// The final head's message has ended: later bytes are ignored.
    private(set) var isComplete = false

    mutating func feed(_ bytes: [UInt8]) throws(HTTPClient.Failure) {
        guard !isComplete else { return }
        if received.count + bytes.count > Self.maxBytes { throw .protocolError("response larger than 16 MiB") }
        // Kept only until the head is parsed, for messages about a bad one.
        if head == nil { received += bytes }
        var got: [UInt8] = []
        // Interim (1xx) responses have no body: every body byte is the final response's.
        let events = parser.feed(bytes) { got += $0 }
        body += got
        for event in events {
            switch event {
            case .head(let h) where h.isRequest:
                throw notHTTP()
            case .head(let h):
                if h.status >= 200 && head == nil {
                    head = h
                    received = []
                }
            case .messageEnd:
                if head != nil { isComplete = true }
            }
        }
        if parser.isNotHTTP { throw notHTTP() }
        if head != nil && !isComplete && parser.hasLostSync { throw .protocolError("malformed response body framing") }
    }

    /// The response so far; call it when complete, or once the connection has closed.
    func response() throws(HTTPClient.Failure) -> HTTPClient.Response {
        guard let head else {
            throw received.isEmpty ? .connection("connection closed without a response") : .protocolError("incomplete response head")
        }
        return HTTPClient.Response(status: head.status, headers: head.headers, body: body)
    }

    private func notHTTP() -> HTTPClient.Failure {
        let line = received.prefix { $0 != 13 && $0 != 10 }.prefix(60)
        return .protocolError("not an HTTP/1.x status line: \(String(decoding: line, as: UTF8.self))")
    }
}
