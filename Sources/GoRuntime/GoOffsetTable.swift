/// Struct field offsets for Go binaries without DWARF, amd64 (and arm64: same sizes
/// and alignment for these types), one row per run of Go minor versions with the
/// same offset.
///
/// How the rows were made: each offset is the sum of the sizes of the fields before
/// it in the struct definition (pointer, int, map, chan, func 8; string 16; interface 16;
/// slice 24; bool/uint8 1; int32/uint32/atomic.Bool/atomic.Uint32 4; sync.Mutex 8 with
/// alignment 4), each field aligned to its own alignment. `provenance` names the source
/// file and type, and how far the row was checked:
///
/// - "source+DWARF": computed from the go1.19.8 sources on this machine
///   (/usr/lib/go-1.19/src) and equal to the DWARF of testdata/bin/go-server and
///   go-client (checked by GoStructOffsetsTests).
/// - "published": agrees with offsets other tracers generated from the DWARF of every
///   release (open-telemetry/opentelemetry-go-instrumentation offset_results.json, up to
///   go1.23.4; open-telemetry/opentelemetry-ebpf-instrumentation offsets.json, up to
///   go1.27.1; DataDog/datadog-agent goid_offset.go).
/// - "derived": computed from the struct history only (the tag's source was not
///   available here); see the note on the row.
public enum GoOffsetTable {
    public struct Entry: Sendable, Equatable {
        public let field: GoField
        /// Go minor versions (1.N) this offset holds for.
        public let goMinors: ClosedRange<Int>
        public let offset: Int
        public let provenance: String
    }

    /// The oldest and newest Go minor versions the table covers: Go 1.17 is the first
    /// release with the register ABI our probes assume.
    public static let supportedMinors: ClosedRange<Int> = 17...26

    public static func entry(for field: GoField, goMinor: Int) -> Entry? {
        entries.first { $0.field == field && $0.goMinors.contains(goMinor) }
    }

