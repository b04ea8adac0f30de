import Foundation
import HTTPTypes
import MagnumCore
import MagnumTestSupport
import XCTest

/// The request pipeline shared by every resource: routing, content negotiation, query and body
/// parsing, error bodies and microversion headers (contract §1.3, §1.4, §2.3, §3.1).
final class HTTPPipelineTests: XCTestCase {
    static let versionHeaders = ["OpenStack-API-Minimum-Version", "OpenStack-API-Maximum-Version", "OpenStack-API-Version", "Vary"]

    /// The framework error body (§3.1 (c)).
    static func frameworkBody(_ status: Int, title: String = "") -> JSON {
        ["errors": [["request_id": "", "code": "", "status": .int(status), "title": .string(title), "detail": "", "links": []]]]
    }

    func assertFramework(_ r: APIHarness.Reply, _ status: Int, _ note: String, title: String = "",
                         file: StaticString = #filePath, line: UInt = #line)
    {
        XCTAssertEqual(r.status, status, "\(note) \(r.text)", file: file, line: line)
        XCTAssertEqual(r.json, Self.frameworkBody(status, title: title), note, file: file, line: line)
        XCTAssertEqual(r.header("Content-Type"), "application/json", note, file: file, line: line)
        for name in Self.versionHeaders {
            XCTAssertNil(r.header(name), "\(note): \(name)", file: file, line: line)
        }
        XCTAssertTrue(r.header("x-openstack-request-id")?.hasPrefix("req-") ?? false, note, file: file, line: line)
    }

    /// An application error (§3.1 (a)) with the version headers of the resolved version.
    func assertApplication(_ r: APIHarness.Reply, _ status: Int, _ detail: String, version: String = "1.1",
                           file: StaticString = #filePath, line: UInt = #line)
    {
        XCTAssertEqual(r.status, status, r.text, file: file, line: line)
        let title = detail.firstIndex(of: ".").map { String(detail[..<$0]) } ?? detail
        XCTAssertEqual(r.json, ["errors": [["request_id": "", "code": "client", "status": .int(status), "title": .string(title),
                                            "detail": .string(detail), "links": []]]], file: file, line: line)
        XCTAssertEqual(r.header("Content-Type"), "application/json", file: file, line: line)
        assertVersionHeaders(r, version, file: file, line: line)
    }

    func assertVersionHeaders(_ r: APIHarness.Reply, _ version: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.header("OpenStack-API-Minimum-Version"), "container-infrastructure-management 1.1", file: file, line: line)
        XCTAssertEqual(r.header("OpenStack-API-Maximum-Version"), "container-infrastructure-management 1.14", file: file, line: line)
        XCTAssertEqual(r.header("OpenStack-API-Version"), "container-infrastructure-management \(version)", file: file, line: line)
        XCTAssertEqual(r.header("Vary"), "OpenStack-API-Version", file: file, line: line)
    }

    func check<T: Equatable>(_ a: T?, _ b: T?, _ note: String = "", file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a, b, note, file: file, line: line)
    }

    // MARK: Routing (§1.4)

    func testImplicitV1Prefix() async throws {
        try await APIHarness.withEach { h in
            let t = try await h.createTemplate(["name": "bookmarked"])
            let uuid = t["uuid"]?.stringValue ?? ""
            let a = try await h.request(.get, "/clustertemplates")
            let b = try await h.request(.get, "/v1/clustertemplates")
            XCTAssertEqual(a.status, 200, a.text)
            XCTAssertEqual(a.json, b.json)
            XCTAssertEqual(a.json, ["clustertemplates": [t]])
            self.assertVersionHeaders(a, "1.1")

            // The bookmark link works as given.
            let bookmark = t["links"]?.arrayValue?.first { $0["rel"] == "bookmark" }?["href"]?.stringValue ?? ""
            XCTAssertEqual(bookmark, "http://localhost/clustertemplates/\(uuid)")
            let viaBookmark = try await h.request(.get, String(bookmark.dropFirst("http://localhost".count)))
            XCTAssertEqual(viaBookmark.status, 200)
            XCTAssertEqual(viaBookmark.json, t)
            let byName = try await h.request(.get, "/clustertemplates/bookmarked/")
            XCTAssertEqual(byName.json, t)

            let created = try await h.request(.post, "/clustertemplates", body: ["coe": "kubernetes", "image_id": "fedora-coreos-latest", "name": "x"])
            XCTAssertEqual(created.status, 201, created.text)
            // Links always carry /v1, whatever path the request used.
            let newID = created.json?["uuid"]?.stringValue ?? ""
            XCTAssertEqual(created.header("Location"), "http://localhost/v1/clustertemplates/\(newID)")
            let patched = try await h.request(.patch, "/clustertemplates/\(newID)", body: [["op": "replace", "path": "/name", "value": "y"]])
            XCTAssertEqual(patched.json?["name"], "y")
            self.check(try await h.request(.delete, "/clustertemplates/\(newID)").status, 204)
            let clusters = try await h.request(.get, "/clusters")
            XCTAssertEqual(clusters.status, 200)
            XCTAssertEqual(clusters.json, ["clusters": []])
            // An unknown first segment is taken as a resource under v1.
            self.assertFramework(try await h.request(.get, "/bogus"), 404, "/bogus")
        }
    }

