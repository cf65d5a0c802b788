import Foundation
import Testing

/// `symbols dump` on the libraries the families probe: the chosen entry site of
/// each traced function, its instruction and its cost class (issue 12).
struct LibrarySitesDumpTests {
    static let libssl = "/lib/x86_64-linux-gnu/libssl.so.3"
    static let libmariadb = "/usr/lib/x86_64-linux-gnu/libmariadb.so.3"
    static let libpq = "/usr/lib/x86_64-linux-gnu/libpq.so.5"

    func sites(_ library: String) throws -> [[String: Any]]? {
        guard require(FileManager.default.fileExists(atPath: library), "\(library) not installed") else { return nil }
        let r = try tool("symbols", "dump", library, "--json", "--grep", "no-symbol-matches-this")
        #expect(r.status == 0, "\(r.stderr)")
        return try json(r.stdout)["library_probe_sites"] as? [[String: Any]] ?? []
    }

    @Test func libsslSitesAreTheInternalFunctions() throws {
        guard let sites = try sites(Self.libssl) else { return }
        #expect(sites.map { $0["function"] as? String } == ["SSL_read", "SSL_read_ex", "SSL_write", "SSL_write_ex"])
        for s in sites {
            #expect(s["family"] as? String == "ssl" && s["cost"] as? String == "emulated", "\(s)")
            #expect((s["instruction"] as? String)?.hasPrefix("push %r") == true, "\(s)")
            #expect(s["site_offset"] as? Int != s["entry_offset"] as? Int, "not the single-stepped entry: \(s)")
        }
        #expect(Set(sites.compactMap { $0["site_offset"] as? Int }).count == 2, "one internal function per direction")
        let text = try tool("symbols", "dump", Self.libssl, "--grep", "SSL_read_ex").stdout
        let line = text.split(separator: "\n").first { $0.contains("--ssl SSL_read_ex (entry ") }
        #expect(text.contains("library probe sites") && line?.contains("  push %r13  [emulated]  internal function at ") == true, "\(text)")
    }

    @Test func libmariadbKeepsItsCheapEntry() throws {
        guard let sites = try sites(Self.libmariadb) else { return }
        let s = try #require(sites.first)
        #expect(sites.count == 1 && s["function"] as? String == "mysql_real_query" && s["family"] as? String == "mysql")
        #expect(s["instruction"] as? String == "push %rbp" && s["cost"] as? String == "emulated")
        #expect(s["site_offset"] as? Int == s["entry_offset"] as? Int)
    }

    /// libpq: the four PQsend* and PQgetResult, all on emulated instructions;
    /// PQsendQuery's on the `jmp` after its `mov $1,%edx`.
    @Test func libpqSitesAreEmulated() throws {
        guard let sites = try sites(Self.libpq) else { return }
        #expect(Set(sites.compactMap { $0["function"] as? String })
                == ["PQsendQuery", "PQsendQueryParams", "PQsendPrepare", "PQsendQueryPrepared", "PQgetResult"], "\(sites)")
        for s in sites {
            #expect(s["family"] as? String == "postgres" && s["cost"] as? String == "emulated", "\(s)")
        }
        let q = try #require(sites.first { $0["function"] as? String == "PQsendQuery" })
        #expect((q["instruction"] as? String)?.hasPrefix("jmp") == true && q["site_offset"] as? Int != q["entry_offset"] as? Int, "\(q)")
    }

    @Test func otherObjectsHaveNoSection() throws {
        guard let sites = try sites("/usr/bin/curl") else { return }
        #expect(sites.isEmpty)
    }
}