    public static let entries: [Entry] = [
        // net/http.Request: Method string, URL *url.URL, Proto string, ProtoMajor int,
        // ProtoMinor int, Header Header, Body io.ReadCloser, GetBody func, ContentLength
        // int64, TransferEncoding []string, Close bool, Host string — unchanged 1.17...1.26
        // (fields were only ever added after Response/ctx).
        Entry(field: .requestMethod, goMinors: 17...26, offset: 0,
              provenance: "go1.17-1.26 src/net/http/request.go type Request (source+DWARF go1.19; published 1.17-1.27)"),
        Entry(field: .requestURL, goMinors: 17...26, offset: 16,
              provenance: "go1.17-1.26 src/net/http/request.go type Request (source+DWARF go1.19; published 1.17-1.27)"),
        Entry(field: .requestProto, goMinors: 17...26, offset: 24,
              provenance: "go1.17-1.26 src/net/http/request.go type Request (source+DWARF go1.19; derived otherwise: fields before it unchanged)"),
        Entry(field: .requestHeader, goMinors: 17...26, offset: 56,
              provenance: "go1.17-1.26 src/net/http/request.go type Request (source+DWARF go1.19; published 1.17-1.27)"),
        Entry(field: .requestContentLength, goMinors: 17...26, offset: 88,
              provenance: "go1.17-1.26 src/net/http/request.go type Request (source+DWARF go1.19; published 1.17-1.27)"),
        Entry(field: .requestHost, goMinors: 17...26, offset: 128,
              provenance: "go1.17-1.26 src/net/http/request.go type Request (source+DWARF go1.19; derived otherwise: ContentLength 88 + TransferEncoding 24 + Close 1, aligned 8)"),

        // net/url.URL: Scheme, Opaque string, User *Userinfo, Host, Path, RawPath string,
        // [OmitHost bool since 1.19], ForceQuery bool, RawQuery string, ...
        Entry(field: .urlPath, goMinors: 17...26, offset: 56,
              provenance: "go1.17-1.26 src/net/url/url.go type URL (source+DWARF go1.19; published 1.17-1.27)"),
        Entry(field: .urlRawQuery, goMinors: 17...25, offset: 96,
              provenance: "go1.17-1.25 src/net/url/url.go type URL: two bools after RawPath pad to 96 (source+DWARF go1.19; published 1.17-1.25)"),
        Entry(field: .urlRawQuery, goMinors: 26...26, offset: 88,
              provenance: "go1.26 src/net/url/url.go type URL (published: opentelemetry-ebpf-instrumentation offsets.json gives 88 since 1.26.0; the go1.26 source was not available here to say which field moved)"),

        // net/http.response (server side): conn *conn, req *Request, reqBody io.ReadCloser,
        // cancelCtx func, 3-4 bools, canWriteContinue (4 bytes), writeContinueMu (8),
        // w *bufio.Writer, cw chunkWriter (24), handlerHeader, calledHeader bool,
        // written, contentLength int64, status int.
        Entry(field: .serverResponseConn, goMinors: 17...26, offset: 0,
              provenance: "go1.17-1.26 src/net/http/server.go type response: first field (source+DWARF go1.19; derived otherwise)"),
        Entry(field: .serverResponseReq, goMinors: 17...26, offset: 8,
              provenance: "go1.17-1.26 src/net/http/server.go type response (source+DWARF go1.19; published 1.17-1.23)"),
        Entry(field: .serverResponseStatus, goMinors: 17...23, offset: 120,
              provenance: "go1.17-1.23 src/net/http/server.go type response (source+DWARF go1.19; published 1.17-1.23.4)"),
        Entry(field: .serverResponseStatus, goMinors: 24...26, offset: 120,
              provenance: "go1.24-1.26 src/net/http/server.go type response (derived: the later reordering of wroteContinue/writeContinueMu/canWriteContinue stays within bytes 40-56; not checked against those tags)"),

        // net/http.Response: Status string, StatusCode int.
        Entry(field: .responseStatusCode, goMinors: 17...26, offset: 16,
              provenance: "go1.17-1.26 src/net/http/response.go type Response (source+DWARF go1.19; published 1.17-1.27)"),

        // runtime.g: stack (16), stackguard0/1, _panic, _defer, m, sched gobuf, syscallsp,
        // syscallpc, [syscallbp since 1.23], stktopsp, param, atomicstatus uint32,
        // stackLock uint32, goid. gobuf is 7 words (sp pc g ctxt ret lr bp) until 1.24,
        // 6 words from 1.25 (ret removed).
        Entry(field: .goroutineID, goMinors: 17...22, offset: 152,
              provenance: "go1.17-1.22 src/runtime/runtime2.go type g: sched 56+56, 4 words, 2 uint32 (source+DWARF go1.19; published 1.17-1.22)"),
        Entry(field: .goroutineID, goMinors: 23...24, offset: 160,
              provenance: "go1.23-1.24 src/runtime/runtime2.go type g: syscallbp added (published: go1.23 by opentelemetry-go-instrumentation and datadog-agent; 1.24 derived, gobuf still 7 words)"),
        Entry(field: .goroutineID, goMinors: 25...26, offset: 152,
              provenance: "go1.25-1.26 src/runtime/runtime2.go type g: gobuf.ret removed, syscallbp kept (derived from golang/go runtime2.go after the removal)"),

        // runtime.g.m: after stack (16), stackguard0, stackguard1, _panic, _defer.
        Entry(field: .goroutineM, goMinors: 17...26, offset: 48,
              provenance: "go1.17-1.26 src/runtime/runtime2.go type g (source+DWARF go1.19; derived otherwise: the fields before m are unchanged)"),
        // runtime.g.parentGoid (new in 1.21): after goid, schedlink, waitsince, waitreason,
        // a run of bools, trackingStamp, runnableTime, lockedm, sig, writebuf, sigcode0/1, sigpc.
        // Each row checked against the DWARF of a program built by that toolchain here.
        Entry(field: .goroutineParentID, goMinors: 21...22, offset: 272,
              provenance: "go1.21-1.22 src/runtime/runtime2.go type g (source+DWARF go1.21.13, go1.22.10)"),
        Entry(field: .goroutineParentID, goMinors: 23...24, offset: 280,
              provenance: "go1.23-1.24 src/runtime/runtime2.go type g: syscallbp added (source+DWARF go1.23.9, go1.24.11)"),
        Entry(field: .goroutineParentID, goMinors: 25...25, offset: 272,
              provenance: "go1.25 src/runtime/runtime2.go type g: gobuf.ret removed (source+DWARF go1.25.5)"),
        Entry(field: .goroutineParentID, goMinors: 26...26, offset: 280,
              provenance: "go1.26 src/runtime/runtime2.go type g: more bools and secret int32 before writebuf (source+DWARF go1.26.6)"),
        // runtime.m: g0, morebuf gobuf, divmod+pad, procid, gsignal, goSigStack (40),
        // sigmask (8), tls [6]uintptr, mstartfn, curg.
        Entry(field: .machineCurG, goMinors: 17...24, offset: 192,
              provenance: "go1.17-1.24 src/runtime/runtime2.go type m (source+DWARF go1.19; derived otherwise: gobuf 7 words)"),
        Entry(field: .machineCurG, goMinors: 25...26, offset: 184,
              provenance: "go1.25-1.26 src/runtime/runtime2.go type m (derived: morebuf is a gobuf, which lost ret in 1.25)"),

        // net/http.conn: server, cancelCtx, rwc net.Conn, remoteAddr string, tlsState,
        // werr error, r *connReader, bufr *bufio.Reader.
        Entry(field: .connRWC, goMinors: 17...26, offset: 16,
              provenance: "go1.17-1.26 src/net/http/server.go type conn (source+DWARF go1.19; derived otherwise)"),
        // ... bufw *bufio.Writer, lastMethod string, curReq (atomic.Value, 16 bytes, until
        // 1.19; atomic.Pointer[response], 8, from 1.20), curState (8), mu sync.Mutex (8), hijackedv.
        Entry(field: .connHijacked, goMinors: 17...19, offset: 144,
              provenance: "go1.17-1.19 src/net/http/server.go type conn (source+DWARF go1.19)"),
        Entry(field: .connHijacked, goMinors: 20...26, offset: 136,
              provenance: "go1.20-1.26 src/net/http/server.go type conn: curReq became atomic.Pointer[response] (source+DWARF go1.21.13 and go1.27.3; 1.20 derived from the typed-atomics change)"),
        Entry(field: .connBufr, goMinors: 17...26, offset: 80,
              provenance: "go1.17-1.26 src/net/http/server.go type conn (source+DWARF go1.19; derived otherwise)"),
        // bufio.Reader: buf []byte, rd io.Reader, r, w int — unchanged since Go 1.
        Entry(field: .bufioReaderBuf, goMinors: 17...26, offset: 0,
              provenance: "go1.17-1.26 src/bufio/bufio.go type Reader (source+DWARF go1.19)"),
        Entry(field: .bufioReaderR, goMinors: 17...26, offset: 40,
              provenance: "go1.17-1.26 src/bufio/bufio.go type Reader (source+DWARF go1.19)"),
        // net/http.persistConn: alt RoundTripper, t *Transport, cacheKey connectMethodKey
        // (3 strings + bool), conn net.Conn.
        Entry(field: .persistConnConn, goMinors: 17...26, offset: 80,
              provenance: "go1.17-1.26 src/net/http/transport.go type persistConn (source+DWARF go1.19; derived otherwise)"),
        // net.netFD: pfd poll.FD (56), family, sotype, isConnected, net string, laddr, raddr.
        Entry(field: .netFDLocalAddr, goMinors: 17...26, offset: 96,
              provenance: "go1.17-1.26 src/net/fd_posix.go type netFD (source+DWARF go1.19; derived otherwise)"),
        Entry(field: .netFDRemoteAddr, goMinors: 17...26, offset: 112,
              provenance: "go1.17-1.26 src/net/fd_posix.go type netFD (source+DWARF go1.19; derived otherwise)"),
        // net.TCPAddr: IP []byte, Port int, Zone string.
        Entry(field: .tcpAddrPort, goMinors: 17...26, offset: 24,
              provenance: "go1.17-1.26 src/net/tcpsock.go type TCPAddr (source+DWARF go1.19)"),
    ]
}
