import Foundation
@testable import GoRuntime
import Symbols
import Testing

/// The HTTP/2 server rows of GoOffsetTable against the DWARF of the testdata
/// server built by every toolchain of the matrix (bundled h2 up to Go 1.26,
/// net/http/internal/http2 from 1.27), and the stripped builds resolving to
/// the same offsets from the table.
@Suite(.serialized) struct GoHTTP2OffsetTests {
    @Test(arguments: GoMatrix.expected)
    func http2RowsEqualDWARF(_ t: GoMatrix.Toolchain) throws {
        guard GoMatrix.available(t) else { return }
        let path = t.path("normal", "server")
        let version = try GoBuildInfo.load(path: path).goVersion
        let dwarf = try #require(try DWARFTypes.load(path: path, structs: GoField.structNames), "\(path) has DWARF")
        let offsets = try GoStructOffsets.resolve(goVersion: version, dwarf: dwarf, path: path, fields: GoField.http2)
        let present = GoField.http2.filter { $0.exists(inGoMinor: t.minorNumber) }
        // This version's package only: 8 server fields, serverConn.conn, ClientConn.tconn, g._panic, tls.Conn.conn.
        #expect(present.count == 12, "\(t): \(present)")
        for field in present {
            let got = try #require(offsets.offset(of: field), "\(t): \(field) not in DWARF")
            #expect(got.source == .dwarf)
            let row = GoOffsetTable.entry(for: field, goMinor: t.minorNumber)
            #expect(row?.offset == got.offset, "\(t) \(field): DWARF \(got.offset), table \(row.map { String($0.offset) } ?? "none")")
        }
        for field in GoField.http2 where !present.contains(field) {
            #expect(offsets.offset(of: field) == nil, "\(t): \(field) is the other package's")
        }
        for variant in t.variants where variant.contains("stripped") {
            let stripped = try GoStructOffsets.load(path: t.path(variant, "server"), goVersion: version)
            for field in present {
                #expect(stripped.offset(of: field)?.source == .table, "\(t) \(variant): \(field)")
                #expect(stripped.offset(of: field)?.offset == offsets.offset(of: field)?.offset, "\(t) \(variant): \(field)")
            }
        }
    }

    /// A Go version without a row (1.20 here: responseWriterState.status unknown)
    /// leaves the HTTP/2 fields out instead of failing the HTTP/1 ones.
    @Test func missingHTTP2RowIsNotAnError() throws {
        let offsets = try GoStructOffsets.resolve(goVersion: "go1.20.14", dwarf: nil, fields: GoField.all + GoField.http2)
        #expect(offsets.offset(of: GoField.bundledHTTP2.rwsStatus) == nil)
        #expect(offsets.offset(of: GoField.bundledHTTP2.streamID)?.offset == 8)
        #expect(offsets.offset(of: .requestMethod)?.offset == 0)
        let newest = try GoStructOffsets.resolve(goVersion: "go1.27.3", dwarf: nil, fields: GoField.http2)
        #expect(newest.offset(of: GoField.internalHTTP2.rwsStatus)?.offset == 240)
        #expect(newest.offset(of: GoField.bundledHTTP2.rwsStatus) == nil)
    }
}
