#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Finds the shared library to probe: either the one a process has mapped
/// (`libssl.so*` in `/proc/PID/maps`), or the file a bare name such as
/// `libssl.so` resolves to on this host (ld.so.cache, then the standard
/// library directories).
///
/// Names match by basename: `libssl.so` and `libssl.so*` match `libssl.so`
/// and `libssl.so.<anything>`, never `libssl3.so`; an exact name such as
/// `libssl.so.3` matches itself and `libssl.so.3.<anything>`.
public struct LibraryLocator: Sendable {
    /// Searched in order when the cache does not know a name (x86-64 multiarch first).
    public static let standardDirectories = [
        "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
        "/lib", "/usr/lib", "/usr/local/lib",
    ]

    /// The parsed cache, nil when it is missing or unreadable (directories are still searched).
    public var cache: LDSOCache?
    public var directories: [String]

    public init(cache: LDSOCache?, directories: [String] = LibraryLocator.standardDirectories) {
        self.cache = cache
        self.directories = directories
    }

    /// A locator over `/etc/ld.so.cache` and the standard directories.
    public static func host() -> LibraryLocator {
        LibraryLocator(cache: try? LDSOCache.load())
    }

    // MARK: - Libraries a process maps

    /// Whether a file name matches a library pattern (see the type's documentation).
    public static func matches(basename: String, pattern: String) -> Bool {
        var stem = pattern
        while stem.hasSuffix("*") { stem.removeLast() }
        if let slash = stem.lastIndex(of: "/") { stem = String(stem[stem.index(after: slash)...]) }
        guard !stem.isEmpty else { return false }
        return basename == stem || basename.hasPrefix(stem + ".")
    }

    /// The objects of `image` whose basename matches any of `patterns`, in map order.
    public static func mappedLibraries(matching patterns: [String], in image: ProcessImage) -> [MappedObject] {
        image.objects.filter { o in patterns.contains { matches(basename: o.basename, pattern: $0) } }
    }

    /// The first object of `image` matching any of `patterns`
    /// (e.g. `["libmariadb.so*", "libmysqlclient.so*"]`).
    public static func findMapped(_ patterns: [String], in image: ProcessImage) throws(SymbolsError) -> MappedObject {
        guard let o = mappedLibraries(matching: patterns, in: image).first else {
            throw .libraryNotFound(name: patterns.joined(separator: " or "), pid: image.pid)
        }
        return o
    }

    public static func findMapped(_ pattern: String, in image: ProcessImage) throws(SymbolsError) -> MappedObject {
        try findMapped([pattern], in: image)
    }

    // MARK: - Libraries on this host

    /// The path of library `name` (`libssl.so.3`, or unversioned `libssl.so`, which
    /// falls back to the highest `libssl.so.N` when no unversioned file exists).
    public func resolve(_ name: String) throws(SymbolsError) -> String {
        if let cache {
            if let p = cache.path(forName: name) { return p }
        }
        for dir in directories {
            let p = dir + "/" + name
            if Self.isRegularFile(p) { return p }
        }
        if let cache {
            let versioned = cache.entries.filter { $0.isForThisHost && $0.hwcap == 0 && Self.isVersion(of: name, $0.name) }
            if let best = versioned.max(by: { Self.versionLess($0.name, $1.name) }) { return best.path }
        }
        for dir in directories {
            let names = Self.listDirectory(dir).filter { Self.isVersion(of: name, $0) }
            if let best = names.max(by: Self.versionLess), Self.isRegularFile(dir + "/" + best) {
                return dir + "/" + best
            }
        }
        throw .libraryNotFound(name: name, pid: nil)
    }

    /// What the user gave as a probe target, made into a path: unchanged if it
    /// contains `/` or names an existing file, else resolved as a library name.
    public static func resolveTarget(_ spec: String) throws(SymbolsError) -> String {
        try host().resolveTarget(spec)
    }

    public func resolveTarget(_ spec: String) throws(SymbolsError) -> String {
        if spec.contains("/") || Self.isRegularFile(spec) { return spec }
        var name = spec
        while name.hasSuffix("*") { name.removeLast() }
        guard !name.isEmpty else { throw .libraryNotFound(name: spec, pid: nil) }
        return try resolve(name)
    }

    // MARK: - Helpers

    /// `candidate` is `name` plus a version suffix: `libssl.so.3` for `libssl.so`.
    static func isVersion(of name: String, _ candidate: String) -> Bool {
        guard candidate.hasPrefix(name + "."), candidate.count > name.count + 1 else { return false }
        return candidate.dropFirst(name.count + 1).allSatisfy { $0.isNumber || $0 == "." }
    }

    /// Orders `libx.so.1.10` after `libx.so.1.9`, numerically per component.
    static func versionLess(_ a: String, _ b: String) -> Bool {
        func parts(_ s: String) -> [Int] { s.split(separator: ".").compactMap { Int($0) } }
        let pa = parts(a), pb = parts(b)
        for (x, y) in zip(pa, pb) where x != y { return x < y }
        return pa.count < pb.count
    }

    static func isRegularFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    static func listDirectory(_ path: String) -> [String] {
        guard let d = opendir(path) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let ent = readdir(d) {
            let name = withUnsafeBytes(of: ent.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
