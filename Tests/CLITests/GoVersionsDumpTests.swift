import Foundation
import Testing

/// `symbols dump` on the Go fixture matrix (testdata/bin/go<MINOR>/<VARIANT>/go-server):
/// whether each table offset was verified against a real build, Go versions the table
/// does not know, and the external-link builds whose text start only the module data gives.
@Suite struct GoVersionsDumpTests {
    static func matrix(_ minor: String, _ variant: String) -> String? { GoMatrixFixtures.require(minor, variant) }

    /// A copy of `path` whose build info says `to` instead of `from` (same length).
    static func relabel(_ path: String, from: String, to: String) throws -> String {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        try #require(from.utf8.count == to.utf8.count)
        // The version follows the build info magic "\xff Go buildinf:" within its first bytes.
        let magic = Array(" Go buildinf:".utf8)  // after a 0xFF byte
        let start = try #require(bytes.indices.first { i in
            bytes[i] == 0xFF && i + 1 + magic.count <= bytes.count && Array(bytes[i + 1..<i + 1 + magic.count]) == magic
        })
        let f = Array(from.utf8)
        let at = try #require((start..<min(start + 256, bytes.count - f.count)).first { Array(bytes[$0..<$0 + f.count]) == f })
        bytes.replaceSubrange(at..<at + f.count, with: Array(to.utf8))
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("relabeled-\(getpid())-\(to)-\(URL(fileURLWithPath: path).deletingLastPathComponent().lastPathComponent)")
        try Data(bytes).write(to: out)
        return out.path
    }

    static func offsets(_ path: String) throws -> (go: [String: Any], offsets: [String: [String: Any]]) {
        let r = try tool("symbols", "dump", path, "--json")
        #expect(r.status == 0, "\(r.stderr)")
        let go = try #require(try json(r.stdout)["go"] as? [String: Any])
        return (go, go["offsets"] as? [String: [String: Any]] ?? [:])
    }

    @Test func tableOffsetsOfABuiltVersionAreVerified() throws {
        guard let path = Self.matrix("1.27", "stripped") else { return }
        let (_, offsets) = try Self.offsets(path)
        // Every field the probes read; runtime.g.parentGoid exists from Go 1.21.
        #expect(offsets.count == 25)
        for (field, o) in offsets {
            #expect(o["source"] as? String == "table", "\(field)")
            #expect(o["verified"] as? Bool == true, "\(field)")
            // Every row says whether linux/arm64 would differ (none does, on paper).
            #expect((o["arm64"] as? String)?.hasPrefix("same") == true, "\(field): \(o["arm64"] ?? "-")")
        }
        #expect(offsets["net/http.response.status"]?["offset"] as? Int == 128)
        let text = try tool("symbols", "dump", path)
        #expect(text.stdout.contains("table, verified"))
        #expect(text.stdout.contains("arm64 (on paper, no arm64 build checked): every table row above would be the same"))
    }

    /// Go 1.20 is not built here: a binary that says so gets the rows marked from source only.
    @Test func tableOffsetsOfAnUnbuiltVersionSaySo() throws {
        guard let path = Self.matrix("1.21", "stripped") else { return }
        let relabeled = try Self.relabel(path, from: "go1.21.13", to: "go1.20.13")
        defer { try? FileManager.default.removeItem(atPath: relabeled) }
        let (go, offsets) = try Self.offsets(relabeled)
        #expect(go["version"] as? String == "go1.20.13")
        #expect(offsets.count == 24, "every field but runtime.g.parentGoid (Go 1.21+)")
        #expect(offsets.values.allSatisfy { $0["verified"] as? Bool == false })
        #expect(try tool("symbols", "dump", relabeled).stdout.contains("table, from source only"))
    }

    @Test func newerGoStrippedIsOneErrorWithTheFix() throws {
        guard let path = Self.matrix("1.27", "stripped") else { return }
        let relabeled = try Self.relabel(path, from: "go1.27.3", to: "go1.99.0")
        defer { try? FileManager.default.removeItem(atPath: relabeled) }
        let (go, offsets) = try Self.offsets(relabeled)
        #expect(offsets.isEmpty)
        let error = try #require(go["offsets_error"] as? String)
        #expect(error.contains("go1.99.0") && error.contains("hint:") && error.contains("upgrade uprobe-trace"), "\(error)")
        #expect(!error.contains("\n"))
    }

    @Test func newerGoWithDWARFWorksWithANote() throws {
        guard let path = Self.matrix("1.27", "normal") else { return }
        let relabeled = try Self.relabel(path, from: "go1.27.3", to: "go1.99.0")
        defer { try? FileManager.default.removeItem(atPath: relabeled) }
        let (go, offsets) = try Self.offsets(relabeled)
        #expect(go["offsets_error"] == nil)
        #expect((go["offsets_note"] as? String)?.contains("go1.99.0") == true)
        #expect(offsets["runtime.g.goid"]?["source"] as? String == "dwarf")
        #expect(try tool("symbols", "dump", relabeled).stdout.contains("note: go1.99.0 is newer"))
    }

    /// The issue's case: Go 1.26+ stripped and linked externally, where `.text` starts
    /// with C code before runtime.text. The entry must be the Go prologue (the stack
    /// check `cmp rsp, 16(r14)`, or `lea r12, -N(rsp)` then `cmp r12, 16(r14)`) and
    /// every RET offset a RET byte.
    @Test(arguments: [("1.26", "cgo-stripped"), ("1.27", "cgo-stripped"), ("1.27", "cgo-pie-stripped")])
    func externallyLinkedProbeOffsets(_ minor: String, _ variant: String) throws {
        guard let path = Self.matrix(minor, variant) else { return }
        let (go, _) = try Self.offsets(path)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let functions = try #require(go["functions"] as? [[String: Any]])
        let serve = try #require(functions.first { $0["name"] as? String == "net/http.serverHandler.ServeHTTP" })
        let entry = try #require(serve["file_offset"] as? Int)
        let head = Array(bytes[entry..<entry + 12])
        let cmp: [UInt8] = [0x3B, 0x66, 0x10]
        #expect(Array(head[1..<4]) == cmp || Array(head[6..<9]) == cmp || Array(head[9..<12]) == cmp,
                "go\(minor) \(variant): ServeHTTP at 0x\(String(entry, radix: 16)) starts \(head.map { String($0, radix: 16) })")
        for f in functions {
            for r in f["ret_offsets"] as? [Int] ?? [] {
                #expect(bytes[r] == 0xC3, "\(f["name"] ?? "?") RET at 0x\(String(r, radix: 16))")
            }
        }
    }
}
