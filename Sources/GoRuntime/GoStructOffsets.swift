import Symbols

/// Where a struct field offset came from.
public enum OffsetSource: String, Sendable {
    /// Read from the binary's own DWARF: exact for that build.
    case dwarf
    /// Taken from `GoOffsetTable` for the binary's Go minor version.
    case table
}

/// A field of a Go struct, named the way DWARF names the struct
/// (`net/http.Request`) plus the field name (`Method`).
public struct GoField: Hashable, Sendable, CustomStringConvertible {
    public let structName: String
    public let fieldName: String

    public init(_ structName: String, _ fieldName: String) {
        self.structName = structName
        self.fieldName = fieldName
    }

    /// Splits `net/http.Request.Method` at its last dot.
    public init?(qualified: String) {
        guard let dot = qualified.lastIndex(of: "."),
              dot != qualified.startIndex,
              qualified.index(after: dot) != qualified.endIndex
        else { return nil }
        self.init(String(qualified[..<dot]), String(qualified[qualified.index(after: dot)...]))
    }

    public var description: String { "\(structName).\(fieldName)" }

    public static let requestMethod = GoField("net/http.Request", "Method")
    public static let requestURL = GoField("net/http.Request", "URL")
    public static let requestProto = GoField("net/http.Request", "Proto")
    public static let requestHeader = GoField("net/http.Request", "Header")
    public static let requestContentLength = GoField("net/http.Request", "ContentLength")
    public static let requestHost = GoField("net/http.Request", "Host")
    public static let urlPath = GoField("net/url.URL", "Path")
    public static let urlRawQuery = GoField("net/url.URL", "RawQuery")
    public static let serverResponseConn = GoField("net/http.response", "conn")
    public static let serverResponseReq = GoField("net/http.response", "req")
    public static let serverResponseStatus = GoField("net/http.response", "status")
    public static let responseStatusCode = GoField("net/http.Response", "StatusCode")
    public static let goroutineID = GoField("runtime.g", "goid")
    public static let goroutineM = GoField("runtime.g", "m")
    public static let machineCurG = GoField("runtime.m", "curg")
    /// The goid of the goroutine whose `go` statement created this one; Go ≥ 1.21.
    public static let goroutineParentID = GoField("runtime.g", "parentGoid")
    public static let connHijacked = GoField("net/http.conn", "hijackedv")
    public static let connRWC = GoField("net/http.conn", "rwc")
    public static let connBufr = GoField("net/http.conn", "bufr")
    public static let bufioReaderBuf = GoField("bufio.Reader", "buf")
    public static let bufioReaderR = GoField("bufio.Reader", "r")
    public static let persistConnConn = GoField("net/http.persistConn", "conn")
    public static let netFDLocalAddr = GoField("net.netFD", "laddr")
    public static let netFDRemoteAddr = GoField("net.netFD", "raddr")
    public static let tcpAddrPort = GoField("net.TCPAddr", "Port")

    /// runtime.g._panic: non-nil while the goroutine runs deferred calls of a panic.
    public static let goroutinePanic = GoField("runtime.g", "_panic")

    /// The fields net/http's HTTP/2 server probes read, in the package that holds
    /// the server: the `http2`-prefixed types bundled into net/http (Go ≤ 1.26) or
    /// net/http/internal/http2 (Go ≥ 1.27). The bundled names of embedded fields
    /// keep the prefix (`http2HeadersFrame`).
    public struct HTTP2Fields: Sendable, Hashable {
        public let metaHeaders: GoField
        public let metaFields: GoField
        public let headersFrameHeader: GoField
        public let frameStreamID: GoField
        public let rwsStream: GoField
        public let rwsStatus: GoField
        public let streamConn: GoField
        public let streamID: GoField
        /// serverConn.conn (net.Conn: a *tls.Conn over TLS) and ClientConn.tconn: the
        /// TCP ports of a stream, for the parent/child join of a traced client and server.
        public let serverConnConn: GoField
        public let clientConnTConn: GoField

        init(package p: String, prefix x: String) {
            metaHeaders = GoField("\(p).\(x)MetaHeadersFrame", "\(x)HeadersFrame")
            metaFields = GoField("\(p).\(x)MetaHeadersFrame", "Fields")
            headersFrameHeader = GoField("\(p).\(x)HeadersFrame", "\(x)FrameHeader")
            frameStreamID = GoField("\(p).\(x)FrameHeader", "StreamID")
            rwsStream = GoField("\(p).\(x)responseWriterState", "stream")
            rwsStatus = GoField("\(p).\(x)responseWriterState", "status")
            streamConn = GoField("\(p).\(x)stream", "sc")
            streamID = GoField("\(p).\(x)stream", "id")
            serverConnConn = GoField("\(p).\(x)serverConn", "conn")
            clientConnTConn = GoField("\(p).\(x)ClientConn", "tconn")
        }