    func testTrailingSlashes() async throws {
        try await APIHarness.withEach { h in
            let t = try await h.createTemplate()
            let uuid = t["uuid"]?.stringValue ?? ""
            let cluster = try await h.createCluster(template: uuid)
            for path in ["/v1/clustertemplates/", "/v1/clustertemplates/detail", "/v1/clusters/", "/v1/clusters/detail"] {
                let r = try await h.request(.get, path)
                XCTAssertEqual(r.status, 200, "\(path) \(r.text)")
            }
            let member = try await h.request(.get, "/v1/clustertemplates/\(uuid)/")
            XCTAssertEqual(member.json, t)
            let c = try await h.request(.get, "/v1/clusters/\(cluster)/", version: "latest")
            XCTAssertEqual(c.status, 200, c.text)
            XCTAssertEqual(c.json?["uuid"], .string(cluster))
            let ngs = try await h.request(.get, "/v1/clusters/\(cluster)/nodegroups/", version: "1.9")
            XCTAssertEqual(ngs.status, 200, ngs.text)
            try await h.setClusterState(cluster, .createComplete, apiAddress: "tcp://198.18.0.2:2376")
            let rollback = try await h.request(.patch, "/v1/clusters/\(cluster)/?rollback=True", version: "latest",
                                               body: [["op": "replace", "path": "/node_count", "value": 2]])
            XCTAssertEqual(rollback.status, 202, rollback.text)
            XCTAssertEqual(rollback.json, ["uuid": .string(cluster)])
            let patched = try await h.request(.patch, "/v1/clustertemplates/\(uuid)/", body: [["op": "replace", "path": "/name", "value": "slash"]])
            XCTAssertEqual(patched.status, 200, patched.text)
            XCTAssertEqual(patched.json?["name"], "slash")
            let posted = try await h.request(.post, "/v1/clustertemplates/", body: ["coe": "kubernetes", "image_id": "fedora-coreos-latest"])
            XCTAssertEqual(posted.status, 201, posted.text)
            self.check(try await h.request(.delete, "/v1/clustertemplates/\(posted.json?["uuid"]?.stringValue ?? "")/").status, 204)
        }
    }

    func testUnknownPathsAreFramework404() async throws {
        try await APIHarness.withEach { h in
            for path in ["/v1/bogus", "/v1/clustertemplates/a/b", "/v1/clusters/x/bogus", "/v1/stats/x", "/v1/mservices/x",
                         "/v1/clustertemplates/a/b/c/d"]
            {
                self.assertFramework(try await h.request(.get, path, version: "1.5"), 404, path)
            }
            // webob titles it "Not Found" when JSON was asked for.
            self.assertFramework(try await h.request(.get, "/v1/bogus", headers: ["Accept": "application/json"]), 404,
                                 "accept json", title: "Not Found")
        }
    }

    func testWrongMethodIs405() async throws {
        try await APIHarness.withEach { h in
            let t = try await h.createTemplate()
            let uuid = t["uuid"]?.stringValue ?? ""
            let cluster = try await h.createCluster(template: uuid)
            let cases: [(HTTPRequest.Method, String)] = [
                (.put, "/v1/clusters/\(cluster)"), (.put, "/v1/clustertemplates/\(uuid)"), (.delete, "/v1/clustertemplates"),
                (.patch, "/v1/clustertemplates"), (.post, "/v1/clustertemplates/\(uuid)"), (.put, "/v1/clusters"),
                (.delete, "/v1/clusters"), (.post, "/v1/stats"), (.delete, "/v1/mservices"), (.put, "/v1/quotas"),
                (.get, "/v1/clusters/\(cluster)/actions/resize"), (.post, "/v1/clusters/\(cluster)/actions/bogus"),
                (.get, "/v1/credentials/\(cluster)"), (.put, "/clusters/\(cluster)"),
            ]
            for (method, path) in cases {
                self.assertFramework(try await h.request(method, path, version: "latest"), 405, "\(method) \(path)")
            }
            // Nothing was changed.
            self.check(try await h.request(.get, "/v1/clustertemplates/\(uuid)").json, t)
        }
    }

