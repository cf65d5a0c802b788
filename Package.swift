// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "uprobe-trace",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "uprobe-trace", targets: ["CLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // libdw (elfutils) for DWARF type queries; pkg-config name "libdw".
        .systemLibrary(name: "CLibDW", pkgConfig: "libdw", providers: [.apt(["libdw-dev"])]),
        // zlib, for SHF_COMPRESSED and .zdebug sections.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // ELF, /proc/PID/maps, process images, DWARF. Reads files; never calls bpf().
        .target(name: "Symbols", dependencies: ["CLibDW", "CZlib"]),
        // Go binaries: buildinfo, pclntab, RET sites, register ABI, struct offsets.
        .target(name: "GoRuntime", dependencies: ["Symbols"]),
        .executableTarget(
            name: "CLI",
            dependencies: [
                "Symbols", "GoRuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "SymbolsTests", dependencies: ["Symbols"]),
        .testTarget(name: "GoRuntimeTests", dependencies: ["GoRuntime", "Symbols"]),
        .testTarget(name: "CLITests", dependencies: ["Symbols"]),
    ]
)
