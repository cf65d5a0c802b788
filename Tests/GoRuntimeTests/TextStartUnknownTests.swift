import Foundation
import GoRuntime
import Symbols
import Testing

/// Issue 14: "a text start that cannot be established is an error, never a guess".
/// Go ≥ 1.26 externally linked builds of the fixture matrix, with the module data's
/// `text` word changed in a temporary copy: no candidate then agrees with the pclntab,
/// and loading the function table throws `.textStartUnknown` instead of using the
/// `.text` section address or the ELF entry. In the PIE build the loader takes the
/// word from its R_X86_64_RELATIVE addend, so there the relocation still gives the
/// right base.
@Suite struct TextStartUnknownTests {
    /// A copy of `path` with word `word` of its module data replaced by `value`, and the original text start.
    static func patchedModuleData(_ path: String, word: UInt64, add delta: UInt64) throws -> (copy: String, text: UInt64) {
        let elf = try ELFFile(path: path)
        let table = try GoFunctionTable.load(from: elf)
        let at = try #require(table.textStartSource.firstMatch(of: /module data at 0x([0-9a-f]+)/).flatMap { UInt64($0.1, radix: 16) },
                              "\(table.textStartSource)")
        let offset = Int(try #require(elf.fileOffset(forVirtualAddress: at + word * 8)))
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var value = bytes[offset..<offset + 8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        value &+= delta
        for i in 0..<8 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        let copy = FileManager.default.temporaryDirectory
            .appendingPathComponent("textstart-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try Data(bytes).write(to: URL(fileURLWithPath: copy))
        return (copy, table.textStart)
    }

    @Test(arguments: ["1.26", "1.27"])
    func moduleDataThatDisagreesIsAnError(_ minor: String) throws {
        guard let dir = GoMatrix.fixtures(minor: minor, variant: "cgo-stripped") else { return }
        // Word 22 is `text`: 0x40 off, so minpc != text + the first function's offset.
        let (copy, _) = try Self.patchedModuleData(dir + "/go-server", word: 22, add: 0x40)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        do {
            let table = try GoFunctionTable.load(from: try ELFFile(path: copy))
            Issue.record("go\(minor): a text start was guessed: 0x\(String(table.textStart, radix: 16)) from \(table.textStartSource)")
        } catch let error as GoRuntimeError {
            guard case .textStartUnknown(_, _, let what) = error else {
                Issue.record("go\(minor): \(error)")
                return
            }
            #expect(what.contains("no runtime module data"), "\(what)")
            #expect(error.description.contains("hint:") && !error.description.contains("\n"), "\(error.description)")
        }
    }

    @Test func pieTakesTheBaseFromTheRelocation() throws {
        guard let dir = GoMatrix.fixtures(minor: GoMatrix.expected.last!.minor, variant: "cgo-pie-stripped") else { return }
        let (copy, text) = try Self.patchedModuleData(dir + "/go-server", word: 22, add: 0x40)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let table = try GoFunctionTable.load(from: try ELFFile(path: copy))
        #expect(table.textStart == text, "0x\(String(table.textStart, radix: 16)) vs 0x\(String(text, radix: 16)) from \(table.textStartSource)")
    }
}
