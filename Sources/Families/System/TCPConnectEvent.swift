import Tracing
import TraceEvents

/// A decoded `struct ut_tcp_connect_event` (trace_events.h): one outbound TCP
/// connect of a traced process, from SYN_SENT to ESTABLISHED or failure.
public struct TCPConnectEvent: DecodedRecord, Sendable, Equatable {
    public var header: RecordHeader
    /// 0: established; > 0 the errno it failed with; -1: closed without an error (given up by the caller).
    public var error: Int32
    public var peerAddress: String
    public var peerPort: UInt16
    public var localAddress: String
    public var localPort: UInt16

    public var failed: Bool { error != 0 }

    /// Decodes one ring-buffer record; nil if it is not a connect record or is too short.
    public init?(bytes: UnsafeRawBufferPointer) {
        let size = MemoryLayout<ut_tcp_connect_event>.size
        guard bytes.count >= size else { return nil }
        var e = ut_tcp_connect_event()
        withUnsafeMutableBytes(of: &e) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<size])) }
        guard e.h.kind == UInt32(UT_EVENT_TCP_CONNECT.rawValue) else { return nil }
        header = RecordHeader(e.h)
        error = e.error
        let v6 = e.family == 10
        peerAddress = Self.address(withUnsafeBytes(of: e.daddr) { [UInt8]($0) }, v6: v6)
        localAddress = Self.address(withUnsafeBytes(of: e.saddr) { [UInt8]($0) }, v6: v6)
        peerPort = e.dport
        localPort = e.sport
    }

    /// Builds an event directly (tests).
    public init(pid: UInt32, tid: UInt32 = 0, startBootNanos: UInt64, endBootNanos: UInt64, error: Int32,
                peerAddress: String, peerPort: UInt16, localAddress: String = "", localPort: UInt16 = 0) {
        header = RecordHeader(pid: pid, tid: tid, flags: error != 0 ? UInt32(UT_FLAG_ERROR.rawValue) : 0,
                              startBootNanos: startBootNanos, endBootNanos: endBootNanos)
        self.error = error
        self.peerAddress = peerAddress
        self.peerPort = peerPort
        self.localAddress = localAddress
        self.localPort = localPort
    }

    /// Dotted quad for IPv4; for IPv6 the RFC 5952 text (IPv4-mapped as ::ffff:a.b.c.d).
    static func address(_ b: [UInt8], v6: Bool) -> String {
        guard v6 else { return b[0..<4].map(String.init).joined(separator: ".") }
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xff && b[11] == 0xff {
            return "::ffff:" + b[12..<16].map(String.init).joined(separator: ".")
        }
        let words = stride(from: 0, to: 16, by: 2).map { UInt16(b[$0]) << 8 | UInt16(b[$0 + 1]) }
        // The longest run (≥ 2) of zero words becomes "::".
        var best = (start: -1, length: 0), i = 0
        while i < 8 {
            guard words[i] == 0 else { i += 1; continue }
            var j = i
            while j < 8 && words[j] == 0 { j += 1 }
            if j - i > best.length { best = (i, j - i) }
            i = j
        }
        let hex = words.map { String($0, radix: 16) }
        guard best.length >= 2 else { return hex.joined(separator: ":") }
        return hex[..<best.start].joined(separator: ":") + "::" + hex[(best.start + best.length)...].joined(separator: ":")
    }
}
