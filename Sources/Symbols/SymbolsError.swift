import SystemSupport

/// Everything that can go wrong while reading objects and processes.
///
/// Every case carries the path, pid or name it is about, and `description`
/// is one line that ends in a hint the user can act on.
public enum SymbolsError: Error, Equatable, Sendable, CustomStringConvertible {
    case fileNotFound(path: String)
    case permissionDenied(path: String)
    case isDirectory(path: String)
    case io(path: String, operation: String, errno: Int32)
    case emptyFile(path: String)
    case notELF(path: String)
    case truncated(path: String, what: String, needed: UInt64, size: UInt64)
    case unsupportedClass(path: String)
    case unsupportedByteOrder(path: String)
    case malformed(path: String, what: String)
    case compressedSection(path: String, section: String, why: String)
    case symbolNotFound(path: String, symbol: String, suggestions: [String])
    case noFileOffset(path: String, symbol: String, address: UInt64)
    case invalidPID(String)
    case noSuchProcess(pid: Int32)
    case processAccessDenied(pid: Int32, path: String)
    case notMapped(pid: Int32, path: String)
    case libraryNotFound(name: String, pid: Int32?)
    /// DWARF is present but libdw cannot read it.
    case dwarf(path: String, what: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "\(path): no such file; hint: check the path, or give a bare library name such as libssl.so.3"
        case .permissionDenied(let path):
            return "\(path): permission denied; hint: run as root or make the file readable"
        case .isDirectory(let path):
            return "\(path): is a directory; hint: give the path of an executable or shared library inside it"
        case .io(let path, let operation, let errno):
            return "\(path): \(operation) failed: \(Errno(errno).text); hint: check that the file is a regular, readable file"
        case .emptyFile(let path):
            return "\(path): empty file, not an ELF object; hint: give the path of an executable or shared library"
        case .notELF(let path):
            return "\(path): not an ELF file (no \\x7fELF magic); hint: give a compiled executable or shared library, not a script or archive"
        case .truncated(let path, let what, let needed, let size):
            return "\(path): truncated ELF: \(what) needs \(needed) bytes but the file has \(size); hint: the file was cut short (interrupted copy or build?); rebuild or copy it again"
        case .unsupportedClass(let path):
            return "\(path): 32-bit ELF (ELFCLASS32) is not supported; hint: uprobe-trace reads 64-bit objects; trace the x86-64 build of this program"
        case .unsupportedByteOrder(let path):
            return "\(path): big-endian ELF is not supported; hint: uprobe-trace reads little-endian x86-64 objects"
        case .malformed(let path, let what):
            return "\(path): malformed ELF: \(what); hint: the file may be corrupt; compare it with a fresh build"
        case .compressedSection(let path, let section, let why):
            return "\(path): cannot decompress section \(section): \(why); hint: rebuild without compressed debug sections (-gz=none)"
        case .symbolNotFound(let path, let symbol, let suggestions):
            let near = suggestions.isEmpty ? "" : " (similar: \(suggestions.prefix(3).joined(separator: ", ")))"
            return "\(path): no symbol \(symbol)\(near); hint: run `uprobe-trace symbols dump \(path) --grep TEXT` to see what it defines"
        case .noFileOffset(let path, let symbol, let address):
            return "\(path): symbol \(symbol) at 0x\(String(address, radix: 16)) is not in any loadable segment with file bytes; hint: only code and initialized data can be probed"
        case .invalidPID(let text):
            return "'\(text)' is not a process id; hint: give a positive number, e.g. --pid $(pidof server)"
        case .noSuchProcess(let pid):
            return "no process with pid \(pid); hint: check it is still running (ps -p \(pid))"
        case .processAccessDenied(let pid, let path):
            return "pid \(pid): cannot read \(path): permission denied; hint: run as root (or with CAP_SYS_PTRACE)"
        case .notMapped(let pid, let path):
            return "pid \(pid) does not map \(path); hint: check /proc/\(pid)/maps for the object it loads"
        case .libraryNotFound(let name, let pid):
            if let pid {
                return "pid \(pid) maps no library matching \(name); hint: check /proc/\(pid)/maps, or give the library path explicitly"
            }
            return "library \(name) not found in ld.so.cache or the standard library directories; hint: give its full path"
        case .dwarf(let path, let what):
            return "\(path): DWARF: \(what); hint: the debug info may be corrupt or from a newer compiler; rebuild, or strip it (-ldflags=-w) to use the built-in offset tables"
        }
    }
}