        /// What the server probes need.
        public var server: [GoField] { [metaHeaders, metaFields, headersFrameHeader, frameStreamID, rwsStream, rwsStatus, streamConn, streamID] }
        public var all: [GoField] { server + [serverConnConn, clientConnTConn] }
    }

    /// net/http's bundled h2 server (h2_bundle.go), Go 1.17–1.26.
    public static let bundledHTTP2 = HTTP2Fields(package: "net/http", prefix: "http2")
    /// net/http/internal/http2, Go 1.27 on.
    public static let internalHTTP2 = HTTP2Fields(package: "net/http/internal/http2", prefix: "")

    /// The HTTP/2 server fields, resolved with `all` but optional: a Go version
    /// the table has no row for (and no DWARF) leaves them out, and the plan
    /// then says that HTTP/2 requests are not traced instead of failing.
    public static let http2: [GoField] = bundledHTTP2.all + internalHTTP2.all + [goroutinePanic, tlsConnConn]

    /// crypto/tls.Conn.conn: the connection under TLS.
    public static let tlsConnConn = GoField("crypto/tls.Conn", "conn")

    /// The first and last Go minor versions of the package each HTTP/2 field is in.
    static let http2Minors: [GoField: ClosedRange<Int>] = {
        var m: [GoField: ClosedRange<Int>] = [:]
        for f in bundledHTTP2.all { m[f] = 17...26 }
        for f in internalHTTP2.all { m[f] = 27...Int.max }
        return m
    }()

    /// Every field the Go HTTP probes read.
    public static let all: [GoField] = [
        requestMethod, requestURL, requestProto, requestHeader, requestContentLength, requestHost,
        urlPath, urlRawQuery,
        serverResponseConn, serverResponseReq, serverResponseStatus,
        responseStatusCode,
        goroutineID,
        // Trace context: goroutine creation, the server's read buffer, TCP ports.
        goroutineM, machineCurG, goroutineParentID,
        connRWC, connBufr, connHijacked, bufioReaderBuf, bufioReaderR,
        persistConnConn, netFDLocalAddr, netFDRemoteAddr, tcpAddrPort,
    ]

    /// Fields that only exist from some Go minor version on: older binaries simply
    /// lack them (no error), and the probes fall back to what older Go needs.
    public static let firstGoMinor: [GoField: Int] = [goroutineParentID: 21]

    /// Whether Go 1.`minor` has this field (true when the minor is unknown).
    public func exists(inGoMinor minor: Int?) -> Bool {
        guard let minor else { return true }
        if let range = Self.http2Minors[self] { return range.contains(minor) }
        guard let first = Self.firstGoMinor[self] else { return true }
        return minor >= first
    }

    /// Whether a missing offset of this field is left out rather than an error.
    public var isOptional: Bool { Self.http2Minors[self] != nil || self == .goroutinePanic || self == .tlsConnConn }

    /// The struct names to ask DWARF for, so one pass finds them all.
    public static var structNames: Set<String> { Set((all + http2).map(\.structName)) }
}

/// One resolved offset and how we know it.
public struct ResolvedOffset: Sendable, Equatable {
    public let offset: Int
    public let source: OffsetSource
    /// For `.dwarf`, the binary path; for `.table`, the Go source the entry was computed from.
    public let provenance: String
    /// For `.table`: the row was compared with the DWARF of a real build of this Go
    /// minor version (`GoOffsetTable.verifiedMinors`). Always true for `.dwarf`.
    public let verified: Bool

    public init(offset: Int, source: OffsetSource, provenance: String, verified: Bool? = nil) {
        self.offset = offset
        self.source = source
        self.provenance = provenance
        self.verified = verified ?? (source == .dwarf)
    }
}

