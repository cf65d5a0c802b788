import Symbols

/// A C library to probe (libssl, libmariadb, ...) and the uprobe file offsets
/// of the functions wanted in it, resolved through `.dynsym` (versioned names
/// like `SSL_read@@OPENSSL_3.0.0` match their bare name).
public struct LibraryPlan: Sendable {
    /// The path the kernel resolves for the uprobes (through /proc/PID/root for a pid).
    public let attachPath: String
    /// The library as the process (or the host) names it.
    public let displayPath: String
    public let pid: Int32?
    /// File offset of each wanted function the library defines.
    public let offsets: [String: UInt64]
    /// The library itself, for families that decode their functions to place probes.
    public let file: ELFFile

    /// - Parameters:
    ///   - spec: a path or a bare name (`libssl.so.3`); nil: the first of `defaultNames`
    ///     that the process maps (with a pid) or that the host has.
    ///   - defaultNames: library name patterns, e.g. `["libssl.so"]`.
    ///   - functions: the functions to find; at least one must exist.
    ///   - flag: the family's flag, for messages.
    /// - Throws: `FamilyError.notApplicable` when a process maps none of
    ///   `defaultNames` and no library was named (auto-detection skips the family).
    public static func resolve(spec: String?, defaultNames: [String], pid: Int32?, functions: [String],
                               flag: String) throws -> LibraryPlan {
        let elf: ELFFile
        let attachPath: String
        let displayPath: String
        if let pid {
            let image = try ProcessImage(pid: pid)
            let object: MappedObject
            do {
                object = try spec.map { try image.object(forTarget: $0) } ?? LibraryLocator.findMapped(defaultNames, in: image)
            } catch let error as SymbolsError {
                guard spec == nil, case .libraryNotFound = error else { throw error }
                let s = error.description
                throw FamilyError.notApplicable(family: flag, reason: String(s[..<(s.range(of: "; hint: ")?.lowerBound ?? s.endIndex)]),
                                                hint: "check /proc/\(pid)/maps, or give the library path explicitly (--\(flag) PATH)")
            }
            elf = try image.openObject(object)
            attachPath = image.accessPath(for: object)
            displayPath = object.path
        } else {
            var path: String?
            var lastError: Error?
            for name in spec.map({ [$0] }) ?? defaultNames {
                do { path = try LibraryLocator.resolveTarget(name); break } catch { lastError = error }
            }
            guard let path else { throw lastError ?? SymbolsError.libraryNotFound(name: defaultNames.joined(separator: ", "), pid: nil) }
            elf = try ELFFile(path: path)
            attachPath = path
            displayPath = path
        }
        guard elf.header.isX86_64 else {
            throw FamilyError.wrongMachine(target: displayPath, machine: elf.header.machineName)
        }
        var offsets: [String: UInt64] = [:]
        for f in functions {
            if let sym = try elf.lookup(f).first(where: { $0.isFunction }), let off = elf.fileOffset(of: sym) {
                offsets[f] = off
            }
        }
        guard !offsets.isEmpty else {
            throw FamilyError.missingFunctions(library: displayPath, functions: functions, flag: flag)
        }
        return LibraryPlan(attachPath: attachPath, displayPath: displayPath, pid: pid, offsets: offsets, file: elf)
    }
}

extension LibraryPlan {
    /// Up to `count` bytes of the file from `fileOffset` (fewer at its end); nil past the end.
    public func code(atFileOffset fileOffset: UInt64, count: Int = 128) -> UnsafeRawBufferPointer? {
        let bytes = file.bytes
        guard fileOffset < UInt64(bytes.count) else { return nil }
        let start = Int(fileOffset)
        return UnsafeRawBufferPointer(rebasing: bytes[start ..< min(bytes.count, start + count)])
    }

    /// "libssl.so.3 (pid 42)" / "(every process)", for the attached line.
    public var summary: String { "\(displayPath) (\(pid.map { "pid \($0)" } ?? "every process"))" }
}
