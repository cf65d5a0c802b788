@testable import Families
import Attach
import Foundation
import Testing
import TraceEvents
import Tracing

/// Loads go_grpc.bpf.c and attaches it, through the family's own plan, to the
/// testdata gRPC server and client (grpc-go 1.33.3 from Debian) built by Go 1.19
/// and the newest Go, with and without DWARF; the spans come from the family's
/// decoder. Needs root.
@Suite(.serialized) struct GoGRPCBPFTests {
    typealias S = GoGRPCTestSupport

    /// Requested codes of the unary calls, in turn, and each one's sleep (ms).
    static let codes: [Int32] = [0, 5, 13, 14] // OK, NOT_FOUND, INTERNAL, UNAVAILABLE
    static func sleepMs(_ code: Int32) -> Int { [0: 0, 5: 1, 13: 2, 14: 3][code] ?? 0 }
    static let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let callerSpan = "00f067aa0ba902b7"

    @Test("BPF root: gRPC SERVER and CLIENT spans per RPC, unary and streaming", arguments: GoGRPCTestSupport.builds.map { "\($0.go)/\($0.variant)" })
    func spans(_ build: String) throws {
        guard S.canRun() else { return }
        let (go, variant) = (String(build.split(separator: "/")[0]), String(build.split(separator: "/")[1]))
        let server = try GoHTTPTestSupport.Server(binary: S.fixture(go: go, variant: variant, "server"))
        let client = try S.Client(binary: S.fixture(go: go, variant: variant, "client"), server: server.address)

        let serverPlan = try GoGRPCPlan.forProcess(server.pid)
        let clientPlan = try GoGRPCPlan.forProcess(client.pid)
        #expect(serverPlan.grpcVersion == "v1.33.3")
        // Every per-RPC probe on an emulated instruction.
        for p in serverPlan.placed + clientPlan.placed {
            #expect(p.instruction?.cost == .emulated, "\(p.function): \(String(describing: p.instruction))")
        }
        #expect(Set(serverPlan.functions).isSuperset(of: GoGRPCPlan.serverFunctions))
        #expect(Set(clientPlan.functions) == Set(GoGRPCPlan.clientFunctions + [GoGRPCPlan.sendMsg]))
        if variant == "stripped" {
            #expect(serverPlan.offsetSources.values.allSatisfy { !$0.hasPrefix("DWARF") }, "\(serverPlan.offsetSources)")
        } else {
            #expect(serverPlan.offsetSources.values.allSatisfy { $0.hasPrefix("DWARF") }, "\(serverPlan.offsetSources)")
        }

        let stats = try BPFRunStatistics()
        // As `trace` attaches two processes: one ring buffer, and the second go_grpc object
        // takes over the first one's cross-process map (clients on their way to a server).
        let serverProbes = try TestProbes(serverPlan.familyPlan)
        let clientProbes = try AttachedProbes(clientPlan.familyPlan.request, shared: serverProbes.shared, sharingWith: serverProbes.probes)
        let sink = RecordSink()
        let reader = try serverProbes.reader(sink.handler)
        reader.start()

        // 100 unary calls: 25 of each code, each with its sleep.
        var expectedCalls: [Int32: Int] = [:]
        for i in 0..<100 {
            let code = Self.codes[i % Self.codes.count]
            #expect(client.send("call \(code) \(Self.sleepMs(code))") == "code \(code)")
            expectedCalls[code, default: 0] += 1
        }
        // 10 server-streaming calls: 1...5 messages, OK or INTERNAL at the end.
        var expectedStreams: [Int32: Int] = [:]
        for i in 0..<10 {
            let n = 1 + i % 5, code: Int32 = i % 2 == 0 ? 0 : 13
            #expect(client.send("stream \(n) \(code)") == "code \(code) got \(n)")
            expectedStreams[code, default: 0] += 1
        }
        // 20 concurrent calls on the one HTTP/2 connection, one goroutine each.
        #expect(client.send("par 20 5 2") == "codes " + Array(repeating: "5", count: 20).joined(separator: " "))
        expectedCalls[5, default: 0] += 20
        // A caller's deadline passes while the server sleeps: DEADLINE_EXCEEDED for the client. The
        // handler returns OK when it wakes, but the stream is gone: grpc-go fails the response with
        // INTERNAL ("the stream is done") and that is the status it tries to write, as its own stats see it.
        #expect(client.send("deadline 5 0 200") == "code 4") // 195 ms for the server to see the client's RST_STREAM
        expectedCalls[13, default: 0] += 1
        // A method the server does not have: UNIMPLEMENTED, an error on both sides.
        #expect(client.send("missing Nope 0") == "code 12")
        // A caller's traceparent in the metadata.
        #expect(client.send("call 0 0 00-\(Self.traceID)-\(Self.callerSpan)-01") == "code 0")
        expectedCalls[0, default: 0] += 1
        // Relay: the server calls itself while serving (a CLIENT span inside a SERVER span).
        #expect(client.send("relay 14 \(Self.sleepMs(14)) \(server.address)") == "code 14")
        expectedCalls[14, default: 0] += 1
        // The same from a goroutine the handler starts (its parent is found through g.parentGoid on Go >= 1.21).
        #expect(client.send("relay 0 0 \(server.address) go") == "code 0")
        expectedCalls[0, default: 0] += 1
        let clientRPCs = 100 + 20 + 1 + 10 + 1 + 1 + 2
        let serverRPCs = clientRPCs + 2

        sink.wait(forKind: UInt32(UT_EVENT_GO_GRPC_SERVER.rawValue), count: serverRPCs)
        sink.wait(forKind: UInt32(UT_EVENT_GO_GRPC_CLIENT.rawValue), count: clientRPCs + 2)
        usleep(200_000) // anything extra would show up now
        let serverPrograms = try serverProbes.object.programs()
        let clientPrograms = try clientProbes.object.programs()
        reader.stop()
        #expect(try serverProbes.lostEvents() == 0)
        serverProbes.detach()
        clientProbes.detach()
        _ = stats

        let everything = sink.spans()
        func pid(_ s: Span) -> Int32? {
            if case .int(let p)? = s.resource.attribute("process.pid") { return Int32(p) }
            return nil
        }
        let inServer = everything.filter { pid($0) == server.pid }, inClient = everything.filter { pid($0) == client.pid }
        #expect(inServer.count + inClient.count == everything.count)
        let servers = inServer.filter { $0.kind == .server }
        let relayClients = inServer.filter { $0.kind == .client }
        let clients = inClient.filter { $0.kind == .client }
        #expect(servers.count == serverRPCs, "\(servers.count) SERVER spans for \(serverRPCs) RPCs")
        #expect(relayClients.count == 2, "CLIENT spans in the server: \(relayClients.map(\.name))")
        #expect(clients.count == clientRPCs && inClient.count == clientRPCs, "\(clients.count) CLIENT spans for \(clientRPCs) RPCs")

        func code(_ s: Span) -> Int32? {
            if case .int(let c)? = s.attribute("rpc.grpc.status_code") { return Int32(c) }
            return nil
        }
        func tally(_ spans: [Span], _ name: String) -> [Int32: Int] {
            spans.filter { $0.name == name }.reduce(into: [:]) { $0[code($1) ?? -1, default: 0] += 1 }
        }
        let call = "uptrace.test.Echo/Call", stream = "uptrace.test.Echo/Stream", relay = "uptrace.test.Echo/Relay"
        #expect(tally(servers, call) == expectedCalls)
        #expect(tally(servers, stream) == expectedStreams)
        #expect(tally(servers, relay) == [14: 1, 0: 1])
        #expect(tally(servers, "uptrace.test.Echo/Nope") == [12: 1])
        #expect(tally(clients, "uptrace.test.Echo/Nope") == [12: 1])
        var expectedClientCalls = expectedCalls
        expectedClientCalls[14, default: 0] -= 1 // the relayed Calls are made by the server
        expectedClientCalls[0, default: 0] -= 1
        expectedClientCalls[13, default: 0] -= 1  // the deadline call ended DEADLINE_EXCEEDED for the client
        expectedClientCalls[4, default: 0] += 1
        #expect(tally(clients, call) == expectedClientCalls)
        #expect(tally(clients, stream) == expectedStreams)
        #expect(tally(clients, relay) == [14: 1, 0: 1])

        for s in clients + relayClients {
            #expect(s.attribute("server.address") == .string("127.0.0.1"))
            #expect(s.attribute("server.port").map { "127.0.0.1:\($0)" } == server.address)
        }
        for s in servers + clients + relayClients {
            #expect(s.attribute("rpc.system") == .string("grpc"))
            #expect(s.attribute("rpc.service") == .string("uptrace.test.Echo"))
            #expect(s.attribute("rpc.method").map { "uptrace.test.Echo/\($0)" } == s.name)
            #expect(["Call", "Stream", "Relay", "Nope"].contains(s.attribute("rpc.method")?.description ?? ""))
            #expect(s.startTimeUnixNano > 0 && s.startTimeUnixNano < s.endTimeUnixNano)
            guard let c = code(s) else {
                Issue.record("\(s.name): no status code")
                continue
            }
            // Semantic conventions: a server errs on the server's faults only; a client on any non-OK.
            let error = s.kind == .server ? [12, 13, 14].contains(c) : c != 0
            if error {
                #expect(s.status != .unset && s.status != .ok, "\(s.kind) \(s.name) code \(c): \(s.status)")
            } else {
                #expect(s.status == .unset, "\(s.kind) \(s.name) code \(c): \(s.status)")
            }
            // Every Call slept as asked (the relayed one too) and its spans, server and client, hold the sleep.
            if s.name == call, c != 4 {
                let ms = UInt64(Self.sleepMs(c))
                #expect(s.durationNanos >= ms * 1_000_000, "\(s.kind) \(s.name) code \(c) lasted \(s.durationNanos) ns < \(ms) ms")
            }
        }
        // The caller's traceparent makes its server span a child of the caller's span.
        let joined = servers.filter { $0.traceID.hex == Self.traceID }
        #expect(joined.count == 1, "server spans in the caller's trace: \(joined.count)")
        #expect(joined.first?.parentSpanID?.hex == Self.callerSpan)
        #expect(joined.first?.name == call)
        // The Call the server made while serving Relay is that Relay span's child, and serves the inner Call.
        if let outer = servers.first(where: { $0.name == relay && code($0) == 14 }), let inner = relayClients.first(where: { code($0) == 14 }) {
            #expect(inner.traceID == outer.traceID && inner.parentSpanID == outer.spanID)
            #expect(outer.startTimeUnixNano < inner.startTimeUnixNano && inner.endTimeUnixNano < outer.endTimeUnixNano)
            #expect(inner.name == call && inner.attribute("go.goroutine.id") == outer.attribute("go.goroutine.id"))
        }
        // Made on a goroutine the handler started: its child on Go >= 1.21 (g.parentGoid); on older Go the
        // creator is not in the g and only the handler's own goroutine is followed, so it starts a trace.
        if let outer = servers.first(where: { $0.name == relay && code($0) == 0 }), let inner = relayClients.first(where: { code($0) == 0 }) {
            #expect(inner.name == call && inner.attribute("go.goroutine.id") != outer.attribute("go.goroutine.id"))
            if go == "go19" {
                #expect(inner.parentSpanID == nil && inner.traceID != outer.traceID)
            } else {
                #expect(inner.traceID == outer.traceID && inner.parentSpanID == outer.spanID)
                #expect(outer.startTimeUnixNano < inner.startTimeUnixNano && inner.endTimeUnixNano < outer.endTimeUnixNano)
            }
        }
        // Every served call is the child of the traced call that sent it (the client process's, or
        // the server's own relayed ones), in that call's trace, inside its time: the caller's traceparent
        // wins where there is one; an UNIMPLEMENTED answer may be written before the client's first
        // SendMsg names the stream, so it may or may not join. Relay's children start before it ends:
        // its client is found then (a context record), so the relayed calls join the client's trace too.
        let clientsByID = Dictionary(uniqueKeysWithValues: (clients + relayClients).map { ($0.spanID, $0) })
        var joinedCount = 0
        for s in servers where s.traceID.hex != Self.traceID {
            guard let c = s.parentSpanID.flatMap({ clientsByID[$0] }) else {
                #expect(s.name == "uptrace.test.Echo/Nope", "\(s.name) code \(code(s) ?? -1): no traced client as parent")
                continue
            }
            joinedCount += 1
            #expect(c.traceID == s.traceID && c.name == s.name)
            if code(c) == code(s) {
                #expect(c.startTimeUnixNano < s.startTimeUnixNano && s.endTimeUnixNano < c.endTimeUnixNano, "\(s.name): client span does not hold the server's")
            }
        }
        #expect(joinedCount >= servers.count - 2, "\(joinedCount) of \(servers.count) served calls joined their client")
        let clientRelay = clients.first { $0.name == relay && code($0) == 14 }, relayed = relayClients.first { code($0) == 14 }
        #expect(clientRelay != nil && clientRelay?.traceID == relayed?.traceID, "the relayed call in the client's trace")
        print("grpc join [\(build)]: \(joinedCount) of \(servers.count) served calls are children of their traced client")

        // Streams last from start to status: each sent its messages first.
        for s in servers.filter({ $0.name == stream }) { #expect(s.durationNanos > 0) }

        // Hits per RPC, per probe (bpf_enable_stats run counts).
        func runs(_ programs: [BPFProgramInfo], _ name: String) -> UInt64 { programs.first { $0.name == name }?.runCount ?? 0 }
        let n = UInt64(serverRPCs), m = UInt64(clientRPCs)
        let headers = runs(serverPrograms, "grpc_server_headers"), begin = runs(serverPrograms, "grpc_server_begin")
        let status = runs(serverPrograms, "grpc_server_status")
        let cBegin = runs(clientPrograms, "grpc_client_begin"), cStream = runs(clientPrograms, "grpc_client_stream")
        let cEnd = runs(clientPrograms, "grpc_client_end"), cSend = runs(clientPrograms, "grpc_client_send")
        // Go 1.19 probes the stack-check jbe: once more when the goroutine's stack grows there.
        let slack: UInt64 = go == "go19" ? 2 : 1
        #expect((n...slack * n).contains(headers), "operateHeaders \(headers) for \(n) RPCs")
        #expect((n...slack * n).contains(begin), "handleStream \(begin) for \(n) RPCs")
        #expect((n...slack * n).contains(status), "WriteStatus \(status) for \(n) RPCs")
        #expect((m...slack * m).contains(cBegin), "newClientStream \(cBegin) for \(m) RPCs")
        #expect((m...slack * m).contains(cStream), "newAttemptLocked \(cStream) for \(m) RPCs")
        #expect((m...slack * m).contains(cSend), "SendMsg \(cSend) for \(m) RPCs")
        // finish: once per unary call, twice per stream (its context watcher calls it again).
        #expect((m + 10...slack * (m + 10)).contains(cEnd), "finish \(cEnd) for \(m) RPCs (10 streams)")
        func f(_ x: UInt64, _ d: UInt64) -> String { String(format: "%.2f", Double(x) / Double(d)) }
        let all = serverPrograms + clientPrograms
        let bpfNs = all.reduce(0) { $0 + $1.runTimeNs } / max(1, all.reduce(0) { $0 + $1.runCount })
        print("""
            grpc hits [\(build)] per served RPC (\(n)): operateHeaders \(f(headers, n)), handleStream \(f(begin, n)), \
            WriteStatus \(f(status, n)); per RPC made (\(m)): newClientStream \(f(cBegin, m)), \
            newAttemptLocked \(f(cStream, m)), SendMsg \(f(cSend, m)), finish \(f(cEnd, m)); BPF \(bpfNs) ns/hit \
            (\(all.map { "\($0.name) \($0.runTimeNs / max(1, $0.runCount))" }.joined(separator: ", "))); instructions: \
            \(Set((serverPlan.placed + clientPlan.placed).map { "\($0.function.split(separator: ".").last ?? ""): \($0.instruction.map { "\($0)" } ?? "?")" }).sorted().joined(separator: "; "))
            """)
    }

    /// GOPATH-mode builds (as a Debian package builds them): no module versions in
    /// .go.buildinfo. With DWARF the family works; stripped, it says it cannot know the layout.
    @Test("BPF root: GOPATH builds: DWARF works, stripped is one clear error")
    func gopathBuilds() throws {
        guard S.canRun() else { return }
        let stripped = S.fixture(go: "go19", variant: "gopath-stripped", "server")
        #expect { try GoGRPCPlan.forExecutable(stripped) } throws: { e in
            let text = "\(e)"
            return e is GoGRPCError && text.contains("GOPATH") && text.contains("hint:") && !text.contains("\n")
        }
        let server = try GoHTTPTestSupport.Server(binary: S.fixture(go: "go19", variant: "gopath-normal", "server"))
        let plan = try GoGRPCPlan.forProcess(server.pid)
        #expect(plan.grpcVersion == nil)
        #expect(plan.offsetSources.values.allSatisfy { $0.hasPrefix("DWARF") })
        let probes = try TestProbes(plan.familyPlan)
        let sink = RecordSink()
        let reader = try probes.reader(sink.handler)
        reader.start()
        let client = try S.Client(binary: S.fixture(go: "go19", variant: "normal", "client"), server: server.address)
        #expect(client.send("call 13 0") == "code 13")
        #expect(client.send("stream 2 0") == "code 0 got 2")
        sink.wait(forKind: UInt32(UT_EVENT_GO_GRPC_SERVER.rawValue), count: 2)
        usleep(100_000)
        reader.stop()
        probes.detach()
        let spans = sink.spans()
        #expect(spans.map(\.name).sorted() == ["uptrace.test.Echo/Call", "uptrace.test.Echo/Stream"])
        #expect(spans.first { $0.name.hasSuffix("Call") }?.attribute("rpc.grpc.status_code") == .int(13))
        #expect(spans.first { $0.name.hasSuffix("Stream") }?.attribute("rpc.grpc.status_code") == .int(0))
    }

