import GoRuntime
import Symbols
import TraceEvents

/// The grpc-go struct fields `go_grpc.bpf.c` reads, and where their offsets
/// come from: the binary's DWARF first; without DWARF (`-ldflags=-w`) a table
/// keyed by the module versions `.go.buildinfo` reports. A version the table
/// lacks is an error, never a guess (a wrong offset reads garbage).
public enum GoGRPCOffsets {
    /// One field the probes read, as DWARF names its struct.
    public struct Field: Sendable, Hashable, CustomStringConvertible {
        public let structName: String
        public let fieldName: String
        /// The module whose source defines the struct (its version keys the table).
        public let module: String
        public init(_ structName: String, _ fieldName: String, module: String) {
            self.structName = structName
            self.fieldName = fieldName
            self.module = module
        }
        public var description: String { "\(structName).\(fieldName)" }
    }

    static let grpc = "google.golang.org/grpc"
    static let xnet = "golang.org/x/net"
    static let genproto = "google.golang.org/genproto"

    public static let metaFrameHeaders = Field("golang.org/x/net/http2.MetaHeadersFrame", "HeadersFrame", module: xnet)
    public static let metaFrameFields = Field("golang.org/x/net/http2.MetaHeadersFrame", "Fields", module: xnet)
    public static let headersFrameHeader = Field("golang.org/x/net/http2.HeadersFrame", "FrameHeader", module: xnet)
    public static let frameStreamID = Field("golang.org/x/net/http2.FrameHeader", "StreamID", module: xnet)
    public static let headerFieldName = Field("golang.org/x/net/http2/hpack.HeaderField", "Name", module: xnet)
    public static let headerFieldValue = Field("golang.org/x/net/http2/hpack.HeaderField", "Value", module: xnet)
    public static let streamID = Field("google.golang.org/grpc/internal/transport.Stream", "id", module: grpc)
    public static let streamMethod = Field("google.golang.org/grpc/internal/transport.Stream", "method", module: grpc)
    public static let streamStatus = Field("google.golang.org/grpc/internal/transport.Stream", "status", module: grpc)
    public static let statusProto = Field("google.golang.org/grpc/internal/status.Status", "s", module: grpc)
    public static let errorProto = Field("google.golang.org/grpc/internal/status.Error", "e", module: grpc)
    public static let protoCode = Field("google.golang.org/genproto/googleapis/rpc/status.Status", "Code", module: genproto)
    public static let clientStreamAttempt = Field("google.golang.org/grpc.clientStream", "attempt", module: grpc)
    public static let attemptStream = Field("google.golang.org/grpc.csAttempt", "s", module: grpc)
    public static let clientConnTarget = Field("google.golang.org/grpc.ClientConn", "target", module: grpc)
    public static let serverConn = Field("google.golang.org/grpc/internal/transport.http2Server", "conn", module: grpc)
    public static let clientConn = Field("google.golang.org/grpc/internal/transport.http2Client", "conn", module: grpc)
    public static let attemptTransport = Field("google.golang.org/grpc.csAttempt", "t", module: grpc)

    public static let all: [Field] = [
        metaFrameHeaders, metaFrameFields, headersFrameHeader, frameStreamID, headerFieldName, headerFieldValue,
        streamID, streamMethod, streamStatus, statusProto, errorProto, protoCode, clientStreamAttempt, attemptStream, clientConnTarget,
        serverConn, clientConn, attemptTransport,
    ]
    /// The hpack.HeaderField struct (its size is the slice stride).
    static let headerFieldStruct = "golang.org/x/net/http2/hpack.HeaderField"

    /// A table row: the offset for a list of exact module versions (nil: any
    /// version, for a struct unchanged since long before any grpc-go that has these functions).
    public struct Entry: Sendable, Equatable {
        public let field: Field
        public let versions: [String]?
        public let offset: Int
        /// The source the offset was computed from, and how it was checked.
        public let provenance: String
    }

