import Foundation
import Testing

/// Paths and process helpers shared by the CLI tests.
enum Repo {
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let testdata = root.appendingPathComponent("testdata")
    static let bin = testdata.appendingPathComponent("bin")

    /// The `uprobe-trace` executable next to the test bundle (same build).
    static var tool: String {
        if let env = ProcessInfo.processInfo.environment["UPROBE_TRACE_BIN"] { return env }
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return exe.deletingLastPathComponent().appendingPathComponent("uprobe-trace").path
    }

    static func fixture(_ name: String) -> String { bin.appendingPathComponent(name).path }
}

struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
    var stderrLines: [Substring] { stderr.split(separator: "\n") }
}

/// Runs a program to completion and captures its output.
@discardableResult
func run(_ exe: String, _ args: [String], stdin: String? = nil) throws -> RunResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    let input = Pipe()
    p.standardInput = input
    try p.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try? input.fileHandleForWriting.close()
    // Read both pipes concurrently so a full pipe cannot stall the child.
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    p.waitUntilExit()
    return RunResult(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                     stderr: String(decoding: errData, as: UTF8.self))
}

func tool(_ args: String...) throws -> RunResult { try run(Repo.tool, args) }

/// Builds the testdata fixtures once per test process.
let fixturesBuilt: Bool = {
    guard let r = try? run("/bin/bash", [Repo.testdata.appendingPathComponent("build.sh").path]) else { return false }
    if r.status != 0 { print("testdata/build.sh failed: \(r.stderr)") }
    return r.status == 0
}()

var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

/// True when a requirement holds. Otherwise: a test failure in CI, a printed skip elsewhere.
func require(_ ok: Bool, _ reason: String, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    if ok { return true }
    if isCI {
        Issue.record("required in CI: \(reason)", sourceLocation: sourceLocation)
    } else {
        print("SKIP: \(reason)")
    }
    return false
}

func requireFixtures(sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    require(fixturesBuilt, "testdata fixtures could not be built (run scripts/setup.sh)", sourceLocation: sourceLocation)
}

func requireRoot(sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    require(getuid() == 0, "needs root (uprobes, other users' processes)", sourceLocation: sourceLocation)
}

/// Parses a JSON document into plain Foundation values.
func json(_ text: String) throws -> [String: Any] {
    let obj = try JSONSerialization.jsonObject(with: Data(text.utf8))
    guard let dict = obj as? [String: Any] else { throw CocoaError(.propertyListReadCorrupt) }
    return dict
}

/// Tests/harness/otlp_receiver.py writing what it receives into `dir`, with
/// `options` (see the script); the receiver and the port it listens on.
func otlpReceiver(_ dir: URL, _ options: [String] = []) throws -> (Background, String) {
    let r = try Background("/usr/bin/env", ["python3", Repo.root.appendingPathComponent("Tests/harness/otlp_receiver.py").path, dir.path] + options)
    let port = String(try #require(r.stdout.next()).dropFirst("listening ".count))
    return (r, port)
}

/// A background process whose stderr lines we can wait for.
final class Background {
    let process = Process()
    let stdout: LineReader
    let stderrPipe = Pipe()
    private var stderrText = ""
    /// One reader for the whole run: a line read ahead is kept for the next wait.
    private lazy var stderrReader = LineReader(stderrPipe.fileHandleForReading)

    init(_ exe: String, _ args: [String], environment: [String: String]? = nil) throws {
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = args
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = stderrPipe
        try process.run()
        stdout = LineReader(out.fileHandleForReading)
    }

    /// Reads stderr until a line containing `text` (or EOF); returns everything read.
    func waitForStderr(_ text: String) -> String {
        while let line = stderrReader.next() {
            stderrText += line + "\n"
            if line.contains(text) { break }
        }
        return stderrText
    }

    func interruptAndWait() -> (status: Int32, stderr: String) { signalAndWait(SIGINT) }

    /// Sends `sig` if the process still runs, then waits for its exit; returns its status and whole stderr.
    func signalAndWait(_ sig: Int32) -> (status: Int32, stderr: String) {
        if process.isRunning { kill(process.processIdentifier, sig) }
        while let line = stderrReader.next() { stderrText += line + "\n" }
        process.waitUntilExit()
        return (process.terminationStatus, stderrText)
    }

    /// Waits for the process to exit by itself; returns its status and whole stderr.
    func waitForExit() -> (status: Int32, stderr: String) { signalAndWait(0) }

    /// Kills the process (SIGKILL) if it still runs after `seconds`: a hung run fails its test instead of the whole suite.
    func watchdog(seconds: Double) {
        let p = process
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
    }

    deinit { if process.isRunning { process.terminate() } }
}


/// Spans of an OTLP JSON lines file, flattened: (span object, resource attributes).
func spans(inJSONLines path: String) throws -> [[String: Any]] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    var out: [[String: Any]] = []
    for line in text.split(separator: "\n") {
        let doc = try json(String(line))
        for rs in doc["resourceSpans"] as? [[String: Any]] ?? [] {
            for ss in rs["scopeSpans"] as? [[String: Any]] ?? [] {
                for s in ss["spans"] as? [[String: Any]] ?? [] {
                    var s = s
                    s["_resource"] = rs["resource"]
                    out.append(s)
                }
            }
        }
    }
    return out
}

func attributes(_ span: [String: Any]) -> [String: String] {
    var out: [String: String] = [:]
    for kv in span["attributes"] as? [[String: Any]] ?? [] {
        guard let k = kv["key"] as? String, let v = kv["value"] as? [String: Any], let first = v.values.first else { continue }
        out[k] = "\(first)"
    }
    return out
}

