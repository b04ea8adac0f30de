import AsyncHTTPClient
import Foundation
import MagnumAPI
import MagnumCore
@testable import MagnumIdentity
import MagnumStore
import MagnumTestSupport
import NIOCore
import XCTest

/// `KeystoneAuthenticator` against a REAL Keystone (`scripts/keystone.sh start` prints the URL to
/// put in `MAGNUM_TEST_KEYSTONE_URL`); skipped when the variable is not set.
final class KeystoneAuthenticatorTests: XCTestCase {
    static let variable = "MAGNUM_TEST_KEYSTONE_URL"

    func keystoneURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment[Self.variable], !url.isEmpty else {
            throw XCTSkip("\(Self.variable) is not set (scripts/keystone.sh start provides a Keystone)")
        }
        return url
    }

    func configuration(_ url: String, ttl: Duration = .seconds(60)) -> KeystoneAuthenticator.Configuration {
        .init(authURL: url, username: "magnum", password: "magnum", projectName: "service", cacheTTL: ttl,
              requestTimeout: .seconds(5), connectTimeout: .seconds(1))
    }

    /// Runs `body` with an authenticator, shutting its client down afterwards.
    func withAuthenticator<T: Sendable>(_ config: KeystoneAuthenticator.Configuration,
                                        _ body: (KeystoneAuthenticator) async throws -> T) async throws -> T
    {
        let auth = KeystoneAuthenticator(configuration: config)
        let result: Result<T, any Error>
        do { result = .success(try await body(auth)) } catch { result = .failure(error) }
        try await auth.shutdown()
        return try result.get()
    }

    /// A project-scoped token for `user` (password = user name) in project `project`.
    func issueToken(_ url: String, user: String = "demo", project: String = "demo") async throws -> String {
        let body = """
        {"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"\(user)","domain":{"id":"default"},"password":"\(user)"}}},\
        "scope":{"project":{"name":"\(project)","domain":{"id":"default"}}}}}
        """
        var request = HTTPClientRequest(url: url + "/auth/tokens")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        _ = try await response.body.collect(upTo: 8 << 20)
        XCTAssertEqual(response.status.code, 201)
        return try XCTUnwrap(response.headers.first(name: "X-Subject-Token"))
    }

    /// Revokes `token` with the token itself (a user may revoke its own token).
    func revoke(_ url: String, _ token: String) async throws {
        var request = HTTPClientRequest(url: url + "/auth/tokens")
        request.method = .DELETE
        request.headers.add(name: "X-Auth-Token", value: token)
        request.headers.add(name: "X-Subject-Token", value: token)
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        _ = try await response.body.collect(upTo: 1 << 20)
        XCTAssertEqual(response.status.code, 204)
    }

    func testDemoTokenValidates() async throws {
        let url = try keystoneURL()
        let token = try await issueToken(url)
        try await withAuthenticator(configuration(url)) { auth in
            let validated = try await auth.authenticate(token: token)
            let ctx = try XCTUnwrap(validated)
            XCTAssertEqual(ctx.userName, "demo")
            XCTAssertEqual(ctx.projectName, "demo")
            XCTAssertNotNil(ctx.userID)
            XCTAssertNotNil(ctx.projectID)
            XCTAssertEqual(ctx.domainID, "default")
            XCTAssertTrue(ctx.roles.contains("member"), "\(ctx.roles)")
            XCTAssertTrue(ctx.roles.contains("reader"), "implied role missing: \(ctx.roles)")
            XCTAssertFalse(ctx.roles.contains("admin"))
            XCTAssertFalse(ctx.systemScope)
            XCTAssertEqual(ctx.authToken, token)
            // Served from the cache the second time, same answer.
            let again = try await auth.authenticate(token: token)
            XCTAssertEqual(again, ctx)
        }
    }

    func testGarbageTokenIsNil() async throws {
        let url = try keystoneURL()
        try await withAuthenticator(configuration(url)) { auth in
            let ctx = try await auth.authenticate(token: "gAAAAAthis-is-not-a-token")
            XCTAssertNil(ctx)
        }
    }

    func testRevokedTokenIsNilAfterTTL() async throws {
        let url = try keystoneURL()
        let token = try await issueToken(url)
        try await withAuthenticator(configuration(url, ttl: .milliseconds(300))) { auth in
            let before = try await auth.authenticate(token: token)
            XCTAssertNotNil(before)
            try await revoke(url, token)
            try await Task.sleep(for: .milliseconds(600))
            let after = try await auth.authenticate(token: token)
            XCTAssertNil(after)
        }
    }

    func testKeystoneUnreachableIsUnavailable() async throws {
        _ = try keystoneURL()
        try await withAuthenticator(configuration("http://127.0.0.1:1/v3")) { auth in
            do {
                _ = try await auth.authenticate(token: "anything")
                XCTFail("expected .unavailable")
            } catch let error as MagnumError {
                XCTAssertEqual(error.code, .unavailable)
                XCTAssertEqual(error.httpStatus, 503)
                XCTAssertTrue(error.message.hasPrefix("Identity service unavailable: "), error.message)
            }
        }
    }

    func testWrongServicePasswordIsUnavailable() async throws {
        let url = try keystoneURL()
        var config = configuration(url)
        config.password = "wrong"
        try await withAuthenticator(config) { auth in
            do {
                _ = try await auth.authenticate(token: "anything")
                XCTFail("expected .unavailable")
            } catch let error as MagnumError {
                XCTAssertEqual(error.code, .unavailable)
            }
        }
    }

    /// The whole API pipeline with the real Keystone: 200 with a demo token, 401 with garbage,
    /// 503 when Keystone is down.
    func testAPIEndToEnd() async throws {
        let url = try keystoneURL()
        let token = try await issueToken(url)
        try await TestDatabases.withSQLite { store in
            try await self.withAuthenticator(self.configuration(url)) { auth in
                let harness = try await APIHarness.make(store: store, label: "sqlite", authenticator: auth)
                let ok = try await harness.request(.get, "/v1/clusters", authToken: token)
                XCTAssertEqual(ok.status, 200, ok.text)
                XCTAssertNotNil(ok.json?["clusters"]?.arrayValue)
                let garbage = try await harness.request(.get, "/v1/clusters", authToken: "garbage")
                XCTAssertEqual(garbage.status, 401, garbage.text)
                let none = try await harness.request(.get, "/v1/clusters", authToken: nil)
                XCTAssertEqual(none.status, 401)
            }
        }
        try await TestDatabases.withSQLite { store in
            try await self.withAuthenticator(self.configuration("http://127.0.0.1:1/v3")) { auth in
                let harness = try await APIHarness.make(store: store, label: "sqlite", authenticator: auth)
                let down = try await harness.request(.get, "/v1/clusters", authToken: token)
                XCTAssertEqual(down.status, 503, down.text)
                XCTAssertTrue(down.text.contains("Identity service unavailable"), down.text)
            }
        }
    }

    // MARK: Without Keystone

    func testParsesKeystoneDates() throws {
        let date = try XCTUnwrap(KeystoneAuthenticator.parseDate("2026-11-25T16:05:33.000000Z"))
        XCTAssertEqual(date.timeIntervalSince1970, 1_795_622_733)
        XCTAssertEqual(KeystoneAuthenticator.parseDate("2026-11-25T16:05:33Z"), date)
        XCTAssertNil(KeystoneAuthenticator.parseDate("tomorrow"))
    }

    func testContextFromSystemScopedAnswer() throws {
        let body = """
        {"token": {"methods": ["password"], "user": {"domain": {"id": "default", "name": "Default"}, "id": "u1", "name": "admin"},
         "system": {"all": true}, "roles": [{"id": "r1", "name": "admin"}, {"id": "r2", "name": "member"}, {"id": "r3", "name": "reader"}],
         "expires_at": "2999-01-01T00:00:00.000000Z", "issued_at": "2026-01-01T00:00:00.000000Z"}}
        """
        let (ctx, expires) = try KeystoneAuthenticator.context(from: Data(body.utf8), token: "t")
        let c = try XCTUnwrap(ctx)
        XCTAssertTrue(c.systemScope)
        XCTAssertNil(c.projectID)
        XCTAssertEqual(c.userID, "u1")
        XCTAssertEqual(c.roles, ["admin", "member", "reader"])
        XCTAssertNotNil(expires)
        // An answer whose token already expired is no identity.
        let old = body.replacingOccurrences(of: "2999", with: "2001")
        XCTAssertNil(try KeystoneAuthenticator.context(from: Data(old.utf8), token: "t").0)
    }

    func testCacheIsBoundedAndNeverOutlivesTheToken() async throws {
        let config = KeystoneAuthenticator.Configuration(authURL: "http://127.0.0.1:1/v3", username: "u", password: "p",
                                                         projectName: "p", cacheTTL: .seconds(60), maxCacheEntries: 3,
                                                         connectTimeout: .milliseconds(200))
        try await withAuthenticator(config) { auth in
            let ctx = RequestContext(userID: "u", projectID: "p", roles: ["member"])
            for i in 0..<5 { await auth.store("t\(i)", context: ctx, expiresAt: nil) }
            let count = await auth.cache.entries.count
            XCTAssertEqual(count, 3)
            // Expires before the TTL: served until then only.
            await auth.store("short", context: ctx, expiresAt: Date().addingTimeInterval(0.2))
            let hit = try await auth.authenticate(token: "short")
            XCTAssertEqual(hit, ctx)
            try await Task.sleep(for: .milliseconds(300))
            do {
                _ = try await auth.authenticate(token: "short")
                XCTFail("the expired entry must not be served (Keystone is unreachable here)")
            } catch let error as MagnumError {
                XCTAssertEqual(error.code, .unavailable)
            }
        }
    }
}
