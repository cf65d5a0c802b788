#if canImport(Glibc)
import Glibc
#endif
import SystemSupport

/// Certificates for `https://` collectors: the CA bundle to trust (default: the
/// system's) and an optional client certificate and key (mutual TLS), from
/// `OTEL_EXPORTER_OTLP_CERTIFICATE`, `…_CLIENT_CERTIFICATE`, `…_CLIENT_KEY`.
public struct TLSSettings: Sendable, Equatable {
    public var caFile: String?
    public var clientCertificate: String?
    public var clientKey: String?

    public init(caFile: String? = nil, clientCertificate: String? = nil, clientKey: String? = nil) {
        self.caFile = caFile
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
    }
}

/// The system's OpenSSL (libssl.so.3), loaded with `dlopen` the first time an
/// `https://` endpoint is used: the tool neither links it (every other run,
/// `symbols dump` included, pays nothing at start-up) nor builds a TLS stack
/// of its own. Only the calls a blocking-free client handshake, read and write
/// need are looked up; their C signatures are the stable OpenSSL 1.1/3 API.
final class OpenSSLLibrary: @unchecked Sendable {
    typealias Ptr = OpaquePointer
    let TLS_client_method: @convention(c) () -> Ptr?
    let SSL_CTX_new: @convention(c) (Ptr?) -> Ptr?
    let SSL_CTX_free: @convention(c) (Ptr?) -> Void
    let SSL_CTX_set_verify: @convention(c) (Ptr?, Int32, UnsafeRawPointer?) -> Void
    let SSL_CTX_load_verify_locations: @convention(c) (Ptr?, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Int32
    let SSL_CTX_set_default_verify_paths: @convention(c) (Ptr?) -> Int32
    let SSL_CTX_use_certificate_chain_file: @convention(c) (Ptr?, UnsafePointer<CChar>?) -> Int32
    let SSL_CTX_use_PrivateKey_file: @convention(c) (Ptr?, UnsafePointer<CChar>?, Int32) -> Int32
    let SSL_CTX_check_private_key: @convention(c) (Ptr?) -> Int32
    let SSL_new: @convention(c) (Ptr?) -> Ptr?
    let SSL_free: @convention(c) (Ptr?) -> Void
    let SSL_set_fd: @convention(c) (Ptr?, Int32) -> Int32
    let SSL_ctrl: @convention(c) (Ptr?, Int32, Int, UnsafeMutableRawPointer?) -> Int
    let SSL_set1_host: @convention(c) (Ptr?, UnsafePointer<CChar>?) -> Int32
    let SSL_get0_param: @convention(c) (Ptr?) -> Ptr?
    let X509_VERIFY_PARAM_set1_ip_asc: @convention(c) (Ptr?, UnsafePointer<CChar>?) -> Int32
    let SSL_connect: @convention(c) (Ptr?) -> Int32
    let SSL_read: @convention(c) (Ptr?, UnsafeMutableRawPointer?, Int32) -> Int32
    let SSL_write: @convention(c) (Ptr?, UnsafeRawPointer?, Int32) -> Int32
    let SSL_get_error: @convention(c) (Ptr?, Int32) -> Int32
    let SSL_get_verify_result: @convention(c) (Ptr?) -> Int
    let X509_verify_cert_error_string: @convention(c) (Int) -> UnsafePointer<CChar>?
    let ERR_get_error: @convention(c) () -> UInt
    let ERR_error_string_n: @convention(c) (UInt, UnsafeMutablePointer<CChar>?, Int) -> Void

    // Constants of ssl.h / x509_vfy.h (ABI, stable since 1.1).
    static let verifyPeer: Int32 = 1
    static let wantRead: Int32 = 2, wantWrite: Int32 = 3, zeroReturn: Int32 = 6
    static let setTLSExtHostname: Int32 = 55, hostNameType = 0
    static let filetypePEM: Int32 = 1

    /// Loaded once; nil (and the reason) when the system has no usable libssl.
    static let shared: Result<OpenSSLLibrary, HTTPClient.Failure> = {
        for name in ["libssl.so.3", "libssl.so"] {
            if let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL), let lib = OpenSSLLibrary(handle) { return .success(lib) }
        }
        return .failure(.protocolError("https needs the system's OpenSSL (libssl.so.3), which could not be loaded; hint: apt-get install libssl3"))
    }()

