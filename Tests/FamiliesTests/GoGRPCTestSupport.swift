@testable import Families
import Attach
import Foundation
import Synchronization
import Testing
import Tracing

/// The gRPC fixtures (testdata/grpc-build.sh) and a driver for the client.
enum GoGRPCTestSupport {
    /// `bin/grpc/go<MINOR>/<VARIANT>/grpc-<PROG>`.
    static func fixture(go: String, variant: String, _ prog: String) -> String {
        GoHTTPTestSupport.fixture("grpc/\(go)/\(variant)/grpc-\(prog)")
    }

    /// Every (Go, variant) the tests run: Debian's Go 1.19 and the newest toolchain, with and without DWARF.
    static let builds: [(go: String, variant: String)] = [("go19", "normal"), ("go19", "stripped"), ("go27", "normal"), ("go27", "stripped")]
    /// GOPATH-mode builds (server only, Go 1.19): no module versions in the build info.
    static let gopathServers = ["gopath-normal", "gopath-stripped"].map { fixture(go: "go19", variant: $0, "server") }

    static let fixturesUnavailable: String? = {
        let all = builds.flatMap { b in ["server", "client"].map { fixture(go: b.go, variant: b.variant, $0) } } + gopathServers
        if all.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) { return nil }
        let (status, out) = GoHTTPTestSupport.run("/bin/bash", [GoHTTPTestSupport.testdata.appendingPathComponent("grpc-build.sh").path])
        if status != 0 { return "testdata/grpc-build.sh failed (\(status)): \(out)" }
        let missing = all.filter { !FileManager.default.fileExists(atPath: $0) }
        return missing.isEmpty ? nil : "testdata/grpc-build.sh did not produce \(missing)"
    }()

    /// Root and the fixtures; otherwise fails under CI=true, prints why elsewhere.
    static func canRun(needsRoot: Bool = true) -> Bool {
        var why: String?
        if needsRoot && geteuid() != 0 {
            why = "not root (BPF tests need CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN)"
        } else if let missing = fixturesUnavailable {
            why = "gRPC fixtures unavailable: \(missing)"
        }
        guard let why else { return true }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            Issue.record("gRPC test cannot run: \(why)")
        } else {
            print("skipping gRPC test: \(why)")
        }
        return false
    }

    /// The fixture client: one command per line in, one answer line out (see client/main.go).
    final class Client {
        let process = Process()
        private let input = Pipe()
        private let output = Pipe()
        var pid: Int32 { process.processIdentifier }

        init(binary: String, server: String) throws {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["-addr", server]
            process.standardInput = input
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            let first = readLine()
            guard first == "ready" else {
                throw GoHTTPTestSupport.FixtureError(message: "\(binary) printed \(first.debugDescription), not `ready`")
            }
        }

        private func readLine() -> String {
            var line = Data()
            while true {
                let byte = output.fileHandleForReading.readData(ofLength: 1)
                if byte.isEmpty || byte.first == 10 { break }
                line.append(byte)
            }
            return String(decoding: line, as: UTF8.self)
        }

        /// Sends one command and returns the client's answer line.
        func send(_ command: String) -> String {
            input.fileHandleForWriting.write(Data((command + "\n").utf8))
            return readLine()
        }

        deinit {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Raw ring-buffer records, in arrival order.
final class RecordSink: Sendable {
    private let records = Mutex<[[UInt8]]>([])
    var handler: RingBufferReader.Handler { { [self] bytes in records.withLock { $0.append(bytes) } } }
    var all: [[UInt8]] { records.withLock { $0 } }

    /// Waits until `count` records of `kind` arrived or `seconds` passed.
    func wait(forKind kind: UInt32, count: Int, seconds: Double = 10) {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if all.filter({ $0.count >= 4 && $0.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } == kind }).count >= count { return }
            usleep(10_000)
        }
    }

    /// The records through the family's own decoder, as `trace` turns them into spans.
    func spans() -> [Span] {
        var decoder = GoGRPCFamily.makeDecoder(DecoderSetup(clock: BootClock(), sampler: .always, options: TraceOptions(),
                                                            resource: { pid in Resource(attributes: [.int("process.pid", Int64(pid))]) }))
        var spans: [Span] = []
        for r in all {
            let kind = r.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            let out = r.withUnsafeBytes { decoder.consume($0, kind: kind, threadParent: nil) }
            #expect(out != nil, "a record of kind \(kind) did not decode")
            spans += out ?? []
        }
        return spans
    }
}
