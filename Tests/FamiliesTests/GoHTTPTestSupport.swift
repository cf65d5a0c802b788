@testable import Families
import Attach
import Foundation
import GoRuntime
import Symbols
import Synchronization
import Testing
import TraceEvents

/// Fixtures, processes and decoding shared by the root BPF tests.
enum GoHTTPTestSupport {
    static let testdata: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("testdata")

    static func fixture(_ name: String) -> String { testdata.appendingPathComponent("bin/\(name)").path }

    static let fixtureNames = ["go-server", "go-server-stripped", "go-server-pie", "go-client"]

    /// Builds the fixtures once; nil when they are there, else why not.
    static let fixturesUnavailable: String? = {
        if fixtureNames.allSatisfy({ FileManager.default.fileExists(atPath: fixture($0)) }) { return nil }
        let (status, out) = run("/bin/bash", [testdata.appendingPathComponent("build.sh").path])
        if status != 0 { return "testdata/build.sh failed (\(status)): \(out)" }
        let missing = fixtureNames.filter { !FileManager.default.fileExists(atPath: fixture($0)) }
        return missing.isEmpty ? nil : "testdata/build.sh did not produce \(missing)"
    }()

    /// Whether a root BPF test can run here: root, fixtures, curl. If not, it
    /// records an issue under CI=true (the test fails) and prints why otherwise.
    static func canRunRootBPF() -> Bool {
        var why: String?
        if geteuid() != 0 {
            why = "not root (BPF tests need CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN)"
        } else if let missing = fixturesUnavailable {
            why = "Go fixtures unavailable: \(missing)"
        } else if !FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") {
            why = "/usr/bin/curl not found"
        }
        guard let why else { return true }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            Issue.record("root BPF test cannot run: \(why)")
        } else {
            print("skipping root BPF test: \(why)")
        }
        return false
    }

    /// Runs a program to completion: exit status and stdout+stderr.
    @discardableResult
    static func run(_ path: String, _ args: [String]) -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do { try p.run() } catch { return (-1, "\(path): \(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// `curl` returning the HTTP status it saw ("000" when no response).
    @discardableResult
    static func curl(_ url: String, _ extra: [String] = []) -> String {
        run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5"] + extra + [url]).1
    }

    /// A fixture server that prints `listening ADDRESS` as its first line (the
    /// Go servers print host:port, the Python HTTPS server a port); killed on deinit.
    final class Server {
        let process = Process()
        let address: String
        var pid: Int32 { process.processIdentifier }

        init(binary: String, arguments: [String] = []) throws {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            var line = Data()
            while true {
                let byte = out.fileHandleForReading.readData(ofLength: 1)
                if byte.isEmpty || byte.first == 10 { break }
                line.append(byte)
            }
            let text = String(decoding: line, as: UTF8.self)
            guard text.hasPrefix("listening ") else {
                process.terminate()
                throw FixtureError(message: "\(binary) \(arguments) printed \(text.debugDescription), not `listening ADDR`")
            }
            address = String(text.dropFirst("listening ".count))
        }

        deinit {
            // SIGKILL: a child of a test thread inherits libdispatch's blocked SIGTERM.
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }

    struct FixtureError: Error, CustomStringConvertible { let message: String; var description: String { message } }

    /// Probe points and struct offsets of a Go binary, from the same planner the CLI uses,
    /// keeping only the server or client programs.
    /// The go-http plan of `path` for `pid` (nil: every process), keeping only the server or client sites.
    static func goHTTPRequest(_ path: String, pid: Int32?, server: Bool, client: Bool) throws -> ProbeRequest {
        var request = try GoHTTPPlan.forExecutable(path).familyPlan.request
        let p = go_http_bpf.progs.self
        let serverPrograms: Set<BPFProgramName> = [p.go_server_entry, p.go_server_finish, p.go_conn_serve_return]
        request.sites = request.sites.filter { serverPrograms.contains($0.program) ? server : client }
        request.pid = pid
        #expect(request.sites.contains { $0.program == p.go_server_finish } == server, "finishRequest entry in \(path)")
        #expect(request.sites.contains { $0.program == p.go_client_return } == client, "roundTrip RETs in \(path)")
        return request
    }
}

/// Events received from the ring buffer, decoded: request events, and the
/// head records (`ut_go_head_event` + bytes) sent at ServeHTTP entry.
final class EventSink: Sendable {
    private let events = Mutex<[ut_go_http_event]>([])
    private let heads = Mutex<[(event: ut_go_head_event, bytes: [UInt8])]>([])
    private let malformed = Mutex<Int>(0)

    /// The handler to give the reader.
    var handler: RingBufferReader.Handler {
        { [self] bytes in
            let headSize = MemoryLayout<ut_go_head_event>.size
            if bytes.count >= headSize,
               bytes.withUnsafeBytes({ $0.loadUnaligned(as: UInt32.self) }) == UInt32(UT_EVENT_GO_HTTP_HEAD.rawValue) {
                let h = bytes.withUnsafeBytes { $0.loadUnaligned(as: ut_go_head_event.self) }
                guard Int(h.captured) == bytes.count - headSize else {
                    malformed.withLock { $0 += 1 }
                    return
                }
                heads.withLock { $0.append((h, Array(bytes[headSize...]))) }
                return
            }
            guard bytes.count == MemoryLayout<ut_go_http_event>.size else {
                malformed.withLock { $0 += 1 }
                return
            }
            let e = bytes.withUnsafeBytes { $0.loadUnaligned(as: ut_go_http_event.self) }
            events.withLock { $0.append(e) }
        }
    }

    var allHeads: [(event: ut_go_head_event, bytes: [UInt8])] { heads.withLock { $0 } }
    var all: [ut_go_http_event] { events.withLock { $0 } }
    var malformedCount: Int { malformed.withLock { $0 } }

    /// Waits until `count` events arrived or `seconds` passed.
    func wait(for count: Int, seconds: Double = 5) -> [ut_go_http_event] {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let now = all
            if now.count >= count { return now }
            usleep(10_000)
        }
        return all
    }
}

extension ut_go_http_event {
    var methodText: String { Self.text(self.method, Int(method_len)) }
    var pathText: String { Self.text(self.path, Int(path_len)) }
    var queryText: String { Self.text(self.query, Int(query_len)) }
    var hostText: String { Self.text(self.host, Int(host_len)) }
    var isServer: Bool { h.kind == UT_EVENT_GO_HTTP_SERVER.rawValue }
    var isClient: Bool { h.kind == UT_EVENT_GO_HTTP_CLIENT.rawValue }
    func has(_ flag: ut_event_flags) -> Bool { h.flags & flag.rawValue != 0 }

    private static func text<T>(_ tuple: T, _ length: Int) -> String {
        withUnsafeBytes(of: tuple) { String(decoding: $0.prefix(length), as: UTF8.self) }
    }
}
