import Attach
import GoRuntime
import Symbols
import TraceEvents

/// Where the Go net/http probes go in one executable, and the struct offsets
/// the BPF programs need: GoRuntime's findings turned into Attach's terms.
public struct GoHTTPPlan: Sendable {
    /// The path the kernel resolves for the uprobes (through /proc/PID/root for a pid).
    public let attachPath: String
    /// The executable as the process names it (messages, resource).
    public let displayPath: String
    public let pid: Int32?
    public let goVersion: String
    public let offsets: ut_go_offsets
    /// Every uprobe: a `go_http.bpf.c` program at a file offset of the executable.
    public let sites: [UprobeSite]
    /// Where the struct offsets came from, when the user should know (a Go newer than the table).
    public let offsetsNote: String?
    /// The same sites with the function each is in and the instruction it is on,
    /// for `symbols dump` and the cost checks.
    public let placed: [PlacedSite]
    /// The probed functions found (a server has no roundTrip, a client no ServeHTTP).
    public let functions: [String]

    public static let serveHTTP = "net/http.serverHandler.ServeHTTP"
    public static let connServe = "net/http.(*conn).serve"
    public static let roundTrip = "net/http.(*Transport).roundTrip"
    /// Where the client's TCP connection is known (cross-process parent/child).
    public static let persistConnRoundTrip = "net/http.(*persistConn).roundTrip"
    /// Every `go` statement (parent/child across goroutines), on Go < 1.21.
    public static let newproc1 = "runtime.newproc1"
    /// The closure runtime.newproc runs on the system stack: newproc1, then
    /// runqput(pp, newg, true), whose `call` (emulated) sees newg in RBX.
    public static let newprocClosure = "runtime.newproc.func1"
    /// Where an HTTP/1 server request ends: (*conn).serve calls it right after ServeHTTP.
    public static let finishRequest = "net/http.(*response).finishRequest"

    /// net/http's HTTP/2 server: where a stream's HEADERS are handled (serve
    /// goroutine) and the closure runHandler defers (handler goroutine), in the
    /// bundled h2 server (Go ≤ 1.26) and in net/http/internal/http2 (Go ≥ 1.27).
    /// And the h2 client's writeHeaders, where a client stream gets its id.
    public struct HTTP2Server: Sendable {
        public let processHeaders: String
        public let handlerEnd: String
        public let clientHeaders: String
        public let fields: GoField.HTTP2Fields
    }
    public static let http2Servers = [
        HTTP2Server(processHeaders: "net/http.(*http2serverConn).processHeaders",
                    handlerEnd: "net/http.(*http2serverConn).runHandler.func1",
                    clientHeaders: "net/http.(*http2ClientConn).writeHeaders", fields: GoField.bundledHTTP2),
        HTTP2Server(processHeaders: "net/http/internal/http2.(*serverConn).processHeaders",
                    handlerEnd: "net/http/internal/http2.(*serverConn).runHandler.func1",
                    clientHeaders: "net/http/internal/http2.(*ClientConn).writeHeaders", fields: GoField.internalHTTP2),
    ]

    /// One uprobe of the plan: where, in which function, on which instruction.
    public struct PlacedSite: Sendable {
        public let site: UprobeSite
        public let function: String
        /// Nil when the bytes there did not decode (not x86-64).
        public let instruction: ProbeInstruction?
        /// The entry site and why it was chosen; nil for a RET site.
        public let entry: GoEntrySite?
    }

    /// The main executable of a running process, opened through /proc/PID/root.
    public static func forProcess(_ pid: Int32) throws -> GoHTTPPlan {
        let image = try ProcessImage(pid: pid)
        guard let exe = image.mainExecutable, let object = image.mainExecutableObject else {
            throw SymbolsError.processAccessDenied(pid: pid, path: "/proc/\(pid)/exe")
        }
        let elf = try image.openObject(object)
        return try GoHTTPPlan(elf: elf, attachPath: image.accessPath(for: object), displayPath: exe, pid: pid)
    }

    /// An executable on disk: every process running it is traced, later ones too.
    public static func forExecutable(_ path: String) throws -> GoHTTPPlan {
        try GoHTTPPlan(elf: try ELFFile(path: path), attachPath: path, displayPath: path, pid: nil)
    }

