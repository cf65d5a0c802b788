import Foundation
import Testing

/// The testdata Go server built by the newest Go toolchain unpacked in
/// /var/cache/uprobe-trace/go/VERSION/go (scripts/setup.sh), into a temporary
/// directory, once per test run. Absent toolchain: an issue under CI=true,
/// a printed skip otherwise.
enum NewestGo {
    static let root = "/var/cache/uprobe-trace/go"
    nonisolated(unsafe) private static var built: (version: String, server: String)??
    private static let lock = NSLock()

    /// (Go version such as "1.27.3", path of go-server), or nil after saying why.
    static func server() -> (version: String, server: String)? {
        lock.lock()
        defer { lock.unlock() }
        if let built { return built }
        let result = build()
        built = .some(result)
        return result
    }

    /// Installed toolchain versions, newest first.
    static var versions: [String] {
        let dirs = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return dirs.filter { FileManager.default.isExecutableFile(atPath: "\(root)/\($0)/go/bin/go") }
            .sorted { $0.split(separator: ".").compactMap { Int($0) }.lexicographicallyPrecedes($1.split(separator: ".").compactMap { Int($0) }) }
            .reversed()
    }

    private static func skip(_ why: String) -> (String, String)? {
        if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record(Comment(rawValue: why)) } else { print("skipping: \(why)") }
        return nil
    }

    private static func build() -> (version: String, server: String)? {
        guard let version = versions.first else { return skip("no Go toolchain in \(root) (scripts/setup.sh installs them)") }
        let goroot = "\(root)/\(version)/go"
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("uprobe-trace-newest-go\(version)-\(getpid())").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: goroot + "/bin/go")
        p.arguments = ["build", "-o", out + "/go-server", "./server"]
        p.currentDirectoryURL = Repo.root.appendingPathComponent("testdata/go")
        var env = ProcessInfo.processInfo.environment
        env["GOROOT"] = goroot
        env["GOTOOLCHAIN"] = "local"
        env["CGO_ENABLED"] = "0"
        env["GOCACHE"] = Repo.root.appendingPathComponent("testdata/bin/.gocache-\(version)").path
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
            Issue.record("go build ./server with Go \(version) failed: \(text)")
            return nil
        }
        return (version, out + "/go-server")
    }
}