    /// A CLIENT span lies inside the client's own measurement around Invoke, and close to it.
    @Test("BPF root: gRPC CLIENT span duration against the caller's own timing", arguments: ["go19/normal", "go27/stripped"])
    func clientTiming(_ build: String) throws {
        guard S.canRun() else { return }
        let (go, variant) = (String(build.split(separator: "/")[0]), String(build.split(separator: "/")[1]))
        let server = try GoHTTPTestSupport.Server(binary: S.fixture(go: go, variant: variant, "server"))
        let client = try S.Client(binary: S.fixture(go: go, variant: variant, "client"), server: server.address)
        let probes = try TestProbes(try GoGRPCPlan.forProcess(client.pid).familyPlan)
        let sink = RecordSink()
        let reader = try probes.reader(sink.handler)
        reader.start()
        var own: [UInt64] = []
        for i in 0..<60 {
            let code = Self.codes[i % Self.codes.count]
            let answer = client.send("timed call \(code) \(i % 4)").split(separator: " ")
            #expect(answer.count == 4 && answer[1] == "\(code)", "\(answer)")
            own.append(UInt64(answer.last ?? "") ?? 0)
        }
        sink.wait(forKind: UInt32(UT_EVENT_GO_GRPC_CLIENT.rawValue), count: own.count)
        reader.stop()
        probes.detach()
        let spans = sink.spans()
        try #require(spans.count == own.count, "\(spans.count) spans for \(own.count) calls")
        // In call order (one call at a time): the span is inside the caller's interval.
        let ordered = spans.sorted { $0.startTimeUnixNano < $1.startTimeUnixNano }
        var gaps: [UInt64] = []
        for (span, measured) in zip(ordered, own) {
            #expect(span.durationNanos <= measured, "span \(span.durationNanos) ns > the caller's \(measured) ns")
            gaps.append(measured > span.durationNanos ? measured - span.durationNanos : 0)
        }
        gaps.sort()
        let p50 = gaps[gaps.count / 2], p90 = gaps[gaps.count * 9 / 10]
        print("grpc client timing [\(build)]: caller's own − span over \(gaps.count) calls: p50 \(p50 / 1000) us, p90 \(p90 / 1000) us, max \(gaps.last! / 1000) us")
        // Generous: what runs outside the span (Invoke's own work before newClientStream, after finish) is microseconds.
        #expect(p50 < 500_000, "p50 \(p50) ns")
    }
}
