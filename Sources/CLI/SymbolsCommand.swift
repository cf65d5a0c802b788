import ArgumentParser
import Symbols
import SystemSupport

/// `uprobe-trace symbols ...`: what the tool sees in an object, before any probe is placed.
struct SymbolsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "symbols",
        abstract: "Show symbols, uprobe file offsets and Go metadata of an executable or library.",
        subcommands: [SymbolsDump.self, SymbolsResolve.self]
    )
}

/// Options shared by `dump` and `resolve`.
struct TargetOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("Executable or shared library: a path, or a bare library name such as libssl.so.3.", valueName: "target"))
    var target: String

    @Option(help: ArgumentHelp("Also show runtime addresses in this running process (root needed for other users' processes).", valueName: "pid"))
    var pid: String?

    @Flag(help: "Print one JSON document instead of a table.")
    var json = false

    func validate() throws {
        if let pid { _ = try parsePID(pid) }
    }

    var parsedPID: Int32? { pid.flatMap { try? parsePID($0) } }
}

/// A `--pid` value: a positive decimal number (`parseProcessID`), else a usage error.
func parsePID(_ text: String) throws -> Int32 {
    guard let pid = parseProcessID(text) else {
        throw ValidationError(SymbolsError.invalidPID(text).description)
    }
    return pid
}

struct SymbolsDump: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "List every symbol with its virtual address and uprobe file offset.",
        discussion: """
        The file offset is what a uprobe attaches to: the symbol's address minus the
        p_vaddr of the PT_LOAD segment holding it, plus that segment's p_offset.

        Examples:
          uprobe-trace symbols dump ./server
          uprobe-trace symbols dump libssl.so.3 --grep SSL_read
          uprobe-trace symbols dump libc.so.6 --json | jq '.symbols | length'
          uprobe-trace symbols dump ./server --pid $(pidof server)
          uprobe-trace symbols dump ./go-server --json | jq .go.functions

        For a Go binary, the output starts with its Go version, modules, the
        probed functions with the file offset of every RET (Go functions are
        probed at each RET, never with a uretprobe), and the struct field
        offsets the probes read, each saying whether DWARF or the built-in
        per-version table supplied it.
        """
    )

    @OptionGroup var options: TargetOptions

    @Option(help: ArgumentHelp("Only symbols whose name contains this text.", valueName: "text"))
    var grep: String?

    @Flag(help: "For Go binaries, also list every function of the pclntab (name, entry, end, file offset).")
    var allGoFunctions = false

    @Flag(help: "Skip the Go section (build info, pclntab, DWARF offsets): list only the ELF symbol tables.")
    var noGo = false

    func run() throws {
        let target = try SymbolTarget.open(options.target, pid: options.parsedPID)
        let symbols = try target.elf.symbols().filter { sym in
            grep.map { sym.displayName.contains($0) } ?? true
        }
        target.warnIfNotAttachable()
        let go = noGo ? nil : try GoSection.load(target.elf)
        if let error = go?.binary.offsetsError { Log.note(error.description) }
        let library = LibrarySection.load(target.elf)
        target.emit(symbols, json: options.json, objectHeader: true) { out, w in
            if w != nil {
                go?.write(to: &w!, allFunctions: allGoFunctions)
                library?.write(to: &w!)
            } else {
                go?.print(to: out, allFunctions: allGoFunctions)
                library?.print(to: out)
            }
        }
    }
}

struct SymbolsResolve: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve",
        abstract: "Print the uprobe file offset of each named symbol.",
        discussion: """
        A name may carry a GNU version: SSL_read@@OPENSSL_3.0.0 or memcpy@GLIBC_2.14.
        Exits 1 if any symbol is missing, naming it and similar ones.

        Examples:
          uprobe-trace symbols resolve libssl.so.3 SSL_read SSL_write
          uprobe-trace symbols resolve ./server 'net/http.serverHandler.ServeHTTP' --json
        """
    )

    @OptionGroup var options: TargetOptions

    @Argument(help: ArgumentHelp("Symbol names to resolve.", valueName: "symbol"))
    var symbols: [String]

    func validate() throws {
        if symbols.isEmpty { throw ValidationError("give at least one symbol name after the target") }
    }

    func run() throws {
        let target = try SymbolTarget.open(options.target, pid: options.parsedPID)
        var found: [Symbol] = []
        for name in symbols {
            let matches = try target.elf.lookup(name)
            guard !matches.isEmpty else {
                throw SymbolsError.symbolNotFound(path: target.path, symbol: name,
                                                  suggestions: try target.suggestions(for: name))
            }
            for m in matches where target.elf.fileOffset(of: m) == nil {
                throw SymbolsError.noFileOffset(path: target.path, symbol: m.displayName, address: m.value)
            }
            found.append(contentsOf: matches)
        }
        target.warnIfNotAttachable()
        target.emit(found, json: options.json, objectHeader: false)
    }
}
