import Foundation
import Testing

/// `uprobe-trace` on the gRPC fixtures end to end, as root: auto-detection
/// picks go-grpc for a grpc-go server, `--go-grpc` on a program without grpc-go
/// is one error line, and the exported spans carry the RPC conventions.
@Suite(.serialized) struct GoGRPCTraceTests {
    static func fixture(_ go: String, _ variant: String, _ prog: String) -> String {
        Repo.bin.appendingPathComponent("grpc/\(go)/\(variant)/grpc-\(prog)").path
    }

    /// Builds the gRPC fixtures when missing; false (and an issue under CI) if it cannot.
    func requireGRPCFixtures() -> Bool {
        let needed = ["server", "client"].map { Self.fixture("go27", "stripped", $0) }
        if !needed.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) {
            _ = try? run("/bin/bash", [Repo.testdata.appendingPathComponent("grpc-build.sh").path])
        }
        return require(needed.allSatisfy { FileManager.default.fileExists(atPath: $0) }, "testdata/grpc-build.sh did not build the gRPC fixtures")
    }

    @Test func autoDetectedOnAStrippedServer() throws {
        guard requireFixtures(), requireRoot(), requireGRPCFixtures() else { return }
        let server = try Background(Self.fixture("go27", "stripped", "server"), [])
        defer { server.process.terminate() }
        let address = String(try #require(server.stdout.next()).dropFirst("listening ".count))
        let json = FileManager.default.temporaryDirectory.appendingPathComponent("grpc-trace-\(getpid()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: json) }

        let tracer = try Background(Repo.tool, ["--pid", String(server.process.processIdentifier), "--otlp-json", json, "--quiet"])
        tracer.watchdog(seconds: 90)
        let attached = tracer.waitForStderr("attached")
        #expect(attached.contains("go-grpc applies"), "\(attached)")
        #expect(attached.contains("grpc-go v1.33.3"), "\(attached)")
        // The client is not traced: only the server's spans are exported.
        let commands = "call 13 0\ncall 5 1\nstream 3 0\ncall 0 0 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\n"
        let r = try run(Self.fixture("go27", "stripped", "client"), ["-addr", address], stdin: commands)
        #expect(r.stdout == "ready\ncode 13\ncode 5\ncode 0 got 3\ncode 0\n", "\(r.stdout) \(r.stderr)")
        usleep(300_000)
        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0, "\(stderr)")
        #expect(stderr.contains("events lost in the kernel: ") && stderr.contains("go_grpc 0"), "\(stderr)")
        let all = try spans(inJSONLines: json).filter { attributes($0)["rpc.system"] == "grpc" }
        #expect(all.count == 4, "\(all)")
        let byCode = Dictionary(grouping: all) { attributes($0)["rpc.grpc.status_code"] ?? "?" }
        #expect(byCode["13"]?.first?["name"] as? String == "uptrace.test.Echo/Call")
        #expect((byCode["13"]?.first?["status"] as? [String: Any])?["code"] as? Int == 2) // STATUS_CODE_ERROR
        #expect(((byCode["5"]?.first?["status"] as? [String: Any])?["code"] as? Int ?? 0) == 0) // NOT_FOUND: not the server's fault
        #expect(all.filter { $0["name"] as? String == "uptrace.test.Echo/Stream" }.count == 1)
        let joined = all.filter { ($0["traceId"] as? String) == "0af7651916cd43dd8448eb211c80319c" }
        #expect(joined.count == 1 && joined.first?["parentSpanId"] as? String == "b7ad6b7169203331", "\(joined)")
        for s in all {
            #expect(s["kind"] as? Int == 2)
            let a = attributes(s)
            #expect(a["rpc.service"] == "uptrace.test.Echo" && a["rpc.method"] != nil)
        }
    }

    @Test func goGRPCFlagOnAnHTTPOnlyProgramIsOneLine() throws {
        guard requireFixtures(), requireRoot() else { return }
        let r = try tool("--exe", Repo.fixture("go-server"), "--go-grpc")
        #expect(r.status != 0)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1 && r.stderr.contains("no google.golang.org/grpc") && r.stderr.contains("hint:"), "\(r.stderr)")
    }

    /// `symbols dump` lists the sites --go-grpc attaches, with their instruction classes.
    @Test func symbolsDumpShowsTheGRPCSites() throws {
        guard requireFixtures(), requireGRPCFixtures() else { return }
        for (go, insn) in [("go19", "jbe"), ("go27", "push")] {
            let r = try tool("symbols", "dump", Self.fixture(go, "stripped", "server"))
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("go-grpc probes (7, 0 single-stepped):"), "\(r.stdout)")
            let lines = r.stdout.split(separator: "\n").filter { $0.hasPrefix("  grpc_") }
            #expect(lines.count == 7 && lines.allSatisfy { $0.contains(insn) && $0.contains("[emulated]") }, "\(lines)")
        }
        let http = try tool("symbols", "dump", Repo.fixture("go-server"))
        #expect(http.status == 0 && !http.stdout.contains("go-grpc"), "\(http.stdout)")
    }

    /// `--exe PATH --go-grpc`: the file's probes fire in a process started after the tool.
    @Test func exeModeTracesAProcessStartedLater() throws {
        guard requireFixtures(), requireRoot(), requireGRPCFixtures() else { return }
        // A private copy: uprobes belong to the file, so other suites' servers stay out of it.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grpc-exe-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let binary = dir.appendingPathComponent("grpc-server").path
        try FileManager.default.copyItem(atPath: Self.fixture("go19", "stripped", "server"), toPath: binary)
        let json = dir.appendingPathComponent("spans.jsonl").path

        let tracer = try Background(Repo.tool, ["--exe", binary, "--go-grpc", "--otlp-json", json, "--quiet"])
        tracer.watchdog(seconds: 90)
        let attached = tracer.waitForStderr("attached")
        #expect(attached.contains("attached 7 probes to \(binary) (go1.19"), "\(attached)")
        let server = try Background(binary, [])
        defer { server.process.terminate() }
        let address = String(try #require(server.stdout.next()).dropFirst("listening ".count))
        let r = try run(Self.fixture("go19", "normal", "client"), ["-addr", address], stdin: "call 14 0\nrelay 5 0 \(address)\n")
        #expect(r.stdout == "ready\ncode 14\ncode 5\n", "\(r.stdout) \(r.stderr)")
        usleep(300_000)
        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0, "\(stderr)")
        let all = try spans(inJSONLines: json)
        // Server: Call (14), Relay (5), the relayed Call (5); client: the relayed Call, a child of Relay.
        let names = all.map { "\($0["kind"] as? Int ?? 0) \($0["name"] as? String ?? "") \(attributes($0)["rpc.grpc.status_code"] ?? "")" }.sorted()
        #expect(names == ["2 uptrace.test.Echo/Call 14", "2 uptrace.test.Echo/Call 5", "2 uptrace.test.Echo/Relay 5", "3 uptrace.test.Echo/Call 5"], "\(names)")
        let relay = all.first { $0["name"] as? String == "uptrace.test.Echo/Relay" }
        let inner = all.first { $0["kind"] as? Int == 3 }
        #expect(inner?["parentSpanId"] as? String == relay?["spanId"] as? String && inner?["traceId"] as? String == relay?["traceId"] as? String)
    }

    /// `--pid SERVER,CLIENT --go-grpc`: the client process's CLIENT span is the parent of the
    /// server process's SERVER span, one trace across the two processes.
    @Test func clientAndServerProcessesJoinIntoOneTrace() throws {
        guard requireFixtures(), requireRoot(), requireGRPCFixtures() else { return }
        let server = try Background(Self.fixture("go27", "normal", "server"), [])
        defer { server.process.terminate() }
        let address = String(try #require(server.stdout.next()).dropFirst("listening ".count))
        // The client waits on stdin, so that the tool attaches before it calls.
        let client = Process()
        client.executableURL = URL(fileURLWithPath: Self.fixture("go27", "stripped", "client"))
        client.arguments = ["-addr", address]
        let input = Pipe(), output = Pipe()
        client.standardInput = input
        client.standardOutput = output
        client.standardError = FileHandle.nullDevice
        try client.run()
        defer { kill(client.processIdentifier, SIGKILL); client.waitUntilExit() }
        let lines = LineReader(output.fileHandleForReading)
        #expect(lines.next() == "ready")
        let json = FileManager.default.temporaryDirectory.appendingPathComponent("grpc-join-\(getpid()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: json) }

        let tracer = try Background(Repo.tool, ["--pid", "\(server.process.processIdentifier),\(client.processIdentifier)", "--go-grpc",
                                                "--otlp-json", json, "--quiet"])
        tracer.watchdog(seconds: 90)
        _ = tracer.waitForStderr("attached")
        let attached = tracer.waitForStderr("attached")
        #expect(attached.components(separatedBy: "uprobe-trace: attached").count - 1 == 2, "\(attached)")
        for command in ["call 14 1", "stream 2 0", "relay 5 0 \(address)"] {
            input.fileHandleForWriting.write(Data((command + "\n").utf8))
            _ = lines.next()
        }
        usleep(300_000)
        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0, "\(stderr)")
        let all = try spans(inJSONLines: json)
        let byID = Dictionary(all.map { ($0["spanId"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a })
        let servers = all.filter { $0["kind"] as? Int == 2 }
        // Call, Stream, Relay and the relayed Call, each the child of the CLIENT span that sent it.
        #expect(servers.count == 4 && all.count == 8, "\(all.map { $0["name"] ?? "" })")
        for s in servers {
            let parent = (s["parentSpanId"] as? String).flatMap { byID[$0] }
            #expect(parent?["kind"] as? Int == 3 && parent?["name"] as? String == s["name"] as? String, "\(s["name"] ?? "")")
            #expect(parent?["traceId"] as? String == s["traceId"] as? String)
        }
    }
}
