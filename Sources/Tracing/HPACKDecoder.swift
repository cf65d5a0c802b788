/// An HPACK (RFC 7541) header-block decoder for a passive observer: one per
/// direction of an HTTP/2 connection, fed each complete header block in order.
///
/// Why not NIOHPACK: it decodes a block all or nothing and needs a complete
/// dynamic table, while a tracer that attached mid-connection knows only the
/// entries inserted since; this decoder resolves what it can per field and
/// reports the rest as unknown (`nil`), never as another entry's value. The
/// relative index of the newest insertions is the same in the encoder's
/// table and in ours (ours holds a suffix of its insertions), so a reference
/// within what we saw is right and one beyond it is unknown.
///
/// Privacy: values are kept only for `keptNames` (pseudo-headers, host,
/// trace context); for every other field only the name and the entry size
/// are remembered, so credentials never outlive the block being decoded.
public struct HPACKDecoder: Sendable {
    /// One decoded field; nil when not knowable (lost table entry) or, for a
    /// value, not kept.
    public struct Field: Sendable, Equatable {
        public var name: String?
        public var value: String?
        public init(name: String?, value: String?) {
            self.name = name
            self.value = value
        }
    }

    /// Lowercased names whose values are kept.
    public static let keptNames: Set<String> = [
        ":method", ":path", ":authority", ":scheme", ":status", ":protocol", "host", "traceparent", "tracestate",
    ]

    /// Longest header block accepted (the frame parser caps blocks too).
    public static let maxBlockBytes = 64 * 1024
    /// Entries kept at most, whatever the table size says.
    static let maxEntries = 4096

    struct Entry: Sendable {
        var name: String?
        var value: String?
        /// RFC 7541 4.1 size; 32 (the least) when the name is unknown.
        var size: Int
    }

    /// Newest last.
    private var entries: [Entry] = []
    private var tableBytes = 0
    private var tableLimit = 4096
    /// True when every insertion since the table was empty was seen: a
    /// reference beyond our entries is then a peer error, not a lost entry.
    public private(set) var isComplete: Bool
    /// A block failed to parse: insertions after the failure were missed, so
    /// no dynamic reference can be trusted until the table is emptied.
    public private(set) var isLost = false

    /// `complete`: false for a tracer that joined the connection after its start.
    public init(complete: Bool = true) {
        isComplete = complete
    }

    /// Forgets the table: part of a block was not seen, so its insertions are unknown.
    public mutating func loseTable() { lose() }

    /// Entries currently held.
    public var entryCount: Int { entries.count }

    /// Decodes one complete header block. `ok` is false when it could not be
    /// parsed to its end (the fields before the error are returned).
    public mutating func decode(_ block: ArraySlice<UInt8>) -> (fields: [Field], ok: Bool) {
        var fields: [Field] = []
        guard block.count <= Self.maxBlockBytes else {
            lose()
            return (fields, false)
        }
        var i = block.startIndex
        let end = block.endIndex
        while i < end {
            let b = block[i]
            if b & 0x80 != 0 { // indexed field
                guard let index = Self.integer(block, &i, prefix: 7), index > 0 else { return failed(fields) }
                guard let e = lookup(index) else { return failed(fields) }
                fields.append(Field(name: e.name, value: e.value))
            } else if b & 0xE0 == 0x20 { // dynamic table size update
                guard let size = Self.integer(block, &i, prefix: 5), size <= 1 << 24 else { return failed(fields) }
                tableLimit = size
                if size == 0 {
                    entries.removeAll()
                    tableBytes = 0
                    isComplete = true
                    isLost = false
                } else {
                    evict(to: size)
                }
            } else { // literal: with incremental indexing (01), without (0000), never indexed (0001)
                let indexing = b & 0xC0 == 0x40
                guard let nameIndex = Self.integer(block, &i, prefix: indexing ? 6 : 4) else { return failed(fields) }
                var name: String?
                var nameLength: Int?
                if nameIndex == 0 {
                    guard let raw = Self.string(block, &i) else { return failed(fields) }
                    name = String(decoding: raw, as: UTF8.self).lowercased()
                    nameLength = raw.count
                } else {
                    guard let e = lookup(nameIndex) else { return failed(fields) }
                    name = e.name
                    nameLength = e.name?.utf8.count
                }
                guard let raw = Self.string(block, &i) else { return failed(fields) }
                let kept = name.map { Self.keptNames.contains($0) } ?? false
                let value = kept ? String(decoding: raw, as: UTF8.self) : nil
                fields.append(Field(name: name, value: value))
                if indexing {
                    insert(Entry(name: name, value: value, size: nameLength.map { $0 + raw.count + 32 } ?? 32))
                }
            }
        }
        return (fields, true)
    }

