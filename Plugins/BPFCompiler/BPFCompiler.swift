import Foundation
import PackagePlugin

/// Compiles every `bpf/*.bpf.c` of the package with `clang -target bpf` and
/// turns each object into a Swift file holding it as a base64 string literal
/// (a `[UInt8]` literal of this size takes the compiler ~50 s; base64 ~1.5 s).
///
/// Inputs list every header the BPF C includes, because SwiftPM reruns a
/// build command only when a declared input changes.
@main
struct BPFCompiler: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let root = context.package.directoryURL
        let bpfDir = root.appending(path: "bpf")
        let script = root.appending(path: "Plugins/BPFCompiler/compile-bpf.sh")
        let include = root.appending(path: "Sources/TraceEvents/include")
        let files = try FileManager.default.contentsOfDirectory(atPath: bpfDir.path(percentEncoded: false)).sorted()
        let headers = files.filter { $0.hasSuffix(".h") }.map { bpfDir.appending(path: $0) }
            + [include.appending(path: "trace_events.h")]
        return files.filter { $0.hasSuffix(".bpf.c") }.map { file in
            let name = String(file.dropLast(".bpf.c".count))
            let output = context.pluginWorkDirectoryURL.appending(path: "\(name).bpf.swift")
            return .buildCommand(
                displayName: "Compiling BPF \(file)",
                executable: URL(fileURLWithPath: "/bin/bash"),
                arguments: [script.path(percentEncoded: false), bpfDir.appending(path: file).path(percentEncoded: false),
                            include.path(percentEncoded: false), name, output.path(percentEncoded: false)],
                inputFiles: [bpfDir.appending(path: file), script] + headers,
                outputFiles: [output]
            )
        }
    }
}
