import Foundation
import Testing

/// The Go fixture matrix for CLI and end-to-end tests: the server and client built by
/// every toolchain of scripts/go-toolchains.sh, at
/// `testdata/bin/go<MINOR>/<VARIANT>/go-<PROGRAM>` (testdata/go-matrix.sh).
///
///     for t in GoMatrixFixtures.toolchains {
///         for variant in t.variants {
///             guard let server = GoMatrixFixtures.require(t.minor, variant) else { continue }
///             ...
///         }
///     }
enum GoMatrixFixtures {
    struct Toolchain: Sendable, CustomTestStringConvertible {
        /// `1.19`, `1.27`.
        let minor: String
        /// `normal`, `stripped`, `cgo-stripped`; `pie` for the oldest and newest;
        /// `cgo-pie-stripped` for the newest.
        let variants: [String]
        var testDescription: String { "go\(minor)" }
    }

    /// Debian's Go 1.19, then the versions pinned in scripts/go-toolchains.sh, oldest first.
    static let toolchains: [Toolchain] = {
        let script = Repo.root.appendingPathComponent("scripts/go-toolchains.sh").path
        let text = (try? String(contentsOfFile: script, encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix("pinned=(") } ?? ""
        let pinned = line.dropFirst("pinned=(".count).prefix { $0 != ")" }.split(separator: " ")
        let minors = ["1.19"] + pinned.map { $0.split(separator: ".").prefix(2).joined(separator: ".") }
        return minors.map { m in
            var v = ["normal", "stripped", "cgo-stripped"]
            if m == minors.first || m == minors.last { v.append("pie") }
            if m == minors.last { v.append("cgo-pie-stripped") }
            return Toolchain(minor: m, variants: v)
        }
    }()

    /// The oldest, a middle and the newest toolchain.
    static var representative: [Toolchain] {
        [toolchains.first, toolchains[toolchains.count / 2], toolchains.last].compactMap { $0 }
    }

    /// `go1.27/normal/go-server`, `go1.27/stripped/go-server`, `go1.27/pie/go-server`
    /// (paths under testdata/bin) for the newest toolchain.
    static var newestServers: [String] {
        guard let t = toolchains.last else { return [] }
        return ["normal", "stripped", "pie"].map { "go\(t.minor)/\($0)/go-server" }
    }

    /// Whether the matrix fixture at `fixturePath` (under testdata/bin) exists; a failure under
    /// CI=true, a printed skip otherwise.
    static func require(fixturePath: String, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        CLITests.require(FileManager.default.fileExists(atPath: Repo.fixture(fixturePath)),
                         "\(Repo.fixture(fixturePath)) not built; hint: bash scripts/setup.sh (fetches the Go toolchains), then bash testdata/build.sh",
                         sourceLocation: sourceLocation)
    }

    static func path(_ minor: String, _ variant: String, _ program: String = "server") -> String {
        Repo.bin.appendingPathComponent("go\(minor)/\(variant)/go-\(program)").path
    }

    /// The fixture's path, or nil after a failure under CI=true (a skip elsewhere) when it
    /// could not be built: its toolchain is missing or the build failed.
    static func require(_ minor: String, _ variant: String, _ program: String = "server",
                        sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        let p = path(minor, variant, program)
        guard requireFixtures(sourceLocation: sourceLocation),
              CLITests.require(installedMinors.contains(minor),
                               "the Go \(minor) toolchain is not installed (scripts/go-toolchains.sh --list does not list it), so \(p) is not built; hint: bash scripts/setup.sh fetches it",
                               sourceLocation: sourceLocation),
              CLITests.require(FileManager.default.fileExists(atPath: p),
                               "\(p) not built; hint: bash testdata/build.sh (see its output)",
                               sourceLocation: sourceLocation)
        else { return nil }
        return p
    }

    /// The minors `scripts/go-toolchains.sh --list` names (toolchains present on this machine).
    static let installedMinors: Set<String> = {
        let r = try? run("/bin/bash", [Repo.root.appendingPathComponent("scripts/go-toolchains.sh").path, "--list"])
        return Set((r?.stdout ?? "").split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
    }()
}