    // MARK: Private

    private mutating func failed(_ fields: [Field]) -> (fields: [Field], ok: Bool) {
        lose()
        return (fields, false)
    }

    private mutating func lose() {
        entries.removeAll()
        tableBytes = 0
        isLost = true
        isComplete = false
    }

    /// nil: a protocol error (index 0, or beyond a complete table); an entry
    /// with nil parts: a lost dynamic entry.
    private func lookup(_ index: Int) -> Entry? {
        if index <= Self.staticTable.count {
            let s = Self.staticTable[index - 1]
            return Entry(name: s.name, value: Self.keptNames.contains(s.name) ? s.value : nil, size: 0)
        }
        let d = index - Self.staticTable.count
        if isLost { return Entry(name: nil, value: nil, size: 32) }
        if d <= entries.count { return entries[entries.count - d] }
        return isComplete ? nil : Entry(name: nil, value: nil, size: 32)
    }

    private mutating func insert(_ e: Entry) {
        guard !isLost else { return }
        if e.size > tableLimit { // RFC 7541 4.4: an entry larger than the table empties it
            entries.removeAll()
            tableBytes = 0
            return
        }
        entries.append(e)
        tableBytes += e.size
        evict(to: tableLimit)
    }

    private mutating func evict(to limit: Int) {
        var drop = 0
        var bytes = tableBytes
        while drop < entries.count && (bytes > limit || entries.count - drop > Self.maxEntries) {
            bytes -= entries[drop].size
            drop += 1
        }
        if drop > 0 {
            entries.removeFirst(drop)
            tableBytes = bytes
        }
    }

    /// RFC 7541 5.1: an integer with an N-bit prefix; nil if truncated or over 2^28.
    static func integer(_ b: ArraySlice<UInt8>, _ i: inout Int, prefix: Int) -> Int? {
        guard i < b.endIndex else { return nil }
        let mask = (1 << prefix) - 1
        var value = Int(b[i]) & mask
        i += 1
        guard value == mask else { return value }
        var shift = 0
        while true {
            guard i < b.endIndex, shift <= 21 else { return nil }
            let byte = b[i]
            i += 1
            value += Int(byte & 0x7F) << shift
            shift += 7
            if byte & 0x80 == 0 { return value }
        }
    }

    /// RFC 7541 5.2: a string literal, Huffman-decoded when flagged; nil if malformed.
    static func string(_ b: ArraySlice<UInt8>, _ i: inout Int) -> [UInt8]? {
        guard i < b.endIndex else { return nil }
        let huffman = b[i] & 0x80 != 0
        guard let length = integer(b, &i, prefix: 7), length <= b.endIndex - i else { return nil }
        let raw = b[i..<i + length]
        i += length
        return huffman ? Huffman.decode(raw) : Array(raw)
    }
}

/// The HPACK Huffman code as a binary tree, decoded bit by bit.
enum Huffman {
    /// Node n: children at tree[2n] (bit 0) and tree[2n+1] (bit 1): > 0 an
    /// inner node, < 0 a leaf holding -(symbol + 1), 0 no code.
    static let tree: [Int32] = {
        var t = [Int32](repeating: 0, count: 2)
        var nodes = 1
        for (symbol, c) in HPACKDecoder.huffmanCodes.enumerated() {
            var node = 0
            for bit in stride(from: Int(c.bits) - 1, through: 0, by: -1) {
                let slot = 2 * node + Int((c.code >> UInt32(bit)) & 1)
                if bit == 0 {
                    t[slot] = -Int32(symbol + 1)
                } else {
                    if t[slot] == 0 {
                        t[slot] = Int32(nodes)
                        nodes += 1
                        t += [0, 0]
                    }
                    node = Int(t[slot])
                }
            }
        }
        return t
    }()

    /// nil for EOS in the data, padding longer than 7 bits, or padding not all ones.
    static func decode(_ raw: ArraySlice<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count * 8 / 5)
        var node = 0
        var depth = 0
        var ones = true
        for byte in raw {
            for bit in stride(from: 7, through: 0, by: -1) {
                let one = (byte >> UInt8(bit)) & 1
                let next = tree[2 * node + Int(one)]
                if next < 0 {
                    let symbol = Int(-next - 1)
                    guard symbol < 256 else { return nil }
                    out.append(UInt8(symbol))
                    node = 0
                    depth = 0
                    ones = true
                } else if next == 0 {
                    return nil
                } else {
                    node = Int(next)
                    depth += 1
                    ones = ones && one == 1
                }
            }
        }
        return depth <= 7 && ones ? out : nil
    }
}

