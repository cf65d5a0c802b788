/// Bounds-checked little-endian reads over borrowed bytes.
///
/// Every read checks `offset + size <= count` without overflow and returns
/// nil past the end, so a corrupt or truncated file can never trap.
public struct ByteReader {
    public let bytes: UnsafeRawBufferPointer

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    @inline(__always)
    public func contains(_ offset: UInt64, _ size: UInt64) -> Bool {
        let (end, overflow) = offset.addingReportingOverflow(size)
        return !overflow && end <= UInt64(bytes.count)
    }

    @inline(__always)
    func load<T: FixedWidthInteger>(_ offset: UInt64, as: T.Type) -> T? {
        guard contains(offset, UInt64(MemoryLayout<T>.size)) else { return nil }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: Int(offset), as: T.self))
    }

    @inline(__always) public func u8(_ o: UInt64) -> UInt8? { load(o, as: UInt8.self) }
    @inline(__always) public func u16(_ o: UInt64) -> UInt16? { load(o, as: UInt16.self) }
    @inline(__always) public func u32(_ o: UInt64) -> UInt32? { load(o, as: UInt32.self) }
    @inline(__always) public func u64(_ o: UInt64) -> UInt64? { load(o, as: UInt64.self) }

    /// A sub-range, or nil if it does not fit.
    public func slice(_ offset: UInt64, _ size: UInt64) -> UnsafeRawBufferPointer? {
        guard contains(offset, size) else { return nil }
        return UnsafeRawBufferPointer(rebasing: bytes[Int(offset)..<Int(offset + size)])
    }

    /// The NUL-terminated string at `offset` (decoded as UTF-8, invalid bytes repaired).
    public func cString(_ offset: UInt64) -> String? {
        guard offset < UInt64(bytes.count) else { return nil }
        let start = Int(offset)
        var end = start
        while end < bytes.count && bytes[end] != 0 { end += 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }
}
