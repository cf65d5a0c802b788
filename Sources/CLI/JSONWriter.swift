/// A minimal streaming JSON writer: `symbols dump --json` of a Go binary has
/// tens of thousands of symbols, and building a dictionary tree for
/// JSONSerialization costs more than reading the ELF file.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []
    private var needsComma: [Bool] = [false]

    init() { bytes.reserveCapacity(1 << 16) }

    private mutating func separator() {
        if needsComma[needsComma.count - 1] { bytes.append(UInt8(ascii: ",")) }
        needsComma[needsComma.count - 1] = true
    }

    mutating func beginObject(_ key: String? = nil) { prefix(key); bytes.append(UInt8(ascii: "{")); needsComma.append(false) }
    mutating func endObject() { bytes.append(UInt8(ascii: "}")); needsComma.removeLast() }
    mutating func beginArray(_ key: String? = nil) { prefix(key); bytes.append(UInt8(ascii: "[")); needsComma.append(false) }
    mutating func endArray() { bytes.append(UInt8(ascii: "]")); needsComma.removeLast() }

    private mutating func prefix(_ key: String?) {
        separator()
        if let key { writeString(key); bytes.append(UInt8(ascii: ":")) }
    }

    mutating func string(_ key: String?, _ value: String?) {
        prefix(key)
        if let value { writeString(value) } else { null() }
    }

    mutating func int<T: BinaryInteger>(_ key: String?, _ value: T?) {
        prefix(key)
        if let value { append(String(value)) } else { null() }
    }

    mutating func bool(_ key: String?, _ value: Bool) { prefix(key); append(value ? "true" : "false") }

    private mutating func null() { append("null") }

    private mutating func append(_ s: String) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }

    private mutating func writeString(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { utf8 in
            for b in utf8 {
                switch b {
                case UInt8(ascii: "\""): bytes.append(92); bytes.append(b)
                case 92: bytes.append(92); bytes.append(92)
                case 10: bytes.append(92); bytes.append(UInt8(ascii: "n"))
                case 13: bytes.append(92); bytes.append(UInt8(ascii: "r"))
                case 9: bytes.append(92); bytes.append(UInt8(ascii: "t"))
                case 0..<0x20:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hex[Int(b >> 4)], hex[Int(b & 15)]])
                default: bytes.append(b)
                }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
