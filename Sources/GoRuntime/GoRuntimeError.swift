import Symbols

/// Everything that can go wrong while reading the Go-specific parts of a binary.
/// Each message names the path and ends in a hint.
public enum GoRuntimeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not a Go binary: neither `.go.buildinfo` nor a pclntab was found.
    case notGo(path: String)
    /// A Go section (`.gopclntab`, `.go.buildinfo`, ...) is missing.
    case missingSection(path: String, section: String)
    /// A Go section exists but its contents do not parse.
    case malformed(path: String, section: String, what: String)
    /// The layout (pclntab magic, buildinfo flags) belongs to a Go version we do not read.
    case unsupportedLayout(path: String, section: String, what: String)
    /// A Go 1.26+ pclntab (textStart 0) whose text base the module data does not establish.
    case textStartUnknown(path: String, section: String, what: String)
    /// A function we need is not in the function table.
    case functionNotFound(path: String, function: String)
    /// The instruction decoder could not walk a function to its end.
    case decodeFailed(path: String, function: String, offset: UInt64)
    /// DWARF is present but unreadable, or lacks a type we need.
    case dwarf(path: String, what: String)
    /// No DWARF and no table entry for this Go version: we refuse to guess.
    case unknownGoVersion(path: String, version: String, field: String)
    /// An error from the Symbols layer (file could not be read, not ELF, ...).
    case symbols(SymbolsError)

    public var description: String {
        switch self {
        case .notGo(let path):
            return "\(path): not a Go binary (no .go.buildinfo and no pclntab); hint: --go-http needs a program built with the Go toolchain"
        case .missingSection(let path, let section):
            return "\(path): no \(section) section; hint: the binary may have been post-processed (e.g. by a packer); use the binary the Go toolchain produced"
        case .malformed(let path, let section, let what):
            return "\(path): \(section) is malformed: \(what); hint: the binary may be truncated or corrupt; rebuild it"
        case .unsupportedLayout(let path, let section, let what):
            return "\(path): \(section): \(what); hint: uprobe-trace reads binaries built by Go 1.16 to 1.27; a newer Go needs a newer uprobe-trace"
        case .textStartUnknown(let path, let section, let what):
            return "\(path): \(section): cannot establish where the Go text starts: \(what); hint: uprobe-trace does not guess it (a wrong base puts probes inside instructions); report this binary with `go version -m \(path)`"
        case .functionNotFound(let path, let function):
            return "\(path): function \(function) not found; hint: the linker drops unused code (a server has no (*Transport).roundTrip); check with `uprobe-trace symbols dump \(path) --all-go-functions`"
        case .decodeFailed(let path, let function, let offset):
            return "\(path): cannot decode \(function) at file offset 0x\(String(offset, radix: 16)); hint: report this binary; without every RET site the return probe is unsafe"
        case .dwarf(let path, let what):
            return "\(path): DWARF: \(what); hint: rebuild without -ldflags=-w to keep DWARF, or rely on the offset table for released Go versions"
        case .unknownGoVersion(let path, let version, let field):
            let known = GoOffsetTable.supportedMinors
            let range = "Go 1.\(known.lowerBound) to 1.\(known.upperBound)"
            if let minor = GoVersion.minor(of: version), minor > known.upperBound {
                return "\(path): built by \(version), newer than the \(range) whose struct offsets uprobe-trace knows, and no DWARF gives \(field); hint: rebuild keeping DWARF (no -w in -ldflags), or upgrade uprobe-trace to one that knows Go 1.\(minor)"
            }
            if let minor = GoVersion.minor(of: version), minor < known.lowerBound {
                return "\(path): built by \(version), older than Go 1.\(known.lowerBound) (the register ABI the Go probes read); hint: rebuild the program with Go 1.\(known.lowerBound) or newer"
            }
            return "\(path): built by \(version), which has no DWARF and no offset table entry for \(field); hint: rebuild keeping DWARF (no -w in -ldflags) so DWARF gives the offsets"
        case .symbols(let e):
            return e.description
        }
    }
}
