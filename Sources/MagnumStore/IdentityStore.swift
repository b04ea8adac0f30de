import Foundation
import MagnumCore
import SQLKit

/// The SQL store keeps the built-in identity in its own `identity_*` tables, in the same
/// database (and the same sessions) as Magnum's resources.
extension SQLStore: IdentityRecords {
    public func readIdentity<T: Sendable>(_ body: @Sendable (any IdentitySession) async throws -> T) async throws -> T {
        try await read { session in try await body(try Self.identitySession(session)) }
    }

    public func writeIdentity<T: Sendable>(_ body: @Sendable (any IdentitySession) async throws -> T) async throws -> T {
        try await write { session in try await body(try Self.identitySession(session)) }
    }

    private static func identitySession(_ session: any StoreSession) throws -> any IdentitySession {
        guard let sql = session as? SQLSession else { throw MagnumError(.internal, DatabaseErrors.internalMessage) }
        return sql
    }
}

/// The assignment target of the whole system.
private let systemTarget = "::system::"

extension SQLSession: IdentitySession {
    func lockIdentity() async throws {
        if dialect == .postgres {
            try await run("SELECT pg_advisory_xact_lock(hashtext(\(bind: "magnum.identity")))")
        }
    }

    // MARK: Projects

    func projects() async throws -> [IdentityProject] {
        try await fetch("SELECT * FROM \(ident: "identity_project") ORDER BY \(ident: "name"), \(ident: "id")", IdentityRows.project)
    }

    func project(id: String) async throws -> IdentityProject? {
        try await fetch("SELECT * FROM \(ident: "identity_project") WHERE \(ident: "id") = \(bind: id)", IdentityRows.project).first
    }

    func project(name: String, domainID: String) async throws -> IdentityProject? {
        try await fetch(
            """
            SELECT * FROM \(ident: "identity_project") WHERE \(ident: "name") = \(bind: name) \
            AND \(ident: "domain_id") = \(bind: domainID)
            """, IdentityRows.project
        ).first
    }

    private func projectConflict(_ p: IdentityProject) -> MagnumError {
        MagnumError(.conflict, "Conflict occurred attempting to store project - it is not permitted to have two projects with the same name in the same domain : \(p.name).")
    }

    func insert(_ project: IdentityProject) async throws {
        var v = IdentityRows.values(project)
        v.set("created_at", Self.now())
        try await insertPlainRow("identity_project", v, conflict: projectConflict(project))
    }

    func update(_ project: IdentityProject) async throws {
        _ = try await updateIdentityRow(
            "identity_project", IdentityRows.values(project), id: project.id,
            notFound: MagnumError(.notFound, "Could not find project: \(project.id)."), conflict: projectConflict(project))
    }

    func deleteProject(id: String) async throws {
        try await run("DELETE FROM \(ident: "identity_role_assignment") WHERE \(ident: "target_id") = \(bind: id)")
        try await run("DELETE FROM \(ident: "identity_project") WHERE \(ident: "id") = \(bind: id)")
    }

    // MARK: Users

    func users() async throws -> [IdentityUser] {
        try await fetch("SELECT * FROM \(ident: "identity_user") ORDER BY \(ident: "name"), \(ident: "id")", IdentityRows.user)
    }

    func user(id: String) async throws -> IdentityUser? {
        try await fetch("SELECT * FROM \(ident: "identity_user") WHERE \(ident: "id") = \(bind: id)", IdentityRows.user).first
    }

    func user(name: String, domainID: String) async throws -> IdentityUser? {
        try await fetch(
            """
            SELECT * FROM \(ident: "identity_user") WHERE \(ident: "name") = \(bind: name) \
            AND \(ident: "domain_id") = \(bind: domainID)
            """, IdentityRows.user
        ).first
    }

    private func userConflict(_ u: IdentityUser) -> MagnumError {
        MagnumError(.conflict, "Conflict occurred attempting to store user - Duplicate entry found with name \(u.name) at domain ID \(u.domainID).")
    }

