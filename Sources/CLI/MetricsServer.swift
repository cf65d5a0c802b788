import Foundation
import Synchronization
import SystemSupport

#if canImport(Glibc)
import Glibc
#endif

/// `--metrics-addr`: answers `GET /metrics` with a text the caller renders, from
/// one thread of its own that serves one connection at a time.
///
/// Bounded by construction: a request head is read up to 8 KiB, and each
/// connection gets at most `connectionTimeout` seconds in all, so a slow or
/// stuck scraper delays only the next scrape. Nothing here takes a lock the
/// ring-buffer readers hold for longer than a counter update; the text is
/// rendered before the first byte is sent.
final class MetricsServer: Sendable {
    /// The address actually bound (`127.0.0.1:9464`; with port 0, the port the kernel chose).
    let address: String
    private let fd: Int32
    private let connectionTimeout: Double
    private let stopping = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    /// `HOST:PORT`, `[IPV6]:PORT` or `:PORT` (every address); nil when it is none of these.
    static func parse(_ spec: String) -> (host: String?, port: UInt16)? {
        guard let colon = spec.lastIndex(of: ":"), let port = UInt16(spec[spec.index(after: colon)...]) else { return nil }
        var host = String(spec[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.contains(":") && !spec.hasPrefix("[") { return nil }
        return (host.isEmpty ? nil : host, port)
    }

    /// Binds and listens on `spec` now (so a taken port fails before anything is
    /// attached); `start` begins answering.
    init(listen spec: String, connectionTimeout: Double = 2) throws {
        guard let (host, port) = Self.parse(spec) else {
            throw CLIError(description: "--metrics-addr \(spec): not HOST:PORT; hint: e.g. --metrics-addr 127.0.0.1:9464", exitCode: 2)
        }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let ai = list else {
            throw CLIError(description: "--metrics-addr \(spec): cannot resolve \(host ?? "*"): \(String(cString: gai_strerror(rc))); hint: use an IP address such as 127.0.0.1", exitCode: 2)
        }
        defer { freeaddrinfo(list) }
        let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw CLIError(description: "--metrics-addr \(spec): socket: \(Errno.current.text)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0, listen(fd, 16) == 0 else {
            let e = Errno.current
            close(fd)
            let hint = e.code == EADDRINUSE ? "another process listens there (ss -ltnp); choose another port"
                : e.code == EADDRNOTAVAIL ? "that address is not on this host; use 127.0.0.1 or one of `ip -brief address`"
                : e.code == EACCES ? "ports below 1024 need root or CAP_NET_BIND_SERVICE" : "check the address"
            throw CLIError(description: "--metrics-addr \(spec): cannot listen: \(e.text); hint: \(hint)")
        }
        address = Self.boundAddress(fd) ?? spec
        self.fd = fd
        self.connectionTimeout = connectionTimeout
    }

    deinit {
        stop()
        close(fd)
    }

    /// Starts the serving thread; `render` builds the response body of each scrape.
    func start(render: @escaping @Sendable () -> String) {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let thread = Thread { [self] in
            defer { finished.signal() }
            while !stopping.load(ordering: .acquiring) {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&p, 1, 100) > 0 else { continue }
                let conn = accept(fd, nil, nil)
                if conn < 0 { continue }
                _ = fcntl(conn, F_SETFL, O_NONBLOCK)
                _ = fcntl(conn, F_SETFD, FD_CLOEXEC)
                serve(conn, render: render)
                close(conn)
            }
        }
        thread.name = "uprobe-trace metrics"
        thread.start()
    }

    /// Stops answering and joins the thread (within 0.1 s, or the rest of a
    /// connection in progress). Idempotent.
    func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if started.load(ordering: .acquiring) { finished.wait() }
    }

    // MARK: - One connection

    private func serve(_ conn: Int32, render: () -> String) {
        let deadline = monotonicSeconds() + connectionTimeout
        var head: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 2048)
        while head.firstRange(of: [13, 10, 13, 10]) == nil && head.firstRange(of: [10, 10]) == nil {
            guard head.count < 8192, wait(conn, Int16(POLLIN), until: deadline) else { return }
            let n = retryingEINTR { buf.withUnsafeMutableBytes { recv(conn, $0.baseAddress, $0.count, 0) } }
            if n == 0 { return }
            if n < 0 { if errno == EAGAIN { continue }; return }
            head += buf[0..<n]
        }
        let requestLine = String(decoding: head.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self).split(separator: " ")
        let method = requestLine.first ?? "", target = requestLine.count > 1 ? requestLine[1] : ""
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let (status, body): (String, String) =
            method != "GET" && method != "HEAD" ? ("405 Method Not Allowed", "only GET\n")
            : path != "/metrics" ? ("404 Not Found", "metrics are at /metrics\n")
            : ("200 OK", render())
        let type = status.hasPrefix("200") ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8"
        var reply = Array("HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n".utf8)
        if method != "HEAD" { reply += Array(body.utf8) }
        var off = 0
        while off < reply.count {
            let n = retryingEINTR { reply.withUnsafeBytes { send(conn, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) } }
            if n > 0 { off += n; continue }
            if n < 0 && errno == EAGAIN, wait(conn, Int16(POLLOUT), until: deadline) { continue }
            return
        }
    }

    /// Waits for `events` on `fd` until `deadline` (monotonic seconds) or a stop.
    private func wait(_ fd: Int32, _ events: Int16, until deadline: Double) -> Bool {
        waitForDescriptor(fd, events: events, deadline: deadline) { stopping.load(ordering: .acquiring) } == .ready
    }

    private static func boundAddress(_ fd: Int32) -> String? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST)), port = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                getsockname(fd, sa, &len) == 0
                    && getnameinfo(sa, len, &host, socklen_t(host.count), &port, socklen_t(port.count), NI_NUMERICHOST | NI_NUMERICSERV) == 0
            }
        }
        guard ok else { return nil }
        func text(_ c: [CChar]) -> String { String(decoding: c.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        let h = text(host)
        return (h.contains(":") ? "[\(h)]" : h) + ":" + text(port)
    }
}
