import Foundation
import PackagePlugin

/// Compiles every `*.bpf.c` below the target's folder (one per probe family,
/// beside the Swift that decodes its events) with `clang -target bpf`, and turns
/// each object into a Swift file: the object as a base64 string literal (a
/// `[UInt8]` literal of this size takes the compiler ~50 s; base64 ~1.5 s) and,
/// skeleton-style, one typed constant per program, map and global it defines,
/// so a renamed BPF symbol breaks the Swift build instead of failing at run time.
///
/// Inputs list every header the BPF C can include (`*.bpf.h` of the target,
/// `trace_events.h`), because SwiftPM reruns a command only when a declared
/// input changes. Package.swift excludes these files from the Swift sources.
///
/// A `*.bpf.c` that includes `"vmlinux.h"` (CO-RE programs on kernel functions
/// and tracepoints) gets the kernel's types, generated once into the plugin's
/// work directory from the build host's BTF (`gen-vmlinux.sh`); the others
/// compile exactly as before.
@main
struct BPFCompiler: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let root = context.package.directoryURL
        let targetDir = root.appending(path: "Sources/\(target.name)")
        let script = root.appending(path: "Plugins/BPFCompiler/compile-bpf.sh")
        let include = root.appending(path: "Sources/TraceEvents/include")
        let files = try bpfFiles(below: targetDir)
        let headers = files.filter { $0.lastPathComponent.hasSuffix(".bpf.h") } + [include.appending(path: "trace_events.h")]
        let sources = files.filter { $0.lastPathComponent.hasSuffix(".bpf.c") }
        let coreSources = Set(sources.filter(includesVmlinux))
        let vmlinuxDir = context.pluginWorkDirectoryURL.appending(path: "vmlinux")
        let vmlinux = vmlinuxDir.appending(path: "vmlinux.h")
        var commands: [Command] = []
        if !coreSources.isEmpty {
            let generator = root.appending(path: "Plugins/BPFCompiler/gen-vmlinux.sh")
            commands.append(.buildCommand(
                displayName: "Generating vmlinux.h from the kernel's BTF",
                executable: URL(fileURLWithPath: "/bin/bash"),
                arguments: [generator.path(percentEncoded: false), vmlinuxDir.path(percentEncoded: false)],
                inputFiles: [generator],
                outputFiles: [vmlinux]
            ))
        }
        for file in sources {
            let name = String(file.lastPathComponent.dropLast(".bpf.c".count))
            let output = context.pluginWorkDirectoryURL.appending(path: "\(name).bpf.swift")
            let core = coreSources.contains(file)
            commands.append(.buildCommand(
                displayName: "Compiling BPF \(file.lastPathComponent)",
                executable: URL(fileURLWithPath: "/bin/bash"),
                arguments: [script.path(percentEncoded: false), file.path(percentEncoded: false),
                            include.path(percentEncoded: false), targetDir.path(percentEncoded: false),
                            name, output.path(percentEncoded: false)] + (core ? [vmlinuxDir.path(percentEncoded: false)] : []),
                inputFiles: [file, script] + headers + (core ? [vmlinux] : []),
                outputFiles: [output]
            ))
        }
        return commands
    }

    /// Whether `file` includes the generated kernel types (a CO-RE program).
    private func includesVmlinux(_ file: URL) -> Bool {
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return false }
        return text.contains("#include \"vmlinux.h\"")
    }

    /// `*.bpf.c` and `*.bpf.h` anywhere below `dir`, sorted by path.
    private func bpfFiles(below dir: URL) throws -> [URL] {
        guard let walker = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: nil) else { return [] }
        var found: [URL] = []
        for case let url as URL in walker where url.lastPathComponent.hasSuffix(".bpf.c") || url.lastPathComponent.hasSuffix(".bpf.h") {
            found.append(url)
        }
        return found.sorted { $0.path < $1.path }
    }
}
