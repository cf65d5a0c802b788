/// Where a `JSONWriter` puts its bytes: a buffered file descriptor, an
/// in-memory array, ...
public protocol ByteSink: AnyObject {
    func byte(_ b: UInt8)
    func bytes(_ p: UnsafeRawBufferPointer)
}

/// A sink that keeps every byte in memory.
public final class ByteArraySink: ByteSink {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public func byte(_ b: UInt8) { bytes.append(b) }

    public func bytes(_ p: UnsafeRawBufferPointer) { bytes.append(contentsOf: p) }

    /// The bytes as UTF-8 text.
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}
