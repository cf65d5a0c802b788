import Foundation
import Testing
@testable import GoRuntime
import Symbols

private func abiFixture(_ name: String, filePath: String = #filePath) -> String? {
    let root = URL(fileURLWithPath: filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let path = root.appendingPathComponent("testdata/bin/\(name)").path
    if FileManager.default.isReadableFile(atPath: path) { return path }
    let reason = "fixture \(path) missing; run testdata/build.sh (needs gcc and Go)"
    if ProcessInfo.processInfo.environment["CI"] == "true" {
        Issue.record(Comment(rawValue: reason))
    } else {
        print("skipped: \(reason)")
    }
    return nil
}

@Suite struct GoRegisterABITests {
    let abi = GoRegisterABI.amd64

    @Test func serveHTTPArguments() {
        let sig = GoSignature.serverHandlerServeHTTP
        #expect(abi.argument("sh", of: sig) == .registers([.rax]))
        #expect(abi.argument("rw", of: sig) == .registers([.rbx, .rcx]))  // itab, *response
        #expect(abi.argument("req", of: sig) == .registers([.rdi]))
        #expect(abi.locations(of: sig).results.isEmpty)
        #expect(abi.gRegister == .r14)
    }

    @Test func roundTripArgumentsAndResults() {
        let sig = GoSignature.transportRoundTrip
        #expect(abi.argument("t", of: sig) == .registers([.rax]))
        #expect(abi.argument("req", of: sig) == .registers([.rbx]))
        #expect(abi.result("~r0", of: sig) == .registers([.rax]))
        #expect(abi.result("~r1", of: sig) == .registers([.rbx, .rcx]))
    }

    @Test func valuesThatDoNotFitGoOnTheStackWithoutConsumingRegisters() {
        // 4 slices = 12 words: the 4th does not fit in the 9 registers; a later word still does.
        let locs = abi.assign([.slice, .slice, .slice, .slice, .word])
        #expect(locs[0] == .registers([.rax, .rbx, .rcx]))
        #expect(locs[2] == .registers([.r9, .r10, .r11]))
        #expect(locs[3] == .stack)
        #expect(locs[4] == .stack)  // all 9 used
        let mixed = abi.assign([.string, .string, .string, .string, .slice, .word])
        #expect(mixed[3] == .registers([.r9, .r10]))
        #expect(mixed[4] == .stack)                // needs 3, only R11 left
        #expect(mixed[5] == .registers([.r11]))
        let partial = abi.assign([.struct([.string, .string, .string, .string]), .slice, .word])
        #expect(partial[0] == .registers([.rax, .rbx, .rcx, .rdi, .rsi, .r8, .r9, .r10]))
        #expect(partial[1] == .stack)
        #expect(partial[2] == .registers([.r11]))
    }

    @Test func arrays() {
        #expect(abi.assign([.array(count: 0, element: .word), .word]) == [.registers([]), .registers([.rax])])
        #expect(abi.assign([.array(count: 1, element: .string)]) == [.registers([.rax, .rbx])])
        #expect(abi.assign([.array(count: 2, element: .word), .word]) == [.stack, .registers([.rax])])
    }

    @Test func arm64MappingAsData() {
        let arm = GoRegisterABI.arm64
        #expect(arm.integerRegisters.count == 16)
        #expect(arm.gRegister == .x28)
        let sig = GoSignature.serverHandlerServeHTTP
        #expect(arm.argument("rw", of: sig) == .registers([.x1, .x2]))
        #expect(arm.argument("req", of: sig) == .registers([.x3]))
        #expect(arm.result("~r1", of: .transportRoundTrip) == .registers([.x1, .x2]))
    }

    /// The declared signatures match what the compiler recorded for the fixtures.
    @Test func declaredSignaturesMatchDWARF() throws {
        for (binary, sig) in [("go-server", GoSignature.serverHandlerServeHTTP),
                              ("go-client", GoSignature.transportRoundTrip)] {
            guard let path = abiFixture(binary) else { return }
            let dwarf = try #require(try DWARFTypes.load(path: path, structs: [], subprograms: [sig.function]))
            let sub = try #require(dwarf.subprogram(sig.function), "\(sig.function) in \(binary)")
            #expect(sub.arguments.map(\.name) == sig.arguments.map(\.name))
            #expect(sub.results.count == sig.results.count)
            // Every declared word count matches the DWARF type size (8-byte words).
            for (param, declared) in zip(sub.arguments + sub.results, sig.arguments + sig.results) {
                let size = try #require(param.size, "\(sig.function) \(param.name)")
                #expect(size == (declared.type.words ?? -1) * 8, "\(sig.function) \(param.name): DWARF \(size) bytes")
            }
        }
    }
}