    /// Rows for stripped binaries. Checked against the DWARF of the testdata/grpc-build.sh
    /// fixtures (Go 1.19 and 1.27, both the same: these are not runtime structs).
    public static let entries: [Entry] = [
        Entry(field: metaFrameHeaders, versions: nil, offset: 0,
              provenance: "x/net http2/frame.go type MetaHeadersFrame: *HeadersFrame embedded first (since 2016; DWARF x/net v0.7.0)"),
        Entry(field: metaFrameFields, versions: nil, offset: 8,
              provenance: "x/net http2/frame.go type MetaHeadersFrame: after *HeadersFrame (since 2016; DWARF x/net v0.7.0)"),
        Entry(field: headersFrameHeader, versions: nil, offset: 0,
              provenance: "x/net http2/frame.go type HeadersFrame: FrameHeader embedded first (DWARF x/net v0.7.0)"),
        Entry(field: frameStreamID, versions: nil, offset: 8,
              provenance: "x/net http2/frame.go type FrameHeader: valid bool, Type, Flags uint8, Length uint32 (DWARF x/net v0.7.0)"),
        Entry(field: headerFieldName, versions: nil, offset: 0,
              provenance: "x/net http2/hpack/hpack.go type HeaderField: Name string first (DWARF x/net v0.7.0)"),
        Entry(field: headerFieldValue, versions: nil, offset: 16,
              provenance: "x/net http2/hpack/hpack.go type HeaderField: after Name string (DWARF x/net v0.7.0)"),
        Entry(field: streamID, versions: ["v1.33.3"], offset: 0,
              provenance: "grpc-go v1.33.3 internal/transport/transport.go type Stream: id uint32 first (DWARF Go 1.19, 1.27)"),
        Entry(field: streamMethod, versions: ["v1.33.3"], offset: 72,
              provenance: "grpc-go v1.33.3 internal/transport/transport.go type Stream: id 8, st 16, ct 8, ctx 16, cancel, done, ctxDone 8 each (DWARF Go 1.19, 1.27)"),
        Entry(field: streamStatus, versions: ["v1.33.3"], offset: 224,
              provenance: "grpc-go v1.33.3 internal/transport/transport.go type Stream: after state streamState (DWARF Go 1.19, 1.27)"),
        Entry(field: statusProto, versions: ["v1.33.3"], offset: 0,
              provenance: "grpc-go v1.33.3 internal/status/status.go type Status: s *spb.Status only field (DWARF Go 1.19, 1.27)"),
        Entry(field: errorProto, versions: ["v1.33.3"], offset: 0,
              provenance: "grpc-go v1.33.3 internal/status/status.go type Error: e *spb.Status only field (DWARF Go 1.19, 1.27)"),
        Entry(field: clientStreamAttempt, versions: ["v1.33.3"], offset: 224,
              provenance: "grpc-go v1.33.3 stream.go type clientStream: after mu sync.Mutex, firstAttempt bool (DWARF Go 1.19, 1.27)"),
        Entry(field: attemptStream, versions: ["v1.33.3"], offset: 24,
              provenance: "grpc-go v1.33.3 stream.go type csAttempt: cs 8, t ClientTransport 16 (DWARF Go 1.19, 1.27)"),
        Entry(field: clientConnTarget, versions: ["v1.33.3"], offset: 24,
              provenance: "grpc-go v1.33.3 clientconn.go type ClientConn: ctx 16, cancel 8 (DWARF Go 1.19, 1.27)"),
        Entry(field: serverConn, versions: ["v1.33.3"], offset: 32,
              provenance: "grpc-go v1.33.3 internal/transport/http2_server.go type http2Server: lastRead int64, ctx 16, done 8 (DWARF Go 1.19, 1.27)"),
        Entry(field: clientConn, versions: ["v1.33.3"], offset: 72,
              provenance: "grpc-go v1.33.3 internal/transport/http2_client.go type http2Client: lastRead, ctx 16, cancel, ctxDone, userAgent 16, md 8, then conn (DWARF Go 1.19, 1.27)"),
        Entry(field: attemptTransport, versions: ["v1.33.3"], offset: 8,
              provenance: "grpc-go v1.33.3 stream.go type csAttempt: after cs *clientStream (DWARF Go 1.19, 1.27)"),
        // protoc-gen-go before APIv2 (golang/protobuf 1.3): Code int32 first, XXX_ fields after.
        Entry(field: protoCode, versions: ["v0.0.0-20200413115906-b5235f6e3e2e"], offset: 0,
              provenance: "genproto b5235f6 (Debian 0.0~git20200413) googleapis/rpc/status/status.pb.go type Status: Code first (DWARF Go 1.19, 1.27)"),
    ]

    /// The table's offset of `field` for a binary whose build info lists `deps`.
    public static func entry(for field: Field, deps: [GoModule]) -> Entry? {
        let version = deps.first { $0.path == field.module }?.version
        return entries.first { $0.field == field && ($0.versions == nil || ($0.versions!.contains { $0 == version })) }
    }

    /// The offsets for one binary, with the source each came from (for `symbols dump` and notes).
    public struct Resolved: Sendable {
        public var offsets = ut_go_grpc_offsets()
        /// "DWARF of PATH" or the table row's provenance, per field.
        public var sources: [Field: String] = [:]
        /// The hooked functions' signatures, when DWARF has them (GoGRPCPlan checks the registers it reads).
        public var subprograms: [String: DWARFSubprogram] = [:]
    }

