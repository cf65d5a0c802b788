/// A streaming JSON writer: values go straight into a `ByteSink`, with no
/// tree built first. `symbols dump --json` of a Go binary has tens of
/// thousands of symbols, and building a dictionary tree for
/// JSONSerialization costs more than reading the ELF file.
///
/// The caller keeps the structure right (`beginObject` / `endObject` in
/// pairs, keys inside objects, `nil` keys inside arrays); the writer adds
/// commas and escapes strings.
public struct JSONWriter<Sink: ByteSink> {
    public let out: Sink
    /// One entry per open container: does the next value need a comma?
    @usableFromInline var needsComma: [Bool] = [false]

    public init(_ out: Sink) { self.out = out }

    // MARK: Containers

    @inlinable
    public mutating func beginObject(_ key: String? = nil) { prefix(key); open(UInt8(ascii: "{")) }
    @inlinable
    public mutating func beginObject(_ key: StaticString) { prefix(key); open(UInt8(ascii: "{")) }
    @inlinable
    public mutating func endObject() { close(UInt8(ascii: "}")) }
    @inlinable
    public mutating func beginArray(_ key: String? = nil) { prefix(key); open(UInt8(ascii: "[")) }
    @inlinable
    public mutating func beginArray(_ key: StaticString) { prefix(key); open(UInt8(ascii: "[")) }
    @inlinable
    public mutating func endArray() { close(UInt8(ascii: "]")) }

    // MARK: Values (nil writes null)

    @inlinable
    public mutating func string(_ key: StaticString, _ value: String?) { prefix(key); writeString(value) }
    @inlinable
    public mutating func string(_ key: String?, _ value: String?) { prefix(key); writeString(value) }
    @inlinable
    public mutating func int<T: BinaryInteger>(_ key: StaticString, _ value: T?) { prefix(key); writeInt(value) }
    @inlinable
    public mutating func int<T: BinaryInteger>(_ key: String?, _ value: T?) { prefix(key); writeInt(value) }
    @inlinable
    public mutating func bool(_ key: StaticString, _ value: Bool) { prefix(key); writeLiteral(value ? "true" : "false") }
    @inlinable
    public mutating func bool(_ key: String?, _ value: Bool) { prefix(key); writeLiteral(value ? "true" : "false") }

    /// A number; JSON has no NaN or infinities, so those are written as null.
    /// Integral values below 10^15 are written without a fraction.
    public mutating func double(_ key: String?, _ value: Double) {
        prefix(key)
        if !value.isFinite { return writeLiteral("null") }
        var text = value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
        text.withUTF8 { out.bytes(UnsafeRawBufferPointer($0)) }
    }

    // MARK: Private

    @inlinable
    mutating func open(_ bracket: UInt8) { out.byte(bracket); needsComma.append(false) }

    @inlinable
    mutating func close(_ bracket: UInt8) { out.byte(bracket); needsComma.removeLast() }

    @inlinable
    mutating func separator() {
        if needsComma[needsComma.count - 1] { out.byte(UInt8(ascii: ",")) }
        needsComma[needsComma.count - 1] = true
    }

    @inlinable
    mutating func prefix(_ key: String?) {
        separator()
        if let key { writeString(key); out.byte(UInt8(ascii: ":")) }
    }

    /// Keys written in our source are plain ASCII: no escaping needed.
    @inlinable
    mutating func prefix(_ key: StaticString) {
        separator()
        out.byte(UInt8(ascii: "\""))
        out.bytes(UnsafeRawBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
        out.byte(UInt8(ascii: "\""))
        out.byte(UInt8(ascii: ":"))
    }

    @inlinable
    func writeLiteral(_ s: StaticString) {
        out.bytes(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    @inlinable
    func writeInt<T: BinaryInteger>(_ value: T?) {
        guard let value else { return writeLiteral("null") }
        if value < 0 { out.byte(UInt8(ascii: "-")) }
        var magnitude = UInt64(value.magnitude)
        // Digits are produced backwards into a small buffer, then written in order.
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { buf in
            var n = 0
            repeat {
                buf[23 - n] = UInt8(48 + magnitude % 10)
                magnitude /= 10
                n += 1
            } while magnitude > 0
            out.bytes(UnsafeRawBufferPointer(rebasing: buf[(24 - n)...]))
        }
    }

    @inlinable
    func writeString(_ s: String?) {
        guard var s else { return writeLiteral("null") }
        out.byte(UInt8(ascii: "\""))
        s.withUTF8 { utf8 in
            // Symbol names almost never need escaping: copy them whole.
            if utf8.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") && $0 != 0xE2 }) {
                out.bytes(UnsafeRawBufferPointer(utf8))
            } else {
                writeEscaped(utf8)
            }
        }
        out.byte(UInt8(ascii: "\""))
    }

    /// Escapes quotes, backslashes and control characters, and U+2028 and
    /// U+2029 (valid in JSON, but line breaks to JavaScript).
    @usableFromInline
    func writeEscaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        let hex = Array("0123456789abcdef".utf8)
        var i = 0
        while i < utf8.count {
            let b = utf8[i]
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.byte(UInt8(ascii: "\\")); out.byte(b)
            case 10: out.byte(UInt8(ascii: "\\")); out.byte(UInt8(ascii: "n"))
            case 13: out.byte(UInt8(ascii: "\\")); out.byte(UInt8(ascii: "r"))
            case 9: out.byte(UInt8(ascii: "\\")); out.byte(UInt8(ascii: "t"))
            case 0..<0x20:
                for c in Array("\\u00".utf8) + [hex[Int(b >> 4)], hex[Int(b & 15)]] { out.byte(c) }
            case 0xE2 where i + 2 < utf8.count && utf8[i + 1] == 0x80 && (utf8[i + 2] == 0xA8 || utf8[i + 2] == 0xA9):
                for c in Array((utf8[i + 2] == 0xA8 ? "\\u2028" : "\\u2029").utf8) { out.byte(c) }
                i += 2
            default: out.byte(b)
            }
            i += 1
        }
    }
}
