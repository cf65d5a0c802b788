import GoRuntime
import Testing

/// `firstForwardedCall` on literal bytes: the wrappers of Debian's OpenSSL 3.0
/// and variants that must not be taken for argument-preserving calls.
struct ForwardedCallTests {
    static let kernel = KernelRelease(major: 6, minor: 18)

    func call(_ bytes: [UInt8]) -> ForwardedCall? {
        bytes.withUnsafeBytes { firstForwardedCall(code: $0, kernel: Self.kernel) }
    }

    /// SSL_read (libssl3 3.0.19-1~deb12u2): sub; stack protector; test/js; mov %rsp,%rcx; movslq; call.
    static let sslRead: [UInt8] = [
        0x48, 0x83, 0xEC, 0x18, 0x64, 0x48, 0x8B, 0x04, 0x25, 0x28, 0x00, 0x00, 0x00, 0x48, 0x89, 0x44,
        0x24, 0x08, 0x31, 0xC0, 0x85, 0xD2, 0x78, 0x2F, 0x48, 0x89, 0xE1, 0x48, 0x63, 0xD2,
        0xE8, 0x3D, 0xFE, 0xFF, 0xFF, 0x85, 0xC0,
    ]
    /// SSL_read_ex: sub $8,%rsp; call.
    static let sslReadEx: [UInt8] = [0x48, 0x83, 0xEC, 0x08, 0xE8, 0xC7, 0xFD, 0xFF, 0xFF, 0x31, 0xD2]

    @Test func wrapperWithLocalCount() throws {
        let c = try #require(call(Self.sslRead))
        #expect(c.callIndex == 0x1E && c.call.cost == .emulated && c.call.text.hasPrefix("call"))
        #expect(c.displacement == -0x1C3 && c.returnIndex == 0x23 && c.calleeIndex == 0x23 - 0x1C3)
        #expect(c.written == [0, 1, 2, 4], "rax (canary), rcx (&count), rdx (movslq), rsp")
        #expect(c.preserves([ForwardedCall.rdi, ForwardedCall.rsi]))
        #expect(!c.preserves([ForwardedCall.rcx]))
    }

    @Test func wrapperPassingItsArguments() throws {
        let c = try #require(call(Self.sslReadEx))
        #expect(c.callIndex == 4 && c.written == [4])
        #expect(c.preserves([ForwardedCall.rdi, ForwardedCall.rsi, ForwardedCall.rdx, ForwardedCall.rcx]))
    }

    @Test func argumentOverwritten() throws {
        // mov %rdx,%rsi; call: RSI is not the caller's buf any more.
        let c = try #require(call([0x48, 0x89, 0xD6, 0xE8, 0, 0, 0, 0]))
        #expect(!c.preserves([ForwardedCall.rsi]))
        // lea 8(%rdi),%rdi
        #expect(call([0x48, 0x8D, 0x7F, 0x08, 0xE8, 0, 0, 0, 0])?.preserves([ForwardedCall.rdi]) == false)
        // pop %rcx
        #expect(call([0x59, 0xE8, 0, 0, 0, 0])?.preserves([ForwardedCall.rcx]) == false)
    }

    @Test func nothingProvenPastOtherControlFlow() {
        #expect(call([0xEB, 0x02, 0x90, 0x90, 0xE8, 0, 0, 0, 0]) == nil, "jmp")
        #expect(call([0x74, 0xFE, 0xE8, 0, 0, 0, 0]) == nil, "backward jcc")
        #expect(call([0xC3]) == nil, "ret")
        #expect(call([0xFF, 0xD0]) == nil, "indirect call: unknown instruction")
        #expect(call([0xF7, 0xF1, 0xE8, 0, 0, 0, 0]) == nil, "div writes rdx:rax")
        #expect(call(Array(repeating: 0x90, count: 40)) == nil, "no call")
    }
}
