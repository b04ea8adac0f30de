import Foundation
import Logging
import MagnumCore

/// The Keystone v3-compatible identity of the all-in-one server, over its own records (the
/// `identity_*` tables of Magnum's database): password authentication, signed and expiring
/// tokens that can be revoked, the service catalog, and the projects, users, roles and role
/// assignments `openstack project create`, `user create` and `role add` need.
///
/// It is independent of any HTTP framework: `respond(to:)` (in `BuiltInIdentity+Routes.swift`)
/// takes a request already taken apart and answers with Keystone's bodies and errors.
/// Validations are cached briefly; every change made through this instance clears the cache, so
/// a revocation or a removed role applies to the next request at once (other API processes
/// sharing the database notice within `cacheTTL`).
public struct BuiltInIdentity: IdentityEndpoint {
    /// Settings of the identity.
    public struct Configuration: Sendable {
        /// The server's public base URL (`http://127.0.0.1:9511`): the catalog's endpoints.
        public var publicURL: String
        /// The catalog's region.
        public var region: String
        /// How long an issued token is valid.
        public var tokenLifetime: Duration
        /// PBKDF2 rounds of new password hashes.
        public var passwordRounds: Int
        /// How long a validation is reused.
        public var cacheTTL: Duration
        /// Most validations kept at once.
        public var maxCacheEntries: Int

        /// Creates a configuration.
        public init(publicURL: String, region: String = "RegionOne", tokenLifetime: Duration = .seconds(12 * 3600),
                    passwordRounds: Int = PasswordHash.defaultRounds, cacheTTL: Duration = .seconds(5),
                    maxCacheEntries: Int = 10_000)
        {
            var url = publicURL
            while url.hasSuffix("/") { url.removeLast() }
            self.publicURL = url
            self.region = region
            self.tokenLifetime = tokenLifetime
            self.passwordRounds = passwordRounds
            self.cacheTTL = cacheTTL
            self.maxCacheEntries = maxCacheEntries
        }
    }

    /// A token that passed every check, with what it grants right now.
    public struct ValidatedToken: Sendable, Hashable {
        /// The token.
        public var token: IdentityToken
        /// Its user.
        public var user: IdentityUser
        /// Its project, for a project-scoped token.
        public var project: IdentityProject?
        /// Roles on the scope, implied roles included, ordered by name.
        public var roles: [IdentityRole]

        /// True when the token carries the `admin` role.
        public var isAdmin: Bool { roles.contains { $0.name == "admin" } }
        /// True for a system-scoped token.
        public var isSystem: Bool { token.scope == .system }
    }

    /// What the first start did.
    public struct Bootstrap: Sendable {
        /// True when this start created the admin user (and whatever else was missing).
        public var created: Bool
        /// The admin's password, only when `created`.
        public var adminPassword: String?
        /// The admin user's id.
        public var adminUserID: String
        /// The admin project's id.
        public var adminProjectID: String
    }

    /// Keystone's default implied roles: admin ⇒ member ⇒ reader.
    public static let impliedRoles: [String: String] = ["admin": "member", "member": "reader"]

    /// The configuration.
    public let configuration: Configuration
    /// The catalog in every scoped token.
    public let catalog: ServiceCatalog
    let records: any IdentityRecords
    let keys: SigningKeys
    let cache: ValidationCache
    let logger: Logger

    /// Creates the identity over migrated records. The token signing secret is loaded (and
    /// created on the very first start) when first needed; `bootstrap` loads it eagerly.
    public init(records: any IdentityRecords, configuration: Configuration, logger: Logger = Logger(label: "magnum.identity")) {
        self.records = records
        self.configuration = configuration
        self.catalog = ServiceCatalog(publicURL: configuration.publicURL, region: configuration.region)
        self.keys = SigningKeys(records: records)
        self.cache = ValidationCache(ttl: configuration.cacheTTL, maxEntries: configuration.maxCacheEntries)
        self.logger = logger
    }

    // MARK: First start

