import Attach
import GoRuntime
import Symbols
import TraceEvents
import Tracing

/// HTTP/1.x over OpenSSL (`openssl.bpf.c`): `SSL_write`, `SSL_write_ex`,
/// `SSL_read`, `SSL_read_ex` in a libssl: an entry uprobe plus a uretprobe
/// (C code: uretprobes are safe) per SSL call, on the internal function the
/// wrappers call when that is provably the same call (`OpenSSLPlacement`),
/// else on the wrappers. The plaintext copies go through a per-connection
/// HTTP state machine (`TLSHTTPTracker`, HTTP/1.x and HTTP/2) that makes
/// CLIENT and SERVER spans. An entry probe on `SSL_free` ends a connection's
/// state: an event-loop server reuses the freed `SSL*` for its next connection.
/// Cost: 2 probe hits per SSL call (several per request) and 1 per connection,
/// all emulated on Debian's OpenSSL 3.0.
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
                                          functions: functions + [freeFunction], flag: flag)
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
        var freeSummary = ""
        if let off = lib.offsets[freeFunction] {
            let site = freeSite(entry: off) { lib.code(atFileOffset: $0) }
            sites.append(UprobeSite(p.ssl_free_entry, site.offset))
            freeSummary = "; SSL_free at +\(site.offset - off) (\(site.instruction?.description ?? "?"))"
        }
        let notes = placements.filter { !$0.isInternal && !$0.sites.allSatisfy { $0.instruction?.cost.isCheap == true } }.map {
            "--ssl: \($0.sites.map(\.function).joined(separator: "/")) probed at the entry, single-stepped (\($0.sites.first?.instruction?.text ?? "?")): \($0.reason)"
        }
        return FamilyPlan(family: id, request: ProbeRequest(object: openssl_bpf.object, path: lib.attachPath, pid: lib.pid,
                                                            config: config, sites: sites),
                          displayPath: lib.displayPath,
                          summary: "\(lib.summary): " + placements.map(\.summary).joined(separator: "; ") + freeSummary, notes: notes)
    }

    /// Ends a connection's state (its `SSL*` is reused by the next one).
    public static let freeFunction = "SSL_free"

    /// Where the SSL_free probe goes: after `test %rdi,%rdi; je` at the entry
    /// (RDI unchanged, NULL never gets there) when the next instruction is
    /// emulated and the entry's is not; else the entry.
    static func freeSite(entry: UInt64, code: (UInt64) -> UnsafeRawBufferPointer?) -> (offset: UInt64, instruction: ProbeInstruction?) {
        guard let c = code(entry) else { return (entry, nil) }
        let first = ProbeInstruction(code: c, at: 0, fileOffset: entry)
        if first?.cost.isCheap == true || c.count < 16 { return (entry, first) }
        guard c[0] == 0x48, c[1] == 0x85, c[2] == 0xFF else { return (entry, first) } // test %rdi,%rdi
        let next: Int
        if c[3] == 0x0F && c[4] == 0x84 { next = 9 } // je rel32
        else if c[3] == 0x74 { next = 5 } // je rel8
        else { return (entry, first) }
        guard let insn = ProbeInstruction(code: c, at: next, fileOffset: entry + UInt64(next)), insn.cost.isCheap else { return (entry, first) }
        return (entry + UInt64(next), insn)
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
