// swift-tools-version:6.0
import Foundation
import PackageDescription

/// The BPF C of the probe families (`*.bpf.c`, `*.bpf.h` beside the Swift that
/// decodes their events): compiled by the BPFCompiler plugin, so SwiftPM must
/// not see them as C sources of the Swift target.
func bpfSources(in target: String) -> [String] {
    let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Sources/\(target)")
    let walker = FileManager.default.enumerator(atPath: dir.path)
    var found: [String] = []
    while let path = walker?.nextObject() as? String {
        if path.hasSuffix(".bpf.c") || path.hasSuffix(".bpf.h") { found.append(path) }
    }
    return found.sorted()
}

let package = Package(
    name: "uprobe-trace",
    products: [
        .executable(name: "uprobe-trace", targets: ["CLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // Runtime only: the OTLP types are generated once and committed (see scripts/gen-otlp.sh).
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        // OTLP/gRPC: the gRPC core, its HTTP/2 transport on SwiftNIO, and the protobuf glue.
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
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
        // Compiles each family's *.bpf.c with clang -target bpf; embeds the objects as base64
        // with typed names of their programs, maps and globals.
        .plugin(name: "BPFCompiler", capability: .buildTool()),
        // Two assembly functions starting with an emulated / a single-stepped instruction (ProbeCost).
        .target(name: "CProbeCostSites"),
        // libbpf wrapper: the one attach path, shared ring buffer, kernel feature checks, probe cost.
        .target(name: "Attach", dependencies: ["CLibBPF", "TraceEvents", "CProbeCostSites", "SystemSupport"]),
        // Shared span machinery: the Span model, clocks, trace context, HTTP/1 and SQL parsers.
        .target(name: "Tracing", dependencies: ["TraceEvents"]),
        // The probe families, one folder each (BPF C, plan, decoders, spans), and the list of them.
        .target(name: "Families", dependencies: ["Symbols", "GoRuntime", "Attach", "Tracing", "TraceEvents"],
                exclude: bpfSources(in: "Families"), plugins: ["BPFCompiler"]),
        // Generated OTLP protobuf types, Span -> OTLP mapping, exporters.
        .target(name: "OTLP", dependencies: ["Tracing", "SystemSupport", "JSONOutput", "CZlib", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                                      .product(name: "GRPCCore", package: "grpc-swift-2"),
                                      .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                                      .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf")]),
        .executableTarget(
            name: "CLI",
            dependencies: [
                "Symbols", "GoRuntime", "Attach", "Families", "Tracing", "OTLP", "TraceEvents",
                "SystemSupport", "JSONOutput",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "SystemSupportTests", dependencies: ["SystemSupport"]),
        .testTarget(name: "JSONOutputTests", dependencies: ["JSONOutput"]),
        .testTarget(name: "SymbolsTests", dependencies: ["Symbols"]),
        .testTarget(name: "GoRuntimeTests", dependencies: ["GoRuntime", "Symbols"]),
        .testTarget(name: "AttachTests", dependencies: ["Attach", "CLibBPF", "TraceEvents", "Symbols"]),
        .testTarget(name: "TracingTests", dependencies: ["Tracing", "TraceEvents"]),
        .testTarget(name: "FamiliesTests", dependencies: ["Families", "Attach", "CLibBPF", "Tracing", "TraceEvents", "GoRuntime", "Symbols"]),
        .testTarget(name: "OTLPTests", dependencies: ["OTLP", "Tracing"]),
        .testTarget(name: "CLITests", dependencies: ["Symbols", "GoRuntime"]),
    ]
)
