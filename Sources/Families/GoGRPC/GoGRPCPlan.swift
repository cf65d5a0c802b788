import Attach
import GoRuntime
import Symbols
import TraceEvents

/// Where the gRPC probes go in one Go executable and the offsets they read.
public struct GoGRPCPlan: Sendable {
    public let attachPath: String
    public let displayPath: String
    public let pid: Int32?
    public let goVersion: String
    /// grpc-go's version from `.go.buildinfo` (nil for a GOPATH build).
    public let grpcVersion: String?
    public let config: ut_config
    public let sites: [UprobeSite]
    /// The same sites with their function and instruction (cost checks, `symbols dump`).
    public let placed: [GoHTTPPlan.PlacedSite]
    /// The probed functions found.
    public let functions: [String]
    /// Where each struct offset came from.
    public let offsetSources: [GoGRPCOffsets.Field: String]

    public static let operateHeaders = "google.golang.org/grpc/internal/transport.(*http2Server).operateHeaders"
    public static let handleStream = "google.golang.org/grpc.(*Server).handleStream"
    public static let writeStatus = "google.golang.org/grpc/internal/transport.(*http2Server).WriteStatus"
    public static let newClientStream = "google.golang.org/grpc.newClientStream"
    public static let newAttempt = "google.golang.org/grpc.(*clientStream).newAttemptLocked"
    public static let finish = "google.golang.org/grpc.(*clientStream).finish"
    /// Where a client's stream id and connection are known (joining a traced server on this host).
    public static let sendMsg = "google.golang.org/grpc.(*clientStream).SendMsg"

    public static let serverFunctions = [operateHeaders, handleStream, writeStatus]

    /// The leading argument types (as DWARF names them) of each hooked function,
    /// as far as go_grpc.bpf.c reads its registers (grpc-go 1.33). With DWARF,
    /// a function that takes anything else is refused: other registers would
    /// hold other things (newer grpc-go reshaped several of these functions).
    public static let argumentTypes: [String: [String]] = [
        operateHeaders: ["*google.golang.org/grpc/internal/transport.http2Server", "*golang.org/x/net/http2.MetaHeadersFrame"],
        handleStream: ["*google.golang.org/grpc.Server", "google.golang.org/grpc/internal/transport.ServerTransport",
                       "*google.golang.org/grpc/internal/transport.Stream"],
        writeStatus: ["*google.golang.org/grpc/internal/transport.http2Server", "*google.golang.org/grpc/internal/transport.Stream",
                      "*google.golang.org/grpc/internal/status.Status"],
        newClientStream: ["context.Context", "*google.golang.org/grpc.StreamDesc", "*google.golang.org/grpc.ClientConn", "string"],
        newAttempt: ["*google.golang.org/grpc.clientStream"],
        finish: ["*google.golang.org/grpc.clientStream", "error"],
        sendMsg: ["*google.golang.org/grpc.clientStream"],
    ]
    /// The maps a server in one process reads about clients in another: every go_grpc object after the first takes them over.
    public static let crossProcessMaps = [go_grpc_bpf.maps.grpc_conn_clients]
    public static let clientFunctions = [newClientStream, newAttempt, finish]

    public static func forProcess(_ pid: Int32) throws -> GoGRPCPlan {
        let image = try ProcessImage(pid: pid)
        guard let exe = image.mainExecutable, let object = image.mainExecutableObject else {
            throw SymbolsError.processAccessDenied(pid: pid, path: "/proc/\(pid)/exe")
        }
        let elf = try image.openObject(object)
        return try GoGRPCPlan(elf: elf, attachPath: image.accessPath(for: object), displayPath: exe, pid: pid)
    }

    public static func forExecutable(_ path: String) throws -> GoGRPCPlan {
        try GoGRPCPlan(elf: try ELFFile(path: path), attachPath: path, displayPath: path, pid: nil)
    }