/// Byte offsets of the struct fields the Go probes read, for one binary.
///
/// Why two sources: DWARF is exact for the build in hand, but `-ldflags=-w` (common in
/// release images) strips it; then a table keyed by the Go minor version, whose every
/// entry names the Go source it was computed from, fills in. For a Go version the table
/// does not know we refuse to guess (`GoRuntimeError.unknownGoVersion`): a wrong offset
/// reads garbage from the traced process.
public struct GoStructOffsets: Sendable {
    public let goVersion: String
    public let fields: [GoField: ResolvedOffset]
    /// Set when the binary's Go is newer than the table knows and DWARF gave the
    /// offsets: it works, but the probes assume that Go kept the functions they hook.
    public let note: String?

    public init(goVersion: String, fields: [GoField: ResolvedOffset], note: String? = nil) {
        self.goVersion = goVersion
        self.fields = fields
        self.note = note
    }

    /// The offset of `field`, or nil if the binary does not contain its struct at all
    /// (a server binary has no `net/http.Response` code paths to probe).
    public func offset(of field: GoField) -> ResolvedOffset? { fields[field] }

    /// `offsets["net/http.Request.Method"]`.
    public subscript(qualified: String) -> ResolvedOffset? {
        guard let field = GoField(qualified: qualified) else { return nil }
        return fields[field]
    }

    /// Resolves `wanted` for a binary built by `goVersion` (as `.go.buildinfo` spells it,
    /// e.g. `go1.19.8`): DWARF first, then `GoOffsetTable`.
    ///
    /// - A struct DWARF describes but without the field: `.dwarf` error (the layout is
    ///   not what the probes expect; better to stop than to read the wrong bytes).
    /// - A struct DWARF does not describe: the program never uses it; the table value is
    ///   used if there is one, else the field is left out.
    /// - No DWARF and no table entry: `.unknownGoVersion`.
    public static func resolve(
        goVersion: String,
        dwarf: DWARFTypes?,
        path: String = "",
        fields wanted: [GoField] = GoField.all
    ) throws(GoRuntimeError) -> GoStructOffsets {
        let path = path.isEmpty ? (dwarf?.path ?? "") : path
        let minor = GoVersion.minor(of: goVersion)
        var resolved: [GoField: ResolvedOffset] = [:]
        for field in wanted {
            if !field.exists(inGoMinor: minor) { continue }
            if let dwarf, let type = dwarf.structType(field.structName) {
                guard let member = type.member(named: field.fieldName) else {
                    throw .dwarf(path: path, what: "\(field.structName) has no field \(field.fieldName) (Go \(goVersion) changed the struct?)")
                }
                resolved[field] = ResolvedOffset(offset: member.offset, source: .dwarf, provenance: "DWARF of \(path)")
                continue
            }
            if let minor, let entry = GoOffsetTable.entry(for: field, goMinor: minor) {
                resolved[field] = ResolvedOffset(offset: entry.offset, source: .table, provenance: entry.provenance,
                                                 verified: GoOffsetTable.verifiedMinors.contains(minor))
                continue
            }
            if dwarf != nil || field.isOptional { continue }
            throw .unknownGoVersion(path: path, version: goVersion, field: field.description)
        }
        var note: String?
        if let minor, minor > GoOffsetTable.supportedMinors.upperBound, resolved.values.contains(where: { $0.source == .dwarf }) {
            note = "\(goVersion) is newer than the Go versions uprobe-trace was tested with (up to 1.\(GoOffsetTable.supportedMinors.upperBound)): struct offsets come from this binary's DWARF; the hooked functions are assumed unchanged"
        }
        return GoStructOffsets(goVersion: goVersion, fields: resolved, note: note)
    }

    /// Reads DWARF from `path` (if it has any) in one pass and resolves `wanted`.
    public static func load(
        path: String,
        goVersion: String,
        fields wanted: [GoField] = GoField.all + GoField.http2
    ) throws(GoRuntimeError) -> GoStructOffsets {
        let dwarf: DWARFTypes?
        do {
            dwarf = try DWARFTypes.load(path: path, structs: Set(wanted.map(\.structName)))
        } catch {
            throw .symbols(error)
        }
        return try resolve(goVersion: goVersion, dwarf: dwarf, path: path, fields: wanted)
    }
}

/// Go version strings as the toolchain writes them into `.go.buildinfo`.
enum GoVersion {
    /// The minor number of a Go 1.x version: `go1.19.8` → 19, `go1.21rc2` → 21,
    /// `devel go1.23-abcdef` → 23. Nil for anything else.
    static func minor(of version: String) -> Int? {
        guard let range = version.firstRange(of: "go1.") else { return nil }
        let digits = version[range.upperBound...].prefix { $0.isASCII && $0.isNumber }
        return Int(digits)
    }
}