    private init?(_ h: UnsafeMutableRawPointer) {
        func f<T>(_ name: String, _: T.Type = T.self) -> T? {
            dlsym(h, name).map { unsafeBitCast($0, to: T.self) }
        }
        guard let a = f("TLS_client_method", (@convention(c) () -> Ptr?).self),
              let b = f("SSL_CTX_new", (@convention(c) (Ptr?) -> Ptr?).self),
              let c = f("SSL_CTX_free", (@convention(c) (Ptr?) -> Void).self),
              let d = f("SSL_CTX_set_verify", (@convention(c) (Ptr?, Int32, UnsafeRawPointer?) -> Void).self),
              let e = f("SSL_CTX_load_verify_locations", (@convention(c) (Ptr?, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Int32).self),
              let g = f("SSL_CTX_set_default_verify_paths", (@convention(c) (Ptr?) -> Int32).self),
              let i = f("SSL_CTX_use_certificate_chain_file", (@convention(c) (Ptr?, UnsafePointer<CChar>?) -> Int32).self),
              let j = f("SSL_CTX_use_PrivateKey_file", (@convention(c) (Ptr?, UnsafePointer<CChar>?, Int32) -> Int32).self),
              let k = f("SSL_CTX_check_private_key", (@convention(c) (Ptr?) -> Int32).self),
              let l = f("SSL_new", (@convention(c) (Ptr?) -> Ptr?).self),
              let m = f("SSL_free", (@convention(c) (Ptr?) -> Void).self),
              let n = f("SSL_set_fd", (@convention(c) (Ptr?, Int32) -> Int32).self),
              let o = f("SSL_ctrl", (@convention(c) (Ptr?, Int32, Int, UnsafeMutableRawPointer?) -> Int).self),
              let p = f("SSL_set1_host", (@convention(c) (Ptr?, UnsafePointer<CChar>?) -> Int32).self),
              let q = f("SSL_get0_param", (@convention(c) (Ptr?) -> Ptr?).self),
              let r = f("X509_VERIFY_PARAM_set1_ip_asc", (@convention(c) (Ptr?, UnsafePointer<CChar>?) -> Int32).self),
              let s = f("SSL_connect", (@convention(c) (Ptr?) -> Int32).self),
              let t = f("SSL_read", (@convention(c) (Ptr?, UnsafeMutableRawPointer?, Int32) -> Int32).self),
              let u = f("SSL_write", (@convention(c) (Ptr?, UnsafeRawPointer?, Int32) -> Int32).self),
              let v = f("SSL_get_error", (@convention(c) (Ptr?, Int32) -> Int32).self),
              let w = f("SSL_get_verify_result", (@convention(c) (Ptr?) -> Int).self),
              let x = f("X509_verify_cert_error_string", (@convention(c) (Int) -> UnsafePointer<CChar>?).self),
              let y = f("ERR_get_error", (@convention(c) () -> UInt).self),
              let z = f("ERR_error_string_n", (@convention(c) (UInt, UnsafeMutablePointer<CChar>?, Int) -> Void).self)
        else { return nil }
        TLS_client_method = a; SSL_CTX_new = b; SSL_CTX_free = c; SSL_CTX_set_verify = d
        SSL_CTX_load_verify_locations = e; SSL_CTX_set_default_verify_paths = g
        SSL_CTX_use_certificate_chain_file = i; SSL_CTX_use_PrivateKey_file = j; SSL_CTX_check_private_key = k
        SSL_new = l; SSL_free = m; SSL_set_fd = n; SSL_ctrl = o; SSL_set1_host = p; SSL_get0_param = q
        X509_VERIFY_PARAM_set1_ip_asc = r; SSL_connect = s; SSL_read = t; SSL_write = u; SSL_get_error = v
        SSL_get_verify_result = w; X509_verify_cert_error_string = x; ERR_get_error = y; ERR_error_string_n = z
    }

    /// The oldest queued OpenSSL error as text (and the queue emptied), or nil.
    func lastError() -> String? {
        var first: String?
        while case let code = ERR_get_error(), code != 0 {
            var buf = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buf, buf.count)
            if first == nil { first = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        }
        return first
    }
}

/// One TLS connection over a connected non-blocking socket: the handshake
/// (peer certificate verified against the CA file or the system store, and
/// its name or IP against the endpoint's host), then reads and writes, every
/// step under the caller's deadline.
final class TLSConnection {
    private let lib: OpenSSLLibrary
    private let ctx: OpaquePointer
    private let ssl: OpaquePointer

