import Testing
@testable import Tracing

/// HPACK decoding (RFC 7541's own examples), the late-joiner rule, and HTTP/2
/// frames split across reads.
@Suite struct HTTP2ParserTests {
    static func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            out.append(UInt8(s[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    typealias F = HPACKDecoder.Field
    // RFC 7541 C.4.1-C.4.3: three requests with Huffman-coded literals and the dynamic table.
    static let c41 = hex("828684418cf1e3c2e5f23a6ba0ab90f4ff")
    static let c42 = hex("828684be5886a8eb10649cbf")
    static let c43 = hex("828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf")

    @Test func rfc7541HuffmanRequests() {
        var d = HPACKDecoder()
        let a = d.decode(Self.c41[...]), b = d.decode(Self.c42[...]), c = d.decode(Self.c43[...])
        #expect(a.ok && b.ok && c.ok)
        #expect(a.fields == [F(name: ":method", value: "GET"), F(name: ":scheme", value: "http"), F(name: ":path", value: "/"),
                             F(name: ":authority", value: "www.example.com")])
        // cache-control is not kept: its name only.
        #expect(b.fields == [F(name: ":method", value: "GET"), F(name: ":scheme", value: "http"), F(name: ":path", value: "/"),
                             F(name: ":authority", value: "www.example.com"), F(name: "cache-control", value: nil)])
        #expect(c.fields == [F(name: ":method", value: "GET"), F(name: ":scheme", value: "https"), F(name: ":path", value: "/index.html"),
                             F(name: ":authority", value: "www.example.com"), F(name: "custom-key", value: nil)])
        #expect(d.entryCount == 3)
    }

    @Test func lateJoinerKnowsOnlyWhatItSaw() {
        // Joined before C.4.2: its reference to :authority (index 62) is unknown, never another entry.
        var late = HPACKDecoder(complete: false)
        let b = late.decode(Self.c42[...])
        #expect(b.ok)
        #expect(b.fields == [F(name: ":method", value: "GET"), F(name: ":scheme", value: "http"), F(name: ":path", value: "/"),
                             F(name: nil, value: nil), F(name: "cache-control", value: nil)])
        // C.4.3 refers to index 63 (= the :authority it never saw) and inserts custom-key.
        let c = late.decode(Self.c43[...])
        #expect(c.ok && c.fields[3] == F(name: nil, value: nil) && c.fields[4] == F(name: "custom-key", value: nil))
        // A complete table treats the same reference as a protocol error.
        var full = HPACKDecoder()
        #expect(!full.decode(Self.c42[...]).ok && full.isLost)
    }

    @Test func sizeUpdateToZeroResyncs() {
        var late = HPACKDecoder(complete: false)
        // 0x20: table size 0 (empties it), 0x3f e1 1f: size 4096, then a literal :authority inserted, then index 62.
        let block: [UInt8] = [0x20, 0x3F, 0xE1, 0x1F, 0x41, 0x03] + Array("a.b".utf8) + [0xBE]
        let r = late.decode(block[...])
        #expect(r.ok && late.isComplete)
        #expect(r.fields == [F(name: ":authority", value: "a.b"), F(name: ":authority", value: "a.b")])
    }

    @Test func malformedBlocksLoseTheTable() {
        var d = HPACKDecoder()
        #expect(!d.decode([0x80][...]).ok, "index 0")
        var e = HPACKDecoder()
        #expect(!e.decode([0x40, 0x85, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x61][...]).ok, "Huffman EOS/padding over 7 bits")
        #expect(e.isLost)
        // After a loss, dynamic references are unknown, static ones still right.
        let r = e.decode([0x82, 0xBE][...])
        #expect(r.ok && r.fields == [F(name: ":method", value: "GET"), F(name: nil, value: nil)])
    }

    static func frame(_ type: UInt8, _ flags: UInt8, _ stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
        let n = payload.count
        return [UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF), type, flags,
                UInt8(stream >> 24), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)] + payload
    }

    @Test func framesAcrossReadsAndUncapturedData() {
        let settings = Self.frame(4, 0, 0, [0, 3, 0, 0, 0, 100])
        let headers = Self.frame(1, 0x1, 1, Array(Self.c41.prefix(5))) + Self.frame(9, 0x4, 1, Array(Self.c41.dropFirst(5)))
        let data = Self.frame(0, 0x1, 3, [UInt8](repeating: 7, count: 3000))
        let rst = Self.frame(3, 0, 5, [0, 0, 0, 8])
        let goaway = Self.frame(7, 0, 0, [0, 0, 0, 5, 0, 0, 0, 0])
        let stream = HTTP2FrameParser.preface + settings + headers + data + rst + goaway
        var whole = HTTP2Stream(fromStart: true, clientSide: true)
        let expected = whole.feed(stream)
        #expect(expected == [
            .headers(stream: 1, fields: [F(name: ":method", value: "GET"), F(name: ":scheme", value: "http"), F(name: ":path", value: "/"),
                                         F(name: ":authority", value: "www.example.com")], complete: true, endStream: true),
            .endStream(stream: 3), .reset(stream: 5, code: 8), .goAway(lastStream: 5, code: 0),
        ])
        for cut in stride(from: 1, to: stream.count, by: 7) {
            var s = HTTP2Stream(fromStart: true, clientSide: true)
            #expect(s.feed(Array(stream[..<cut])) + s.feed(Array(stream[cut...])) == expected, "cut at \(cut)")
        }
        // The DATA payload partly uncaptured (a 1024-byte capture): the frames after it still parse.
        var s = HTTP2Stream(fromStart: true, clientSide: true)
        let upToData = HTTP2FrameParser.preface + settings + headers + data.prefix(1024)
        var got = s.feed(Array(upToData), missing: data.count - 1024)
        got += s.feed(rst + goaway)
        #expect(got == expected)
        // An uncaptured frame header loses the boundaries.
        var t = HTTP2Stream(fromStart: true, clientSide: true)
        _ = t.feed(HTTP2FrameParser.preface, missing: 20)
        #expect(t.isLost && t.feed(rst).isEmpty)
    }

    @Test func notAPrefaceIsLost() {
        var s = HTTP2Stream(fromStart: true, clientSide: true)
        #expect(s.feed(Array("GET / HTTP/1.1\r\n\r\n".utf8)).isEmpty && s.isLost)
        let frames = Self.frame(1, 4, 1, [0x82]) + Self.frame(0, 1, 1, Array("ok".utf8))
        #expect(HTTP2FrameParser.plausibleFrames(frames))
        #expect(!HTTP2FrameParser.plausibleFrames(frames.dropLast()), "the last frame must end with the call")
        #expect(HTTP2FrameParser.plausibleFrames(Array(frames.dropLast()), missing: 1), "unless bytes were not captured")
        #expect(!HTTP2FrameParser.plausibleFrames(frames + [0]), "nor run past it")
        #expect(!HTTP2FrameParser.plausibleFrames(Array("GET / HTTP/1.1\r\n".utf8)))
        #expect(!HTTP2FrameParser.plausibleFrames([0, 0, 4, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4]), "HEADERS on stream 0")
    }
}
