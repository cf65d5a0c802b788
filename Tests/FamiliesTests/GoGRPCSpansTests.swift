@testable import Families
import Foundation
import GoRuntime
import Symbols
import Testing
import TraceEvents
import Tracing

/// gRPC events → spans, trace contexts, and where the offsets come from (no root).
@Suite struct GoGRPCSpansTests {
    static let spans = GoGRPCSpans(clock: BootClock(), resource: { pid in Resource(attributes: [.int("process.pid", Int64(pid))]) })

    static func event(_ role: GoGRPCEvent.Role, code: Int32?, method: String = "/pkg.v1.Greeter/SayHello", goid: UInt64 = 7,
                      start: UInt64 = 1_000, traceparent: String? = nil, parent: GoRequestRef? = nil,
                      grandparent: GoRequestRef? = nil) -> GoGRPCEvent {
        GoGRPCEvent(role: role, pid: 42, goid: goid, startBootNanos: start, endBootNanos: start + 5_000, statusCode: code,
                    method: method, traceparent: traceparent, parent: parent, grandparent: grandparent)
    }

    @Test func nameAndAttributesFollowTheRPCConventions() {
        let s = Self.spans.span(for: Self.event(.server, code: 0), context: .root(.always))
        #expect(s.name == "pkg.v1.Greeter/SayHello" && s.kind == .server)
        #expect(s.attribute("rpc.system") == .string("grpc"))
        #expect(s.attribute("rpc.service") == .string("pkg.v1.Greeter"))
        #expect(s.attribute("rpc.method") == .string("SayHello"))
        #expect(s.attribute("rpc.grpc.status_code") == .int(0))
        #expect(s.status == .unset && s.durationNanos == 5_000)
    }

