import Foundation
import Testing
@testable import Symbols

/// Path of a built fixture under testdata/bin, or nil (after saying why) when it was not built.
/// With CI=true a missing fixture is a failure, not a skip.
private func dwarfFixture(_ name: String, filePath: String = #filePath) -> String? {
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

@Suite struct DWARFTypesTests {
    @Test func goServerStructsAndFunction() throws {
        guard let path = dwarfFixture("go-server") else { return }
        let start = ContinuousClock.now
        let dwarf = try #require(try DWARFTypes.load(
            path: path,
            structs: ["net/http.Request", "net/url.URL", "net/http.response", "runtime.g"],
            subprograms: ["net/http.serverHandler.ServeHTTP"]))
        print("DWARF load of \(path): \(ContinuousClock.now - start)")

        let request = try #require(dwarf.structType("net/http.Request"))
        #expect(request.member(named: "Method")?.offset == 0)
        #expect(request.member(named: "Method")?.size == 16)
        #expect(request.member(named: "URL")?.offset == 16)
        #expect(request.member(named: "URL")?.size == 8)
        #expect(request.member(named: "URL")?.typeName == "*net/url.URL")
        #expect(request.member(named: "Host") != nil)

        let url = try #require(dwarf.structType("net/url.URL"))
        #expect(url.member(named: "Scheme")?.offset == 0)
        #expect(url.member(named: "Path")?.size == 16)

        let g = try #require(dwarf.structType("runtime.g"))
        #expect(g.member(named: "goid")?.offset == 152)  // go1.19/amd64
        #expect(g.member(named: "goid")?.size == 8)

        #expect(dwarf.structType("net/http.response") != nil)

        let serve = try #require(dwarf.subprogram("net/http.serverHandler.ServeHTTP"))
        #expect(serve.arguments.map(\.name) == ["sh", "rw", "req"])
        #expect(serve.arguments.map(\.size) == [8, 16, 8])
        #expect(serve.results.isEmpty)
    }

    @Test func missingNamesAreAbsentNotErrors() throws {
        guard let path = dwarfFixture("go-server") else { return }
        let dwarf = try #require(try DWARFTypes.load(path: path, structs: ["no/such.Type"]))
        #expect(dwarf.structs.isEmpty)
        #expect(dwarf.structType("no/such.Type") == nil)
    }

    @Test func strippedBinaryHasNoDWARF() throws {
        guard let path = dwarfFixture("go-server-stripped") else { return }
        #expect(try DWARFTypes.load(path: path, structs: ["runtime.g"]) == nil)
    }

    @Test func cFunctionParameters() throws {
        guard let path = dwarfFixture("fixture-pie") else { return }
        let dwarf = try #require(try DWARFTypes.load(path: path, structs: [], subprograms: ["fixture_add"]))
        let add = try #require(dwarf.subprogram("fixture_add"))
        #expect(add.parameters.map(\.name) == ["a", "b"])
        #expect(add.parameters.map(\.typeName) == ["int", "int"])
        #expect(add.parameters.map(\.size) == [4, 4])
    }

    @Test func missingFileIsAnError() {
        #expect(throws: SymbolsError.fileNotFound(path: "/nonexistent/x")) {
            _ = try DWARFTypes.load(path: "/nonexistent/x", structs: ["a"])
        }
    }
}