extension HPACKDecoder {
    /// RFC 7541 Appendix A: the 61 static entries (index 1 first).
    static let staticTable: [(name: String, value: String)] = [
        (":authority", ""),
        (":method", "GET"),
        (":method", "POST"),
        (":path", "/"),
        (":path", "/index.html"),
        (":scheme", "http"),
        (":scheme", "https"),
        (":status", "200"),
        (":status", "204"),
        (":status", "206"),
        (":status", "304"),
        (":status", "400"),
        (":status", "404"),
        (":status", "500"),
        ("accept-charset", ""),
        ("accept-encoding", "gzip, deflate"),
        ("accept-language", ""),
        ("accept-ranges", ""),
        ("accept", ""),
        ("access-control-allow-origin", ""),
        ("age", ""),
        ("allow", ""),
        ("authorization", ""),
        ("cache-control", ""),
        ("content-disposition", ""),
        ("content-encoding", ""),
        ("content-language", ""),
        ("content-length", ""),
        ("content-location", ""),
        ("content-range", ""),
        ("content-type", ""),
        ("cookie", ""),
        ("date", ""),
        ("etag", ""),
        ("expect", ""),
        ("expires", ""),
        ("from", ""),
        ("host", ""),
        ("if-match", ""),
        ("if-modified-since", ""),
        ("if-none-match", ""),
        ("if-range", ""),
        ("if-unmodified-since", ""),
        ("last-modified", ""),
        ("link", ""),
        ("location", ""),
        ("max-forwards", ""),
        ("proxy-authenticate", ""),
        ("proxy-authorization", ""),
        ("range", ""),
        ("referer", ""),
        ("refresh", ""),
        ("retry-after", ""),
        ("server", ""),
        ("set-cookie", ""),
        ("strict-transport-security", ""),
        ("transfer-encoding", ""),
        ("user-agent", ""),
        ("vary", ""),
        ("via", ""),
        ("www-authenticate", ""),
    ]

