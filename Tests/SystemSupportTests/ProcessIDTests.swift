import Testing
import SystemSupport

@Suite struct ProcessIDTests {
    @Test func positiveDecimal() {
        #expect(parseProcessID("1") == 1)
        #expect(parseProcessID("4194303") == 4194303)
        #expect(parseProcessID("2147483647") == Int32.max)
        #expect(parseProcessID("007") == 7)
    }

    @Test(arguments: ["", "0", "-5", "+5", " 5", "5 ", "12x", "1.5", "abc", "self", "2147483648", "99999999999"])
    func rejected(_ text: String) {
        #expect(parseProcessID(text) == nil, "\(text)")
    }
}
