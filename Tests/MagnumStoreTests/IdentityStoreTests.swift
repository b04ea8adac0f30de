import Foundation
import MagnumCore
import MagnumStore
import MagnumTestSupport
import XCTest

/// The built-in identity's records in the SQL store, on SQLite and (when configured) PostgreSQL.
final class IdentityStoreTests: XCTestCase {
    func records(_ store: any Store) throws -> any IdentityRecords {
        try XCTUnwrap(store as? any IdentityRecords)
    }

    func testProjectsAndUsersRoundTripAndConflict() async throws {
        try await TestDatabases.withEach { store, label in
            let r = try self.records(store)
            let project = IdentityProject(id: "p1", name: "demo", description: "Demo", enabled: false, tags: ["a", "b"])
            var user = IdentityUser(id: "u1", name: "alice", passwordHash: "pbkdf2-sha256$1$AA==$AA==", defaultProjectID: "p1",
                                    extra: ["email": "a@example.org", "n": 3], tokensValidAfter: 1_795_000_000_123_456)
            let original = user
            try await r.writeIdentity { s in
                try await s.insert(project)
                try await s.insert(original)
            }
            let (byID, byName, u, uByName) = try await r.readIdentity { s in
                (try await s.project(id: "p1"), try await s.project(name: "demo", domainID: "default"),
                 try await s.user(id: "u1"), try await s.user(name: "alice", domainID: "default"))
            }
            XCTAssertEqual(byID, project, label)
            XCTAssertEqual(byName, project, label)
            XCTAssertEqual(u, user, label)
            XCTAssertEqual(uByName, user, label)
            let wrongDomain = try await r.readIdentity { try await $0.user(name: "alice", domainID: "other") }
            XCTAssertNil(wrongDomain, label)

            await assertMagnumError(.conflict) {
                try await r.writeIdentity { try await $0.insert(IdentityProject(id: "p2", name: "demo")) }
            }
            await assertMagnumError(.conflict) {
                try await r.writeIdentity { try await $0.insert(IdentityUser(id: "u2", name: "alice")) }
            }
            // Same name in another domain is allowed.
            try await r.writeIdentity { try await $0.insert(IdentityProject(id: "p3", name: "demo", domainID: "other")) }

            user.name = "alice2"
            user.passwordHash = nil
            user.extra = [:]
            let updated = user
            try await r.writeIdentity { try await $0.update(updated) }
            let reread = try await r.readIdentity { try await $0.user(id: "u1") }
            XCTAssertEqual(reread, updated, label)
            await assertMagnumError(.notFound) {
                try await r.writeIdentity { try await $0.update(IdentityUser(id: "missing", name: "x")) }
            }
        }
    }

    func testAssignmentsAreIdempotentAndFollowDeletes() async throws {
        try await TestDatabases.withEach { store, label in
            let r = try self.records(store)
            try await r.writeIdentity { s in
                try await s.insert(IdentityProject(id: "p1", name: "one"))
                try await s.insert(IdentityProject(id: "p2", name: "two"))
                try await s.insert(IdentityUser(id: "u1", name: "alice"))
                try await s.insert(IdentityUser(id: "u2", name: "bob"))
                try await s.insert(IdentityRole(id: "r1", name: "member"))
                try await s.insert(IdentityRole(id: "r2", name: "admin"))
                for a in [RoleAssignment(userID: "u1", scope: .project("p1"), roleID: "r1"),
                          RoleAssignment(userID: "u1", scope: .project("p1"), roleID: "r1"),
                          RoleAssignment(userID: "u1", scope: .project("p2"), roleID: "r1"),
                          RoleAssignment(userID: "u1", scope: .system, roleID: "r2"),
                          RoleAssignment(userID: "u2", scope: .project("p1"), roleID: "r2")]
                {
                    try await s.insert(a)
                }
            }
            let all = try await r.readIdentity { try await $0.roleAssignments(userID: nil, scope: nil, roleID: nil) }
            XCTAssertEqual(all.count, 4, "the duplicate grant is stored once (\(label))")
            let system = try await r.readIdentity { try await $0.roleAssignments(userID: nil, scope: .system, roleID: nil) }
            XCTAssertEqual(system, [RoleAssignment(userID: "u1", scope: .system, roleID: "r2")], label)
            let u1p1 = try await r.readIdentity { try await $0.roleAssignments(userID: "u1", scope: .project("p1"), roleID: nil) }
            XCTAssertEqual(u1p1.map(\.roleID), ["r1"], label)

            let removed = try await r.writeIdentity { try await $0.delete(RoleAssignment(userID: "u1", scope: .project("p2"), roleID: "r1")) }
            XCTAssertTrue(removed, label)
            let again = try await r.writeIdentity { try await $0.delete(RoleAssignment(userID: "u1", scope: .project("p2"), roleID: "r1")) }
            XCTAssertFalse(again, label)

            try await r.writeIdentity { try await $0.deleteProject(id: "p1") }
            let afterProject = try await r.readIdentity { try await $0.roleAssignments(userID: nil, scope: nil, roleID: nil) }
            XCTAssertEqual(afterProject, [RoleAssignment(userID: "u1", scope: .system, roleID: "r2")], label)
            try await r.writeIdentity { try await $0.deleteRole(id: "r2") }
            let afterRole = try await r.readIdentity { try await $0.roleAssignments(userID: nil, scope: nil, roleID: nil) }
            XCTAssertEqual(afterRole, [], label)
            let roles = try await r.readIdentity { try await $0.roles() }
            XCTAssertEqual(roles.map(\.name), ["member"], label)
        }
    }

    func testRevocationsAndSigningSecret() async throws {
        try await TestDatabases.withEach { store, label in
            let r = try self.records(store)
            try await r.writeIdentity { s in
                try await s.revokeToken(auditID: "old", expiresAt: Date().addingTimeInterval(-60))
                try await s.revokeToken(auditID: "live", expiresAt: Date().addingTimeInterval(3600))
                try await s.revokeToken(auditID: "live", expiresAt: Date().addingTimeInterval(3600))
            }
            // Recording a revocation forgets the ones of tokens that expired since.
            try await r.writeIdentity { try await $0.revokeToken(auditID: "new", expiresAt: Date().addingTimeInterval(60)) }
            let (old, live, new, never) = try await r.readIdentity { s in
                (try await s.isTokenRevoked(auditID: "old"), try await s.isTokenRevoked(auditID: "live"),
                 try await s.isTokenRevoked(auditID: "new"), try await s.isTokenRevoked(auditID: "never"))
            }
            XCTAssertFalse(old, label)
            XCTAssertTrue(live, label)
            XCTAssertTrue(new, label)
            XCTAssertFalse(never, label)

            let none = try await r.readIdentity { try await $0.signingSecret() }
            XCTAssertNil(none, label)
            let first = try await r.writeIdentity { try await $0.establishSigningSecret("first") }
            let second = try await r.writeIdentity { try await $0.establishSigningSecret("second") }
            XCTAssertEqual(first, "first", label)
            XCTAssertEqual(second, "first", "the first secret stays (\(label))")
        }
    }
}