    /// Creates, when missing, the roles `admin`, `member`, `reader` and `service`, the projects
    /// `admin` and `service`, and the user `admin` with the `admin` role on project `admin` and
    /// on the system. The password is `adminPassword`, or a generated one; an existing admin is
    /// left as it is.
    public func bootstrap(adminPassword: String?) async throws -> Bootstrap {
        _ = try await keys.seal()
        if let existing = try await existingAdmin() { return existing }
        let password = adminPassword ?? Self.generatePassword()
        let hash = try PasswordHash.make(password, rounds: configuration.passwordRounds)
        let outcome = try await records.writeIdentity { session -> Bootstrap in
            try await session.lockIdentity()
            var roles = try await session.roles()
            for name in ["admin", "member", "reader", "service"] where !roles.contains(where: { $0.name == name }) {
                let role = IdentityRole(id: Self.newID(), name: name)
                try await session.insert(role)
                roles.append(role)
            }
            var projectIDs: [String: String] = [:]
            for name in ["admin", "service"] {
                if let p = try await session.project(name: name, domainID: IdentityDomain.defaultID) {
                    projectIDs[name] = p.id
                } else {
                    let p = IdentityProject(id: Self.newID(), name: name, description: name == "admin" ? "Bootstrap project for initializing the cloud." : "Service project")
                    try await session.insert(p)
                    projectIDs[name] = p.id
                }
            }
            let adminProject = projectIDs["admin"]!
            if let admin = try await session.user(name: "admin", domainID: IdentityDomain.defaultID) {
                return Bootstrap(created: false, adminPassword: nil, adminUserID: admin.id, adminProjectID: adminProject)
            }
            let admin = IdentityUser(id: Self.newID(), name: "admin", passwordHash: hash, defaultProjectID: adminProject)
            try await session.insert(admin)
            let adminRole = roles.first { $0.name == "admin" }!
            try await session.insert(RoleAssignment(userID: admin.id, scope: .project(adminProject), roleID: adminRole.id))
            try await session.insert(RoleAssignment(userID: admin.id, scope: .system, roleID: adminRole.id))
            return Bootstrap(created: true, adminPassword: password, adminUserID: admin.id, adminProjectID: adminProject)
        }
        await cache.clear()
        return outcome
    }

    func existingAdmin() async throws -> Bootstrap? {
        try await records.readIdentity { session -> Bootstrap? in
            guard let admin = try await session.user(name: "admin", domainID: IdentityDomain.defaultID),
                  let project = try await session.project(name: "admin", domainID: IdentityDomain.defaultID)
            else { return nil }
            return Bootstrap(created: false, adminPassword: nil, adminUserID: admin.id, adminProjectID: project.id)
        }
    }

    /// A random password of 24 URL-safe characters.
    public static func generatePassword() -> String {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<24).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    /// A Keystone-style id: a random UUID as 32 lower-case hex digits.
    public static func newID() -> String {
        UUIDs.make().replacingOccurrences(of: "-", with: "")
    }

    // MARK: Validation

    /// The context of a valid token for the Magnum API (cached briefly); nil when the token is
    /// malformed, tampered with, expired, revoked, or no longer grants any role.
    public func context(for token: String) async throws -> RequestContext? {
        if let hit = await cache.lookup(token) { return hit }
        guard let v = try await validate(token) else { return nil }
        let ctx = Self.context(v, token: token)
        await cache.store(token, ctx, expiresAt: v.token.expiresDate)
        return ctx
    }

    /// The request context a validated token stands for.
    static func context(_ v: ValidatedToken, token: String) -> RequestContext {
        RequestContext(userID: v.user.id, projectID: v.project?.id, roles: Set(v.roles.map(\.name)), userName: v.user.name,
                       projectName: v.project?.name, domainID: v.user.domainID, systemScope: v.isSystem, authToken: token)
    }

    /// Checks a token string: signature, expiry, revocation, and that its user, project and
    /// roles still exist. Nil when any check fails.
    public func validate(_ token: String) async throws -> ValidatedToken? {
        guard let t = try await keys.seal().open(token) else { return nil }
        return try await records.readIdentity { session in try await Self.resolve(t, session) }
    }

    /// Resolves a token against the current records; nil when it no longer holds.
    static func resolve(_ t: IdentityToken, _ session: any IdentitySession, now: Date = Date()) async throws -> ValidatedToken? {
        guard t.expiresAt > IdentityToken.micros(now) else { return nil }
        guard let user = try await session.user(id: t.userID), user.enabled else { return nil }
        if let after = user.tokensValidAfter, t.issuedAt < after { return nil }
        guard try await !session.isTokenRevoked(auditID: t.auditID) else { return nil }
        var project: IdentityProject? = nil
        let assignments: [RoleAssignment]
        switch t.scope {
        case .unscoped:
            return ValidatedToken(token: t, user: user, project: nil, roles: [])
        case .project(let id):
            guard let p = try await session.project(id: id), p.enabled else { return nil }
            project = p
            assignments = try await session.roleAssignments(userID: user.id, scope: .project(id), roleID: nil)
        case .system:
            assignments = try await session.roleAssignments(userID: user.id, scope: .system, roleID: nil)
        }
        let roles = effectiveRoles(assignments.map(\.roleID), all: try await session.roles())
        guard !roles.isEmpty else { return nil }
        return ValidatedToken(token: t, user: user, project: project, roles: roles)
    }

