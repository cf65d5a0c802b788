// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "uprobe-trace",
    products: [
        .executable(name: "uprobe-trace", targets: ["CLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // Runtime only: the OTLP types are generated once and committed (see scripts/gen-otlp.sh).
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // libdw (elfutils) for DWARF type queries; pkg-config name "libdw".
        .systemLibrary(name: "CLibDW", pkgConfig: "libdw", providers: [.apt(["libdw-dev"])]),
        // zlib, for SHF_COMPRESSED and .zdebug sections.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // libbpf 1.x: open/load/attach BPF objects, ring buffers.
        .systemLibrary(name: "CLibBPF", pkgConfig: "libbpf", providers: [.apt(["libbpf-dev"])]),
        // POSIX odds and ends every module words the same way: errno text, the EINTR loop,
        // the monotonic clock, waiting on a descriptor, pid text, /proc/PID/stat.
        .target(name: "SystemSupport"),
        // A streaming JSON writer into a byte sink (symbols dump --json, OTLP/JSON).
        .target(name: "JSONOutput"),
        // The one header shared by the BPF C programs and Swift: event layouts, kinds, config.
        .target(name: "TraceEvents"),
        // ELF, /proc/PID/maps, process images, DWARF. Reads files; never calls bpf().
        .target(name: "Symbols", dependencies: ["CLibDW", "CZlib", "SystemSupport"]),
        // Go binaries: buildinfo, pclntab, RET sites, register ABI, struct offsets.
        .target(name: "GoRuntime", dependencies: ["Symbols"]),
        // Compiles bpf/*.bpf.c with clang -target bpf and embeds the objects as base64.
        .plugin(name: "BPFCompiler", capability: .buildTool()),
        // libbpf wrapper: load the embedded objects, set read-only config, attach, ring buffer.
        .target(name: "Attach", dependencies: ["CLibBPF", "TraceEvents", "SystemSupport"], plugins: ["BPFCompiler"]),
        // GoRuntime's findings in Attach's terms: which program at which file offset, with which config.
        .target(name: "ProbePlan", dependencies: ["Symbols", "GoRuntime", "Attach", "TraceEvents"]),
        // Events -> spans: decoding, pairing, clocks, HTTP/SQL parsing, the Span model.
        .target(name: "Tracing", dependencies: ["TraceEvents"]),
        // Generated OTLP protobuf types, Span -> OTLP mapping, exporters.
        .target(name: "OTLP", dependencies: ["Tracing", "SystemSupport", "JSONOutput", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .executableTarget(
            name: "CLI",
            dependencies: [
                "Symbols", "GoRuntime", "Attach", "ProbePlan", "Tracing", "OTLP", "TraceEvents", "CLibBPF",
                "SystemSupport", "JSONOutput",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "SystemSupportTests", dependencies: ["SystemSupport"]),
        .testTarget(name: "JSONOutputTests", dependencies: ["JSONOutput"]),
        .testTarget(name: "SymbolsTests", dependencies: ["Symbols"]),
        .testTarget(name: "GoRuntimeTests", dependencies: ["GoRuntime", "Symbols"]),
        .testTarget(name: "AttachTests", dependencies: ["Attach", "TraceEvents", "GoRuntime", "Symbols", "ProbePlan", "Tracing"]),
        .testTarget(name: "TracingTests", dependencies: ["Tracing", "TraceEvents"]),
        .testTarget(name: "OTLPTests", dependencies: ["OTLP", "Tracing"]),
        .testTarget(name: "CLITests", dependencies: ["Symbols"]),
    ]
)
