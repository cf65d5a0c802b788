import Testing
@testable import GoRuntime

/// One instruction, its text, and its uprobe cost on Linux 6.18 (this machine's kernel).
struct CostCase: Sendable, CustomStringConvertible {
    var bytes: [UInt8]
    var text: String
    var cost: UprobeCost
    var description: String { text }
}

let k618 = KernelRelease(major: 6, minor: 18)

let costCases: [CostCase] = [
    // emulated: push_setup_xol_ops
    CostCase(bytes: [0x55], text: "push %rbp", cost: .emulated),
    CostCase(bytes: [0x41, 0x56], text: "push %r14", cost: .emulated),
    CostCase(bytes: [0x66, 0x55], text: "push %bp", cost: .singleStepped),  // only REX 41 is taken
    // emulated: branch_setup_xol_ops
    CostCase(bytes: [0xEB, 0x10], text: "jmp .+0x12", cost: .emulated),
    CostCase(bytes: [0xE9, 0x00, 0x01, 0x00, 0x00], text: "jmp .+0x105", cost: .emulated),
    CostCase(bytes: [0xE8, 0xFB, 0xFF, 0xFF, 0xFF], text: "call .+0x0", cost: .emulated),
    CostCase(bytes: [0x76, 0x20], text: "jbe .+0x22", cost: .emulated),
    CostCase(bytes: [0x0F, 0x86, 0x54, 0x03, 0x00, 0x00], text: "jbe .+0x35a", cost: .emulated),
    CostCase(bytes: [0x75, 0xF0], text: "jne .-0xe", cost: .emulated),
    CostCase(bytes: [0x90], text: "nop", cost: .emulated),
    CostCase(bytes: [0x0F, 0x1F, 0x40, 0x00], text: "nopl 0x0(%rax)", cost: .emulated),
    CostCase(bytes: [0x0F, 0x1F, 0x44, 0x00, 0x00], text: "nopl 0x0(%rax,%rax,1)", cost: .optimized),
    // single-stepped
    CostCase(bytes: [0x49, 0x3B, 0x66, 0x10], text: "cmp 0x10(%r14),%rsp", cost: .singleStepped),
    CostCase(bytes: [0x4D, 0x3B, 0x66, 0x10], text: "cmp 0x10(%r14),%r12", cost: .singleStepped),
    CostCase(bytes: [0x4C, 0x8D, 0x64, 0x24, 0xD8], text: "lea -0x28(%rsp),%r12", cost: .singleStepped),
    CostCase(bytes: [0x48, 0x81, 0xEC, 0xA8, 0x00, 0x00, 0x00], text: "sub $0xa8,%rsp", cost: .singleStepped),
    CostCase(bytes: [0x48, 0x83, 0xC4, 0x18], text: "add $0x18,%rsp", cost: .singleStepped),
    CostCase(bytes: [0x48, 0x89, 0xE5], text: "mov %rsp,%rbp", cost: .singleStepped),
    CostCase(bytes: [0x48, 0x89, 0xAC, 0x24, 0xA0, 0x00, 0x00, 0x00], text: "mov %rbp,0xa0(%rsp)", cost: .singleStepped),
    CostCase(bytes: [0x31, 0xC0], text: "xor %eax,%eax", cost: .singleStepped),
    CostCase(bytes: [0x5D], text: "pop %rbp", cost: .singleStepped),
    CostCase(bytes: [0xF3, 0x0F, 0x1E, 0xFA], text: "endbr64", cost: .singleStepped),
    CostCase(bytes: [0xC3], text: "ret", cost: .singleStepped),
    CostCase(bytes: [0xC2, 0x08, 0x00], text: "ret $0x8", cost: .singleStepped),
    CostCase(bytes: [0xFF, 0xE0], text: "jmp *%rax", cost: .singleStepped),
    CostCase(bytes: [0x64, 0x48, 0x8B, 0x0C, 0x25, 0xF8, 0xFF, 0xFF, 0xFF], text: "mov %fs:-0x8,%rcx", cost: .singleStepped),
    CostCase(bytes: [0x48, 0xC7, 0x44, 0x24, 0x08, 0x00, 0x00, 0x00, 0x00], text: "movq $0x0,0x8(%rsp)", cost: .singleStepped),
    // refused by uprobe_init_insn
    CostCase(bytes: [0xCC], text: "int3", cost: .rejected),
    CostCase(bytes: [0xF0, 0x48, 0x0F, 0xB1, 0x0A], text: "(0f b1)", cost: .rejected),
    CostCase(bytes: [0x66, 0xE8, 0x00, 0x00], text: "call .+0x4", cost: .rejected),
    CostCase(bytes: [0x66, 0x2E, 0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00], text: "nopw 0x0(%rax,%rax,1)", cost: .rejected),
]

