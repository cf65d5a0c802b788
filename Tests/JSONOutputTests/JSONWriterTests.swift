import Foundation
import Testing
import JSONOutput

@Suite struct JSONWriterTests {
    func document(_ body: (inout JSONWriter<ByteArraySink>) -> Void) -> String {
        let sink = ByteArraySink()
        var w = JSONWriter(sink)
        body(&w)
        return sink.text
    }

    @Test func nestedContainersAndCommas() {
        let text = document { w in
            w.beginObject()
            w.string("name", "x")
            w.int("n", -42)
            w.int("none", Int?.none)
            w.bool("ok", true)
            w.beginArray("items")
            for i in [UInt64.max, 0] { w.int(nil, i) }
            w.beginObject()
            w.endObject()
            w.endArray()
            let key = "dynamic \"key\""
            w.string(key, nil)
            w.double("d", 1.5)
            w.double("i", 3)
            w.double("nan", .nan)
            w.endObject()
        }
        #expect(text == #"{"name":"x","n":-42,"none":null,"ok":true,"items":[18446744073709551615,0,{}],"dynamic \"key\"":null,"d":1.5,"i":3,"nan":null}"#)
    }

    @Test func escaping() throws {
        let raw = "q\" b\\ nl\n cr\r tab\t nul\u{0} bell\u{7} ls\u{2028} ps\u{2029} é€ 😀"
        let text = document { w in
            w.beginArray()
            w.string(nil, raw)
            w.endArray()
        }
        #expect(text == #"["q\" b\\ nl\n cr\r tab\t nul\u0000 bell\u0007 ls\u2028 ps\u2029 é€ 😀"]"#)
        let back = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String]
        #expect(back == [raw])
    }
}
