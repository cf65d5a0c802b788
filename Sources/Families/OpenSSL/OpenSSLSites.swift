import GoRuntime
import Symbols

/// Where the OpenSSL probes go, decided by decoding the library's own code.
///
/// Debian's OpenSSL 3.0 compiles `SSL_read`, `SSL_read_ex`, `SSL_write` and
/// `SSL_write_ex` as thin wrappers: `sub $N,%rsp` (single-stepped, 20–30 µs
/// per hit under KVM), then a `call` of `ssl_read_internal` /
/// `ssl_write_internal`, whose entry is `push %r13` / `push %r14` (emulated).
/// When, for a direction, both wrappers reach their first call with RDI and
/// RSI unchanged (and the `_ex` one also RDX and RCX: it passes its own
/// arguments on, which shows the callee takes `(ssl, buf, size, size_t *count)`),
/// and both call the same function with a cheap entry, the probes go on that
/// function and the BPF side keeps only calls whose return address is one of
/// the two wrappers' call sites (`ut_ssl_callers`): exactly the wrapper calls,
/// with their arguments. Otherwise (OpenSSL 1.1, other compilers, a pattern we
/// do not recognise) the wrappers' entries, with the reason said.
public struct OpenSSLPlacement: Sendable, Hashable {
    public enum Direction: String, Sendable, CaseIterable {
        case read, write
        /// The plain and the `_ex` wrapper.
        public var functions: (plain: String, ex: String) {
            self == .read ? ("SSL_read", "SSL_read_ex") : ("SSL_write", "SSL_write_ex")
        }
    }

    /// One public function and where its calls are seen.
    public struct Site: Sendable, Hashable {
        public let function: String
        /// The public function's entry.
        public let entryOffset: UInt64
        /// Where the entry probe sits: the entry, or the internal function's entry.
        public let probeOffset: UInt64
        public let instruction: ProbeInstruction?
        /// (return address − internal entry) of this function's call; nil at the entry.
        public let callerDelta: Int64?
    }

    public let direction: Direction
    /// The functions of this direction the library defines.
    public let sites: [Site]
    /// The internal function's file offset, when probing it.
    public let internalOffset: UInt64?
    /// Why this placement, one sentence (stderr at attach, `symbols dump`).
    public let reason: String

    public var isInternal: Bool { internalOffset != nil }
}

extension OpenSSLPlacement {
    /// The placement of each direction whose functions `offsets` has.
    /// - Parameter code: the library's bytes from a file offset (at least 128 when there are).
    /// - Parameter entrySites: the entries regardless (to measure what the internal site saves).
    public static func place(offsets: [String: UInt64], kernel: KernelRelease? = nil, entrySites: Bool = false,
                             code: (UInt64) -> UnsafeRawBufferPointer?) -> [OpenSSLPlacement] {
        Direction.allCases.compactMap { place($0, offsets: offsets, kernel: kernel, entrySites: entrySites, code: code) }
    }

    static func place(_ d: Direction, offsets: [String: UInt64], kernel: KernelRelease?, entrySites: Bool,
                      code: (UInt64) -> UnsafeRawBufferPointer?) -> OpenSSLPlacement? {
        let (plain, ex) = d.functions
        let present = [plain, ex].filter { offsets[$0] != nil }
        guard !present.isEmpty else { return nil }
        func entries(_ reason: String) -> OpenSSLPlacement {
            let sites = present.map { f in
                let off = offsets[f]!
                let insn = code(off).flatMap { ProbeInstruction(code: $0, at: 0, fileOffset: off, kernel: kernel) }
                return Site(function: f, entryOffset: off, probeOffset: off, instruction: insn, callerDelta: nil)
            }
            return OpenSSLPlacement(direction: d, sites: sites, internalOffset: nil, reason: reason)
        }
        if entrySites { return entries("entry: asked for (\(TraceOptions.entrySitesVariable)=1)") }
        let entryInsns = present.compactMap { f in code(offsets[f]!).flatMap { ProbeInstruction(code: $0, at: 0, kernel: kernel) } }
        if entryInsns.count == present.count, entryInsns.allSatisfy({ $0.cost.isCheap }) {
            return entries("the entries are already cheap")
        }
        guard let plainOff = offsets[plain], let exOff = offsets[ex] else {
            return entries("entry: \(plain) and \(ex) are not both defined, so the internal function's other callers cannot be told apart")
        }
        guard let plainCall = code(plainOff).flatMap({ firstForwardedCall(code: $0, startOffset: plainOff, kernel: kernel) }),
              let exCall = code(exOff).flatMap({ firstForwardedCall(code: $0, startOffset: exOff, kernel: kernel) }) else {
            return entries("entry: no direct call found before other control flow in \(plain) / \(ex)")
        }
        let r = ForwardedCall.self
        guard plainCall.preserves([r.rdi, r.rsi]), exCall.preserves([r.rdi, r.rsi, r.rdx, r.rcx]) else {
            return entries("entry: the argument registers change before the internal call")
        }
        let calleeOffset = Int64(plainOff) + plainCall.calleeIndex
        guard calleeOffset == Int64(exOff) + exCall.calleeIndex, calleeOffset > 0 else {
            return entries("entry: \(plain) and \(ex) call different functions first")
        }
        guard let callee = code(UInt64(calleeOffset)).flatMap({ ProbeInstruction(code: $0, at: 0, fileOffset: UInt64(calleeOffset), kernel: kernel) }),
              callee.cost.isCheap else {
            return entries("entry: the internal function's entry is single-stepped too")
        }
        let sites = [(plain, plainOff, plainCall), (ex, exOff, exCall)].map { f, off, call in
            Site(function: f, entryOffset: off, probeOffset: UInt64(calleeOffset), instruction: callee, callerDelta: -call.displacement)
        }
        return OpenSSLPlacement(direction: d, sites: sites, internalOffset: UInt64(calleeOffset),
                                reason: "internal function at \(hex(UInt64(calleeOffset))) (\(callee.text), \(callee.cost.rawValue)), "
                                    + "called by \(plain) and \(ex) with their arguments; other callers filtered by return address")
    }
}

private func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
