import ArgumentParser
import Families
import JSONOutput
import SystemSupport

#if canImport(Glibc)
import Glibc
#endif

/// The `uprobe-trace` command: subcommands are wired here and nowhere else.
struct UprobeTrace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uprobe-trace",
        abstract: "Trace unmodified programs with uprobes: exact attach points from ELF, DWARF and Go metadata.",
        discussion: """
        Examples:
          uprobe-trace --pid 1234 --go-http                   # spans of a running Go server
          uprobe-trace symbols dump ./server                  # symbols, file offsets, Go info
          uprobe-trace symbols dump libssl.so.3 --grep SSL_read
          uprobe-trace symbols resolve ./server main.main     # the uprobe offset of one symbol
        """,
        subcommands: [TraceCommand.self, SymbolsCommand.self, DoctorCommand.self],
        defaultSubcommand: TraceCommand.self
    )
}

/// Entry point: parses, runs, and turns every error into one line and an exit code
/// (0 ok, 1 runtime failure, 2 usage error, 77 missing privilege).
@main
enum Main {
    static func main() {
        do {
            var command = try UprobeTrace.parseAsRoot(normalizedArguments(Array(CommandLine.arguments.dropFirst())))
            try command.run()
        } catch let e as any ToolError {
            Log.error(e.description)
            exit(e.exitCode)
        } catch {
            // Help, version and usage errors from swift-argument-parser.
            let code = UprobeTrace.exitCode(for: error)
            if code == .success {
                let out = Output()
                out.line(UprobeTrace.fullMessage(for: error))
                out.flush()
                exit(0)
            }
            let message = UprobeTrace.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
            let hint = message.contains("hint:") ? "" : "; hint: see 'uprobe-trace --help'"
            Log.error(message + hint)
            exit(2)
        }
    }
}

/// `--ssl` and `--mysql` take an optional value: alone (at the end, or before
/// another option) they mean "find the library"; the parser wants a value, so
/// an empty one stands for that.
func normalizedArguments(_ args: [String]) -> [String] {
    var out: [String] = []
    for (i, a) in args.enumerated() {
        out.append(a)
        if a == "--ssl" || a == "--mysql" || a == "--postgres" {
            let next = i + 1 < args.count ? args[i + 1] : nil
            if next == nil || next!.hasPrefix("-") { out.append("") }
        }
    }
    return out
}

/// stderr lines, written unbuffered; Swift 6 forbids touching C's `stderr` global.
enum Log {
    static func error(_ s: String) { write("uprobe-trace: error: " + s + "\n") }
    static func note(_ s: String) { write("uprobe-trace: note: " + s + "\n") }

    static func write(_ s: String) { FileDescriptorIO.writeAll(2, s) }
}

/// The CLI writes JSON only to stdout, through `Output`.
typealias JSONWriter = JSONOutput.JSONWriter<Output>

/// Buffered stdout: a fixed buffer flushed with write(2) when full, so a
/// large document costs no reallocation or copying.
final class Output: ByteSink {
    private let capacity = 1 << 16
    private let base: UnsafeMutablePointer<UInt8>
    private var count = 0

    init() { base = .allocate(capacity: capacity) }
    deinit { flush(); base.deallocate() }

    @inline(__always)
    func byte(_ b: UInt8) {
        if count == capacity { flush() }
        base[count] = b
        count += 1
    }

    @inline(__always)
    func bytes(_ p: UnsafeRawBufferPointer) {
        if p.count > capacity - count {
            flush()
            if p.count > capacity { FileDescriptorIO.writeAll(1, p); return }
        }
        guard let src = p.baseAddress, p.count > 0 else { return }
        (base + count).update(from: src.assumingMemoryBound(to: UInt8.self), count: p.count)
        count += p.count
    }

    func append(_ s: String) {
        var s = s
        s.withUTF8 { bytes(UnsafeRawBufferPointer($0)) }
    }

    func line(_ s: String) { append(s); byte(10) }

    func flush() {
        FileDescriptorIO.writeAll(1, UnsafeRawBufferPointer(start: base, count: count))
        count = 0
    }
}