    /// The roles of `roleIDs` with the roles they imply, ordered by name.
    static func effectiveRoles(_ roleIDs: [String], all: [IdentityRole]) -> [IdentityRole] {
        var names = Set(all.filter { roleIDs.contains($0.id) }.map(\.name))
        var frontier = Array(names)
        while let name = frontier.popLast() {
            if let implied = impliedRoles[name], !names.contains(implied) {
                names.insert(implied)
                frontier.append(implied)
            }
        }
        return all.filter { names.contains($0.name) }.sorted { $0.name < $1.name }
    }

    // MARK: Authentication

    /// Authenticates a `POST /v3/auth/tokens` body and issues a token: (validated token, sealed
    /// string). Throws 400 for a malformed body and 401 for wrong credentials or a scope the
    /// user has no role on.
    public func issueToken(_ body: JSON?) async throws -> (ValidatedToken, String) {
        guard let auth = body?["auth"]?.objectValue else { throw MagnumError(.invalid, "'auth' is a required property") }
        guard let identity = auth["identity"]?.objectValue else { throw MagnumError(.invalid, "'identity' is a required property") }
        guard let methods = identity["methods"]?.arrayValue?.compactMap(\.stringValue), !methods.isEmpty else {
            throw MagnumError(.invalid, "'methods' is a required property")
        }
        let now = Date()
        let user: IdentityUser
        let tokenMethods: [String]
        var expiresAt = IdentityToken.micros(now) + Int64(configuration.tokenLifetime.timeInterval * 1e6)
        var parentAudit: String? = nil
        if methods.contains("password") {
            user = try await passwordUser(identity["password"]?["user"])
            tokenMethods = ["password"]
        } else if methods.contains("token") {
            guard let id = identity["token"]?["id"]?.stringValue else { throw MagnumError(.invalid, "'id' is a required property") }
            guard let original = try await validate(id) else { throw unauthorized("The request you have made requires authentication.") }
            user = original.user
            tokenMethods = ["token"] + original.token.methods.filter { $0 != "token" }
            expiresAt = original.token.expiresAt
            parentAudit = original.token.parentAuditID ?? original.token.auditID
        } else {
            throw unauthorized("Attempted to authenticate with an unsupported method.")
        }
        let scope = try await requestedScope(auth["scope"], user: user)
        let token = IdentityToken(userID: user.id, scope: scope, methods: tokenMethods, issuedAt: IdentityToken.micros(now),
                                  expiresAt: expiresAt, auditID: IdentityToken.newAuditID(), parentAuditID: parentAudit)
        guard let validated = try await records.readIdentity({ session in try await Self.resolve(token, session, now: now) }) else {
            switch scope {
            case .project(let id): throw unauthorized("User \(user.id) has no access to project \(id)")
            case .system: throw unauthorized("User \(user.id) has no access to the system")
            case .unscoped: throw unauthorized("The request you have made requires authentication.")
            }
        }
        return (validated, try await keys.seal().seal(token))
    }

    /// The user of a password method, after checking the password.
    func passwordUser(_ spec: JSON?) async throws -> IdentityUser {
        guard let spec, spec.objectValue != nil else { throw MagnumError(.invalid, "'user' is a required property") }
        guard let password = spec["password"]?.stringValue else { throw MagnumError(.invalid, "'password' is a required property") }
        let found: IdentityUser?
        if let id = spec["id"]?.stringValue {
            found = try await records.readIdentity { try await $0.user(id: id) }
        } else if let name = spec["name"]?.stringValue {
            guard let domain = spec["domain"], let domainID = Self.domainID(domain) else {
                throw unauthorized("The request you have made requires authentication.")
            }
            found = try await records.readIdentity { try await $0.user(name: name, domainID: domainID) }
        } else {
            throw MagnumError(.invalid, "Expecting to find id or name in user.")
        }
        // Hash even for an unknown user, so timing does not tell which users exist.
        let valid = PasswordHash.verify(password, against: found?.passwordHash ?? decoyHash)
        guard let user = found, valid, user.passwordHash != nil else {
            logger.info("password authentication failed", metadata: ["user": .string(spec["id"]?.stringValue ?? spec["name"]?.stringValue ?? "")])
            throw unauthorized("The request you have made requires authentication.")
        }
        guard user.enabled else { throw unauthorized("The account is disabled for user: \(user.id).") }
        return user
    }

