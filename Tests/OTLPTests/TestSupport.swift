import Foundation
import Testing
import Tracing
@testable import OTLP
#if canImport(Glibc)
import Glibc
#endif

/// Spans shaped like the ones the tool makes: an HTTP server span with a remote parent and a
/// failed MySQL client span from another process.
enum Fixtures {
    static let shop = Resource(attributes: [
        .string("service.name", "shop"), .int("process.pid", 1234),
        .string("telemetry.sdk.name", "uprobe-trace"),
    ])
    static let db = Resource(attributes: [.string("service.name", "worker"), .int("process.pid", 99)])

    static let traceID = TraceID(high: 0x4bf9_2f35_77b3_4da6, low: 0xa3ce_929d_0e0e_4736)
    static let start: UInt64 = 1_700_000_000_123_456_789

    static func server(_ n: UInt64 = 1) -> Span {
        Span(traceID: traceID, spanID: SpanID(0x00f0_67aa_0ba9_0200 + n), parentSpanID: SpanID(0x1122_3344_5566_7788),
             traceState: "rojo=00f067aa0ba902b7", name: "GET /api/users", kind: .server,
             startTimeUnixNano: start, endTimeUnixNano: start + 12_345_678,
             attributes: [
                .string("http.request.method", "GET"), .string("url.path", "/api/users"),
                .string("url.query", "id=3"), .int("http.response.status_code", 200),
                Attribute("test.ratio", .double(0.5)), .bool("test.flag", true),
             ],
             resource: shop)
    }

    static func mysql() -> Span {
        Span(traceID: TraceID(high: 1, low: 2), spanID: SpanID(0x0a0b_0c0d_0e0f_1011), name: "SELECT", kind: .client,
             startTimeUnixNano: start + 1_000, endTimeUnixNano: start + 2_501_000,
             attributes: [.string("db.system.name", "mysql"), .string("db.query.text", "SELECT * FROM t WHERE id = ?")],
             status: .error(message: "Table 'shop.t' doesn't exist"), resource: db)
    }
}

/// Paths to the independent tools the tests compare against.
enum External {
    /// The OTLP .proto files: $OTLP_PROTO_ROOT, else `<repo>/../shared/opentelemetry-proto`
    /// (repo root = 3 levels up from this file), else the workplace's `/work/shared` copy
    /// (a CI clone may live elsewhere).
    static var protoDir: URL {
        let candidates = [ProcessInfo.processInfo.environment["OTLP_PROTO_ROOT"].map { URL(fileURLWithPath: $0) },
                          URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                              .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/opentelemetry-proto"),
                          URL(fileURLWithPath: "/work/shared/opentelemetry-proto")].compactMap { $0 }
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("opentelemetry/proto").path) } ?? candidates[1]
    }

    static func which(_ tool: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let p = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// Nil when `what` is missing: an issue in CI (CI=true), a printed skip reason elsewhere.
    static func require<T>(_ value: T?, _ what: String) -> T? {
        if value != nil { return value }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            Issue.record("\(what) is missing; CI must provide it")
        } else {
            print("skipped: \(what) is missing")
        }
        return nil
    }

    /// Runs `argv` with `input` on stdin; returns (status, stdout, stderr).
    static func run(_ argv: [String], input: Data = Data()) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        p.standardInput = stdin
        p.standardOutput = stdout
        p.standardError = stderr
        try p.run()
        let writer = Thread {
            stdin.fileHandleForWriting.write(input)
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    /// `protoc --decode` of an ExportTraceServiceRequest body; nil (skipped) without protoc or protos.
    static func protocDecode(_ body: Data) throws -> String? {
        guard let protoc = require(which("protoc"), "protoc (apt-get install protobuf-compiler)"),
              let dir = require(FileManager.default.fileExists(atPath: protoDir.path) ? protoDir : nil,
                                "opentelemetry-proto at \(protoDir.path)") else { return nil }
        let (status, out, err) = try run([
            protoc, "--decode", "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest",
            "-I", dir.path, "opentelemetry/proto/collector/trace/v1/trace_service.proto",
        ], input: body)
        #expect(status == 0, "protoc --decode failed: \(err)")
        return out
    }

    /// How protoc's text format prints a `bytes` field (C escaping, octal for the rest).
    static func protoTextEscaped(_ bytes: [UInt8]) -> String {
        var s = ""
        for b in bytes {
            switch b {
            case 0x0a: s += "\\n"
            case 0x0d: s += "\\r"
            case 0x09: s += "\\t"
            case 0x22: s += "\\\""
            case 0x27: s += "\\'"
            case 0x5c: s += "\\\\"
            case 0x20..<0x7f: s.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let o = String(b, radix: 8)
                s += "\\" + String(repeating: "0", count: 3 - o.count) + o
            }
        }
        return s
    }
}