    /// RFC 7541 Appendix B: (code, bit length) of symbols 0...256 (256 = EOS).
    static let huffmanCodes: [(code: UInt32, bits: UInt8)] = [
        (0x1ff8, 13), (0x7fffd8, 23), (0xfffffe2, 28), (0xfffffe3, 28), (0xfffffe4, 28), (0xfffffe5, 28),
        (0xfffffe6, 28), (0xfffffe7, 28), (0xfffffe8, 28), (0xffffea, 24), (0x3ffffffc, 30), (0xfffffe9, 28),
        (0xfffffea, 28), (0x3ffffffd, 30), (0xfffffeb, 28), (0xfffffec, 28), (0xfffffed, 28), (0xfffffee, 28),
        (0xfffffef, 28), (0xffffff0, 28), (0xffffff1, 28), (0xffffff2, 28), (0x3ffffffe, 30), (0xffffff3, 28),
        (0xffffff4, 28), (0xffffff5, 28), (0xffffff6, 28), (0xffffff7, 28), (0xffffff8, 28), (0xffffff9, 28),
        (0xffffffa, 28), (0xffffffb, 28), (0x14, 6), (0x3f8, 10), (0x3f9, 10), (0xffa, 12),
        (0x1ff9, 13), (0x15, 6), (0xf8, 8), (0x7fa, 11), (0x3fa, 10), (0x3fb, 10),
        (0xf9, 8), (0x7fb, 11), (0xfa, 8), (0x16, 6), (0x17, 6), (0x18, 6),
        (0x0, 5), (0x1, 5), (0x2, 5), (0x19, 6), (0x1a, 6), (0x1b, 6),
        (0x1c, 6), (0x1d, 6), (0x1e, 6), (0x1f, 6), (0x5c, 7), (0xfb, 8),
        (0x7ffc, 15), (0x20, 6), (0xffb, 12), (0x3fc, 10), (0x1ffa, 13), (0x21, 6),
        (0x5d, 7), (0x5e, 7), (0x5f, 7), (0x60, 7), (0x61, 7), (0x62, 7),
        (0x63, 7), (0x64, 7), (0x65, 7), (0x66, 7), (0x67, 7), (0x68, 7),
        (0x69, 7), (0x6a, 7), (0x6b, 7), (0x6c, 7), (0x6d, 7), (0x6e, 7),
        (0x6f, 7), (0x70, 7), (0x71, 7), (0x72, 7), (0xfc, 8), (0x73, 7),
        (0xfd, 8), (0x1ffb, 13), (0x7fff0, 19), (0x1ffc, 13), (0x3ffc, 14), (0x22, 6),
        (0x7ffd, 15), (0x3, 5), (0x23, 6), (0x4, 5), (0x24, 6), (0x5, 5),
        (0x25, 6), (0x26, 6), (0x27, 6), (0x6, 5), (0x74, 7), (0x75, 7),
        (0x28, 6), (0x29, 6), (0x2a, 6), (0x7, 5), (0x2b, 6), (0x76, 7),
        (0x2c, 6), (0x8, 5), (0x9, 5), (0x2d, 6), (0x77, 7), (0x78, 7),
        (0x79, 7), (0x7a, 7), (0x7b, 7), (0x7ffe, 15), (0x7fc, 11), (0x3ffd, 14),
        (0x1ffd, 13), (0xffffffc, 28), (0xfffe6, 20), (0x3fffd2, 22), (0xfffe7, 20), (0xfffe8, 20),
        (0x3fffd3, 22), (0x3fffd4, 22), (0x3fffd5, 22), (0x7fffd9, 23), (0x3fffd6, 22), (0x7fffda, 23),
        (0x7fffdb, 23), (0x7fffdc, 23), (0x7fffdd, 23), (0x7fffde, 23), (0xffffeb, 24), (0x7fffdf, 23),
        (0xffffec, 24), (0xffffed, 24), (0x3fffd7, 22), (0x7fffe0, 23), (0xffffee, 24), (0x7fffe1, 23),
        (0x7fffe2, 23), (0x7fffe3, 23), (0x7fffe4, 23), (0x1fffdc, 21), (0x3fffd8, 22), (0x7fffe5, 23),
        (0x3fffd9, 22), (0x7fffe6, 23), (0x7fffe7, 23), (0xffffef, 24), (0x3fffda, 22), (0x1fffdd, 21),
        (0xfffe9, 20), (0x3fffdb, 22), (0x3fffdc, 22), (0x7fffe8, 23), (0x7fffe9, 23), (0x1fffde, 21),
        (0x7fffea, 23), (0x3fffdd, 22), (0x3fffde, 22), (0xfffff0, 24), (0x1fffdf, 21), (0x3fffdf, 22),
        (0x7fffeb, 23), (0x7fffec, 23), (0x1fffe0, 21), (0x1fffe1, 21), (0x3fffe0, 22), (0x1fffe2, 21),
        (0x7fffed, 23), (0x3fffe1, 22), (0x7fffee, 23), (0x7fffef, 23), (0xfffea, 20), (0x3fffe2, 22),
        (0x3fffe3, 22), (0x3fffe4, 22), (0x7ffff0, 23), (0x3fffe5, 22), (0x3fffe6, 22), (0x7ffff1, 23),
        (0x3ffffe0, 26), (0x3ffffe1, 26), (0xfffeb, 20), (0x7fff1, 19), (0x3fffe7, 22), (0x7ffff2, 23),
        (0x3fffe8, 22), (0x1ffffec, 25), (0x3ffffe2, 26), (0x3ffffe3, 26), (0x3ffffe4, 26), (0x7ffffde, 27),
        (0x7ffffdf, 27), (0x3ffffe5, 26), (0xfffff1, 24), (0x1ffffed, 25), (0x7fff2, 19), (0x1fffe3, 21),
        (0x3ffffe6, 26), (0x7ffffe0, 27), (0x7ffffe1, 27), (0x3ffffe7, 26), (0x7ffffe2, 27), (0xfffff2, 24),
        (0x1fffe4, 21), (0x1fffe5, 21), (0x3ffffe8, 26), (0x3ffffe9, 26), (0xffffffd, 28), (0x7ffffe3, 27),
        (0x7ffffe4, 27), (0x7ffffe5, 27), (0xfffec, 20), (0xfffff3, 24), (0xfffed, 20), (0x1fffe6, 21),
        (0x3fffe9, 22), (0x1fffe7, 21), (0x1fffe8, 21), (0x7ffff3, 23), (0x3fffea, 22), (0x3fffeb, 22),
        (0x1ffffee, 25), (0x1ffffef, 25), (0xfffff4, 24), (0xfffff5, 24), (0x3ffffea, 26), (0x7ffff4, 23),
        (0x3ffffeb, 26), (0x7ffffe6, 27), (0x3ffffec, 26), (0x3ffffed, 26), (0x7ffffe7, 27), (0x7ffffe8, 27),
        (0x7ffffe9, 27), (0x7ffffea, 27), (0x7ffffeb, 27), (0xffffffe, 28), (0x7ffffec, 27), (0x7ffffed, 27),
        (0x7ffffee, 27), (0x7ffffef, 27), (0x7fffff0, 27), (0x3ffffee, 26), (0x3fffffff, 30),
    ]
}
