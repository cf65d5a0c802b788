import Attach
import Symbols
import TraceEvents
import Tracing

/// HTTP/1.x over OpenSSL (`openssl.bpf.c`): `SSL_write`, `SSL_write_ex`,
/// `SSL_read`, `SSL_read_ex` in a libssl: an entry uprobe plus a uretprobe
/// (C code: uretprobes are safe) per SSL call, on the internal function the
/// wrappers call when that is provably the same call (`OpenSSLPlacement`),
/// else on the wrappers. The plaintext copies go through a per-connection
/// HTTP state machine (`TLSHTTPTracker`) that makes CLIENT and SERVER spans.
/// Cost: 2 probe hits per SSL call (several per request), both emulated on
/// Debian's OpenSSL 3.0.
public enum OpenSSLFamily: ProbeFamily {
    public static let id = UT_FAMILY_OPENSSL
    public static let flag = "ssl"
    public static let traces = "HTTP over OpenSSL"

    /// The library names tried when none is given: what the process maps, else the host's.
    public static let defaultLibraries = ["libssl.so.3", "libssl.so"]
    /// The public functions whose calls are traced.
    public static let functions = ["SSL_write", "SSL_write_ex", "SSL_read", "SSL_read_ex"]

    public static func plan(_ target: TraceTarget, spec: String?, options: TraceOptions) throws -> FamilyPlan {
        let lib = try LibraryPlan.resolve(spec: spec, defaultNames: defaultLibraries, pid: target.pid,
                                          functions: functions, flag: flag)
        let placements = OpenSSLPlacement.place(offsets: lib.offsets, entrySites: options.entrySites) { lib.code(atFileOffset: $0) }
        let p = openssl_bpf.progs.self
        let entryPrograms = ["SSL_write": p.ssl_write_entry, "SSL_write_ex": p.ssl_write_ex_entry,
                             "SSL_read": p.ssl_read_entry, "SSL_read_ex": p.ssl_read_ex_entry]
        var config = ut_config()
        config.capture_bytes = options.captureBytes
        var sites: [UprobeSite] = []
        for placement in placements {
            if let offset = placement.internalOffset {
                let program = placement.direction == .read ? p.ssl_read_internal_entry : p.ssl_write_internal_entry
                sites += [UprobeSite(program, offset), UprobeSite(p.ssl_return, offset, retprobe: true)]
                let d = placement.sites.map { $0.callerDelta ?? 0 }
                if placement.direction == .read { (config.ssl.read, config.ssl.read_ex) = (d[0], d[1]) }
                else { (config.ssl.write, config.ssl.write_ex) = (d[0], d[1]) }
            } else {
                for site in placement.sites {
                    sites += [UprobeSite(entryPrograms[site.function]!, site.entryOffset),
                              UprobeSite(p.ssl_return, site.entryOffset, retprobe: true)]
                }
            }
        }
        let notes = placements.filter { !$0.isInternal && !$0.sites.allSatisfy { $0.instruction?.cost.isCheap == true } }.map {
            "--ssl: \($0.sites.map(\.function).joined(separator: "/")) probed at the entry, single-stepped (\($0.sites.first?.instruction?.text ?? "?")): \($0.reason)"
        }
        return FamilyPlan(family: id, request: ProbeRequest(object: openssl_bpf.object, path: lib.attachPath, pid: lib.pid,
                                                            config: config, sites: sites),
                          displayPath: lib.displayPath,
                          summary: "\(lib.summary): " + placements.map(\.summary).joined(separator: "; "), notes: notes)
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

extension OpenSSLPlacement {
    /// "SSL_read, SSL_read_ex via 0x35290", for the attached line.
    var summary: String {
        let names = sites.map(\.function).joined(separator: ", ")
        return internalOffset.map { "\(names) via internal 0x\(String($0, radix: 16))" } ?? names
    }
}
