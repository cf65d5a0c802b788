import Attach
import Symbols
import TraceEvents
import Tracing

/// HTTP/1.x over OpenSSL (`openssl.bpf.c`): `SSL_write`, `SSL_write_ex`,
/// `SSL_read`, `SSL_read_ex` in a libssl, each an entry uprobe plus a
/// uretprobe (C code: uretprobes are safe). The plaintext copies go through a
/// per-connection HTTP state machine (`TLSHTTPTracker`) that makes CLIENT and
/// SERVER spans. Cost: 2 probe hits per SSL call (several per request).
public enum OpenSSLFamily: ProbeFamily {
    public static let id = UT_FAMILY_OPENSSL
    public static let flag = "ssl"
    public static let traces = "HTTP over OpenSSL"

    /// The library names tried when none is given: what the process maps, else the host's.
    public static let defaultLibraries = ["libssl.so.3", "libssl.so"]

    public static func plan(_ target: TraceTarget, spec: String?, options: TraceOptions) throws -> FamilyPlan {
        let lib = try LibraryPlan.resolve(spec: spec, defaultNames: defaultLibraries, pid: target.pid,
                                          functions: ["SSL_write", "SSL_write_ex", "SSL_read", "SSL_read_ex"], flag: flag)
        let o = lib.offsets, p = openssl_bpf.progs.self
        let entries = [(p.ssl_write_entry, o["SSL_write"]), (p.ssl_write_ex_entry, o["SSL_write_ex"]),
                       (p.ssl_read_entry, o["SSL_read"]), (p.ssl_read_ex_entry, o["SSL_read_ex"])]
        let sites = entries.flatMap { program, offset -> [UprobeSite] in
            guard let offset else { return [] }
            return [UprobeSite(program, offset), UprobeSite(p.ssl_return, offset, retprobe: true)]
        }
        var config = ut_config()
        config.capture_bytes = options.captureBytes
        return FamilyPlan(family: id, request: ProbeRequest(object: openssl_bpf.object, path: lib.attachPath, pid: lib.pid,
                                                            config: config, sites: sites),
                          displayPath: lib.displayPath, summary: "\(lib.summary): \(o.keys.sorted().joined(separator: ", "))")
    }

    public static func makeDecoder(_ setup: DecoderSetup) -> any FamilyDecoder {
        TLSHTTPTracker(clock: setup.clock, sampler: setup.sampler, resource: setup.resource)
    }
}

extension TLSHTTPTracker: FamilyDecoder {
    public mutating func consume(_ record: UnsafeRawBufferPointer, kind: UInt32, threadParent: SpanContext?) -> [Span]? {
        guard let e = SSLEvent(bytes: record) else { return nil }
        return consume(e)
    }

    public func serverSpan(pid: UInt32, tid: UInt32) -> SpanContext? { serverContext(pid: pid, tid: tid) }

    public mutating func flush() -> [Span] { flush(pid: nil) }
}