    func insert(_ user: IdentityUser) async throws {
        var v = IdentityRows.values(user)
        v.set("created_at", Self.now())
        try await insertPlainRow("identity_user", v, conflict: userConflict(user))
    }

    func update(_ user: IdentityUser) async throws {
        _ = try await updateIdentityRow(
            "identity_user", IdentityRows.values(user), id: user.id,
            notFound: MagnumError(.notFound, "Could not find user: \(user.id)."), conflict: userConflict(user))
    }

    func deleteUser(id: String) async throws {
        try await run("DELETE FROM \(ident: "identity_role_assignment") WHERE \(ident: "user_id") = \(bind: id)")
        try await run("DELETE FROM \(ident: "identity_user") WHERE \(ident: "id") = \(bind: id)")
    }

    // MARK: Roles

    func roles() async throws -> [IdentityRole] {
        try await fetch("SELECT * FROM \(ident: "identity_role") ORDER BY \(ident: "name"), \(ident: "id")") { row in
            IdentityRole(id: try row.string("id"), name: try row.string("name"), description: try row.optionalString("description"))
        }
    }

    func insert(_ role: IdentityRole) async throws {
        var v = RowValues()
        v.set("id", role.id)
        v.set("name", role.name)
        v.set("description", role.description)
        try await insertPlainRow(
            "identity_role", v,
            conflict: MagnumError(.conflict, "Conflict occurred attempting to store role - Duplicate entry found with name \(role.name)."))
    }

    func deleteRole(id: String) async throws {
        try await run("DELETE FROM \(ident: "identity_role_assignment") WHERE \(ident: "role_id") = \(bind: id)")
        try await run("DELETE FROM \(ident: "identity_role") WHERE \(ident: "id") = \(bind: id)")
    }

    // MARK: Role assignments

    func roleAssignments(userID: String?, scope: RoleAssignment.Scope?, roleID: String?) async throws -> [RoleAssignment] {
        var conditions: [SQLQueryString] = ["1 = 1"]
        if let userID { conditions.append("\(ident: "user_id") = \(bind: userID)") }
        if let scope { conditions.append("\(ident: "target_id") = \(bind: Self.target(scope))") }
        if let roleID { conditions.append("\(ident: "role_id") = \(bind: roleID)") }
        return try await fetch(
            """
            SELECT * FROM \(ident: "identity_role_assignment") WHERE \(conditions.joined(separator: " AND ")) \
            ORDER BY \(ident: "user_id"), \(ident: "target_id"), \(ident: "role_id")
            """
        ) { row in
            let target = try row.string("target_id")
            return RoleAssignment(userID: try row.string("user_id"), scope: target == systemTarget ? .system : .project(target),
                                  roleID: try row.string("role_id"))
        }
    }

    func insert(_ assignment: RoleAssignment) async throws {
        var v = RowValues()
        v.set("user_id", assignment.userID)
        v.set("target_id", Self.target(assignment.scope))
        v.set("role_id", assignment.roleID)
        try await run(
            """
            INSERT INTO \(ident: "identity_role_assignment") (\(idents: v.names, joinedBy: ", ")) \
            VALUES (\(binds: v.values)) ON CONFLICT DO NOTHING
            """)
    }

    func delete(_ assignment: RoleAssignment) async throws -> Bool {
        let rows = try await all(
            """
            DELETE FROM \(ident: "identity_role_assignment") WHERE \(ident: "user_id") = \(bind: assignment.userID) \
            AND \(ident: "target_id") = \(bind: Self.target(assignment.scope)) AND \(ident: "role_id") = \(bind: assignment.roleID) \
            RETURNING \(ident: "role_id")
            """)
        return !rows.isEmpty
    }

    static func target(_ scope: RoleAssignment.Scope) -> String {
        switch scope {
        case .project(let id): return id
        case .system: return systemTarget
        }
    }

    // MARK: Tokens

