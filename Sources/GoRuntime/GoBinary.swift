import Symbols

/// Everything uprobe-trace knows about one Go executable: who built it
/// (`.go.buildinfo`), where its functions are (pclntab, so stripped binaries
/// work), where the probed functions return (every RET, since uretprobes crash
/// Go), and the struct field offsets the probes read.
public struct GoBinary: Sendable {
    public let path: String
    public let buildInfo: GoBuildInfo
    public let functions: GoFunctionTable
    /// Nil when neither DWARF nor the table covers this Go version; `offsetsError` says why.
    public let offsets: GoStructOffsets?
    public let offsetsError: GoRuntimeError?

    /// The functions the Go probes attach to (DESIGN.md, Probe points), plus the
    /// trace-context hooks. A binary lacks some (a server has no roundTrip); which
    /// site of each is used is the plan's choice (GoHTTPPlan).
    public static let probeFunctions = [
        "net/http.serverHandler.ServeHTTP",
        "net/http.(*response).finishRequest",
        "net/http.(*conn).serve",
        "net/http.(*Transport).roundTrip",
        "net/http.(*persistConn).roundTrip",
        "runtime.newproc1",
        "runtime.newproc.func1",
        // net/http's HTTP/2 server: bundled (Go <= 1.26), net/http/internal/http2 (Go >= 1.27).
        "net/http.(*http2serverConn).processHeaders",
        "net/http.(*http2serverConn).runHandler.func1",
        "net/http/internal/http2.(*serverConn).processHeaders",
        "net/http/internal/http2.(*serverConn).runHandler.func1",
        "net/http.(*http2ClientConn).writeHeaders",
        "net/http/internal/http2.(*ClientConn).writeHeaders",
    ]

    /// A probed function: its entry, and the file offset of each RET; on x86-64
    /// also the instruction at each of them with its uprobe cost, and the
    /// cheapest exact entry site (`GoEntrySite`).
    public struct ProbeSite: Sendable, Equatable {
        public let function: GoFunction
        public let returnOffsets: [UInt64]
        /// The first instruction; nil when not x86-64.
        public var entryInstruction: ProbeInstruction? = nil
        /// Where an entry probe costs least and still fires once per call (or says it may repeat).
        public var cheapEntry: GoEntrySite? = nil
        /// The instruction at each of `returnOffsets`, in the same order; empty when not x86-64.
        public var returnInstructions: [ProbeInstruction] = []
    }

    /// True if the object carries Go metadata (build info, pclntab or a Go build ID note).
    public static func isGo(_ elf: ELFFile) -> Bool {
        elf.sections.contains { $0.name == ".go.buildinfo" || $0.name.hasSuffix(".gopclntab") } || elf.goBuildID != nil
    }

    /// Reads build info, the function table and the struct offsets of `elf`.
    public static func load(_ elf: ELFFile) throws(GoRuntimeError) -> GoBinary {
        let info = try GoBuildInfo.load(from: elf)
        let table = try GoFunctionTable.load(from: elf)
        var offsets: GoStructOffsets?
        var offsetsError: GoRuntimeError?
        do {
            offsets = try GoStructOffsets.load(path: elf.path, goVersion: info.goVersion)
        } catch {
            offsetsError = error
        }
        return GoBinary(path: elf.path, buildInfo: info, functions: table, offsets: offsets, offsetsError: offsetsError)
    }

    /// Entry and RET sites of each of `names` present in the binary, in the given
    /// order, with their instructions classified by `kernel`'s uprobe rules
    /// (default: the running kernel's).
    public func probeSites(_ elf: ELFFile, names: [String] = GoBinary.probeFunctions,
                           kernel: KernelRelease? = nil) throws(GoRuntimeError) -> [ProbeSite] {
        var sites: [ProbeSite] = []
        for name in names {
            guard let f = functions.function(named: name) else { continue }
            let rets = try returnSites(in: elf, function: f.entry, end: f.end, name: f.name)
            var site = ProbeSite(function: f, returnOffsets: rets)
            if elf.header.machine == ELFMachine.x86_64, let code = elf.bytes(atVirtualAddress: f.entry, count: f.end - f.entry) {
                site.entryInstruction = ProbeInstruction(code: code, at: 0, fileOffset: f.fileOffset, kernel: kernel)
                site.cheapEntry = goEntrySite(code: code, startOffset: f.fileOffset, goVersion: buildInfo.goVersion, kernel: kernel)
                site.returnInstructions = rets.compactMap {
                    ProbeInstruction(code: code, at: Int($0 - f.fileOffset), fileOffset: $0, kernel: kernel)
                }
            }
            sites.append(site)
        }
        return sites
    }
}
