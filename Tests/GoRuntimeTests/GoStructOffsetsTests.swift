import Foundation
import Testing
@testable import GoRuntime
import Symbols

/// Path of a built fixture under testdata/bin, or nil (after saying why) when it was not built.
/// With CI=true a missing fixture is a failure, not a skip.
private func offsetsFixture(_ name: String, filePath: String = #filePath) -> String? {
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

/// The fixtures are built by the Go on this machine (go1.19.x).
private let fixtureGoVersion = "go1.19.8"

@Suite struct GoStructOffsetsTests {
    @Test func dwarfOffsetsOfServerEqualTheGo119Table() throws {
        guard let path = offsetsFixture("go-server") else { return }
        let start = ContinuousClock.now
        let offsets = try GoStructOffsets.load(path: path, goVersion: fixtureGoVersion)
        print("DWARF offsets of \(path) in \(ContinuousClock.now - start)")
        // A server binary links no client code: net/http.Response and persistConn may be
        // absent from DWARF, in which case the table fills them in.
        for field in GoField.all where !["net/http.Response", "net/http.persistConn"].contains(field.structName) && field.exists(inGoMinor: 19) {
            let got = try #require(offsets.offset(of: field), "\(field)")
            #expect(got.source == .dwarf, "\(field)")
            let entry = try #require(GoOffsetTable.entry(for: field, goMinor: 19), "\(field)")
            #expect(got.offset == entry.offset, "\(field): DWARF \(got.offset), table \(entry.offset)")
        }
        #expect(offsets["runtime.g.goid"]?.offset == 152)
        #expect(offsets["net/http.Request.Method"]?.offset == 0)
    }

    @Test func dwarfOffsetsOfClientEqualTheGo119Table() throws {
        guard let path = offsetsFixture("go-client") else { return }
        let offsets = try GoStructOffsets.load(path: path, goVersion: fixtureGoVersion)
        let statusCode = try #require(offsets.offset(of: .responseStatusCode))
        #expect(statusCode.source == .dwarf)
        #expect(statusCode.offset == GoOffsetTable.entry(for: .responseStatusCode, goMinor: 19)?.offset)
        for field in [GoField.requestMethod, .requestURL, .requestHost, .urlPath, .urlRawQuery, .goroutineID,
                      .goroutineM, .machineCurG, .persistConnConn, .netFDLocalAddr, .netFDRemoteAddr, .tcpAddrPort] {
            let got = try #require(offsets.offset(of: field), "\(field)")
            #expect(got.source == .dwarf)
            #expect(got.offset == GoOffsetTable.entry(for: field, goMinor: 19)?.offset, "\(field)")
        }
    }

    @Test func strippedBinaryFallsBackToTable() throws {
        guard let path = offsetsFixture("go-server-stripped") else { return }
        let offsets = try GoStructOffsets.load(path: path, goVersion: fixtureGoVersion)
        #expect(offsets.offset(of: .goroutineParentID) == nil, "Go 1.19 has no g.parentGoid")
        for field in GoField.all where field.exists(inGoMinor: 19) {
            let got = try #require(offsets.offset(of: field), "\(field)")
            #expect(got.source == .table, "\(field)")
            #expect(got.provenance.contains("src/"), "\(field): \(got.provenance)")
        }
        #expect(offsets[ "runtime.g.goid"]?.offset == 152)
    }

    @Test func unknownVersionWithoutDWARFThrows() {
        #expect(throws: GoRuntimeError.unknownGoVersion(path: "/bin/app", version: "go1.28.0", field: "net/http.Request.Method")) {
            _ = try GoStructOffsets.resolve(goVersion: "go1.28.0", dwarf: nil, path: "/bin/app")
        }
        #expect(throws: GoRuntimeError.self) {
            _ = try GoStructOffsets.resolve(goVersion: "go1.16.15", dwarf: nil, path: "/bin/app")
        }
    }

    @Test func unknownVersionWithDWARFUsesDWARF() {
        let dwarf = DWARFTypes(path: "/bin/app", structs: [
            "runtime.g": DWARFStruct(name: "runtime.g", byteSize: 500, members: [
                DWARFMember(name: "goid", offset: 168, size: 8, typeName: "uint64"),
            ]),
        ], subprograms: [:])
        let offsets = try? GoStructOffsets.resolve(goVersion: "go1.28.0", dwarf: dwarf, fields: [.goroutineID, .requestMethod])
        #expect(offsets?.offset(of: .goroutineID) == ResolvedOffset(offset: 168, source: .dwarf, provenance: "DWARF of /bin/app"))
        // Not in DWARF (program does not use it) and not in the table: left out, not an error.
        #expect(offsets?.offset(of: .requestMethod) == nil)
    }

    @Test func dwarfStructMissingAFieldIsAnError() {
        let dwarf = DWARFTypes(path: "/bin/app", structs: [
            "runtime.g": DWARFStruct(name: "runtime.g", byteSize: 500, members: []),
        ], subprograms: [:])
        #expect(throws: GoRuntimeError.self) {
            _ = try GoStructOffsets.resolve(goVersion: "go1.19.8", dwarf: dwarf, fields: [.goroutineID])
        }
    }

    @Test(arguments: 17...27)
    func tableCoversEveryFieldForEverySupportedVersion(minor: Int) {
        for field in GoField.all where field.exists(inGoMinor: minor) {
            let matches = GoOffsetTable.entries.filter { $0.field == field && $0.goMinors.contains(minor) }
            #expect(matches.count == 1, "go1.\(minor) \(field): \(matches.count) entries")
            #expect(matches.first?.provenance.contains("src/") == true)
        }
    }

    @Test func goidMovesBetweenVersions() throws {
        let goid = { (v: String) throws -> Int? in
            try GoStructOffsets.resolve(goVersion: v, dwarf: nil, fields: [.goroutineID]).offset(of: .goroutineID)?.offset
        }
        #expect(try goid("go1.17") == 152)
        #expect(try goid("go1.22.12") == 152)
        #expect(try goid("go1.23.0") == 160)
        #expect(try goid("go1.24.5") == 160)
        #expect(try goid("go1.25.1") == 152)
        #expect(try goid("go1.26.0") == 152)
    }

    /// g.parentGoid exists from Go 1.21: older binaries resolve without it (the
    /// probes then use runtime.newproc1), even when their DWARF describes runtime.g.
    @Test func parentGoidOnlyFromGo121() throws {
        let dwarf = DWARFTypes(path: "/bin/app", structs: [
            "runtime.g": DWARFStruct(name: "runtime.g", byteSize: 400, members: [
                DWARFMember(name: "goid", offset: 152, size: 8, typeName: "uint64"),
            ]),
        ], subprograms: [:])
        let old = try GoStructOffsets.resolve(goVersion: "go1.19.8", dwarf: dwarf, fields: [.goroutineID, .goroutineParentID])
        #expect(old.offset(of: .goroutineParentID) == nil)
        #expect(old.offset(of: .goroutineID)?.offset == 152)
        #expect(try GoStructOffsets.resolve(goVersion: "go1.20.14", dwarf: nil, fields: [.goroutineParentID]).offset(of: .goroutineParentID) == nil)
        let new = try GoStructOffsets.resolve(goVersion: "go1.21.13", dwarf: nil, fields: [.goroutineParentID])
        #expect(new.offset(of: .goroutineParentID)?.offset == 272)
        #expect(new.offset(of: .goroutineParentID)?.source == .table)
        // A Go >= 1.21 DWARF without the field is a layout we do not know: an error.
        #expect(throws: GoRuntimeError.self) {
            _ = try GoStructOffsets.resolve(goVersion: "go1.22.1", dwarf: dwarf, fields: [.goroutineParentID])
        }
    }

    /// The table agrees with the DWARF of the testdata server built by the newest
    /// Go the table covers, for every field (g.parentGoid and conn.hijackedv included).
    @Test func tableAgreesWithGo126DWARF() throws {
        guard let dir = GoMatrix.fixtures(minor: "1.26") else { return }
        let dwarf = try GoStructOffsets.load(path: dir + "/go-server", goVersion: "go1.26.6")
        #expect(dwarf.offset(of: .goroutineParentID)?.source == .dwarf)
        #expect(dwarf.offset(of: .connHijacked)?.source == .dwarf)
        let minor = 26
        for field in GoField.all {
            guard let got = dwarf.offset(of: field), let row = GoOffsetTable.entry(for: field, goMinor: minor) else { continue }
            #expect(got.offset == row.offset, "\(field): DWARF \(got.offset), table \(row.offset)")
        }
    }

    @Test func versionParsing() {
        #expect(GoVersion.minor(of: "go1.19.8") == 19)
        #expect(GoVersion.minor(of: "go1.21rc2") == 21)
        #expect(GoVersion.minor(of: "devel go1.23-abcdef Tue") == 23)
        #expect(GoVersion.minor(of: "go1.22.0 X:boringcrypto") == 22)
        #expect(GoVersion.minor(of: "unknown") == nil)
    }

    @Test func qualifiedFieldNames() {
        #expect(GoField(qualified: "net/http.Request.Method") == .requestMethod)
        #expect(GoField(qualified: "runtime.g.goid") == .goroutineID)
        #expect(GoField(qualified: "nodot") == nil)
        #expect(GoField(qualified: "trailing.") == nil)
    }
}