    func testDetailOnlyDirectlyUnderACollection() async throws {
        try await APIHarness.withEach { h in
            let t = try await h.createTemplate()
            let uuid = t["uuid"]?.stringValue ?? ""
            let cluster = try await h.createCluster(template: uuid)
            let detail = "The %(name)s resource %(id)s could not be found."
            for path in ["/v1/clustertemplates/detail/", "/v1/clusters/detail/", "/v1/clusters/\(cluster)/detail",
                         "/v1/clustertemplates/\(uuid)/detail", "/clusters/\(cluster)/detail"]
            {
                let r = try await h.request(.get, path, version: "1.4")
                self.assertApplication(r, 404, detail, version: "1.4")
                XCTAssertEqual(r.errorTitle, "The %(name)s resource %(id)s could not be found", path)
            }
        }
    }

    func testUnimplementedVersionIsFramework406() async throws {
        try await APIHarness.withEach { h in
            let t = try await h.createTemplate()
            let cluster = try await h.createCluster(template: t["uuid"]?.stringValue ?? "")
            self.assertFramework(try await h.request(.get, "/v1/clusters/\(cluster)/nodegroups", version: "1.8"), 406, "nodegroups 1.8")
            self.assertFramework(try await h.request(.post, "/v1/clusters/\(cluster)/actions/resize", version: "1.6",
                                                     body: ["node_count": 2]), 406, "resize 1.6")
            self.assertFramework(try await h.request(.patch, "/v1/credentials/\(cluster)", version: "1.11"), 406, "credentials 1.11")
        }
    }

    // MARK: Content negotiation (§1.3)

    func testAcceptMustAllowJSON() async throws {
        try await APIHarness.withEach { h in
            for accept in ["application/xml", "text/html", "text/plain, application/xml;q=0.5"] {
                self.assertFramework(try await h.request(.get, "/v1/clustertemplates", headers: ["Accept": accept]), 406, accept)
            }
            for accept in ["application/json", "*/*", "application/*", "application/xml, application/json;q=0.1", "application/vnd.openstack.magnum.v1+json"] {
                let r = try await h.request(.get, "/v1/clustertemplates", headers: ["Accept": accept])
                XCTAssertEqual(r.status, 200, accept)
                XCTAssertEqual(r.header("Content-Type"), "application/json", accept)
            }
        }
    }

