import MagnumCore
import MagnumTestSupport
import XCTest

final class VersionTests: XCTestCase {
    func testRootDocumentNeedsNoTokenAndHasNoVersionHeaders() async throws {
        try await APIHarness.withEach { h in
            let r = try await h.request(.get, "/", token: nil)
            XCTAssertEqual(r.status, 200, h.label)
            XCTAssertEqual(r.json?["name"], "OpenStack Magnum API")
            let v = r.json?["versions"]?.arrayValue?.first
            XCTAssertEqual(v?["id"], "v1")
            XCTAssertEqual(v?["max_version"], "1.14")
            XCTAssertEqual(v?["min_version"], "1.1")
            XCTAssertEqual(v?["status"], "CURRENT")
            XCTAssertEqual(v?["links"], [["href": "http://localhost/v1/", "rel": "self"]])
            XCTAssertNil(r.header("OpenStack-API-Version"))
            XCTAssertTrue(r.header("x-openstack-request-id")?.hasPrefix("req-") ?? false)
        }
    }

    func testV1DocumentCarriesVersionHeaders() async throws {
        try await APIHarness.withEach { h in
            for path in ["/v1", "/v1/", "/v1.json"] {
                let r = try await h.request(.get, path, token: nil)
                XCTAssertEqual(r.status, 200, path)
                XCTAssertEqual(r.json?["id"], "v1")
                XCTAssertEqual(r.header("OpenStack-API-Version"), "container-infrastructure-management 1.1")
                XCTAssertEqual(r.header("OpenStack-API-Minimum-Version"), "container-infrastructure-management 1.1")
                XCTAssertEqual(r.header("OpenStack-API-Maximum-Version"), "container-infrastructure-management 1.14")
                XCTAssertEqual(r.header("Vary"), "OpenStack-API-Version")
                XCTAssertEqual(r.json?["clusters"], [["href": "http://localhost/v1/clusters/", "rel": "self"],
                                                     ["href": "http://localhost/clusters/", "rel": "bookmark"]])
                XCTAssertEqual(r.json?["nodegroups"]?.arrayValue?.first?["href"], "http://localhost/v1/clusters/{cluster_id}/nodegroups")
            }
            let latest = try await h.request(.get, "/v1", token: nil, version: "latest")
            XCTAssertEqual(latest.header("OpenStack-API-Version"), "container-infrastructure-management 1.14")
        }
    }

    func testProtectedRoutesNeedAToken() async throws {
        try await APIHarness.withEach { h in
            let r = try await h.request(.get, "/v1/clusters", token: nil)
            XCTAssertEqual(r.status, 401)
            XCTAssertEqual(r.json, ["error": ["code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."]])
            XCTAssertEqual(r.header("WWW-Authenticate"), "Keystone uri=\"http://localhost/identity/v3\"")
            let bad = try await h.request(.get, "/v1/clusters", token: nil, headers: ["X-Auth-Token": "nope"])
            XCTAssertEqual(bad.status, 401)
        }
    }

    func testMicroversionNegotiation() async throws {
        try await APIHarness.withEach { h in
            let out = try await h.request(.get, "/v1/clusters", version: "1.99")
            XCTAssertEqual(out.status, 406)
            XCTAssertEqual(out.header("OpenStack-API-Version"), "container-infrastructure-management 1.99")
            let e = out.json?["errors"]?.arrayValue?.first
            XCTAssertEqual(e?["code"], "magnum.microversion-unsupported")
            XCTAssertEqual(e?["max_version"], "1.14")
            XCTAssertNil(e?["status"])
            for bad in ["foo 1.1", "container-infra abc", "1.1"] {
                let r = try await h.request(.get, "/v1/clusters", headers: ["OpenStack-API-Version": bad])
                XCTAssertEqual(r.status, 406, bad)
                XCTAssertNil(r.header("OpenStack-API-Version"), bad)
                XCTAssertEqual(r.json, ["errors": [["request_id": "", "code": "", "status": 406, "title": "", "detail": "", "links": []]]])
            }
            for ok in ["container-infrastructure-management 1.5", "CONTAINER-INFRA latest", "container-infrastructure 1.14"] {
                let r = try await h.request(.get, "/v1/clusters", headers: ["OpenStack-API-Version": ok])
                XCTAssertEqual(r.status, 200, ok)
            }
        }
    }

    func testRequestIDIsAdoptedWhenWellFormed() async throws {
        try await APIHarness.withEach { h in
            let id = "req-11111111-2222-3333-4444-555555555555"
            let r = try await h.request(.get, "/v1/clusters", headers: ["X-Openstack-Request-Id": id])
            XCTAssertEqual(r.header("x-openstack-request-id"), id)
            let other = try await h.request(.get, "/v1/clusters", headers: ["X-Openstack-Request-Id": "junk"])
            XCTAssertNotEqual(other.header("x-openstack-request-id"), "junk")
        }
    }
}