    /// A well-formed hash (of the configured cost) that no password matches, verified for
    /// unknown users.
    var decoyHash: String {
        let zeros = Data(count: 32).base64EncodedString()
        return "\(PasswordHash.algorithm)$\(configuration.passwordRounds)$\(Data(count: 16).base64EncodedString())$\(zeros)"
    }

    /// The scope a `scope` member asks for; the user's default project when absent (if it
    /// has a role there), unscoped otherwise.
    func requestedScope(_ scope: JSON?, user: IdentityUser) async throws -> IdentityToken.Scope {
        guard let scope, !scope.isNull else {
            guard let project = user.defaultProjectID else { return .unscoped }
            let has = try await records.readIdentity { session -> Bool in
                guard let p = try await session.project(id: project), p.enabled else { return false }
                return try await !session.roleAssignments(userID: user.id, scope: .project(project), roleID: nil).isEmpty
            }
            return has ? .project(project) : .unscoped
        }
        if scope.stringValue == "unscoped" { return .unscoped }
        if let system = scope["system"] {
            guard system["all"]?.boolValue == true else { throw MagnumError(.invalid, "Only system scope {\"all\": true} is supported.") }
            return .system
        }
        if let p = scope["project"] {
            let found: IdentityProject?
            if let id = p["id"]?.stringValue {
                found = try await records.readIdentity { try await $0.project(id: id) }
            } else if let name = p["name"]?.stringValue {
                guard let domain = p["domain"], let domainID = Self.domainID(domain) else {
                    throw unauthorized("Could not find domain for project \(name).")
                }
                found = try await records.readIdentity { try await $0.project(name: name, domainID: domainID) }
            } else {
                throw MagnumError(.invalid, "Expecting to find id or name in project.")
            }
            guard let project = found else {
                throw unauthorized("Could not find project: \(p["id"]?.stringValue ?? p["name"]?.stringValue ?? "").")
            }
            guard project.enabled else { throw unauthorized("Project \(project.id) is disabled.") }
            return .project(project.id)
        }
        if scope["domain"] != nil { throw unauthorized("User \(user.id) has no access to domain scope; use a project or the system.") }
        throw MagnumError(.invalid, "Invalid scope.")
    }

    /// The domain id named by `{"id": …}` or `{"name": …}`, if it is the one domain.
    static func domainID(_ domain: JSON) -> String? {
        if let id = domain["id"]?.stringValue { return id == IdentityDomain.defaultID ? id : nil }
        if let name = domain["name"]?.stringValue, name.lowercased() == IdentityDomain.defaultName.lowercased() {
            return IdentityDomain.defaultID
        }
        return nil
    }

    /// Revokes a validated token (recorded until it would have expired).
    public func revoke(_ token: IdentityToken) async throws {
        try await records.writeIdentity { session in try await session.revokeToken(auditID: token.auditID, expiresAt: token.expiresDate) }
        await cache.clear()
    }

    func unauthorized(_ message: String) -> MagnumError { MagnumError(.unauthorized, message) }
}

/// Validations the built-in identity reuses briefly.
actor ValidationCache {
    var tokens: TokenCache<RequestContext>

    init(ttl: Duration, maxEntries: Int) {
        tokens = TokenCache(ttl: ttl, maxEntries: maxEntries)
    }

    func lookup(_ token: String) -> RequestContext? { tokens.lookup(token) }

    func store(_ token: String, _ context: RequestContext, expiresAt: Date) {
        tokens.store(token, context, expiresAt: expiresAt)
    }

    func clear() { tokens.clear() }
}

/// The token signing secret, shared by every process using the same database: created on the
/// first start, then read once per process.
actor SigningKeys {
    let records: any IdentityRecords
    var loaded: TokenSeal?

    init(records: any IdentityRecords) {
        self.records = records
    }

    func seal() async throws -> TokenSeal {
        if let loaded { return loaded }
        let candidate = TokenSeal.newSecret()
        let secret = try await records.writeIdentity { session in
            if let existing = try await session.signingSecret() { return existing }
            return try await session.establishSigningSecret(candidate)
        }
        guard let bytes = Data(base64Encoded: secret), bytes.count >= 32 else {
            throw MagnumError(.internal, "The identity's token signing secret is unreadable.")
        }
        let seal = TokenSeal(secret: [UInt8](bytes))
        loaded = seal
        return seal
    }
}