    public init(elf: ELFFile, attachPath: String, displayPath: String, pid: Int32?) throws {
        let who = pid.map { "pid \($0) (\(displayPath))" } ?? displayPath
        guard elf.header.isX86_64 else { throw FamilyError.wrongMachine(target: who, machine: elf.header.machineName) }
        guard GoBinary.isGo(elf) else {
            throw FamilyError.notApplicable(family: GoHTTPFamily.name, reason: "\(who) is not a Go program (no Go build info or pclntab)",
                                            hint: "--go-http traces programs built with the Go toolchain")
        }
        let go = try GoBinary.load(elf)
        let sites = try go.probeSites(elf, names: [Self.serveHTTP, Self.finishRequest, Self.connServe, Self.roundTrip,
                                                  Self.persistConnRoundTrip, Self.newproc1, Self.newprocClosure]
                                                  + Self.http2Servers.flatMap { [$0.processHeaders, $0.handlerEnd, $0.clientHeaders] })
        let found = Set(sites.map(\.function.name))
        guard found.contains(Self.serveHTTP) || found.contains(Self.roundTrip) else {
            throw FamilyError.notApplicable(family: GoHTTPFamily.name, reason: "\(who) contains no net/http server or client code",
                                            hint: "nothing for --go-http to trace there")
        }
        guard let structs = go.offsets else {
            throw go.offsetsError ?? GoRuntimeError.unknownGoVersion(path: displayPath, version: go.buildInfo.goVersion, field: "net/http.Request")
        }
        // Offsets of structs a binary never uses may be absent; the programs that read them are then not attached.
        func offset(_ f: GoField, neededBy function: String? = nil) throws -> UInt64 {
            if let r = structs.offset(of: f) { return UInt64(r.offset) }
            if let function, !found.contains(function) { return 0 }
            throw GoRuntimeError.unknownGoVersion(path: displayPath, version: go.buildInfo.goVersion, field: f.description)
        }
        var o = ut_go_offsets()
        o.request_method = try offset(.requestMethod)
        o.request_url = try offset(.requestURL)
        o.request_host = try offset(.requestHost)
        o.request_content_length = try offset(.requestContentLength)
        o.url_path = try offset(.urlPath)
        o.url_raw_query = try offset(.urlRawQuery)
        o.response_status = try offset(.serverResponseStatus, neededBy: Self.serveHTTP)
        o.client_status_code = try offset(.responseStatusCode, neededBy: Self.roundTrip)
        o.g_goid = try offset(.goroutineID)
        o.g_m = try offset(.goroutineM)
        o.m_curg = try offset(.machineCurG)
        o.response_conn = try offset(.serverResponseConn, neededBy: Self.serveHTTP)
        o.conn_rwc = try offset(.connRWC, neededBy: Self.serveHTTP)
        o.conn_bufr = try offset(.connBufr, neededBy: Self.serveHTTP)
        o.bufio_reader_buf = try offset(.bufioReaderBuf, neededBy: Self.serveHTTP)
        o.bufio_reader_r = try offset(.bufioReaderR, neededBy: Self.serveHTTP)
        o.persist_conn_conn = try offset(.persistConnConn, neededBy: Self.persistConnRoundTrip)
        o.netfd_laddr = try offset(.netFDLocalAddr)
        o.netfd_raddr = try offset(.netFDRemoteAddr)
        o.tcpaddr_port = try offset(.tcpAddrPort)
        o.response_req = try offset(.serverResponseReq, neededBy: Self.serveHTTP)
        o.conn_hijacked = try offset(.connHijacked, neededBy: Self.serveHTTP)
        // Go >= 1.21 names a goroutine's creator in the g: no runtime.newproc1 probe then.
        let parentGoid = structs.offset(of: .goroutineParentID).map { UInt64($0.offset) }
        o.g_parent_goid = parentGoid ?? 0

        // HTTP/2 server: both hooks, the handler end proven to be the deferred
        // closure that recovers panics, and every offset, or none of it.
        var notes: [String] = structs.note.map { [$0] } ?? []
        var h2: HTTP2Server?
        if found.contains(Self.serveHTTP), let server = Self.http2Servers.first(where: { found.contains($0.processHeaders) }) {
            let f = server.fields
            func at(_ field: GoField) -> UInt64? { structs.offset(of: field).map { UInt64($0.offset) } }
            let end = sites.first { $0.function.name == server.handlerEnd }
            let recovers = end.map { go.calls(elf, $0.function, "runtime.gorecover") } ?? false
            if recovers, let metaHeaders = at(f.metaHeaders), let metaFields = at(f.metaFields), let frameHeader = at(f.headersFrameHeader),
               let streamID = at(f.frameStreamID), let rwsStream = at(f.rwsStream), let rwsStatus = at(f.rwsStatus),
               let streamConn = at(f.streamConn), let streamStreamID = at(f.streamID), let panicking = at(.goroutinePanic) {
                o.h2_meta_headers = metaHeaders
                o.h2_meta_fields = metaFields
                o.h2_frame_stream_id = frameHeader + streamID
                o.h2_rws_stream = rwsStream
                o.h2_rws_status = rwsStatus
                o.h2_stream_sc = streamConn
                o.h2_stream_id = streamStreamID
                o.g_panic = panicking
                // The join with a traced h2 client: over TLS only (tls.Conn under serverConn.conn).
                if let conn = structs.offset(of: f.serverConnConn), let tls = structs.offset(of: .tlsConnConn) {
                    o.h2_server_conn = UInt64(conn.offset)
                    o.tls_conn_conn = UInt64(tls.offset)
                }
                h2 = server
            } else {
                let why = end == nil ? "no \(server.handlerEnd)"
                    : !recovers ? "\(server.handlerEnd) is not the closure that recovers a handler's panic"
                    : "no struct offsets of its HTTP/2 server for \(go.buildInfo.goVersion) (no DWARF, and the table has no row)"
                notes.append("HTTP/2 requests of \(who) are not traced: \(why)")
            }
        }

        // Go < 1.21: where a new goroutine is known with its goid, on an emulated
        // instruction: the one call of runqput in newproc.func1, right after newproc1.
        var newprocCall: UInt64?
        if parentGoid == nil, found.contains(Self.roundTrip), let closure = sites.first(where: { $0.function.name == Self.newprocClosure }),
           go.calls(elf, closure.function, Self.newproc1) {
            let calls = go.callSites(elf, closure.function, "runtime.runqput")
            if calls.count == 1 { newprocCall = calls[0] }
        }

        // The h2 client's side of the join: Go >= 1.21 (the stream's goroutine names
        // the roundTrip goroutine in g.parentGoid), over TLS.
        var h2Client: String?
        if found.contains(Self.roundTrip), parentGoid != nil, let server = Self.http2Servers.first(where: { found.contains($0.clientHeaders) }),
           let tconn = structs.offset(of: server.fields.clientConnTConn), let tls = structs.offset(of: .tlsConnConn) {
            o.h2_client_tconn = UInt64(tconn.offset)
            o.tls_conn_conn = UInt64(tls.offset)
            h2Client = server.clientHeaders
        }

        let p = go_http_bpf.progs.self
        var placed: [PlacedSite] = []
        for site in sites {
            // Entries on the cheap site (GoEntrySite); the BPF side ignores a repeated hit.
            func entry(_ program: BPFProgramName) {
                let e = site.cheapEntry
                placed.append(PlacedSite(site: .init(program, e?.fileOffset ?? site.function.fileOffset), function: site.function.name,
                                         instruction: e?.instruction ?? site.entryInstruction, entry: e))
            }
            func returns(_ program: BPFProgramName) {
                for (i, offset) in site.returnOffsets.enumerated() {
                    placed.append(PlacedSite(site: .init(program, offset), function: site.function.name,
                                             instruction: i < site.returnInstructions.count ? site.returnInstructions[i] : nil, entry: nil))
                }
            }
            switch site.function.name {
            case Self.serveHTTP:
                entry(p.go_server_entry)
            case Self.finishRequest where found.contains(Self.serveHTTP):
                entry(p.go_server_finish)
            case Self.connServe where found.contains(Self.serveHTTP):
                returns(p.go_conn_serve_return)
            case Self.roundTrip:
                entry(p.go_client_entry)
                // No emulated end: roundTrip's only caller, (*Transport).RoundTrip, returns
                // right after it (another RET), and RoundTrip's callers run no common function next.
                returns(p.go_client_return)
            case Self.persistConnRoundTrip where found.contains(Self.roundTrip):
                entry(p.go_client_conn_entry)
            case h2?.processHeaders:
                entry(p.go_h2_headers)
            case h2?.handlerEnd:
                entry(p.go_h2_handler_end)
            case h2Client:
                entry(p.go_h2_client_headers)
            case Self.newproc1 where found.contains(Self.roundTrip) && parentGoid == nil:
                // Only a program that makes client calls has children to find. The
                // RETs are single-stepped: used only when newproc.func1 has no single
                // call of runqput to probe instead.
                if newprocCall == nil { returns(p.go_newproc_return) }
            case Self.newprocClosure where found.contains(Self.roundTrip) && parentGoid == nil:
                if let offset = newprocCall, let code = elf.bytes(atVirtualAddress: site.function.entry, count: site.function.end - site.function.entry) {
                    placed.append(PlacedSite(site: .init(p.go_newproc_runqput, offset), function: site.function.name,
                                             instruction: ProbeInstruction(code: code, at: Int(offset - site.function.fileOffset), fileOffset: offset),
                                             entry: nil))
                }
            default:
                break
            }
        }
        if found.contains(Self.serveHTTP) && !found.contains(Self.finishRequest) {
            throw FamilyError.notApplicable(family: GoHTTPFamily.name, reason: "\(who) has ServeHTTP but no \(Self.finishRequest), where a request ends",
                                            hint: "this net/http is not one --go-http knows (Go 1.17 or newer)")
        }
        self.attachPath = attachPath
        self.displayPath = displayPath
        self.pid = pid
        self.goVersion = go.buildInfo.goVersion
        self.offsetsNote = notes.isEmpty ? nil : notes.joined(separator: "; ")
        self.offsets = o
        self.sites = placed.map(\.site)
        self.placed = placed
        self.functions = sites.map(\.function.name)
    }
}