@Test(arguments: costCases)
func classifiesLikeLinux618(_ c: CostCase) throws {
    let insn = try #require(ProbeInstruction(c.bytes, kernel: k618))
    #expect(insn.length == c.bytes.count)
    #expect(insn.text == c.text)
    #expect(insn.cost == c.cost, "\(c.text)")
}

/// NOP handling moved between releases: the kernel's own NOPs byte for byte from
/// 6.16, the 5-byte optimisation from 6.18, a general insn_is_nop from 6.19.
@Test func nopRulesFollowTheKernelRelease() throws {
    func cost(_ b: [UInt8], _ major: Int, _ minor: Int, fileOffset: UInt64? = nil) -> UprobeCost? {
        ProbeInstruction(b, fileOffset: fileOffset, kernel: KernelRelease(major: major, minor: minor))?.cost
    }
    let nop5: [UInt8] = [0x0F, 0x1F, 0x44, 0x00, 0x00]
    #expect(cost(nop5, 6, 15) == .singleStepped)
    #expect(cost(nop5, 6, 16) == .emulated)
    #expect(cost(nop5, 6, 18) == .optimized)
    #expect(cost(nop5, 6, 18, fileOffset: 0x1ffd) == .emulated, "crosses a page: not optimised")
    let nopw9: [UInt8] = [0x66, 0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00]
    #expect(cost(nopw9, 6, 18) == .singleStepped, "not one of x86_nops[]")
    #expect(cost(nopw9, 6, 19) == .emulated)
    let pause: [UInt8] = [0xF3, 0x90]
    #expect(cost(pause, 6, 18) == .emulated)
    #expect(cost(pause, 6, 19) == .singleStepped)
    let xchgR8: [UInt8] = [0x41, 0x90]
    #expect(cost(xchgR8, 6, 18) == .emulated, "opcode 90 with any prefix before 6.19")
    #expect(cost(xchgR8, 6, 19) == .singleStepped)
    #expect(cost([0x48, 0x89, 0xC0], 6, 19) == .emulated, "mov %rax,%rax")
    #expect(cost([0x48, 0x89, 0xC0], 6, 18) == .singleStepped)
    #expect(cost([0x48, 0x8D, 0x76, 0x00], 6, 19) == .emulated, "lea 0x0(%rsi),%rsi")
    #expect(cost([0x48, 0x8D, 0x76, 0x08], 6, 19) == .singleStepped, "lea 0x8(%rsi),%rsi")
}

@Test func parsesKernelReleases() {
    #expect(KernelRelease("6.18.44-fc-v1147") == KernelRelease(major: 6, minor: 18))
    #expect(KernelRelease("5.10.0-28-amd64") == KernelRelease(major: 5, minor: 10))
    #expect(KernelRelease("linux") == nil)
    #expect(KernelRelease(major: 6, minor: 9) < KernelRelease(major: 6, minor: 18))
    #expect(KernelRelease.running != nil)
}

@Test func refusesBytesThatDoNotDecode() {
    #expect(ProbeInstruction([0x0F]) == nil)
    #expect(ProbeInstruction([0x48, 0x81, 0xEC]) == nil)
    #expect(ProbeInstruction([]) == nil)
}
