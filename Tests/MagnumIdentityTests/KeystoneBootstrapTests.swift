import AsyncHTTPClient
import Foundation
import MagnumCore
@testable import MagnumIdentity
import NIOCore
import NIOHTTP1
import XCTest

/// `magnum bootstrap` against a REAL Keystone (`MAGNUM_TEST_KEYSTONE_URL`), in a region of its
/// own so the endpoints other tests use are left alone; skipped without a Keystone.
final class KeystoneBootstrapTests: XCTestCase {
    func keystoneURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["MAGNUM_TEST_KEYSTONE_URL"], !url.isEmpty else {
            throw XCTSkip("MAGNUM_TEST_KEYSTONE_URL is not set (scripts/keystone.sh start provides a Keystone)")
        }
        return url
    }

    /// One admin call to Keystone: (status, JSON body).
    func call(_ url: String, _ token: String?, _ method: HTTPMethod, _ path: String, _ body: String? = nil) async throws -> (Int, JSON?) {
        var request = HTTPClientRequest(url: url + path)
        request.method = method
        if let token { request.headers.add(name: "X-Auth-Token", value: token) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(15))
        let bytes = try await response.body.collect(upTo: 8 << 20)
        let json = bytes.readableBytes == 0 ? nil : try? JSON.parse(Array(bytes.readableBytesView))
        return (Int(response.status.code), json)
    }

    func adminToken(_ url: String) async throws -> String {
        var request = HTTPClientRequest(url: url + "/auth/tokens")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: """
            {"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"id":"default"},"password":"admin"}}},\
            "scope":{"project":{"name":"admin","domain":{"id":"default"}}}}}
            """))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(15))
        _ = try await response.body.collect(upTo: 8 << 20)
        return try XCTUnwrap(response.headers.first(name: "X-Subject-Token"))
    }

    /// The endpoints of `region` as (service type, interface) → URL.
    func endpoints(_ url: String, _ token: String, region: String) async throws -> [String: String] {
        let (_, services) = try await call(url, token, .GET, "/services")
        var types: [String: String] = [:]
        for s in services?["services"]?.arrayValue ?? [] {
            if let id = s["id"]?.stringValue, let type = s["type"]?.stringValue { types[id] = type }
        }
        let (_, body) = try await call(url, token, .GET, "/endpoints?region_id=\(region)")
        var out: [String: String] = [:]
        for e in body?["endpoints"]?.arrayValue ?? [] {
            guard let service = e["service_id"]?.stringValue, let interface = e["interface"]?.stringValue else { continue }
            out["\(types[service] ?? service) \(interface)"] = e["url"]?.stringValue
        }
        return out
    }

    func testRegistersMagnumIdempotentlyAndCreatesTheServiceUser() async throws {
        let url = try keystoneURL()
        let token = try await adminToken(url)
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let region = "MagnumTest-\(suffix)"
        let user = "magnum-test-\(suffix)"
        let (created, _) = try await call(url, token, .POST, "/regions", #"{"region":{"id":"\#(region)"}}"#)
        XCTAssertEqual(created, 201)
        func bootstrap(_ publicURL: String, serviceUser: Bool = false) async throws -> [String] {
            try await KeystoneBootstrap(configuration: .init(
                authURL: url, adminUser: "admin", adminPassword: "admin", adminProject: "admin", publicURL: publicURL,
                region: region, serviceUser: serviceUser ? (user, "secret-\(suffix)", "service") : nil)).run()
        }
        do {
            let first = try await bootstrap("http://127.0.0.1:9999/")
            XCTAssertEqual(first.filter { $0.hasPrefix("created") && $0.contains("endpoint") }.count, 12, "\(first)")
            let registered = try await endpoints(url, token, region: region)
            XCTAssertEqual(registered.count, 12, "\(registered)")
            for interface in ["public", "internal", "admin"] {
                XCTAssertEqual(registered["container-infra \(interface)"], "http://127.0.0.1:9999/v1")
                XCTAssertEqual(registered["compute \(interface)"], "http://127.0.0.1:9999/compute/v2.1")
                XCTAssertEqual(registered["image \(interface)"], "http://127.0.0.1:9999/image")
                XCTAssertEqual(registered["network \(interface)"], "http://127.0.0.1:9999/network")
            }

            let again = try await bootstrap("http://127.0.0.1:9999")
            XCTAssertEqual(again, [], "a second run changes nothing")

            let moved = try await bootstrap("http://127.0.0.1:9998")
            XCTAssertEqual(moved.filter { $0.hasPrefix("updated") }.count, 12, "\(moved)")
            let after = try await endpoints(url, token, region: region)
            XCTAssertEqual(after.count, 12, "updated in place, none added")
            XCTAssertEqual(after["container-infra public"], "http://127.0.0.1:9998/v1")

            // The service user can authenticate and holds admin and service on its project.
            let withUser = try await bootstrap("http://127.0.0.1:9998", serviceUser: true)
            XCTAssertTrue(withUser.contains("created user \(user)"), "\(withUser)")
            let (_, users) = try await call(url, token, .GET, "/users?name=\(user)")
            let userID = try XCTUnwrap(users?["users"]?.arrayValue?.first?["id"]?.stringValue)
            let (_, assignments) = try await call(url, token, .GET, "/role_assignments?user.id=\(userID)&include_names=true")
            let roles = Set((assignments?["role_assignments"]?.arrayValue ?? []).compactMap { $0["role"]?["name"]?.stringValue })
            XCTAssertEqual(roles, ["admin", "service"])
            let auth = KeystoneAuthenticator(configuration: .init(authURL: url, username: user, password: "secret-\(suffix)", projectName: "service"))
            let service = try await auth.currentServiceToken(forceRefresh: true)
            XCTAssertFalse(service.isEmpty)
            try await auth.shutdown()
        } catch {
            try? await cleanUp(url, token, region: region, user: user)
            throw error
        }
        try await cleanUp(url, token, region: region, user: user)
    }

    func cleanUp(_ url: String, _ token: String, region: String, user: String) async throws {
        let (_, body) = try await call(url, token, .GET, "/endpoints?region_id=\(region)")
        for e in body?["endpoints"]?.arrayValue ?? [] {
            if let id = e["id"]?.stringValue { _ = try await call(url, token, .DELETE, "/endpoints/\(id)") }
        }
        _ = try await call(url, token, .DELETE, "/regions/\(region)")
        let (_, users) = try await call(url, token, .GET, "/users?name=\(user)")
        if let id = users?["users"]?.arrayValue?.first?["id"]?.stringValue { _ = try await call(url, token, .DELETE, "/users/\(id)") }
    }

    func testWrongAdminPasswordAndUnreachableKeystone() async throws {
        let url = try keystoneURL()
        do {
            _ = try await KeystoneBootstrap(configuration: .init(authURL: url, adminUser: "admin", adminPassword: "wrong",
                                                                 adminProject: "admin", publicURL: "http://127.0.0.1:9999")).run()
            XCTFail("wrong password accepted")
        } catch let e as MagnumError {
            XCTAssertEqual(e.code, .unauthorized)
            XCTAssertFalse(e.message.contains("wrong"), "the password is not echoed")
        }
        do {
            _ = try await KeystoneBootstrap(configuration: .init(authURL: "http://127.0.0.1:1/v3", adminUser: "admin", adminPassword: "admin",
                                                                 adminProject: "admin", publicURL: "http://127.0.0.1:9999")).run()
            XCTFail("unreachable Keystone reported success")
        } catch let e as MagnumError {
            XCTAssertEqual(e.code, .unavailable)
        }
    }
}