    @Test func serverErrsOnlyOnServerFaults() {
        for code: Int32 in 0...16 {
            let server = Self.spans.span(for: Self.event(.server, code: code), context: .root(.always))
            let client = Self.spans.span(for: Self.event(.client, code: code), context: .root(.always))
            let serverError = [2, 4, 12, 13, 14, 15].contains(code)
            #expect((server.status != .unset) == serverError, "server code \(code)")
            #expect((client.status != .unset) == (code != 0), "client code \(code)")
            #expect(server.attribute("rpc.grpc.status_code") == .int(Int64(code)))
            if serverError { #expect(server.attribute("error.type") == .string(GoGRPCSpans.codeNames[Int(code)])) }
        }
        let unread = Self.spans.span(for: Self.event(.client, code: nil), context: .root(.always))
        #expect(unread.attribute("rpc.grpc.status_code") == nil && unread.status == .unset)
    }

    @Test func clientTargetIsTheServerAddress() {
        #expect(GoGRPCSpans.serverAddress("127.0.0.1:50051")! == ("127.0.0.1", 50051))
        #expect(GoGRPCSpans.serverAddress("dns:///api.example.com:443")! == ("api.example.com", 443))
        #expect(GoGRPCSpans.serverAddress("dns://8.8.8.8/api.example.com:443")! == ("api.example.com", 443))
        #expect(GoGRPCSpans.serverAddress("passthrough:///[::1]:9000")! == ("::1", 9000))
        #expect(GoGRPCSpans.serverAddress("unix:///run/x.sock")! == ("/run/x.sock", nil))
        #expect(GoGRPCSpans.serverAddress("") == nil)
        let s = Self.spans.span(for: GoGRPCEvent(role: .client, pid: 1, startBootNanos: 1, endBootNanos: 2, statusCode: 0,
                                                 method: "/a.B/C", target: "dns:///svc:8443"), context: .root(.always))
        #expect(s.attribute("server.address") == .string("svc") && s.attribute("server.port") == .int(8443))
    }

    @Test func methodWithoutServiceKeepsItsName() {
        #expect(GoGRPCSpans.split("/a.B/C")! == ("a.B", "C"))
        #expect(GoGRPCSpans.split("nopath") == nil)
        #expect(GoGRPCSpans.split("/onlyservice/") == nil)
        let s = Self.spans.span(for: Self.event(.server, code: 0, method: "weird"), context: .root(.always))
        #expect(s.name == "weird" && s.attribute("rpc.service") == nil)
    }

    @Test func traceparentAndChildren() {
        var contexts = GoGRPCContexts()
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        let begin = Self.event(.context, code: nil, traceparent: tp)
        contexts.begin(begin)
        // A client call made while serving it finishes first: the caller's trace, the server span's child.
        let child = contexts.context(for: Self.event(.client, code: 0, goid: 9, start: 2_000, parent: begin.ref))
        let server = contexts.context(for: Self.event(.server, code: 0, traceparent: tp))
        #expect(server.traceID.hex == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(server.parentSpanID?.hex == "00f067aa0ba902b7")
        #expect(child.traceID == server.traceID && child.parentSpanID == server.spanID)
        // No traceparent, no parent: a root each.
        let lone = contexts.context(for: Self.event(.client, code: 0, goid: 11))
        #expect(lone.parentSpanID == nil && lone.traceID != server.traceID)
    }

    @Test func tracedClientIsTheServersParent() {
        var contexts = GoGRPCContexts()
        let outer = GoRequestRef(pid: 42, goid: 3, startBootNanos: 100)  // a served call in the client's process
        let client = GoRequestRef(pid: 42, goid: 3, startBootNanos: 200) // the call it made
        // The server (another process) learns of its client when its first child starts: context record first.
        let begin = Self.event(.context, code: nil, goid: 50, start: 300, parent: client, grandparent: outer)
        contexts.begin(begin)
        let child = contexts.context(for: Self.event(.client, code: 0, goid: 51, start: 400, parent: begin.ref))
        let server = contexts.context(for: Self.event(.server, code: 0, goid: 50, start: 300, parent: client, grandparent: outer))
        let made = contexts.context(for: Self.event(.client, code: 0, goid: 3, start: 200, parent: outer))
        let served = contexts.context(for: Self.event(.server, code: 0, goid: 3, start: 100))
        #expect(child.parentSpanID == server.spanID && server.parentSpanID == made.spanID && made.parentSpanID == served.spanID)
        #expect(Set([child.traceID, server.traceID, made.traceID, served.traceID]).count == 1)
        // A caller's traceparent wins over a traced client.
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        let withTP = contexts.context(for: Self.event(.server, code: 0, goid: 60, start: 500, traceparent: tp, parent: client))
        #expect(withTP.parentSpanID?.hex == "00f067aa0ba902b7")
    }

    @Test func recordDecodes() {
        var e = ut_go_grpc_event()
        e.h.kind = UInt32(UT_EVENT_GO_GRPC_CLIENT.rawValue)
        e.h.tgid = 5
        e.h.start_ns = 10
        e.h.end_ns = 20
        e.status_code = 13
        let m = Array("/a.B/C".utf8)
        withUnsafeMutableBytes(of: &e.method) { for (i, b) in m.enumerated() { $0[i] = b } }
        e.method_len = UInt16(m.count)
        e.parent = ut_go_request_ref(tgid: 5, reserved: 0, goid: 3, start_ns: 9)
        let decoded = withUnsafeBytes(of: &e) { GoGRPCEvent(bytes: $0) }
        #expect(decoded?.role == .client && decoded?.method == "/a.B/C" && decoded?.statusCode == 13)
        #expect(decoded?.parent == GoRequestRef(pid: 5, goid: 3, startBootNanos: 9) && decoded?.traceparent == nil)
        e.status_code = -1
        #expect(withUnsafeBytes(of: &e) { GoGRPCEvent(bytes: $0) }?.statusCode == nil)
        #expect(withUnsafeBytes(of: &e) { GoGRPCEvent(bytes: UnsafeRawBufferPointer(rebasing: $0[0..<100])) } == nil)
    }

    @Test func tableNeedsTheModuleVersion() throws {
        let known = GoBuildInfo(goVersion: "go1.19.8", deps: [
            GoModule(path: "google.golang.org/grpc", version: "v1.33.3"),
            GoModule(path: "google.golang.org/genproto", version: "v0.0.0-20200413115906-b5235f6e3e2e"),
        ])
        let r = try GoGRPCOffsets.resolve(dwarf: nil, displayPath: "/x", buildInfo: known)
        #expect(r.offsets.stream_method == 72 && r.offsets.stream_status == 224 && r.offsets.frame_stream_id == 8)
        #expect(r.sources.values.allSatisfy { !$0.hasPrefix("DWARF") })
        var newer = known
        newer.deps[0].version = "v1.60.0"
        #expect { try GoGRPCOffsets.resolve(dwarf: nil, displayPath: "/x", buildInfo: newer) } throws: { e in
            "\(e)".contains("google.golang.org/grpc v1.60.0") && "\(e)".contains("hint:")
        }
        let gopath = GoBuildInfo(goVersion: "go1.19.8")
        #expect { try GoGRPCOffsets.resolve(dwarf: nil, displayPath: "/x", buildInfo: gopath) } throws: { e in
            "\(e)".contains("GOPATH") && "\(e)".contains("hint:")
        }
    }

    /// Every table row against the DWARF of the fixtures (Go 1.19 and the newest Go).
    @Test("table rows equal the fixtures' DWARF", arguments: ["go19", "go27"])
    func tableMatchesDWARF(_ go: String) throws {
        guard GoGRPCTestSupport.canRun(needsRoot: false) else { return }
        for prog in ["server", "client"] {
            let path = GoGRPCTestSupport.fixture(go: go, variant: "normal", prog)
            let elf = try ELFFile(path: path)
            let info = try GoBuildInfo.load(from: elf)
            let dwarf = try #require(try DWARFTypes.load(path: path, structs: Set(GoGRPCOffsets.all.map(\.structName))))
            let fromDWARF = try GoGRPCOffsets.resolve(dwarf: dwarf, displayPath: path, buildInfo: info)
            let fromTable = try GoGRPCOffsets.resolve(dwarf: nil, displayPath: path, buildInfo: info)
            #expect(withUnsafeBytes(of: fromDWARF.offsets) { Array($0) } == withUnsafeBytes(of: fromTable.offsets) { Array($0) },
                    "\(path): DWARF \(fromDWARF.offsets) table \(fromTable.offsets)")
        }
    }

    /// The fixtures' DWARF has every hooked function with the arguments the probes read.
    @Test("hooked functions' signatures from DWARF", arguments: ["go19", "go27"])
    func signaturesFromDWARF(_ go: String) throws {
        guard GoGRPCTestSupport.canRun(needsRoot: false) else { return }
        let path = GoGRPCTestSupport.fixture(go: go, variant: "normal", "server")
        let info = try GoBuildInfo.load(from: try ELFFile(path: path))
        let r = try GoGRPCOffsets.resolve(path: path, displayPath: path, buildInfo: info)
        #expect(Set(r.subprograms.keys) == Set(GoGRPCPlan.argumentTypes.keys))
        for (name, expected) in GoGRPCPlan.argumentTypes {
            #expect(r.subprograms[name].map { Array($0.arguments.prefix(expected.count).map { $0.typeName ?? "?" }) } == expected, "\(name)")
        }
        let e = GoGRPCError.changedSignature(path: "/x", function: GoGRPCPlan.operateHeaders, found: ["*t", "context.Context"],
                                             expected: ["*t", "*f"], version: "v1.60.0")
        #expect("\(e)".contains("v1.60.0") && "\(e)".contains("hint:") && !"\(e)".contains("\n"))
    }

    @Test func notApplicableToAnHTTPOnlyProgram() throws {
        guard GoHTTPTestSupport.fixturesUnavailable == nil else { return }
        #expect { try GoGRPCPlan.forExecutable(GoHTTPTestSupport.fixture("go-server")) } throws: { e in
            if case FamilyError.notApplicable(_, let reason, _) = e { return reason.contains("no google.golang.org/grpc") }
            return false
        }
    }
}
