#if canImport(Glibc)
import Glibc
#endif

extension ProcessImage {
    /// The object this process maps for a user's target: a bare library name
    /// (`libssl.so.3`, `libssl.so*`) matches mapped basenames; a path matches by
    /// its resolved path, else by inode (the process may see it under another
    /// path, e.g. inside a container).
    public func object(forTarget spec: String) throws(SymbolsError) -> MappedObject {
        if !spec.contains("/") && !LibraryLocator.isRegularFile(spec) {
            return try LibraryLocator.findMapped(spec, in: self)
        }
        if let real = realpath(spec, nil) {
            defer { free(real) }
            if let o = object(path: String(cString: real)) { return o }
        }
        var st = stat()
        if stat(spec, &st) == 0 {
            let base = spec.split(separator: "/").last.map(String.init) ?? spec
            if let o = objects.first(where: { $0.inode == UInt64(st.st_ino) && $0.basename == base }) { return o }
        }
        throw .notMapped(pid: pid, path: spec)
    }
}