    func testNonJSONBodyIs415() async throws {
        try await APIHarness.withEach { h in
            for ct in ["text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded"] {
                let r = try await h.request(.post, "/v1/clustertemplates", version: "1.2",
                                            rawBody: #"{"coe": "kubernetes", "image_id": "fedora-coreos-latest"}"#, headers: ["Content-Type": ct])
                let mime = ct.split(separator: ";").first.map(String.init) ?? ct
                self.assertApplication(r, 415, "Unknown mimetype: \(mime)", version: "1.2")
            }
            let list = try await h.request(.get, "/v1/clustertemplates")
            XCTAssertEqual(list.json, ["clustertemplates": []])
        }
    }

    func testDeleteWithOctetStreamAndNoBody() async throws {
        try await APIHarness.withEach { h in
            let t = try await h.createTemplate()
            let uuid = t["uuid"]?.stringValue ?? ""
            let r = try await h.request(.delete, "/v1/clustertemplates/\(uuid)", headers: ["Content-Type": "application/octet-stream"])
            XCTAssertEqual(r.status, 204, r.text)
            XCTAssertEqual(r.text, "")
            self.assertVersionHeaders(r, "1.1")
            let cluster = try await h.createCluster(template: try await h.createTemplate()["uuid"]?.stringValue ?? "")
            let c = try await h.request(.delete, "/v1/clusters/\(cluster)", version: "latest", headers: ["Content-Type": "application/octet-stream"])
            XCTAssertEqual(c.status, 204, c.text)
        }
    }

    func testUnknownQueryParameters() async throws {
        try await APIHarness.withEach { h in
            self.assertApplication(try await h.request(.get, "/v1/clusters?all_projects=True", version: "1.10"), 400,
                                   "Unknown argument: \"all_projects\"", version: "1.10")
            self.assertApplication(try await h.request(.get, "/v1/clustertemplates?all_projects=1"), 400, "Unknown argument: \"all_projects\"")
            self.assertApplication(try await h.request(.get, "/v1/clusters/detail?foo"), 400, "Unknown argument: \"foo\"")
            // The first unknown one is named.
            self.assertApplication(try await h.request(.get, "/v1/clustertemplates?limit=1&b=1&a=2"), 400, "Unknown argument: \"b\"")
            // Percent-encoded names are decoded.
            self.assertApplication(try await h.request(.get, "/v1/clustertemplates?all%5Fprojects=1"), 400, "Unknown argument: \"all_projects\"")
            // rollback exists from 1.3 only.
            let t = try await h.createTemplate()
            let cluster = try await h.createCluster(template: t["uuid"]?.stringValue ?? "")
            self.assertApplication(try await h.request(.patch, "/v1/clusters/\(cluster)?rollback=True", version: "1.2",
                                                       body: [["op": "replace", "path": "/node_count", "value": 2]]),
                                   400, "Unknown argument: \"rollback\"", version: "1.2")
        }
    }

    // MARK: Error bodies and headers (§3.1, §2.3)

    func testApplicationErrorsCarryVersionHeaders() async throws {
        try await APIHarness.withEach { h in
            let nope = "11111111-2222-3333-4444-555555555555"
            for (version, echoed) in [(nil, "1.1"), ("1.5", "1.5"), ("latest", "1.14")] as [(String?, String)] {
                let r = try await h.request(.get, "/v1/clustertemplates/\(nope)", version: version)
                self.assertApplication(r, 404, "ClusterTemplate \(nope) could not be found.", version: echoed)
                XCTAssertTrue(r.header("x-openstack-request-id")?.hasPrefix("req-") ?? false)
            }
            // 400, 403 and 409 alike.
            self.assertApplication(try await h.request(.post, "/v1/clustertemplates", version: "1.3", body: ["image_id": "fedora-coreos-latest"]),
                                   400, "Requested COE type Unset is not supported.", version: "1.3")
            self.assertApplication(try await h.request(.post, "/v1/clustertemplates", token: .reader, version: "1.3",
                                                       body: ["coe": "kubernetes", "image_id": "fedora-coreos-latest"]),
                                   403, "Policy doesn't allow clustertemplate:create to be performed.", version: "1.3")
            _ = try await h.createTemplate(["name": "twin"])
            _ = try await h.createTemplate(["name": "twin"])
            self.assertApplication(try await h.request(.get, "/v1/clustertemplates/twin", version: "1.14"), 409,
                                   "Multiple ClusterTemplates exist with same name. Please use the ClusterTemplate uuid instead.",
                                   version: "1.14")
            // Success responses carry them too, and JSON.
            let ok = try await h.request(.get, "/v1/clustertemplates", version: "1.7")
            XCTAssertEqual(ok.header("Content-Type"), "application/json")
            self.assertVersionHeaders(ok, "1.7")
            // The inbound request id is echoed on errors too.
            let id = "req-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
            let err = try await h.request(.get, "/v1/clustertemplates/\(nope)", headers: ["X-Openstack-Request-Id": id])
            XCTAssertEqual(err.header("x-openstack-request-id"), id)
            XCTAssertEqual(err.json?["errors"]?.arrayValue?.first?["request_id"], "")
        }
    }

    func testMalformedJSONAndMissingBody() async throws {
        try await APIHarness.withEach { h in
            for raw in ["{", "{\"coe\": kubernetes}", "[1,]", "{\"coe\": \"kubernetes\",}", "nul"] {
                let r = try await h.request(.post, "/v1/clustertemplates", rawBody: raw, headers: ["Content-Type": "application/json"])
                self.assertApplication(r, 400, "Request is not in valid JSON format")
            }
            // Malformed JSON without a content type is still JSON.
            self.assertApplication(try await h.request(.post, "/v1/clustertemplates", rawBody: "{"), 400, "Request is not in valid JSON format")
            self.assertApplication(try await h.request(.post, "/v1/clusters", version: "1.10"), 400, "Missing argument: \"cluster\"", version: "1.10")
            self.assertApplication(try await h.request(.post, "/v1/clustertemplates", body: [1]), 400,
                                   "Invalid input for argument cluster_template: a JSON object is expected, got [1]")
        }
    }
}
