import Foundation
import Hummingbird
import MagnumAPI
import MagnumCore
@testable import MagnumIdentity
import MagnumStore
import MagnumTestSupport
import XCTest

/// The built-in Keystone v3 identity through the whole HTTP pipeline (in process), on SQLite
/// and, when `MAGNUM_TEST_DATABASE_URL` is set, on PostgreSQL.
final class BuiltInIdentityTests: XCTestCase {
    static let publicURL = "http://magnum.test:9511"
    static let adminPassword = "admin-secret"

    /// One harness with the built-in identity serving `/identity` and authenticating the API.
    struct Fixture {
        var h: APIHarness
        var identity: BuiltInIdentity
        var records: any IdentityRecords
        var boot: BuiltInIdentity.Bootstrap
        var label: String
    }

    /// Runs `body` on each database with a bootstrapped identity. The validation cache lives
    /// a minute, so tests also prove that changes clear it.
    func withIdentity(tokenLifetime: Duration = .seconds(3600), _ body: (Fixture) async throws -> Void) async throws {
        try await TestDatabases.withEach { store, label in
            let records = try XCTUnwrap(store as? any IdentityRecords)
            let identity = BuiltInIdentity(
                records: records,
                configuration: .init(publicURL: Self.publicURL, tokenLifetime: tokenLifetime, passwordRounds: 1000, cacheTTL: .seconds(60)),
                logger: TestDatabases.logger)
            let boot = try await identity.bootstrap(adminPassword: Self.adminPassword)
            XCTAssertTrue(boot.created, label)
            let h = try await APIHarness.make(store: store, label: label, authenticator: BuiltInAuthenticator(identity: identity),
                                              identity: identity)
            try await body(Fixture(h: h, identity: identity, records: records, boot: boot, label: label))
        }
    }

    // MARK: Request helpers

    static func passwordAuth(user: String, password: String, scope: JSON?) -> JSON {
        var auth: [String: JSON] = [
            "identity": ["methods": ["password"],
                         "password": ["user": ["name": .string(user), "domain": ["name": "Default"], "password": .string(password)]]],
        ]
        if let scope { auth["scope"] = scope }
        return ["auth": .object(auth)]
    }

    static func projectScope(_ name: String) -> JSON {
        ["project": ["name": .string(name), "domain": ["id": "default"]]]
    }

