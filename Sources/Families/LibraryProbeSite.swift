import GoRuntime
import Symbols

/// Where a library family puts the entry probe of one function it traces, and
/// what a hit there costs: what `symbols dump` shows for a library.
public struct LibraryProbeSite: Sendable, Hashable {
    /// The family's flag: `ssl`, `mysql`, `postgres`.
    public let flag: String
    public let function: String
    /// The function's entry (its uretprobe, when the site is the entry).
    public let entryOffset: UInt64
    /// Where the entry probe sits.
    public let siteOffset: UInt64
    /// The instruction there and its cost class; nil if it does not decode.
    public let instruction: ProbeInstruction?
    /// Why this site, one sentence.
    public let reason: String

    /// The probe sites of every library family whose functions `elf` defines.
    public static func sites(in elf: ELFFile, kernel: KernelRelease? = nil) -> [LibraryProbeSite] {
        func offsets(_ names: [String]) -> [String: UInt64] {
            var out: [String: UInt64] = [:]
            for n in names {
                if let sym = (try? elf.lookup(n))?.first(where: { $0.isFunction }), let off = elf.fileOffset(of: sym) { out[n] = off }
            }
            return out
        }
        let code = { (off: UInt64) -> UnsafeRawBufferPointer? in
            let bytes = elf.bytes
            guard off < UInt64(bytes.count) else { return nil }
            return UnsafeRawBufferPointer(rebasing: bytes[Int(off) ..< min(bytes.count, Int(off) + 128)])
        }
        var out: [LibraryProbeSite] = []
        let ssl = offsets(OpenSSLFamily.functions)
        for p in OpenSSLPlacement.place(offsets: ssl, kernel: kernel, code: code) {
            out += p.sites.map {
                LibraryProbeSite(flag: OpenSSLFamily.flag, function: $0.function, entryOffset: $0.entryOffset,
                                 siteOffset: $0.probeOffset, instruction: $0.instruction, reason: p.reason)
            }
        }
        for (name, off) in offsets([MySQLFamily.function]) {
            let insn = code(off).flatMap { ProbeInstruction(code: $0, at: 0, fileOffset: off, kernel: kernel) }
            out.append(LibraryProbeSite(flag: MySQLFamily.flag, function: name, entryOffset: off, siteOffset: off, instruction: insn,
                                        reason: MySQLFamily.siteReason(insn)))
        }
        for p in PostgresFamily.sites(in: elf, kernel: kernel) {
            out.append(LibraryProbeSite(flag: PostgresFamily.flag, function: p.function, entryOffset: p.entryOffset, siteOffset: p.siteOffset,
                                        instruction: p.instruction, reason: p.reason))
        }
        return out
    }
}