    /// A context per connection: one POST each, as for plain HTTP, so nothing
    /// is shared between threads and a changed CA file is read at the next export.
    init(fd: Int32, host: String, settings: TLSSettings, deadline: Double, isCancelled: () -> Bool) throws(HTTPClient.Failure) {
        let lib = try OpenSSLLibrary.shared.get()
        self.lib = lib
        guard let ctx = lib.SSL_CTX_new(lib.TLS_client_method()) else {
            throw .protocolError("TLS: SSL_CTX_new failed: \(lib.lastError() ?? "?")")
        }
        lib.SSL_CTX_set_verify(ctx, OpenSSLLibrary.verifyPeer, nil)
        func fail(_ what: String) -> HTTPClient.Failure {
            lib.SSL_CTX_free(ctx)
            return .tls("\(what): \(lib.lastError() ?? "unknown OpenSSL error")")
        }
        if let ca = settings.caFile {
            guard lib.SSL_CTX_load_verify_locations(ctx, ca, nil) == 1 else { throw fail("cannot load CA file \(ca)") }
        } else if lib.SSL_CTX_set_default_verify_paths(ctx) != 1 {
            throw fail("cannot load the system's CA certificates")
        }
        if let cert = settings.clientCertificate {
            guard lib.SSL_CTX_use_certificate_chain_file(ctx, cert) == 1 else { throw fail("cannot load client certificate \(cert)") }
            guard lib.SSL_CTX_use_PrivateKey_file(ctx, settings.clientKey ?? cert, OpenSSLLibrary.filetypePEM) == 1,
                  lib.SSL_CTX_check_private_key(ctx) == 1 else { throw fail("cannot use client key \(settings.clientKey ?? cert)") }
        }
        guard let ssl = lib.SSL_new(ctx) else { throw fail("SSL_new") }
        self.ctx = ctx
        self.ssl = ssl
        _ = lib.SSL_set_fd(ssl, fd)
        let isIP = host.contains(":") || host.split(separator: ".").count == 4 && host.allSatisfy { $0.isNumber || $0 == "." }
        if isIP {
            _ = lib.X509_VERIFY_PARAM_set1_ip_asc(lib.SSL_get0_param(ssl), host)
        } else {
            _ = host.withCString { lib.SSL_ctrl(ssl, OpenSSLLibrary.setTLSExtHostname, OpenSSLLibrary.hostNameType, UnsafeMutableRawPointer(mutating: $0)) }
            _ = lib.SSL_set1_host(ssl, host)
        }
        while true {
            let rc = lib.SSL_connect(ssl)
            if rc == 1 { return }
            let err = lib.SSL_get_error(ssl, rc)
            if err == OpenSSLLibrary.wantRead || err == OpenSSLLibrary.wantWrite {
                try Self.wait(fd, err == OpenSSLLibrary.wantRead ? Int16(POLLIN) : Int16(POLLOUT), deadline, isCancelled)
                continue
            }
            let verify = lib.SSL_get_verify_result(ssl)
            let reason = verify != 0
                ? "certificate verify failed: \(lib.X509_verify_cert_error_string(verify).map { String(cString: $0) } ?? "error \(verify)")"
                    + (settings.caFile == nil ? "; hint: set OTEL_EXPORTER_OTLP_CERTIFICATE to the collector's CA file" : "; hint: check that \(settings.caFile!) is the CA that signed the collector's certificate")
                : "handshake failed: \(lib.lastError() ?? (err == 5 ? "connection closed" : "SSL error \(err)"))"
            throw .tls("TLS to \(host): \(reason)")   // (fully initialised: deinit frees ssl and ctx)
        }
    }

    deinit {
        lib.SSL_free(ssl)
        lib.SSL_CTX_free(ctx)
    }

    func write(_ bytes: [UInt8], fd: Int32, deadline: Double, isCancelled: () -> Bool) throws(HTTPClient.Failure) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { lib.SSL_write(ssl, $0.baseAddress! + off, Int32(clamping: $0.count - off)) }
            if n > 0 { off += Int(n); continue }
            try retryOrThrow(n, fd: fd, deadline: deadline, isCancelled: isCancelled, what: "write")
        }
    }

    /// Bytes read (0: the peer closed the TLS session or the connection).
    func read(into buf: inout [UInt8], fd: Int32, deadline: Double, isCancelled: () -> Bool) throws(HTTPClient.Failure) -> Int {
        while true {
            let n = buf.withUnsafeMutableBytes { lib.SSL_read(ssl, $0.baseAddress, Int32(clamping: $0.count)) }
            if n > 0 { return Int(n) }
            let err = lib.SSL_get_error(ssl, n)
            if err == OpenSSLLibrary.zeroReturn || (err == 5 && errno == 0) { return 0 }
            try retryOrThrow(n, fd: fd, deadline: deadline, isCancelled: isCancelled, what: "read")
        }
    }

    private func retryOrThrow(_ rc: Int32, fd: Int32, deadline: Double, isCancelled: () -> Bool, what: String) throws(HTTPClient.Failure) {
        let err = lib.SSL_get_error(ssl, rc)
        if err == OpenSSLLibrary.wantRead || err == OpenSSLLibrary.wantWrite {
            try Self.wait(fd, err == OpenSSLLibrary.wantRead ? Int16(POLLIN) : Int16(POLLOUT), deadline, isCancelled)
            return
        }
        throw .connection("TLS \(what): \(lib.lastError() ?? "SSL error \(err)")")
    }

    private static func wait(_ fd: Int32, _ events: Int16, _ deadline: Double, _ isCancelled: () -> Bool) throws(HTTPClient.Failure) {
        switch waitForDescriptor(fd, events: events, deadline: deadline, shouldStop: isCancelled) {
        case .ready: return
        case .timedOut: throw .timedOut
        case .stopped: throw .cancelled
        case .failed(let e): throw .connection("poll: \(e.text)")
        }
    }
}