    public init(elf: ELFFile, attachPath: String, displayPath: String, pid: Int32?) throws {
        let who = pid.map { "pid \($0) (\(displayPath))" } ?? displayPath
        guard elf.header.isX86_64 else { throw FamilyError.wrongMachine(target: who, machine: elf.header.machineName) }
        guard GoBinary.isGo(elf) else {
            throw FamilyError.notApplicable(family: GoGRPCFamily.name, reason: "\(who) is not a Go program (no Go build info or pclntab)",
                                            hint: "--go-grpc traces programs built with the Go toolchain")
        }
        let go = try GoBinary.load(elf)
        // The functions, not the build info, decide: a GOPATH build lists no modules.
        let sites = try go.probeSites(elf, names: Self.serverFunctions + Self.clientFunctions + [Self.sendMsg])
        let found = Set(sites.map(\.function.name))
        let server = Self.serverFunctions.dropFirst().allSatisfy(found.contains)
        let client = Self.clientFunctions.allSatisfy(found.contains)
        guard server || client else {
            let partial = found.isEmpty ? "" : " (only \(found.sorted().joined(separator: ", ")))"
            throw FamilyError.notApplicable(family: GoGRPCFamily.name,
                                            reason: "\(who) contains no google.golang.org/grpc server or client code\(partial)",
                                            hint: "nothing for --go-grpc to trace there (grpc-go's own HTTP/2 transport is what it hooks)")
        }
        guard let structs = go.offsets else {
            throw go.offsetsError ?? GoRuntimeError.unknownGoVersion(path: displayPath, version: go.buildInfo.goVersion, field: "runtime.g.goid")
        }
        guard let goid = structs.offset(of: .goroutineID) else {
            throw GoRuntimeError.unknownGoVersion(path: displayPath, version: go.buildInfo.goVersion, field: GoField.goroutineID.description)
        }
        let resolved = try GoGRPCOffsets.resolve(path: elf.path, displayPath: displayPath, buildInfo: go.buildInfo)
        for name in found {
            guard let sub = resolved.subprograms[name], let expected = Self.argumentTypes[name] else { continue }
            let types = sub.arguments.prefix(expected.count).map { $0.typeName ?? "?" }
            if types != expected {
                throw GoGRPCError.changedSignature(path: displayPath, function: name, found: sub.arguments.map { $0.typeName ?? "?" },
                                                   expected: expected, version: GoGRPCOffsets.grpcVersion(go.buildInfo))
            }
        }
        var config = ut_config()
        config.go.g_goid = UInt64(goid.offset)
        config.go.g_parent_goid = structs.offset(of: .goroutineParentID).map { UInt64($0.offset) } ?? 0
        config.grpc = resolved.offsets
        // The TCP ports of a connection (joining clients and servers on this host), as go-http reads them.
        config.go.netfd_laddr = structs.offset(of: .netFDLocalAddr).map { UInt64($0.offset) } ?? 0
        config.go.netfd_raddr = structs.offset(of: .netFDRemoteAddr).map { UInt64($0.offset) } ?? 0
        config.go.tcpaddr_port = structs.offset(of: .tcpAddrPort).map { UInt64($0.offset) } ?? 0
        let ports = config.go.netfd_laddr != 0 && config.go.netfd_raddr != 0 && config.go.tcpaddr_port != 0

        let p = go_grpc_bpf.progs.self
        var placed: [GoHTTPPlan.PlacedSite] = []
        for site in sites {
            let program: BPFProgramName
            switch site.function.name {
            case Self.operateHeaders where server: program = p.grpc_server_headers
            case Self.handleStream where server: program = p.grpc_server_begin
            case Self.writeStatus where server: program = p.grpc_server_status
            case Self.newClientStream where client: program = p.grpc_client_begin
            case Self.newAttempt where client: program = p.grpc_client_stream
            case Self.finish where client: program = p.grpc_client_end
            case Self.sendMsg where client && ports: program = p.grpc_client_send
            default: continue
            }
            // Entries on the cheap site (GoEntrySite); the BPF side keeps the first of repeated hits.
            let e = site.cheapEntry
            placed.append(.init(site: .init(program, e?.fileOffset ?? site.function.fileOffset), function: site.function.name,
                                instruction: e?.instruction ?? site.entryInstruction, entry: e))
        }
        self.attachPath = attachPath
        self.displayPath = displayPath
        self.pid = pid
        self.goVersion = go.buildInfo.goVersion
        self.grpcVersion = GoGRPCOffsets.grpcVersion(go.buildInfo)
        self.config = config
        self.placed = placed
        self.sites = placed.map(\.site)
        self.functions = placed.map(\.function)
        self.offsetSources = resolved.sources
    }

    /// This plan as the generic attach path takes it.
    public var familyPlan: FamilyPlan {
        let grpc = grpcVersion.map { "grpc-go \($0)" } ?? "grpc-go"
        let who = pid.map { "pid \($0) (\(displayPath), \(goVersion), \(grpc))" } ?? "\(displayPath) (\(goVersion), \(grpc), every process)"
        let short = functions.map { $0.replacingOccurrences(of: "google.golang.org/grpc", with: "grpc") }
        return FamilyPlan(family: GoGRPCFamily.id,
                          request: ProbeRequest(object: go_grpc_bpf.object, path: attachPath, pid: pid, config: config, sites: sites,
                                                sharedMaps: Self.crossProcessMaps),
                          displayPath: displayPath, summary: "\(who): \(short.joined(separator: ", "))", goVersion: goVersion)
    }
}
