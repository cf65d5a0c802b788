import Foundation
import Synchronization
import SystemSupport

#if canImport(Glibc)
import Glibc
#endif

/// `--metrics-addr`: answers `GET /metrics` with a text the caller renders.
///
/// The address faces the node's network (a DaemonSet exposes it), so no client
/// may starve a scrape: one thread polls the listening socket and every open
/// connection at once, each connection a small state machine (read the head,
/// then write the reply). Resources are bounded by construction:
/// - at most `maxConnections` open at once; when full, a new connection evicts
///   the one that has waited longest without sending a whole request head, so
///   a crowd of idle connections cannot keep a scraper out;
/// - a request head is read up to 8 KiB (larger: 431, then close), and each
///   connection gets at most `connectionTimeout` seconds in all (a slowloris
///   sending a byte at a time is closed at its deadline);
/// - the text is rendered once per request, after its head is complete, and
///   written without blocking; a client that does not read it is dropped at its
///   deadline.
/// Nothing here takes a lock the ring-buffer readers hold for longer than a
/// counter update.
final class MetricsServer: Sendable {
    /// The address actually bound (`127.0.0.1:9464`; with port 0, the port the kernel chose).
    let address: String
    private let fd: Int32
    private let connectionTimeout: Double
    private let maxConnections: Int
    private let stopping = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    /// Largest request head read; a longer one is answered 431.
    static let maxHead = 8192

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
    init(listen spec: String, connectionTimeout: Double = 2, maxConnections: Int = 64) throws {
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
        guard bind(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0, listen(fd, 128) == 0 else {
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
        self.maxConnections = max(1, maxConnections)
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
            var loop = Loop(listener: fd, timeout: connectionTimeout, capacity: maxConnections, render: render)
            while !stopping.load(ordering: .acquiring) { loop.turn() }
            loop.closeAll()
        }
        thread.name = "uprobe-trace metrics"
        thread.start()
    }

    /// Stops answering and joins the thread (within 0.1 s). Idempotent.
    func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if started.load(ordering: .acquiring) { finished.wait() }
    }

    // MARK: - The event loop

    /// One open connection: the head read so far, then the reply left to send.
    struct Connection {
        let fd: Int32
        let deadline: Double
        var head: [UInt8] = []
        var reply: [UInt8]? = nil
        var sent = 0
    }

    /// The serving thread's state: only that thread touches it.
    struct Loop {
        let listener: Int32
        let timeout: Double
        let capacity: Int
        let render: () -> String
        var open: [Connection] = []   // in accept order: the first waiting one is the oldest

        init(listener: Int32, timeout: Double, capacity: Int, render: @escaping () -> String) {
            self.listener = listener
            self.timeout = timeout
            self.capacity = capacity
            self.render = render
        }

        /// One poll over the listener and every connection (at most 100 ms), then
        /// the work each ready descriptor allows, then the deadlines.
        mutating func turn() {
            var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            for c in open { fds.append(pollfd(fd: c.fd, events: Int16(c.reply == nil ? POLLIN : POLLOUT), revents: 0)) }
            let now = monotonicSeconds()
            let nearest = open.map(\.deadline).min().map { max(0, $0 - now) } ?? 0.1
            let rc = poll(&fds, nfds_t(fds.count), Int32(min(nearest, 0.1) * 1000) + 1)
            if rc > 0 {
                // Connections first (indexes match `fds`), then new ones.
                var keep: [Connection] = []
                for (i, var c) in open.enumerated() {
                    if fds[i + 1].revents != 0 { guard advance(&c) else { close(c.fd); continue } }
                    keep.append(c)
                }
                open = keep
                if fds[0].revents & Int16(POLLIN) != 0 { acceptAll() }
            }
            let after = monotonicSeconds()
            open.removeAll { c in
                guard c.deadline <= after else { return false }
                close(c.fd)
                return true
            }
        }

        /// Accepts what the backlog holds, evicting the oldest connection still
        /// without a request head when full.
        mutating func acceptAll() {
            while true {
                let conn = accept(listener, nil, nil)
                if conn < 0 { return }
                _ = fcntl(conn, F_SETFL, O_NONBLOCK)
                _ = fcntl(conn, F_SETFD, FD_CLOEXEC)
                if open.count >= capacity {
                    if let i = open.firstIndex(where: { $0.reply == nil }) {
                        close(open[i].fd)
                        open.remove(at: i)
                    } else {
                        close(conn)   // every slot is sending a reply: this one retries
                        continue
                    }
                }
                open.append(Connection(fd: conn, deadline: monotonicSeconds() + timeout))
            }
        }

        /// Reads or writes what the socket allows; false when the connection is done.
        func advance(_ c: inout Connection) -> Bool {
            if c.reply == nil {
                var buf = [UInt8](repeating: 0, count: 4096)
                let n = retryingEINTR { buf.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, 0) } }
                if n == 0 { return false }
                if n < 0 { return errno == EAGAIN }
                c.head += buf[0..<min(n, MetricsServer.maxHead + 1 - c.head.count)]
                if let reply = MetricsServer.reply(to: c.head, render: render) { c.reply = reply }
            }
            guard let reply = c.reply else { return true }
            while c.sent < reply.count {
                let n = retryingEINTR { reply.withUnsafeBytes { send(c.fd, $0.baseAddress! + c.sent, $0.count - c.sent, Int32(MSG_NOSIGNAL)) } }
                if n > 0 { c.sent += n; continue }
                return n < 0 && errno == EAGAIN
            }
            return false   // all sent: Connection: close
        }

        mutating func closeAll() {
            for c in open { close(c.fd) }
            open.removeAll()
        }
    }

    // MARK: - One request

    /// The whole reply to a request head, or nil while the head is incomplete.
    /// `render` runs only for a GET/HEAD of /metrics.
    static func reply(to head: [UInt8], render: () -> String) -> [UInt8]? {
        let complete = head.firstRange(of: [13, 10, 13, 10]) != nil || head.firstRange(of: [10, 10]) != nil
        if !complete && head.count <= maxHead { return nil }
        let requestLine = String(decoding: head.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
        let words = requestLine.split(separator: " ", omittingEmptySubsequences: false)
        let method = words.first ?? "", target = words.count > 1 ? words[1] : ""
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let (status, body): (String, String) =
            !complete ? ("431 Request Header Fields Too Large", "request head over \(maxHead) bytes\n")
            : words.count != 3 || !words[2].hasPrefix("HTTP/1.") ? ("400 Bad Request", "not an HTTP/1.x request\n")
            : method != "GET" && method != "HEAD" ? ("405 Method Not Allowed", "only GET\n")
            : path != "/metrics" ? ("404 Not Found", "metrics are at /metrics\n")
            : ("200 OK", render())
        let type = status.hasPrefix("200") ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8"
        var reply = Array("HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n".utf8)
        if method != "HEAD" { reply += Array(body.utf8) }
        return reply
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
