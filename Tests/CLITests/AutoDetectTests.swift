import Foundation
import Testing

/// `uprobe-trace --pid PID` with no family flag: the families that apply to the
/// process are detected and attached, the others skipped with a reason; a
/// process with nothing to trace is one error line. As root, real processes.
@Suite(.serialized) struct AutoDetectTests {
    /// The tool on `pid` with no family flag, spans to a JSON file; stderr up to the attached line.
    func startTool(pid: Int32, json: String) throws -> (Background, String) {
        let tracer = try Background(Repo.tool, ["--pid", String(pid), "--otlp-json", json, "--quiet"])
        tracer.watchdog(seconds: 90)
        return (tracer, tracer.waitForStderr("attached"))
    }

    func temporaryFile(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("autodetect-\(name)-\(getpid()).jsonl").path
    }

    @Test func goServerGetsGoHTTP() throws {
        guard requireFixtures(), requireRoot() else { return }
        // A private copy: uprobes belong to the file, so other suites' servers stay out of it.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("autodetect-bin-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let binary = dir.appendingPathComponent("go-server").path
        try? FileManager.default.removeItem(atPath: binary)
        try FileManager.default.copyItem(atPath: Repo.fixture("go-server"), toPath: binary)
        let server = try Background(binary, [])
        defer { server.process.terminate() }
        let address = String(try #require(server.stdout.next()).dropFirst("listening ".count))
        let json = temporaryFile("go")
        defer { try? FileManager.default.removeItem(atPath: json) }

        let (tracer, attached) = try startTool(pid: server.process.processIdentifier, json: json)
        #expect(attached.contains("go-http applies"), "\(attached)")
        #expect(attached.contains("ssl skipped: ") && attached.contains("mysql skipped: "), "\(attached)")
        #expect(attached.contains("attached") && attached.contains("\(binary), go1."), "\(attached)")
        let r = try run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://\(address)/status?code=404&auto=1"])
        #expect(r.stdout == "404")
        usleep(300_000)
        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0, "\(stderr)")
        let servers = try spans(inJSONLines: json).filter { attributes($0)["url.query"] == "code=404&auto=1" }
        #expect(servers.count == 1, "\(servers)")
        #expect(servers.first.map { attributes($0)["http.response.status_code"] } == "404")
    }

    @Test func pythonHTTPSServerGetsSSL() throws {
        guard requireFixtures(), requireRoot(), require(FileManager.default.isExecutableFile(atPath: "/usr/bin/curl"), "curl missing")
        else { return }
        let server = try LibraryTraceTests.HTTPSServer()
        defer { server.bg.process.terminate() }
        let json = temporaryFile("ssl")
        defer { try? FileManager.default.removeItem(atPath: json) }

        let (tracer, attached) = try startTool(pid: server.pid, json: json)
        #expect(attached.contains("ssl applies"), "\(attached)")
        #expect(attached.contains("go-http skipped: ") && attached.contains("not a Go program"), "\(attached)")
        #expect(attached.contains("libssl.so.3 (pid \(server.pid))"), "\(attached)")
        let targets = (0..<3).map { "https://127.0.0.1:\(server.port)/status?code=503&auto=\($0)" }
        let r = try run("/usr/bin/curl", ["-sk", "-w", "%{http_code}\n"] + targets.flatMap { ["-o", "/dev/null", $0] })
        #expect(r.stdout.split(separator: "\n") == ["503", "503", "503"])
        usleep(300_000)
        let (status, stderr) = tracer.interruptAndWait()
        #expect(status == 0, "\(stderr)")
        let all = try spans(inJSONLines: json)
        let servers = all.filter { attributes($0)["url.query"]?.hasPrefix("code=503&auto=") == true }
        // --pid: only the server is traced (curl maps libssl too, but is not that pid).
        #expect(servers.count == 3, "\(all.map(attributes))")
        #expect(servers.allSatisfy { attributes($0)["http.response.status_code"] == "503" })
    }

    @Test func nothingToTraceIsOneLine() throws {
        guard requireRoot() else { return }
        let sleeper = try Background("/bin/sleep", ["30"])
        defer { sleeper.process.terminate() }
        usleep(100_000)
        let r = try tool("--pid", String(sleeper.process.processIdentifier))
        #expect(r.status == 1)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(r.stderr)")
        #expect(r.stderr.hasPrefix("uprobe-trace: error: pid \(sleeper.process.processIdentifier): nothing to trace"), "\(r.stderr)")
        #expect(r.stderr.contains("not a Go program") && r.stderr.contains("hint:"), "\(r.stderr)")
    }

    /// A misspelt or unknown family flag is named as such, not taken for a missing family.
    @Test func unknownFlagIsNamed() throws {
        let r = try tool("--pid", "1", "--go-kafka")
        #expect(r.status == 2)
        #expect(r.stderr.contains("Unknown option '--go-kafka'"), "\(r.stderr)")
    }
}