/// A minimal HTTP/1.1 server on 127.0.0.1 that records each request and answers from a script
/// (then 200 once the script runs out). One connection at a time, `Connection: close`.
final class TestHTTPReceiver: @unchecked Sendable {
    struct Request: Sendable {
        var method: String
        var path: String
        /// Lowercased names.
        var headers: [String: String]
        var body: Data
        var answeredStatus: Int
    }

    struct Response: Sendable {
        var status: Int
        var headers: [(String, String)] = []
        var body: Data = Data()
    }

    let port: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var script: [Response]
    private var _requests: [Request] = []

    var requests: [Request] { lock.withLock { _requests } }
    var url: String { "http://127.0.0.1:\(port)" }

    init(script: [Response] = []) throws {
        self.script = script
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        port = UInt16(bigEndian: addr.sin_port)
        listener = fd
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// A port on which nothing listens (bound, then closed): connections are refused.
    static func closedPort() throws -> UInt16 {
        let r = try TestHTTPReceiver()
        r.stop()
        return r.port
    }

    /// Stops accepting. The accept thread closes the listener itself when it sees the
    /// shutdown: closing it here could let the fd number be reused by another test's
    /// listener before this thread reaches accept(), which would then steal its connections.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
    }

    private func acceptLoop() {
        defer { close(listener) }
        while true {
            let conn = accept(listener, nil, nil)
            if conn < 0 {
                if errno == EINTR { continue }
                return
            }
            var tv = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            handle(conn)
            close(conn)
        }
    }

    private func handle(_ conn: Int32) {
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        func fill() -> Bool {
            let n = recv(conn, &chunk, chunk.count, 0)
            if n <= 0 { return false }
            buffer += chunk[0..<n]
            return true
        }
        let terminator: [UInt8] = Array("\r\n\r\n".utf8)
        var headEnd: Int?
        while headEnd == nil {
            if buffer.count >= 4 {
                headEnd = (0...(buffer.count - 4)).first { buffer[$0..<$0 + 4].elementsEqual(terminator) }
            }
            if headEnd == nil && !fill() { return }
        }
        let head = String(decoding: buffer[0..<headEnd!], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        if headers["expect"]?.lowercased() == "100-continue" { sendAll(conn, "HTTP/1.1 100 Continue\r\n\r\n") }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        let bodyStart = headEnd! + 4
        while buffer.count - bodyStart < length { if !fill() { return } }
        let body = Data(buffer[bodyStart..<bodyStart + length])
        let response: Response = lock.withLock { script.isEmpty ? Response(status: 200) : script.removeFirst() }
        lock.withLock {
            _requests.append(Request(method: String(requestLine.first ?? ""), path: requestLine.count > 1 ? String(requestLine[1]) : "",
                                     headers: headers, body: body, answeredStatus: response.status))
        }
        var out = "HTTP/1.1 \(response.status) \(response.status == 200 ? "OK" : "Test")\r\n"
            + "Content-Length: \(response.body.count)\r\nConnection: close\r\n"
        for (k, v) in response.headers { out += "\(k): \(v)\r\n" }
        sendAll(conn, Array((out + "\r\n").utf8) + Array(response.body))
    }

    private func sendAll(_ conn: Int32, _ s: String) { sendAll(conn, Array(s.utf8)) }

    private func sendAll(_ conn: Int32, _ bytes: [UInt8]) {
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { send(conn, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            done += n
        }
    }
}

/// Collects what an exporter was asked to send; optionally slow, to hold batches in flight.
final class RecordingExporter: SpanExporter, @unchecked Sendable {
    private let lock = NSLock()
    private var _batches: [[Span]] = []
    let delay: Double

    init(delay: Double = 0) { self.delay = delay }

    var batches: [[Span]] { lock.withLock { _batches } }

    func export(_ spans: [Span]) async throws {
        if delay > 0 { try? await Task.sleep(for: .seconds(delay)) }
        lock.withLock { _batches.append(spans) }
    }

    func shutdown() async {}
}