    func isTokenRevoked(auditID: String) async throws -> Bool {
        try await scalar(
            "SELECT COUNT(*) AS n FROM \(ident: "identity_revoked_token") WHERE \(ident: "audit_id") = \(bind: auditID)") > 0
    }

    func revokeToken(auditID: String, expiresAt: Date) async throws {
        let now = Int64(Date().timeIntervalSince1970)
        try await run("DELETE FROM \(ident: "identity_revoked_token") WHERE \(ident: "expires_at") < \(bind: now)")
        try await run(
            """
            INSERT INTO \(ident: "identity_revoked_token") (\(ident: "audit_id"), \(ident: "expires_at")) \
            VALUES (\(bind: auditID), \(bind: Int64(expiresAt.timeIntervalSince1970.rounded(.up)))) ON CONFLICT DO NOTHING
            """)
    }

    func signingSecret() async throws -> String? {
        try await fetch("SELECT \(ident: "secret") FROM \(ident: "identity_signing_key") WHERE \(ident: "id") = 1") {
            try $0.string("secret")
        }.first
    }

    func establishSigningSecret(_ secret: String) async throws -> String {
        try await run(
            """
            INSERT INTO \(ident: "identity_signing_key") (\(ident: "id"), \(ident: "secret"), \(ident: "created_at")) \
            VALUES (1, \(bind: secret), \(bind: Self.now())) ON CONFLICT DO NOTHING
            """)
        guard let stored = try await signingSecret() else { throw MagnumError(.internal, DatabaseErrors.internalMessage) }
        return stored
    }

    // MARK: Helpers

    /// Updates the identity row `id`; throws `notFound` when there is none.
    private func updateIdentityRow(_ table: String, _ values: RowValues, id: String, notFound: MagnumError,
                                   conflict: MagnumError) async throws
    {
        let assignments = zip(values.names, values.values).filter { $0.0 != "id" }.map { name, value -> SQLQueryString in
            "\(ident: name) = \(bind: value)"
        }
        let query: SQLQueryString = """
            UPDATE \(ident: table) SET \(assignments.joined(separator: ", ")) \
            WHERE \(ident: "id") = \(bind: id) RETURNING \(ident: "id")
            """
        guard try await first(query, conflict: conflict) != nil else { throw notFound }
    }
}

/// Identity model ⇄ row.
enum IdentityRows {
    static func values(_ p: IdentityProject) -> RowValues {
        var v = RowValues()
        v.set("id", p.id)
        v.set("name", p.name)
        v.set("domain_id", p.domainID)
        v.set("description", p.description)
        v.set("enabled", p.enabled)
        v.set("tags", JSONText.list(p.tags))
        return v
    }

    static func project(_ row: any SQLRow) throws -> IdentityProject {
        IdentityProject(
            id: try row.string("id"), name: try row.string("name"), domainID: try row.string("domain_id"),
            description: try row.optionalString("description"), enabled: try row.bool("enabled"),
            tags: try row.stringList("tags"))
    }

    static func values(_ u: IdentityUser) -> RowValues {
        var v = RowValues()
        v.set("id", u.id)
        v.set("name", u.name)
        v.set("domain_id", u.domainID)
        v.set("enabled", u.enabled)
        v.set("password_hash", u.passwordHash)
        v.set("default_project_id", u.defaultProjectID)
        v.set("extra", JSONText.object(u.extra))
        v.set("tokens_valid_after", u.tokensValidAfter)
        return v
    }

    static func user(_ row: any SQLRow) throws -> IdentityUser {
        IdentityUser(
            id: try row.string("id"), name: try row.string("name"), domainID: try row.string("domain_id"),
            enabled: try row.bool("enabled"), passwordHash: try row.optionalString("password_hash"),
            defaultProjectID: try row.optionalString("default_project_id"), extra: try row.jsonObject("extra"),
            tokensValidAfter: try row.decode(column: "tokens_valid_after", as: Int64?.self))
    }
}