    /// Issues a token (fails the test unless 201) and returns (token, body).
    func issue(_ f: Fixture, user: String = "admin", password: String = adminPassword, scope: JSON? = projectScope("admin"),
               file: StaticString = #filePath, line: UInt = #line) async throws -> (String, JSON)
    {
        let r = try await f.h.request(.post, "/identity/v3/auth/tokens", authToken: nil,
                                      body: Self.passwordAuth(user: user, password: password, scope: scope))
        XCTAssertEqual(r.status, 201, "\(f.label): \(r.text)", file: file, line: line)
        let token = try XCTUnwrap(r.header("X-Subject-Token"), file: file, line: line)
        return (token, try XCTUnwrap(r.json, file: file, line: line))
    }

    func call(_ f: Fixture, _ method: HTTPRequestMethod, _ path: String, token: String?, body: JSON? = nil,
              headers: [String: String] = [:]) async throws -> APIHarness.Reply
    {
        try await f.h.request(method, path, authToken: token, body: body, headers: headers)
    }

    /// Creates project `demo`, user `demo` (password `demo-pw`) with `member` on it, as admin;
    /// returns (project id, user id).
    func makeDemo(_ f: Fixture, admin: String) async throws -> (String, String) {
        let p = try await call(f, .post, "/identity/v3/projects", token: admin, body: ["project": ["name": "demo", "description": "Demo"]])
        XCTAssertEqual(p.status, 201, p.text)
        let projectID = try XCTUnwrap(p.json?["project"]?["id"]?.stringValue)
        let u = try await call(f, .post, "/identity/v3/users", token: admin,
                               body: ["user": ["name": "demo", "password": "demo-pw", "default_project_id": .string(projectID),
                                               "email": "demo@example.org"]])
        XCTAssertEqual(u.status, 201, u.text)
        let userID = try XCTUnwrap(u.json?["user"]?["id"]?.stringValue)
        let roles = try await call(f, .get, "/identity/v3/roles?name=member", token: admin)
        let memberID = try XCTUnwrap(roles.json?["roles"]?.arrayValue?.first?["id"]?.stringValue)
        let grant = try await call(f, .put, "/identity/v3/projects/\(projectID)/users/\(userID)/roles/\(memberID)", token: admin)
        XCTAssertEqual(grant.status, 204, grant.text)
        return (projectID, userID)
    }

    // MARK: Versions

    func testVersionDocuments() async throws {
        try await withIdentity { f in
            let root = try await self.call(f, .get, "/identity", token: nil)
            XCTAssertEqual(root.status, 300)
            let values = try XCTUnwrap(root.json?["versions"]?["values"]?.arrayValue)
            XCTAssertEqual(values.first?["id"]?.stringValue, "v3.14")
            XCTAssertEqual(values.first?["status"]?.stringValue, "stable")

            let v3 = try await self.call(f, .get, "/identity/v3", token: nil)
            XCTAssertEqual(v3.status, 200)
            let links = try XCTUnwrap(v3.json?["version"]?["links"]?.arrayValue)
            XCTAssertEqual(links.first?["rel"]?.stringValue, "self")
            XCTAssertTrue(links.first?["href"]?.stringValue?.hasSuffix("/identity/v3/") ?? false, v3.text)
            XCTAssertEqual(v3.json?["version"]?["media-types"]?.arrayValue?.first?["type"]?.stringValue,
                           "application/vnd.openstack.identity-v3+json")
        }
    }

    // MARK: Authentication

    func testPasswordAuthProjectScoped() async throws {
        try await withIdentity { f in
            let (token, body) = try await self.issue(f)
            XCTAssertTrue(token.hasPrefix("m1."), token)
            let t = try XCTUnwrap(body["token"])
            XCTAssertEqual(t["methods"], ["password"])
            XCTAssertEqual(t["user"]?["name"]?.stringValue, "admin")
            XCTAssertEqual(t["user"]?["id"]?.stringValue, f.boot.adminUserID)
            XCTAssertEqual(t["user"]?["domain"]?["name"]?.stringValue, "Default")
            XCTAssertEqual(t["project"]?["id"]?.stringValue, f.boot.adminProjectID)
            XCTAssertEqual(t["project"]?["name"]?.stringValue, "admin")
            XCTAssertEqual(t["is_domain"], false)
            XCTAssertNil(t["system"])
            let roles = Set(t["roles"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? [])
            XCTAssertEqual(roles, ["admin", "member", "reader"], "implied roles are in the token")
            XCTAssertEqual(t["audit_ids"]?.arrayValue?.count, 1)
            let pattern = #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"#
            let expires = try XCTUnwrap(t["expires_at"]?.stringValue)
            let issued = try XCTUnwrap(t["issued_at"]?.stringValue)
            XCTAssertNotNil(expires.range(of: pattern, options: .regularExpression), expires)
            XCTAssertNotNil(issued.range(of: pattern, options: .regularExpression), issued)
            XCTAssertGreaterThan(expires, issued)
            // By user id and project id works too.
            let byID: JSON = ["auth": ["identity": ["methods": ["password"], "password": ["user": ["id": .string(f.boot.adminUserID), "password": .string(Self.adminPassword)]]],
                                       "scope": ["project": ["id": .string(f.boot.adminProjectID)]]]]
            let r = try await f.h.request(.post, "/identity/v3/auth/tokens", authToken: nil, body: byID)
            XCTAssertEqual(r.status, 201, r.text)
            XCTAssertEqual(r.json?["token"]?["project"]?["name"]?.stringValue, "admin")
        }
    }

    func testCatalogContents() async throws {
        try await withIdentity { f in
            let (token, body) = try await self.issue(f)
            let catalog = try XCTUnwrap(body["token"]?["catalog"]?.arrayValue)
            var urls: [String: String] = [:]
            for service in catalog {
                let type = try XCTUnwrap(service["type"]?.stringValue)
                let endpoints = try XCTUnwrap(service["endpoints"]?.arrayValue)
                XCTAssertEqual(Set(endpoints.compactMap { $0["interface"]?.stringValue }), ["public", "internal", "admin"], type)
                XCTAssertTrue(endpoints.allSatisfy { $0["region_id"]?.stringValue == "RegionOne" && $0["region"]?.stringValue == "RegionOne" })
                urls[type] = endpoints.first { $0["interface"]?.stringValue == "public" }?["url"]?.stringValue
            }
            XCTAssertEqual(urls, [
                "identity": "\(Self.publicURL)/identity/v3",
                "container-infra": "\(Self.publicURL)/v1",
                "compute": "\(Self.publicURL)/compute/v2.1",
                "image": "\(Self.publicURL)/image",
                "network": "\(Self.publicURL)/network",
            ])
            XCTAssertEqual(catalog.first { $0["type"]?.stringValue == "container-infra" }?["name"]?.stringValue, "magnum")
            let auth = try await self.call(f, .get, "/identity/v3/auth/catalog", token: token)
            XCTAssertEqual(auth.status, 200)
            XCTAssertEqual(auth.json?["catalog"]?.arrayValue?.count, 5)
            let endpoints = try await self.call(f, .get, "/identity/v3/endpoints?interface=public", token: token)
            XCTAssertEqual(endpoints.json?["endpoints"]?.arrayValue?.count, 5)
            let services = try await self.call(f, .get, "/identity/v3/services", token: token)
            XCTAssertEqual(Set(services.json?["services"]?.arrayValue?.compactMap { $0["type"]?.stringValue } ?? []),
                           ["identity", "container-infra", "compute", "image", "network"])
            // ?nocatalog leaves it out.
            let noCatalog = try await self.call(f, .get, "/identity/v3/auth/tokens?nocatalog", token: token, headers: ["X-Subject-Token": token])
            XCTAssertEqual(noCatalog.status, 200)
            XCTAssertNil(noCatalog.json?["token"]?["catalog"])
        }
    }

    func testSystemScopedToken() async throws {
        try await withIdentity { f in
            let (token, body) = try await self.issue(f, scope: ["system": ["all": true]])
            XCTAssertEqual(body["token"]?["system"], ["all": true])
            XCTAssertNil(body["token"]?["project"])
            XCTAssertTrue(body["token"]?["roles"]?.arrayValue?.contains { $0["name"] == "admin" } ?? false)
            let ctx = try await BuiltInAuthenticator(identity: f.identity).authenticate(token: token)
            XCTAssertEqual(ctx?.systemScope, true)
            XCTAssertNil(ctx?.projectID)
            XCTAssertEqual(ctx?.isAdmin, true)
            // A system-scoped admin may administer the identity.
            let list = try await self.call(f, .get, "/identity/v3/projects", token: token)
            XCTAssertEqual(list.status, 200, list.text)
            // A user without system roles cannot get a system token.
            let admin = try await self.issue(f).0
            _ = try await self.makeDemo(f, admin: admin)
            let r = try await f.h.request(.post, "/identity/v3/auth/tokens", authToken: nil,
                                          body: Self.passwordAuth(user: "demo", password: "demo-pw", scope: ["system": ["all": true]]))
            XCTAssertEqual(r.status, 401, r.text)
        }
    }

    func testWrongPasswordAndUnknownUserAre401() async throws {
        try await withIdentity { f in
            for (user, password) in [("admin", "wrong"), ("nobody", "whatever"), ("admin", "")] {
                let r = try await f.h.request(.post, "/identity/v3/auth/tokens", authToken: nil,
                                              body: Self.passwordAuth(user: user, password: password, scope: Self.projectScope("admin")))
                XCTAssertEqual(r.status, 401, "\(user): \(r.text)")
                XCTAssertNil(r.header("X-Subject-Token"))
                XCTAssertEqual(r.json?["error"]?["code"], 401)
                XCTAssertEqual(r.json?["error"]?["title"], "Unauthorized")
                XCTAssertNotNil(r.json?["error"]?["message"]?.stringValue)
                XCTAssertEqual(r.header("WWW-Authenticate"), "Keystone uri=\"\(Self.publicURL)/identity\"")
            }
            // A project the user has no role on.
            let other = try await self.call(f, .post, "/identity/v3/auth/tokens", token: nil,
                                            body: Self.passwordAuth(user: "admin", password: Self.adminPassword, scope: Self.projectScope("service")))
            XCTAssertEqual(other.status, 401, other.text)
            // A malformed body is 400 in Keystone's shape.
            let bad = try await self.call(f, .post, "/identity/v3/auth/tokens", token: nil, body: ["nope": 1])
            XCTAssertEqual(bad.status, 400)
            XCTAssertEqual(bad.json?["error"]?["title"], "Bad Request")
        }
    }

    func testPasswordIsStoredAsSaltedSlowHash() async throws {
        try await withIdentity { f in
            let admin = try await self.issue(f).0
            let (_, demoID) = try await self.makeDemo(f, admin: admin)
            let u2 = try await self.call(f, .post, "/identity/v3/users", token: admin, body: ["user": ["name": "twin", "password": "demo-pw"]])
            XCTAssertEqual(u2.status, 201)
            let twinID = try XCTUnwrap(u2.json?["user"]?["id"]?.stringValue)
            XCTAssertNil(u2.json?["user"]?["password"], "the password is never echoed")
            let (demo, twin) = try await f.records.readIdentity { s in (try await s.user(id: demoID), try await s.user(id: twinID)) }
            let demoHash = try XCTUnwrap(demo?.passwordHash)
            let twinHash = try XCTUnwrap(twin?.passwordHash)
            XCTAssertFalse(demoHash.contains("demo-pw"))
            XCTAssertTrue(demoHash.hasPrefix("pbkdf2-sha256$1000$"), demoHash)
            XCTAssertNotEqual(demoHash, twinHash, "same password, different salts")
            XCTAssertTrue(PasswordHash.verify("demo-pw", against: demoHash))
            XCTAssertFalse(PasswordHash.verify("demo-pw2", against: demoHash))
            let adminHash = try await f.records.readIdentity { try await $0.user(id: f.boot.adminUserID)?.passwordHash }
            XCTAssertFalse(adminHash?.contains(Self.adminPassword) ?? true)
        }
    }

    func testPasswordHashFormatAndDefaults() throws {
        let stored = try PasswordHash.make("s3cret", rounds: 1000)
        let parts = stored.split(separator: "$")
        XCTAssertEqual(parts.count, 4)
        XCTAssertEqual(parts[0], "pbkdf2-sha256")
        XCTAssertEqual(Data(base64Encoded: String(parts[2]))?.count, 16)
        XCTAssertEqual(Data(base64Encoded: String(parts[3]))?.count, 32)
        XCTAssertTrue(PasswordHash.verify("s3cret", against: stored))
        XCTAssertFalse(PasswordHash.verify("s3cret ", against: stored))
        XCTAssertFalse(PasswordHash.verify("s3cret", against: "plain:s3cret"))
        XCTAssertGreaterThanOrEqual(PasswordHash.defaultRounds, 210_000)
    }

    // MARK: Validation and revocation

    func testTokenValidationAndCheck() async throws {
        try await withIdentity { f in
            let admin = try await self.issue(f).0
            _ = try await self.makeDemo(f, admin: admin)
            let demo = try await self.issue(f, user: "demo", password: "demo-pw", scope: Self.projectScope("demo")).0
            let v = try await self.call(f, .get, "/identity/v3/auth/tokens", token: admin, headers: ["X-Subject-Token": demo])
            XCTAssertEqual(v.status, 200, v.text)
            XCTAssertEqual(v.header("X-Subject-Token"), demo)
            XCTAssertEqual(v.json?["token"]?["user"]?["name"], "demo")
            XCTAssertEqual(v.json?["token"]?["project"]?["name"], "demo")
            XCTAssertEqual(Set(v.json?["token"]?["roles"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []), ["member", "reader"])
            let head = try await self.call(f, .head, "/identity/v3/auth/tokens", token: admin, headers: ["X-Subject-Token": demo])
            XCTAssertEqual(head.status, 200)
            // A user may validate its own token, not someone else's.
            let own = try await self.call(f, .get, "/identity/v3/auth/tokens", token: demo, headers: ["X-Subject-Token": demo])
            XCTAssertEqual(own.status, 200)
            let others = try await self.call(f, .get, "/identity/v3/auth/tokens", token: demo, headers: ["X-Subject-Token": admin])
            XCTAssertEqual(others.status, 403)
            let garbage = try await self.call(f, .get, "/identity/v3/auth/tokens", token: admin, headers: ["X-Subject-Token": "m1.bogus.token"])
            XCTAssertEqual(garbage.status, 404)
            XCTAssertEqual(garbage.json?["error"]?["title"], "Not Found")
            // No X-Auth-Token at all: 401.
            let anonymous = try await self.call(f, .get, "/identity/v3/auth/tokens", token: nil, headers: ["X-Subject-Token": demo])
            XCTAssertEqual(anonymous.status, 401)
        }
    }

    func testRevokedTokenIsRejectedByMagnumAPI() async throws {
        try await withIdentity { f in
            let admin = try await self.issue(f).0
            _ = try await self.makeDemo(f, admin: admin)
            let demo = try await self.issue(f, user: "demo", password: "demo-pw", scope: Self.projectScope("demo")).0
            let spare = try await self.issue(f, user: "demo", password: "demo-pw", scope: Self.projectScope("demo")).0
            let before = try await self.call(f, .get, "/v1/clustertemplates", token: demo)
            XCTAssertEqual(before.status, 200, before.text)
            let revoke = try await self.call(f, .delete, "/identity/v3/auth/tokens", token: demo, headers: ["X-Subject-Token": demo])
            XCTAssertEqual(revoke.status, 204, revoke.text)
            let after = try await self.call(f, .get, "/v1/clustertemplates", token: demo)
            XCTAssertEqual(after.status, 401, "revocation applies at once, cache or not")
            let validate = try await self.call(f, .get, "/identity/v3/auth/tokens", token: admin, headers: ["X-Subject-Token": demo])
            XCTAssertEqual(validate.status, 404)
            // Only that token: another token of the same user still works.
            let other = try await self.call(f, .get, "/v1/clustertemplates", token: spare)
            XCTAssertEqual(other.status, 200)
            // A new identity over the same records (a restart) still refuses the revoked token
            // and still accepts the other one: the secret and revocations are stored.
            let restarted = BuiltInIdentity(records: f.records, configuration: f.identity.configuration)
            let revoked = try await restarted.validate(demo)
            XCTAssertNil(revoked)
            let kept = try await restarted.validate(spare)
            XCTAssertEqual(kept?.user.name, "demo")
        }
    }

    func testExpiredTokenIsRejected() async throws {
        try await withIdentity { f in
            let now = IdentityToken.micros(Date())
            let seal = try await f.identity.keys.seal()
            let expired = IdentityToken(userID: f.boot.adminUserID, scope: .project(f.boot.adminProjectID), methods: ["password"],
                                        issuedAt: now - 7_200_000_000, expiresAt: now - 1_000_000, auditID: IdentityToken.newAuditID())
            let token = seal.seal(expired)
            let r = try await self.call(f, .get, "/v1/clustertemplates", token: token)
            XCTAssertEqual(r.status, 401)
            // The same token with a future expiry is accepted: only the expiry differs.
            var fresh = expired
            fresh.expiresAt = now + 60_000_000
            let ok = try await self.call(f, .get, "/v1/clustertemplates", token: seal.seal(fresh))
            XCTAssertEqual(ok.status, 200, ok.text)
        }
        // And for real: a one-second lifetime.
        try await withIdentity(tokenLifetime: .seconds(1)) { f in
            let (token, _) = try await self.issue(f)
            let ok = try await self.call(f, .get, "/v1/clustertemplates", token: token)
            XCTAssertEqual(ok.status, 200)
            try await Task.sleep(for: .milliseconds(1300))
            let late = try await self.call(f, .get, "/v1/clustertemplates", token: token)
            XCTAssertEqual(late.status, 401)
        }
    }

    func testTamperedTokenIsRejected() async throws {
        try await withIdentity { f in
            let admin = try await self.issue(f).0
            let (_, demoID) = try await self.makeDemo(f, admin: admin)
            let demo = try await self.issue(f, user: "demo", password: "demo-pw", scope: Self.projectScope("demo")).0
            let parts = demo.split(separator: ".").map(String.init)
            XCTAssertEqual(parts.count, 3)
            // Rewrite the payload to claim the admin user and project, keeping the signature.
            let payload = try XCTUnwrap(Base64URL.decode(parts[1]))
            var text = String(decoding: payload, as: UTF8.self)
            XCTAssertTrue(text.hasPrefix(demoID))
            text = text.replacingOccurrences(of: demoID, with: f.boot.adminUserID)
            let forged = "m1.\(Base64URL.encode(Array(text.utf8))).\(parts[2])"
            let r1 = try await self.call(f, .get, "/v1/clustertemplates", token: forged)
            XCTAssertEqual(r1.status, 401)
            // A flipped signature character.
            var sig = Array(parts[2])
            sig[0] = sig[0] == "A" ? "B" : "A"
            let r2 = try await self.call(f, .get, "/v1/clustertemplates", token: "m1.\(parts[1]).\(String(sig))")
            XCTAssertEqual(r2.status, 401)
            // A token signed with another secret.
            let foreign = TokenSeal(secret: Array(repeating: 7, count: 32))
            let claim = IdentityToken(userID: f.boot.adminUserID, scope: .project(f.boot.adminProjectID), methods: ["password"],
                                      issuedAt: IdentityToken.micros(Date()), expiresAt: IdentityToken.micros(Date()) + 60_000_000,
                                      auditID: "x")
            XCTAssertEqual(foreign.open(foreign.seal(claim)), claim, "the foreign seal itself round-trips")
            let r3 = try await self.call(f, .get, "/v1/clustertemplates", token: foreign.seal(claim))
            XCTAssertEqual(r3.status, 401)
            // The untouched token still works.
            let ok = try await self.call(f, .get, "/v1/clustertemplates", token: demo)
            XCTAssertEqual(ok.status, 200)
        }
    }

    func testRemovedRoleAndDeletedUserInvalidateTokens() async throws {
        try await withIdentity { f in
            let admin = try await self.issue(f).0
            let (projectID, userID) = try await self.makeDemo(f, admin: admin)
            let demo = try await self.issue(f, user: "demo", password: "demo-pw", scope: Self.projectScope("demo")).0
            let ok = try await self.call(f, .get, "/v1/clustertemplates", token: demo)
            XCTAssertEqual(ok.status, 200)
            let memberIDReply = try await self.call(f, .get, "/identity/v3/roles?name=member", token: admin)
            let memberID = try XCTUnwrap(memberIDReply
                .json?["roles"]?.arrayValue?.first?["id"]?.stringValue)
            let removed = try await self.call(f, .delete, "/identity/v3/projects/\(projectID)/users/\(userID)/roles/\(memberID)", token: admin)
            XCTAssertEqual(removed.status, 204)
            let again = try await self.call(f, .delete, "/identity/v3/projects/\(projectID)/users/\(userID)/roles/\(memberID)", token: admin)
            XCTAssertEqual(again.status, 404)
            let denied = try await self.call(f, .get, "/v1/clustertemplates", token: demo)
            XCTAssertEqual(denied.status, 401, "a token without roles on its project no longer validates")
            let v = try await self.call(f, .get, "/identity/v3/auth/tokens", token: admin, headers: ["X-Subject-Token": demo])
            XCTAssertEqual(v.status, 404)
            // Granting the role again revives it (the token itself was never revoked) …
            _ = try await self.call(f, .put, "/identity/v3/projects/\(projectID)/users/\(userID)/roles/\(memberID)", token: admin)
            let revived = try await self.call(f, .get, "/v1/clustertemplates", token: demo)
            XCTAssertEqual(revived.status, 200)
            // … deleting the user kills it for good, and its assignments go with it.
            let del = try await self.call(f, .delete, "/identity/v3/users/\(userID)", token: admin)
            XCTAssertEqual(del.status, 204)
            let gone = try await self.call(f, .get, "/v1/clustertemplates", token: demo)
            XCTAssertEqual(gone.status, 401)
            let leftovers = try await f.records.readIdentity { try await $0.roleAssignments(userID: userID, scope: nil, roleID: nil) }
            XCTAssertEqual(leftovers, [])
        }
    }

    func testPasswordChangeRevokesOlderTokens() async throws {
        try await withIdentity { f in
            let admin = try await self.issue(f).0
            let (_, userID) = try await self.makeDemo(f, admin: admin)
            let old = try await self.issue(f, user: "demo", password: "demo-pw", scope: Self.projectScope("demo")).0
            try await Task.sleep(for: .milliseconds(5))
            let patch = try await self.call(f, .patch, "/identity/v3/users/\(userID)", token: admin, body: ["user": ["password": "new-pw"]])
            XCTAssertEqual(patch.status, 200, patch.text)
            let r = try await self.call(f, .get, "/v1/clustertemplates", token: old)
            XCTAssertEqual(r.status, 401)
            let wrong = try await f.h.request(.post, "/identity/v3/auth/tokens", authToken: nil,
                                              body: Self.passwordAuth(user: "demo", password: "demo-pw", scope: Self.projectScope("demo")))
            XCTAssertEqual(wrong.status, 401)
            let fresh = try await self.issue(f, user: "demo", password: "new-pw", scope: Self.projectScope("demo")).0
            let ok = try await self.call(f, .get, "/v1/clustertemplates", token: fresh)
            XCTAssertEqual(ok.status, 200)
        }
    }

    func testRescopeWithTokenMethod() async throws {
        try await withIdentity { f in
            let admin = try await self.issue(f).0
            _ = try await self.makeDemo(f, admin: admin)
            let (unscoped, body) = try await self.issue(f, user: "demo", password: "demo-pw", scope: "unscoped")
            XCTAssertNil(body["token"]?["project"])
            XCTAssertNil(body["token"]?["catalog"])
            // An unscoped token lists the user's projects but is refused by Magnum's policy.
            let projects = try await self.call(f, .get, "/identity/v3/auth/projects", token: unscoped)
            XCTAssertEqual(projects.json?["projects"]?.arrayValue?.compactMap { $0["name"]?.stringValue }, ["demo"])
            let rescoped = try await self.call(f, .post, "/identity/v3/auth/tokens", token: nil,
                                               body: ["auth": ["identity": ["methods": ["token"], "token": ["id": .string(unscoped)]],
                                                               "scope": Self.projectScope("demo")]])
            XCTAssertEqual(rescoped.status, 201, rescoped.text)
            let t = try XCTUnwrap(rescoped.json?["token"])
            XCTAssertEqual(t["project"]?["name"], "demo")
            XCTAssertEqual(t["methods"], ["token", "password"])
            XCTAssertEqual(t["audit_ids"]?.arrayValue?.count, 2)
            XCTAssertEqual(t["expires_at"], body["token"]?["expires_at"], "a rescoped token keeps the original expiry")
            // No scope at all: the default project.
            let (_, defaulted) = try await self.issue(f, user: "demo", password: "demo-pw", scope: nil)
            XCTAssertEqual(defaulted["token"]?["project"]?["name"], "demo")
        }
    }

    // MARK: Administration

    func testProjectUserRoleCRUDAndRoleAdd() async throws {
        try await withIdentity { f in
            let admin = try await self.issue(f).0
            // Projects.
            let created = try await self.call(f, .post, "/identity/v3/projects", token: admin, body: ["project": ["name": "alpha", "domain_id": "default"]])
            XCTAssertEqual(created.status, 201, created.text)
            let pid = try XCTUnwrap(created.json?["project"]?["id"]?.stringValue)
            XCTAssertEqual(pid.count, 32)
            XCTAssertEqual(created.json?["project"]?["domain_id"], "default")
            XCTAssertEqual(created.json?["project"]?["enabled"], true)
            let dup = try await self.call(f, .post, "/identity/v3/projects", token: admin, body: ["project": ["name": "alpha"]])
            XCTAssertEqual(dup.status, 409)
            XCTAssertEqual(dup.json?["error"]?["title"], "Conflict")
            let byName = try await self.call(f, .get, "/identity/v3/projects?name=alpha", token: admin)
            XCTAssertEqual(byName.json?["projects"]?.arrayValue?.compactMap { $0["id"]?.stringValue }, [pid])
            let all = try await self.call(f, .get, "/identity/v3/projects?domain_id=default", token: admin)
            XCTAssertEqual(Set(all.json?["projects"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []), ["admin", "service", "alpha"])
            let patched = try await self.call(f, .patch, "/identity/v3/projects/\(pid)", token: admin, body: ["project": ["description": "first"]])
            XCTAssertEqual(patched.json?["project"]?["description"], "first")
            let shown = try await self.call(f, .get, "/identity/v3/projects/\(pid)", token: admin)
            XCTAssertEqual(shown.json?["project"]?["description"], "first")
            let missing = try await self.call(f, .get, "/identity/v3/projects/nope", token: admin)
            XCTAssertEqual(missing.status, 404)

            // Users.
            let user = try await self.call(f, .post, "/identity/v3/users", token: admin,
                                           body: ["user": ["name": "alice", "password": "pw", "default_project_id": .string(pid), "description": "Alice"]])
            XCTAssertEqual(user.status, 201, user.text)
            let uid = try XCTUnwrap(user.json?["user"]?["id"]?.stringValue)
            XCTAssertEqual(user.json?["user"]?["default_project_id"]?.stringValue, pid)
            XCTAssertEqual(user.json?["user"]?["description"], "Alice")
            let users = try await self.call(f, .get, "/identity/v3/users?name=alice", token: admin)
            XCTAssertEqual(users.json?["users"]?.arrayValue?.compactMap { $0["id"]?.stringValue }, [uid])
            let dupUser = try await self.call(f, .post, "/identity/v3/users", token: admin, body: ["user": ["name": "alice"]])
            XCTAssertEqual(dupUser.status, 409)

            // Roles.
            let role = try await self.call(f, .post, "/identity/v3/roles", token: admin, body: ["role": ["name": "auditor"]])
            XCTAssertEqual(role.status, 201, role.text)
            let rid = try XCTUnwrap(role.json?["role"]?["id"]?.stringValue)
            let roles = try await self.call(f, .get, "/identity/v3/roles", token: admin)
            XCTAssertEqual(Set(roles.json?["roles"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []),
                           ["admin", "member", "reader", "service", "auditor"])

            // Role add, check, list; the user can now scope to the project.
            let memberID = try XCTUnwrap(roles.json?["roles"]?.arrayValue?.first { $0["name"] == "member" }?["id"]?.stringValue)
            let noAccess = try await f.h.request(.post, "/identity/v3/auth/tokens", authToken: nil,
                                                 body: Self.passwordAuth(user: "alice", password: "pw", scope: Self.projectScope("alpha")))
            XCTAssertEqual(noAccess.status, 401)
            let put = try await self.call(f, .put, "/identity/v3/projects/\(pid)/users/\(uid)/roles/\(memberID)", token: admin)
            XCTAssertEqual(put.status, 204)
            let putAgain = try await self.call(f, .put, "/identity/v3/projects/\(pid)/users/\(uid)/roles/\(memberID)", token: admin)
            XCTAssertEqual(putAgain.status, 204, "granting twice is harmless")
            let head = try await self.call(f, .head, "/identity/v3/projects/\(pid)/users/\(uid)/roles/\(memberID)", token: admin)
            XCTAssertEqual(head.status, 204)
            let headOther = try await self.call(f, .head, "/identity/v3/projects/\(pid)/users/\(uid)/roles/\(rid)", token: admin)
            XCTAssertEqual(headOther.status, 404)
            let badRole = try await self.call(f, .put, "/identity/v3/projects/\(pid)/users/\(uid)/roles/nope", token: admin)
            XCTAssertEqual(badRole.status, 404)
            let (aliceToken, aliceBody) = try await self.issue(f, user: "alice", password: "pw", scope: Self.projectScope("alpha"))
            XCTAssertEqual(aliceBody["token"]?["project"]?["id"]?.stringValue, pid)
            let listed = try await self.call(f, .get, "/identity/v3/role_assignments?user.id=\(uid)&include_names", token: admin)
            let rows = try XCTUnwrap(listed.json?["role_assignments"]?.arrayValue)
            XCTAssertEqual(rows.count, 1, listed.text)
            XCTAssertEqual(rows.first?["role"]?["name"], "member")
            XCTAssertEqual(rows.first?["user"]?["name"], "alice")
            XCTAssertEqual(rows.first?["scope"]?["project"]?["name"], "alpha")
            let effective = try await self.call(f, .get, "/identity/v3/role_assignments?user.id=\(uid)&effective", token: admin)
            XCTAssertEqual(effective.json?["role_assignments"]?.arrayValue?.count, 2, "member and the implied reader")
            let byProject = try await self.call(f, .get, "/identity/v3/role_assignments?scope.project.id=\(f.boot.adminProjectID)", token: admin)
            XCTAssertEqual(byProject.json?["role_assignments"]?.arrayValue?.compactMap { $0["user"]?["id"]?.stringValue }, [f.boot.adminUserID])
            // The user may read itself and list its own assignments.
            let me = try await self.call(f, .get, "/identity/v3/users/\(uid)", token: aliceToken)
            XCTAssertEqual(me.status, 200)
            let mine = try await self.call(f, .get, "/identity/v3/role_assignments?user.id=\(uid)", token: aliceToken)
            XCTAssertEqual(mine.status, 200)

            // System grants.
            let sys = try await self.call(f, .put, "/identity/v3/system/users/\(uid)/roles/\(rid)", token: admin)
            XCTAssertEqual(sys.status, 204)
            let sysList = try await self.call(f, .get, "/identity/v3/system/users/\(uid)/roles", token: admin)
            XCTAssertEqual(sysList.json?["roles"]?.arrayValue?.compactMap { $0["name"]?.stringValue }, ["auditor"])

            // Deleting a role removes its assignments; deleting a project removes its own.
            let delRole = try await self.call(f, .delete, "/identity/v3/roles/\(rid)", token: admin)
            XCTAssertEqual(delRole.status, 204)
            let sysAfter = try await self.call(f, .get, "/identity/v3/system/users/\(uid)/roles", token: admin)
            XCTAssertEqual(sysAfter.json?["roles"]?.arrayValue?.count, 0)
            let delProject = try await self.call(f, .delete, "/identity/v3/projects/\(pid)", token: admin)
            XCTAssertEqual(delProject.status, 204)
            let gone = try await self.call(f, .get, "/v1/clustertemplates", token: aliceToken)
            XCTAssertEqual(gone.status, 401)
            let delUser = try await self.call(f, .delete, "/identity/v3/users/\(uid)", token: admin)
            XCTAssertEqual(delUser.status, 204)
            let userGone = try await self.call(f, .get, "/identity/v3/users/\(uid)", token: admin)
            XCTAssertEqual(userGone.status, 404)
        }
    }

    func testNonAdminIsForbiddenFromAdministration() async throws {
        try await withIdentity { f in
            let admin = try await self.issue(f).0
            let (projectID, userID) = try await self.makeDemo(f, admin: admin)
            let demo = try await self.issue(f, user: "demo", password: "demo-pw", scope: Self.projectScope("demo")).0
            let roleIDReply = try await self.call(f, .get, "/identity/v3/roles?name=admin", token: demo)
            let roleID = try XCTUnwrap(roleIDReply
                .json?["roles"]?.arrayValue?.first?["id"]?.stringValue)
            let attempts: [(HTTPRequestMethod, String, JSON?)] = [
                (.post, "/identity/v3/projects", ["project": ["name": "mine"]]),
                (.get, "/identity/v3/projects", nil),
                (.delete, "/identity/v3/projects/\(projectID)", nil),
                (.get, "/identity/v3/users", nil),
                (.post, "/identity/v3/users", ["user": ["name": "eve"]]),
                (.patch, "/identity/v3/users/\(userID)", ["user": ["enabled": false]]),
                (.post, "/identity/v3/roles", ["role": ["name": "root"]]),
                (.put, "/identity/v3/projects/\(projectID)/users/\(userID)/roles/\(roleID)", nil),
                (.put, "/identity/v3/system/users/\(userID)/roles/\(roleID)", nil),
                (.get, "/identity/v3/role_assignments", nil),
                (.get, "/identity/v3/users/\(f.boot.adminUserID)", nil),
                (.get, "/identity/v3/projects/\(f.boot.adminProjectID)", nil),
            ]
            for (method, path, body) in attempts {
                let r = try await self.call(f, method, path, token: demo, body: body)
                XCTAssertEqual(r.status, 403, "\(method) \(path): \(r.text)")
                XCTAssertEqual(r.json?["error"]?["title"], "Forbidden")
            }
            // Nothing changed.
            let projects = try await self.call(f, .get, "/identity/v3/projects?name=mine", token: admin)
            XCTAssertEqual(projects.json?["projects"]?.arrayValue?.count, 0)
            let grants = try await self.call(f, .get, "/identity/v3/role_assignments?user.id=\(userID)", token: admin)
            XCTAssertEqual(grants.json?["role_assignments"]?.arrayValue?.count, 1)
            // What a member may read: its own project and user.
            let ownProject = try await self.call(f, .get, "/identity/v3/projects/\(projectID)", token: demo)
            XCTAssertEqual(ownProject.status, 200)
            let ownUser = try await self.call(f, .get, "/identity/v3/users/\(userID)", token: demo)
            XCTAssertEqual(ownUser.json?["user"]?["email"], "demo@example.org")
        }
    }

    // MARK: Magnum API with built-in tokens

    func testMagnumAPIProjectScoping() async throws {
        try await withIdentity { f in
            let admin = try await self.issue(f).0
            let (projectID, userID) = try await self.makeDemo(f, admin: admin)
            let demo = try await self.issue(f, user: "demo", password: "demo-pw", scope: Self.projectScope("demo")).0
            let authenticated = try await BuiltInAuthenticator(identity: f.identity).authenticate(token: demo)
            let ctx = try XCTUnwrap(authenticated)
            XCTAssertEqual(ctx.projectID, projectID)
            XCTAssertEqual(ctx.userID, userID)
            XCTAssertEqual(ctx.userName, "demo")
            XCTAssertEqual(ctx.projectName, "demo")
            XCTAssertEqual(ctx.domainID, "default")
            XCTAssertEqual(ctx.roles, ["member", "reader"])
            XCTAssertFalse(ctx.systemScope)

            let create = try await self.call(f, .post, "/v1/clustertemplates", token: demo, body: [
                "name": "ct", "coe": "kubernetes", "image_id": "fedora-coreos-latest", "external_network_id": "public",
                "flavor_id": "m1.small", "master_flavor_id": "m1.small",
            ])
            XCTAssertEqual(create.status, 201, create.text)
            XCTAssertEqual(create.json?["project_id"]?.stringValue, projectID)
            XCTAssertEqual(create.json?["user_id"]?.stringValue, userID)
            let list = try await self.call(f, .get, "/v1/clustertemplates", token: demo)
            XCTAssertEqual(list.json?["clustertemplates"]?.arrayValue?.count, 1)

            // A member of another project does not see the private template.
            let other = try await self.call(f, .post, "/identity/v3/projects", token: admin, body: ["project": ["name": "other"]])
            let otherID = try XCTUnwrap(other.json?["project"]?["id"]?.stringValue)
            let bob = try await self.call(f, .post, "/identity/v3/users", token: admin, body: ["user": ["name": "bob", "password": "bob-pw"]])
            let bobID = try XCTUnwrap(bob.json?["user"]?["id"]?.stringValue)
            let memberIDReply = try await self.call(f, .get, "/identity/v3/roles?name=member", token: admin)
            let memberID = try XCTUnwrap(memberIDReply
                .json?["roles"]?.arrayValue?.first?["id"]?.stringValue)
            _ = try await self.call(f, .put, "/identity/v3/projects/\(otherID)/users/\(bobID)/roles/\(memberID)", token: admin)
            let bobToken = try await self.issue(f, user: "bob", password: "bob-pw", scope: Self.projectScope("other")).0
            let bobList = try await self.call(f, .get, "/v1/clustertemplates", token: bobToken)
            XCTAssertEqual(bobList.status, 200)
            XCTAssertEqual(bobList.json?["clustertemplates"]?.arrayValue?.count, 0)

            // Quotas only for projects the identity knows.
            let unknown = try await self.call(f, .post, "/v1/quotas", token: admin, body: ["project_id": "no-such-project", "resource": "Cluster", "hard_limit": 3])
            XCTAssertEqual(unknown.status, 404, unknown.text)
            let known = try await self.call(f, .post, "/v1/quotas", token: admin, body: ["project_id": .string(projectID), "resource": "Cluster", "hard_limit": 3])
            XCTAssertEqual(known.status, 201, known.text)

            // Without a token the API names the built-in identity.
            let anonymous = try await self.call(f, .get, "/v1/clustertemplates", token: nil)
            XCTAssertEqual(anonymous.status, 401)
        }
    }

    // MARK: First start

    func testBootstrapIsIdempotentAndCloudsFileIsUsable() async throws {
        try await TestDatabases.withSQLite { store in
            let identity = BuiltInIdentity(records: store, configuration: .init(publicURL: Self.publicURL, passwordRounds: 1000))
            let first = try await identity.bootstrap(adminPassword: nil)
            XCTAssertTrue(first.created)
            let password = try XCTUnwrap(first.adminPassword)
            XCTAssertEqual(password.count, 24)
            let second = try await identity.bootstrap(adminPassword: "other")
            XCTAssertFalse(second.created)
            XCTAssertNil(second.adminPassword)
            XCTAssertEqual(second.adminUserID, first.adminUserID)
            let (users, roles, projects, system) = try await store.readIdentity { s in
                (try await s.users(), try await s.roles(), try await s.projects(),
                 try await s.roleAssignments(userID: first.adminUserID, scope: .system, roleID: nil))
            }
            XCTAssertEqual(users.map(\.name), ["admin"])
            XCTAssertEqual(roles.map(\.name), ["admin", "member", "reader", "service"])
            XCTAssertEqual(projects.map(\.name), ["admin", "service"])
            XCTAssertEqual(system.count, 1)
            // The generated password authenticates; the second bootstrap did not change it.
            let (v, token) = try await identity.issueToken(Self.passwordAuth(user: "admin", password: password, scope: Self.projectScope("admin")))
            XCTAssertEqual(v.project?.id, first.adminProjectID)
            XCTAssertFalse(token.isEmpty)

            let text = CloudsFile.render(name: "magnum-admin", authURL: "\(Self.publicURL)/identity/v3", username: "admin",
                                         password: "p\"w\\d", projectName: "admin")
            XCTAssertTrue(text.contains("  \"magnum-admin\":\n"), text)
            XCTAssertTrue(text.contains("auth_url: \"\(Self.publicURL)/identity/v3\""), text)
            XCTAssertTrue(text.contains(#"password: "p\"w\\d""#), text)
            XCTAssertTrue(text.contains("identity_api_version: 3"))
            XCTAssertTrue(text.contains("user_domain_name: \"Default\""))
        }
    }
}

/// The HTTP methods the tests use.
typealias HTTPRequestMethod = HTTPRequest.Method