    /// Resolves every field for the binary at `path`: DWARF first, then the table.
    /// Throws a one-line error naming the missing field and grpc-go's version.
    public static func resolve(path: String, displayPath: String, buildInfo: GoBuildInfo) throws -> Resolved {
        let dwarf: DWARFTypes?
        do {
            dwarf = try DWARFTypes.load(path: path, structs: Set(all.map(\.structName)), subprograms: Set(GoGRPCPlan.argumentTypes.keys))
        } catch {
            throw GoRuntimeError.symbols(error)
        }
        return try resolve(dwarf: dwarf, displayPath: displayPath, buildInfo: buildInfo)
    }

    public static func resolve(dwarf: DWARFTypes?, displayPath: String, buildInfo: GoBuildInfo) throws -> Resolved {
        var r = Resolved()
        r.subprograms = dwarf?.subprograms ?? [:]
        var values: [Field: Int] = [:]
        for field in all {
            if let dwarf, let type = dwarf.structType(field.structName) {
                guard let member = type.member(named: field.fieldName) else {
                    throw GoGRPCError.changedStruct(path: displayPath, field: field.description, version: grpcVersion(buildInfo))
                }
                values[field] = member.offset
                r.sources[field] = "DWARF of \(displayPath)"
            } else if let row = entry(for: field, deps: buildInfo.deps) {
                values[field] = row.offset
                r.sources[field] = row.provenance
            } else if dwarf != nil {
                continue // the program never uses the struct (a server without client code): its probes are not attached
            } else {
                throw GoGRPCError.unknownVersion(path: displayPath, field: field.description, module: field.module,
                                                 version: buildInfo.deps.first { $0.path == field.module }?.version)
            }
        }
        func v(_ f: Field) -> UInt64 { UInt64(values[f] ?? 0) }
        r.offsets.meta_frame_headers = v(metaFrameHeaders)
        r.offsets.meta_frame_fields = v(metaFrameFields)
        r.offsets.frame_stream_id = v(headersFrameHeader) + v(frameStreamID)
        r.offsets.header_field_name = v(headerFieldName)
        r.offsets.header_field_value = v(headerFieldValue)
        r.offsets.header_field_size = UInt64(dwarf?.structType(headerFieldStruct)?.byteSize ?? 40) // Name, Value string; Sensitive bool; padded
        r.offsets.stream_id = v(streamID)
        r.offsets.stream_method = v(streamMethod)
        r.offsets.stream_status = v(streamStatus)
        r.offsets.status_proto = v(statusProto)
        r.offsets.error_proto = v(errorProto)
        r.offsets.proto_code = v(protoCode)
        r.offsets.client_stream_attempt = v(clientStreamAttempt)
        r.offsets.attempt_stream = v(attemptStream)
        r.offsets.client_conn_target = v(clientConnTarget)
        r.offsets.server_conn = v(serverConn)
        r.offsets.client_conn = v(clientConn)
        r.offsets.attempt_transport = v(attemptTransport)
        return r
    }

    /// grpc-go's version as `.go.buildinfo` lists it, if it does.
    public static func grpcVersion(_ info: GoBuildInfo) -> String? {
        info.deps.first { $0.path == grpc }?.version
    }
}

/// Why the gRPC family cannot trace a binary; each message ends in a hint.
public enum GoGRPCError: Error, Sendable, CustomStringConvertible {
    /// No DWARF, and no table row for the module version the binary was built with.
    case unknownVersion(path: String, field: String, module: String, version: String?)
    /// DWARF describes the struct without the field: a grpc-go whose layout the probes do not know.
    case changedStruct(path: String, field: String, version: String?)
    /// A hooked function takes other arguments than the registers the probes read assume.
    case changedSignature(path: String, function: String, found: [String], expected: [String], version: String?)

    public var description: String {
        switch self {
        case .unknownVersion(let path, let field, let module, let version?):
            return "\(path): no DWARF and no offset table row for \(module) \(version) (\(field)); hint: rebuild keeping DWARF (no -w in -ldflags), or use a grpc-go version uprobe-trace knows (table: grpc-go v1.33.3)"
        case .unknownVersion(let path, let field, let module, nil):
            return "\(path): no DWARF, and its build info does not say which \(module) it contains (a GOPATH build?), so the offset of \(field) is unknown; hint: rebuild in module mode or keeping DWARF (no -w in -ldflags)"
        case .changedSignature(let path, let function, let found, let expected, let version):
            return "\(path): \(function) takes (\(found.joined(separator: ", "))), not the (\(expected.joined(separator: ", "))) --go-grpc reads from registers (grpc-go \(version ?? "of unknown version")); hint: --go-grpc knows grpc-go 1.33's functions; report this binary with `go version -m \(path)`"
        case .changedStruct(let path, let field, let version):
            return "\(path): DWARF has no \(field) (grpc-go \(version ?? "of unknown version") changed it?); hint: --go-grpc knows grpc-go 1.33's layout; report this binary with `go version -m \(path)`"
        }
    }
}
