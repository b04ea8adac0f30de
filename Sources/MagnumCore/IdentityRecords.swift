import Foundation

/// A project of the built-in identity (Keystone's `project`).
public struct IdentityProject: Sendable, Hashable {
    /// Keystone-style id: 32 lower-case hex digits.
    public var id: String
    /// Unique within its domain.
    public var name: String
    /// The owning domain (`default`).
    public var domainID: String
    /// Free text; nil when never set.
    public var description: String?
    /// A disabled project cannot be scoped to.
    public var enabled: Bool
    /// Keystone's project tags.
    public var tags: [String]

    /// Creates a project.
    public init(id: String, name: String, domainID: String = IdentityDomain.defaultID, description: String? = nil,
                enabled: Bool = true, tags: [String] = [])
    {
        self.id = id
        self.name = name
        self.domainID = domainID
        self.description = description
        self.enabled = enabled
        self.tags = tags
    }
}

/// A user of the built-in identity (Keystone's `user`, local password only).
public struct IdentityUser: Sendable, Hashable {
    /// Keystone-style id: 32 lower-case hex digits.
    public var id: String
    /// Unique within its domain.
    public var name: String
    /// The owning domain (`default`).
    public var domainID: String
    /// A disabled user cannot authenticate and its tokens stop validating.
    public var enabled: Bool
    /// The salted slow hash of the password (`pbkdf2-sha256$rounds$salt$hash`); nil: no password.
    public var passwordHash: String?
    /// The project a client scopes to when it names none.
    public var defaultProjectID: String?
    /// Keystone's free-form extra attributes (`email`, `description`, …).
    public var extra: [String: JSON]
    /// Tokens issued before this instant (microseconds since 1970) are invalid, e.g. after a
    /// password change.
    public var tokensValidAfter: Int64?

    /// Creates a user.
    public init(id: String, name: String, domainID: String = IdentityDomain.defaultID, enabled: Bool = true,
                passwordHash: String? = nil, defaultProjectID: String? = nil, extra: [String: JSON] = [:],
                tokensValidAfter: Int64? = nil)
    {
        self.id = id
        self.name = name
        self.domainID = domainID
        self.enabled = enabled
        self.passwordHash = passwordHash
        self.defaultProjectID = defaultProjectID
        self.extra = extra
        self.tokensValidAfter = tokensValidAfter
    }
}

/// A (global) role of the built-in identity.
public struct IdentityRole: Sendable, Hashable {
    /// Keystone-style id: 32 lower-case hex digits.
    public var id: String
    /// Unique name (`admin`, `member`, `reader`, `service`, …).
    public var name: String
    /// Free text; nil when never set.
    public var description: String?

    /// Creates a role.
    public init(id: String, name: String, description: String? = nil) {
        self.id = id
        self.name = name
        self.description = description
    }
}

/// The one domain of the built-in identity.
public struct IdentityDomain: Sendable, Hashable {
    /// `default`, as in Keystone.
    public static let defaultID = "default"
    /// `Default`, as in Keystone.
    public static let defaultName = "Default"
    /// The domain every project and user belongs to.
    public static let `default` = IdentityDomain(id: defaultID, name: defaultName, description: "The default domain")

    /// The domain's id.
    public var id: String
    /// Its name.
    public var name: String
    /// Its description.
    public var description: String

    /// Creates a domain.
    public init(id: String, name: String, description: String) {
        self.id = id
        self.name = name
        self.description = description
    }
}

/// A role granted to a user on a project or on the whole system.
public struct RoleAssignment: Sendable, Hashable {
    /// Where a role assignment applies.
    public enum Scope: Sendable, Hashable {
        /// One project.
        case project(String)
        /// The whole deployment (`system: {all: true}`).
        case system
    }

    /// The user holding the role.
    public var userID: String
    /// The project or the system.
    public var scope: Scope
    /// The role granted.
    public var roleID: String

    /// Creates an assignment.
    public init(userID: String, scope: Scope, roleID: String) {
        self.userID = userID
        self.scope = scope
        self.roleID = roleID
    }
}

/// The persistence of the built-in identity. `readIdentity` runs a body against a consistent
/// session; `writeIdentity` runs it in one transaction.
public protocol IdentityRecords: Sendable {
    /// Runs `body` with a session for reads.
    func readIdentity<T: Sendable>(_ body: @Sendable (any IdentitySession) async throws -> T) async throws -> T
    /// Runs `body` inside one transaction.
    func writeIdentity<T: Sendable>(_ body: @Sendable (any IdentitySession) async throws -> T) async throws -> T
}

/// What one identity session (or transaction) can do. Inserts of an existing name throw
/// `MagnumError(.conflict, …)`; deletes of a project, user or role also delete its assignments.
public protocol IdentitySession: Sendable {
    /// Serializes concurrent writers of the identity until the transaction ends (first start).
    func lockIdentity() async throws

    // MARK: Projects
    /// Every project, ordered by name.
    func projects() async throws -> [IdentityProject]
    /// The project with this id.
    func project(id: String) async throws -> IdentityProject?
    /// The project with this name in a domain.
    func project(name: String, domainID: String) async throws -> IdentityProject?
    /// Stores a new project.
    func insert(_ project: IdentityProject) async throws
    /// Rewrites a project (by id).
    func update(_ project: IdentityProject) async throws
    /// Deletes a project and its role assignments.
    func deleteProject(id: String) async throws

    // MARK: Users
    /// Every user, ordered by name.
    func users() async throws -> [IdentityUser]
    /// The user with this id.
    func user(id: String) async throws -> IdentityUser?
    /// The user with this name in a domain.
    func user(name: String, domainID: String) async throws -> IdentityUser?
    /// Stores a new user.
    func insert(_ user: IdentityUser) async throws
    /// Rewrites a user (by id).
    func update(_ user: IdentityUser) async throws
    /// Deletes a user and its role assignments.
    func deleteUser(id: String) async throws

    // MARK: Roles
    /// Every role, ordered by name.
    func roles() async throws -> [IdentityRole]
    /// Stores a new role.
    func insert(_ role: IdentityRole) async throws
    /// Deletes a role and its assignments.
    func deleteRole(id: String) async throws

    // MARK: Role assignments
    /// The assignments matching every given filter (nil: any).
    func roleAssignments(userID: String?, scope: RoleAssignment.Scope?, roleID: String?) async throws -> [RoleAssignment]
    /// Grants a role; granting an existing assignment does nothing.
    func insert(_ assignment: RoleAssignment) async throws
    /// Revokes a role; true when the assignment existed.
    func delete(_ assignment: RoleAssignment) async throws -> Bool

    // MARK: Tokens
    /// True when the token with this audit id was revoked.
    func isTokenRevoked(auditID: String) async throws -> Bool
    /// Records a revoked token until it would have expired anyway; forgets revocations of
    /// tokens that have expired since.
    func revokeToken(auditID: String, expiresAt: Date) async throws
    /// The token signing secret (base64), nil before the first start.
    func signingSecret() async throws -> String?
    /// Stores the signing secret unless one exists; returns the secret in force.
    func establishSigningSecret(_ secret: String) async throws -> String
}
