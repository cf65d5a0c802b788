/// A minimal streaming JSON writer: `symbols dump --json` of a Go binary has
/// tens of thousands of symbols, and building a dictionary tree for
/// JSONSerialization costs more than reading the ELF file. Writes straight
/// into an `Output` buffer.
struct JSONWriter {
    let out: Output
    /// One bit per open container: does the next value need a comma?
    private var needsComma: [Bool] = [false]

    init(_ out: Output) { self.out = out }

    @inline(__always)
    private mutating func separator() {
        if needsComma[needsComma.count - 1] { out.byte(UInt8(ascii: ",")) }
        needsComma[needsComma.count - 1] = true
    }

    mutating func beginObject(_ key: String? = nil) { prefix(key); out.byte(UInt8(ascii: "{")); needsComma.append(false) }
    mutating func endObject() { out.byte(UInt8(ascii: "}")); needsComma.removeLast() }
    mutating func beginArray(_ key: String? = nil) { prefix(key); out.byte(UInt8(ascii: "[")); needsComma.append(false) }
    mutating func endArray() { out.byte(UInt8(ascii: "]")); needsComma.removeLast() }

    @inline(__always)
    private mutating func prefix(_ key: String?) {
        separator()
        if let key { writeString(key); out.byte(UInt8(ascii: ":")) }
    }

    /// Keys written in our source are plain ASCII: no escaping needed.
    @inline(__always)
    private mutating func prefix(_ key: StaticString) {
        separator()
        out.byte(UInt8(ascii: "\""))
        out.bytes(UnsafeRawBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
        out.byte(UInt8(ascii: "\""))
        out.byte(UInt8(ascii: ":"))
    }

    mutating func string(_ key: StaticString, _ value: String?) {
        prefix(key)
        if let value { writeString(value) } else { out.append("null") }
    }

    mutating func int<T: BinaryInteger>(_ key: StaticString, _ value: T?) {
        prefix(key)
        writeInt(value)
    }

    mutating func bool(_ key: StaticString, _ value: Bool) { prefix(key); out.append(value ? "true" : "false") }
    mutating func beginObject(_ key: StaticString) { prefix(key); out.byte(UInt8(ascii: "{")); needsComma.append(false) }
    mutating func beginArray(_ key: StaticString) { prefix(key); out.byte(UInt8(ascii: "[")); needsComma.append(false) }

    mutating func string(_ key: String?, _ value: String?) {
        prefix(key)
        if let value { writeString(value) } else { out.append("null") }
    }

    mutating func int<T: BinaryInteger>(_ key: String?, _ value: T?) {
        prefix(key)
        writeInt(value)
    }

    @inline(__always)
    private func writeInt<T: BinaryInteger>(_ value: T?) {
        guard let value else { return out.append("null") }
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

    mutating func bool(_ key: String?, _ value: Bool) { prefix(key); out.append(value ? "true" : "false") }

    private func writeString(_ s: String) {
        out.byte(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { utf8 in
            // Symbol names almost never need escaping: copy them whole.
            var plain = true
            for b in utf8 where b < 0x20 || b == UInt8(ascii: "\"") || b == 92 {
                plain = false
                break
            }
            if plain {
                out.bytes(UnsafeRawBufferPointer(utf8))
                return
            }
            let hex: [UInt8] = Array("0123456789abcdef".utf8)
            for b in utf8 {
                switch b {
                case UInt8(ascii: "\""), 92: out.byte(92); out.byte(b)
                case 10: out.byte(92); out.byte(UInt8(ascii: "n"))
                case 13: out.byte(92); out.byte(UInt8(ascii: "r"))
                case 9: out.byte(92); out.byte(UInt8(ascii: "t"))
                case 0..<0x20:
                    for c in [92, UInt8(ascii: "u"), 48, 48, hex[Int(b >> 4)], hex[Int(b & 15)]] { out.byte(c) }
                default: out.byte(b)
                }
            }
        }
        out.byte(UInt8(ascii: "\""))
    }
}
