import Foundation
import MagnumCore

/// Keystone v3's HTTP surface of the built-in identity: `/identity` (versions), `/identity/v3`
/// and the resources under it, with Keystone's bodies and its error shape
/// `{"error": {"code", "message", "title"}}`.
extension BuiltInIdentity {
    /// The API version this identity reports.
    public static let apiVersion = "v3.14"

    public func respond(to request: IdentityRequest) async -> IdentityResponse {
        do {
            var response = try await route(request)
            response.headers.append(("Vary", "X-Auth-Token"))
            return response
        } catch let error as MagnumError {
            return errorResponse(error)
        } catch {
            logger.error("identity request failed", metadata: ["error": .string(String(describing: error))])
            return errorResponse(MagnumError(.internal, "An unexpected error prevented the server from fulfilling your request."))
        }
    }

    /// Keystone's error response for an error.
    func errorResponse(_ error: MagnumError) -> IdentityResponse {
        let status = error.httpStatus
        let titles = [400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
                      406: "Not Acceptable", 409: "Conflict", 415: "Unsupported Media Type", 500: "Internal Server Error",
                      503: "Service Unavailable"]
        var headers: [(String, String)] = []
        if status == 401 { headers.append(("WWW-Authenticate", "Keystone uri=\"\(configuration.publicURL)/identity\"")) }
        let body: JSON = ["error": ["code": .int(status), "message": .string(error.message), "title": .string(titles[status] ?? "Error")]]
        return IdentityResponse(status, body, headers: headers)
    }

    // MARK: Routing

    func route(_ r: IdentityRequest) async throws -> IdentityResponse {
        let s = r.segments
        let v3 = "\(r.baseURL)/identity/v3"
        if s.isEmpty {
            try Self.allow(r, ["GET", "HEAD"])
            return IdentityResponse(300, ["versions": ["values": [versionObject(v3)]]])
        }
        guard s[0] == "v3" else { throw MagnumError(.notFound, "The resource could not be found.") }
        let rest = Array(s.dropFirst())
        if rest.isEmpty {
            try Self.allow(r, ["GET", "HEAD"])
            return .init(200, ["version": versionObject(v3)])
        }
        if rest == ["auth", "tokens"], r.method == "POST" {
            let (validated, token) = try await issueToken(r.body)
            let nocatalog = r.query("nocatalog") != nil
            return IdentityResponse(201, tokenView(validated, catalog: !nocatalog), headers: [("X-Subject-Token", token)])
        }
        let caller = try await authenticatedCaller(r)
        switch rest[0] {
        case "auth": return try await authRoutes(r, Array(rest.dropFirst()), caller, v3)
        case "domains": return try domainRoutes(r, Array(rest.dropFirst()), v3)
        case "projects": return try await projectRoutes(r, Array(rest.dropFirst()), caller, v3)
        case "users": return try await userRoutes(r, Array(rest.dropFirst()), caller, v3)
        case "roles": return try await roleRoutes(r, Array(rest.dropFirst()), caller, v3)
        case "system": return try await systemRoutes(r, Array(rest.dropFirst()), caller, v3)
        case "role_assignments": return try await assignmentList(r, caller, v3)
        case "services", "endpoints", "regions": return try catalogRoutes(r, rest, v3)
        default: throw MagnumError(.notFound, "The resource could not be found.")
        }
    }

    static func allow(_ r: IdentityRequest, _ methods: Set<String>) throws {
        guard methods.contains(r.method) else { throw MagnumError(.methodNotAllowed, "The method is not allowed for the requested URL.") }
    }

    func versionObject(_ v3: String) -> JSON {
        ["id": .string(Self.apiVersion), "status": "stable", "updated": "2020-04-07T00:00:00Z",
         "links": [["rel": "self", "href": .string(v3 + "/")]],
         "media-types": [["base": "application/json", "type": "application/vnd.openstack.identity-v3+json"]]]
    }

    /// The caller of a request with a valid `X-Auth-Token`; 401 otherwise.
    func authenticatedCaller(_ r: IdentityRequest) async throws -> ValidatedToken {
        guard let token = r.header("X-Auth-Token"), !token.isEmpty, let caller = try await validate(token) else {
            throw unauthorized("The request you have made requires authentication.")
        }
        return caller
    }

    /// 403 unless the caller has the `admin` role (on a project or the system).
    func requireAdmin(_ caller: ValidatedToken, _ action: String) throws {
        guard caller.isAdmin else { throw Self.forbidden(action) }
    }

    static func forbidden(_ action: String) -> MagnumError {
        MagnumError(.forbidden, "You are not authorized to perform the requested action: identity:\(action).")
    }

    // MARK: /v3/auth

    func authRoutes(_ r: IdentityRequest, _ s: [String], _ caller: ValidatedToken, _ v3: String) async throws -> IdentityResponse {
        switch s {
        case ["tokens"]:
            guard let subject = r.header("X-Subject-Token"), !subject.isEmpty else {
                throw MagnumError(.notFound, "Could not find token: .")
            }
            guard let validated = try await validate(subject) else { throw MagnumError(.notFound, "Could not find token: \(subject).") }
            let own = validated.user.id == caller.user.id
            let privileged = caller.isAdmin || caller.roles.contains { $0.name == "service" }
            switch r.method {
            case "GET":
                guard own || privileged else { throw Self.forbidden("validate_token") }
                return IdentityResponse(200, tokenView(validated, catalog: r.query("nocatalog") == nil), headers: [("X-Subject-Token", subject)])
            case "HEAD":
                guard own || privileged else { throw Self.forbidden("check_token") }
                return IdentityResponse(200, headers: [("X-Subject-Token", subject)])
            case "DELETE":
                guard own || caller.isAdmin else { throw Self.forbidden("revoke_token") }
                try await revoke(validated.token)
                return IdentityResponse(204)
            default:
                throw MagnumError(.methodNotAllowed, "The method is not allowed for the requested URL.")
            }
        case ["catalog"]:
            try Self.allow(r, ["GET", "HEAD"])
            let entries: JSON = caller.token.scope == .unscoped ? [] : catalog.tokenCatalog
            return .init(200, ["catalog": entries, "links": Self.listLinks("\(v3)/auth/catalog")])
        case ["projects"]:
            try Self.allow(r, ["GET", "HEAD"])
            let projects = try await projectsOf(caller.user.id).filter(\.enabled)
            return .init(200, ["projects": .array(projects.map { projectView($0, v3) }), "links": Self.listLinks("\(v3)/auth/projects")])
        case ["domains"]:
            try Self.allow(r, ["GET", "HEAD"])
            return .init(200, ["domains": [], "links": Self.listLinks("\(v3)/auth/domains")])
        case ["system"]:
            try Self.allow(r, ["GET", "HEAD"])
            let has = try await records.readIdentity { try await !$0.roleAssignments(userID: caller.user.id, scope: .system, roleID: nil).isEmpty }
            return .init(200, ["system": has ? [["all": true]] : [], "links": Self.listLinks("\(v3)/auth/system")])
        default:
            throw MagnumError(.notFound, "The resource could not be found.")
        }
    }

    /// Projects the user has a role on.
    func projectsOf(_ userID: String) async throws -> [IdentityProject] {
        try await records.readIdentity { session in
            let ids = Set(try await session.roleAssignments(userID: userID, scope: nil, roleID: nil).compactMap { a -> String? in
                if case .project(let id) = a.scope { return id }
                return nil
            })
            return try await session.projects().filter { ids.contains($0.id) }
        }
    }

    // MARK: /v3/domains

    func domainRoutes(_ r: IdentityRequest, _ s: [String], _ v3: String) throws -> IdentityResponse {
        let domain = IdentityDomain.default
        switch (s.count, r.method) {
        case (0, "GET"), (0, "HEAD"):
            var all = [domain]
            if let name = r.query("name") { all = all.filter { $0.name == name } }
            if let enabled = r.query("enabled"), ["false", "0", "no"].contains(enabled.lowercased()) { all = [] }
            return .init(200, ["domains": .array(all.map { domainView($0, v3) }), "links": Self.listLinks("\(v3)/domains")])
        case (1, "GET"), (1, "HEAD"):
            guard s[0] == domain.id else { throw MagnumError(.notFound, "Could not find domain: \(s[0]).") }
            return .init(200, ["domain": domainView(domain, v3)])
        case (0, "POST"), (1, "PATCH"), (1, "DELETE"):
            throw MagnumError(.forbidden, "The built-in identity has a single domain, \(domain.name); domains cannot be changed.")
        default:
            throw MagnumError(.notFound, "The resource could not be found.")
        }
    }

    // MARK: /v3/projects

    func projectRoutes(_ r: IdentityRequest, _ s: [String], _ caller: ValidatedToken, _ v3: String) async throws -> IdentityResponse {
        switch (s.count, r.method) {
        case (0, "GET"), (0, "HEAD"):
            try requireAdmin(caller, "list_projects")
            var all = try await records.readIdentity { try await $0.projects() }
            if let name = r.query("name") { all = all.filter { $0.name == name } }
            if let domain = r.query("domain_id") { all = all.filter { $0.domainID == domain } }
            if let enabled = Self.boolQuery(r, "enabled") { all = all.filter { $0.enabled == enabled } }
            return .init(200, ["projects": .array(all.map { projectView($0, v3) }), "links": Self.listLinks("\(v3)/projects")])
        case (0, "POST"):
            try requireAdmin(caller, "create_project")
            let body = try Self.member(r.body, "project")
            let name = try Self.name(body["name"], "project")
            let domainID = try Self.domain(body["domain_id"])
            let project = IdentityProject(id: Self.newID(), name: name, domainID: domainID,
                                          description: body["description"]?.stringValue ?? "",
                                          enabled: try Self.optionalBool(body["enabled"], "enabled") ?? true,
                                          tags: body["tags"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            try await records.writeIdentity { try await $0.insert(project) }
            return .init(201, ["project": projectView(project, v3)])
        case (1, "GET"), (1, "HEAD"):
            guard caller.isAdmin || caller.project?.id == s[0] else { throw Self.forbidden("get_project") }
            return .init(200, ["project": projectView(try await project(s[0]), v3)])
        case (1, "PATCH"):
            try requireAdmin(caller, "update_project")
            var project = try await project(s[0])
            let body = try Self.member(r.body, "project")
            if let name = body["name"] { project.name = try Self.name(name, "project") }
            if let d = body["description"] { project.description = d.stringValue ?? "" }
            if let e = try Self.optionalBool(body["enabled"], "enabled") { project.enabled = e }
            if let tags = body["tags"]?.arrayValue { project.tags = tags.compactMap(\.stringValue) }
            let updated = project
            try await records.writeIdentity { try await $0.update(updated) }
            await cache.clear()
            return .init(200, ["project": projectView(updated, v3)])
        case (1, "DELETE"):
            try requireAdmin(caller, "delete_project")
            let project = try await project(s[0])
            try await records.writeIdentity { try await $0.deleteProject(id: project.id) }
            await cache.clear()
            return .init(204)
        case (4, _) where s[1] == "users" && s[3] == "roles":
            return try await grantRoutes(r, scopeProject: s[0], user: s[2], role: nil, caller, v3)
        case (5, _) where s[1] == "users" && s[3] == "roles":
            return try await grantRoutes(r, scopeProject: s[0], user: s[2], role: s[4], caller, v3)
        default:
            break
        }
        throw MagnumError(.notFound, "The resource could not be found.")
    }

    func project(_ id: String) async throws -> IdentityProject {
        guard let p = try await records.readIdentity({ try await $0.project(id: id) }) else {
            throw MagnumError(.notFound, "Could not find project: \(id).")
        }
        return p
    }

    // MARK: /v3/users

    func userRoutes(_ r: IdentityRequest, _ s: [String], _ caller: ValidatedToken, _ v3: String) async throws -> IdentityResponse {
        switch (s.count, r.method) {
        case (0, "GET"), (0, "HEAD"):
            try requireAdmin(caller, "list_users")
            var all = try await records.readIdentity { try await $0.users() }
            if let name = r.query("name") { all = all.filter { $0.name == name } }
            if let domain = r.query("domain_id") { all = all.filter { $0.domainID == domain } }
            if let enabled = Self.boolQuery(r, "enabled") { all = all.filter { $0.enabled == enabled } }
            return .init(200, ["users": .array(all.map { userView($0, v3) }), "links": Self.listLinks("\(v3)/users")])
        case (0, "POST"):
            try requireAdmin(caller, "create_user")
            let body = try Self.member(r.body, "user")
            var user = IdentityUser(id: Self.newID(), name: try Self.name(body["name"], "user"), domainID: try Self.domain(body["domain_id"]),
                                    enabled: try Self.optionalBool(body["enabled"], "enabled") ?? true)
            if let project = body["default_project_id"], !project.isNull {
                guard let id = project.stringValue else { throw MagnumError(.invalid, "Invalid input for field 'default_project_id'.") }
                user.defaultProjectID = id
            }
            if let password = body["password"], !password.isNull {
                guard let text = password.stringValue else { throw MagnumError(.invalid, "Invalid input for field 'password'.") }
                user.passwordHash = try PasswordHash.make(text, rounds: configuration.passwordRounds)
            }
            user.extra = Self.extras(body)
            let created = user
            try await records.writeIdentity { try await $0.insert(created) }
            return .init(201, ["user": userView(created, v3)])
        case (1, "GET"), (1, "HEAD"):
            guard caller.isAdmin || caller.user.id == s[0] else { throw Self.forbidden("get_user") }
            return .init(200, ["user": userView(try await user(s[0]), v3)])
        case (1, "PATCH"):
            try requireAdmin(caller, "update_user")
            var user = try await user(s[0])
            let body = try Self.member(r.body, "user")
            if let name = body["name"] { user.name = try Self.name(name, "user") }
            if let e = try Self.optionalBool(body["enabled"], "enabled") { user.enabled = e }
            if let project = body["default_project_id"] { user.defaultProjectID = project.stringValue }
            if let password = body["password"], !password.isNull {
                guard let text = password.stringValue else { throw MagnumError(.invalid, "Invalid input for field 'password'.") }
                user.passwordHash = try PasswordHash.make(text, rounds: configuration.passwordRounds)
                user.tokensValidAfter = IdentityToken.micros(Date())
            }
            user.extra.merge(Self.extras(body)) { _, new in new }
            let updated = user
            try await records.writeIdentity { try await $0.update(updated) }
            await cache.clear()
            return .init(200, ["user": userView(updated, v3)])
        case (1, "DELETE"):
            try requireAdmin(caller, "delete_user")
            let user = try await user(s[0])
            try await records.writeIdentity { try await $0.deleteUser(id: user.id) }
            await cache.clear()
            return .init(204)
        case (2, "POST") where s[1] == "password":
            guard caller.user.id == s[0] else { throw Self.forbidden("change_password") }
            var user = try await user(s[0])
            let body = try Self.member(r.body, "user")
            guard let original = body["original_password"]?.stringValue, let new = body["password"]?.stringValue else {
                throw MagnumError(.invalid, "'original_password' and 'password' are required properties")
            }
            guard let hash = user.passwordHash, PasswordHash.verify(original, against: hash) else {
                throw unauthorized("The request you have made requires authentication.")
            }
            user.passwordHash = try PasswordHash.make(new, rounds: configuration.passwordRounds)
            user.tokensValidAfter = IdentityToken.micros(Date())
            let updated = user
            try await records.writeIdentity { try await $0.update(updated) }
            await cache.clear()
            return .init(204)
        case (2, "GET") where s[1] == "projects", (2, "HEAD") where s[1] == "projects":
            guard caller.isAdmin || caller.user.id == s[0] else { throw Self.forbidden("list_user_projects") }
            let projects = try await projectsOf(try await user(s[0]).id)
            return .init(200, ["projects": .array(projects.map { projectView($0, v3) }), "links": Self.listLinks("\(v3)/users/\(s[0])/projects")])
        case (2, "GET") where s[1] == "groups":
            return .init(200, ["groups": [], "links": Self.listLinks("\(v3)/users/\(s[0])/groups")])
        default:
            throw MagnumError(.notFound, "The resource could not be found.")
        }
    }

    func user(_ id: String) async throws -> IdentityUser {
        guard let u = try await records.readIdentity({ try await $0.user(id: id) }) else {
            throw MagnumError(.notFound, "Could not find user: \(id).")
        }
        return u
    }

    /// Keystone keeps unknown user attributes (`email`, `description`, …) as extras.
    static func extras(_ body: [String: JSON]) -> [String: JSON] {
        let known: Set<String> = ["id", "name", "domain_id", "enabled", "password", "default_project_id", "links", "options",
                                  "password_expires_at", "federated"]
        return body.filter { !known.contains($0.key) }
    }

    // MARK: /v3/roles

    func roleRoutes(_ r: IdentityRequest, _ s: [String], _ caller: ValidatedToken, _ v3: String) async throws -> IdentityResponse {
        switch (s.count, r.method) {
        case (0, "GET"), (0, "HEAD"):
            var all = try await records.readIdentity { try await $0.roles() }
            if let name = r.query("name") { all = all.filter { $0.name == name } }
            if let domain = r.query("domain_id"), !domain.isEmpty { all = [] }
            return .init(200, ["roles": .array(all.map { roleView($0, v3) }), "links": Self.listLinks("\(v3)/roles")])
        case (0, "POST"):
            try requireAdmin(caller, "create_role")
            let body = try Self.member(r.body, "role")
            if let domain = body["domain_id"], !domain.isNull {
                throw MagnumError(.invalid, "Domain-specific roles are not supported by the built-in identity.")
            }
            let role = IdentityRole(id: Self.newID(), name: try Self.name(body["name"], "role"), description: body["description"]?.stringValue)
            try await records.writeIdentity { try await $0.insert(role) }
            return .init(201, ["role": roleView(role, v3)])
        case (1, "GET"), (1, "HEAD"):
            return .init(200, ["role": roleView(try await role(s[0]), v3)])
        case (1, "DELETE"):
            try requireAdmin(caller, "delete_role")
            let role = try await role(s[0])
            try await records.writeIdentity { try await $0.deleteRole(id: role.id) }
            await cache.clear()
            return .init(204)
        default:
            throw MagnumError(.notFound, "The resource could not be found.")
        }
    }

    func role(_ id: String) async throws -> IdentityRole {
        guard let role = try await records.readIdentity({ try await $0.roles() }).first(where: { $0.id == id }) else {
            throw MagnumError(.notFound, "Could not find role: \(id).")
        }
        return role
    }

    // MARK: Role assignments

    func systemRoutes(_ r: IdentityRequest, _ s: [String], _ caller: ValidatedToken, _ v3: String) async throws -> IdentityResponse {
        // /v3/system/users/{u}/roles[/{r}]
        guard s.count >= 3, s[0] == "users", s[2] == "roles", s.count <= 4 else {
            throw MagnumError(.notFound, "The resource could not be found.")
        }
        return try await grantRoutes(r, scopeProject: nil, user: s[1], role: s.count == 4 ? s[3] : nil, caller, v3)
    }

    /// `…/users/{u}/roles[/{r}]` on a project (or on the system when `scopeProject` is nil).
    func grantRoutes(_ r: IdentityRequest, scopeProject: String?, user userID: String, role roleID: String?,
                     _ caller: ValidatedToken, _ v3: String) async throws -> IdentityResponse
    {
        let scope: RoleAssignment.Scope = scopeProject.map { .project($0) } ?? .system
        if let p = scopeProject { _ = try await project(p) }
        _ = try await user(userID)
        guard let roleID else {
            try Self.allow(r, ["GET", "HEAD"])
            guard caller.isAdmin || caller.user.id == userID else { throw Self.forbidden("list_grants") }
            let ids = try await records.readIdentity { try await $0.roleAssignments(userID: userID, scope: scope, roleID: nil) }.map(\.roleID)
            let roles = try await records.readIdentity { try await $0.roles() }.filter { ids.contains($0.id) }
            let path = scopeProject.map { "\(v3)/projects/\($0)/users/\(userID)/roles" } ?? "\(v3)/system/users/\(userID)/roles"
            return .init(200, ["roles": .array(roles.map { roleView($0, v3) }), "links": Self.listLinks(path)])
        }
        let role = try await role(roleID)
        let assignment = RoleAssignment(userID: userID, scope: scope, roleID: role.id)
        let where_ = scopeProject ?? "system"
        switch r.method {
        case "PUT":
            try requireAdmin(caller, scopeProject == nil ? "create_system_grant_for_user" : "create_grant")
            try await records.writeIdentity { try await $0.insert(assignment) }
            await cache.clear()
            return .init(204)
        case "GET", "HEAD":
            guard caller.isAdmin || caller.user.id == userID else { throw Self.forbidden("check_grant") }
            let exists = try await !records.readIdentity { try await $0.roleAssignments(userID: userID, scope: scope, roleID: role.id) }.isEmpty
            guard exists else { throw Self.assignmentNotFound(role.id, userID, where_) }
            return .init(204)
        case "DELETE":
            try requireAdmin(caller, scopeProject == nil ? "revoke_system_grant_for_user" : "revoke_grant")
            let existed = try await records.writeIdentity { try await $0.delete(assignment) }
            await cache.clear()
            guard existed else { throw Self.assignmentNotFound(role.id, userID, where_) }
            return .init(204)
        default:
            throw MagnumError(.methodNotAllowed, "The method is not allowed for the requested URL.")
        }
    }

    static func assignmentNotFound(_ role: String, _ user: String, _ target: String) -> MagnumError {
        MagnumError(.notFound, "Could not find role assignment with role: \(role), user or group: \(user), project, domain, or system: \(target).")
    }

    /// `GET /v3/role_assignments` with `user.id`, `scope.project.id`, `scope.system`, `role.id`,
    /// `effective` (implied roles expanded) and `include_names`.
    func assignmentList(_ r: IdentityRequest, _ caller: ValidatedToken, _ v3: String) async throws -> IdentityResponse {
        try Self.allow(r, ["GET", "HEAD"])
        let userFilter = r.query("user.id")
        guard caller.isAdmin || (userFilter != nil && userFilter == caller.user.id) else { throw Self.forbidden("list_role_assignments") }
        let scope: RoleAssignment.Scope?
        if r.query("scope.system") != nil {
            scope = .system
        } else {
            scope = r.query("scope.project.id").map { .project($0) }
        }
        if r.query("scope.domain.id") != nil || r.query("group.id") != nil {
            return .init(200, ["role_assignments": [], "links": Self.listLinks("\(v3)/role_assignments")])
        }
        let effective = r.query("effective") != nil
        let names = Self.boolQuery(r, "include_names") ?? (r.query("include_names") != nil)
        let roleFilter = r.query("role.id")
        let (assignments, roles, users, projects) = try await records.readIdentity { session in
            (try await session.roleAssignments(userID: userFilter, scope: scope, roleID: effective ? nil : roleFilter),
             try await session.roles(), try await session.users(), try await session.projects())
        }
        var rows: [RoleAssignment] = []
        if effective {
            // Expand implied roles per (user, scope).
            let grouped = Dictionary(grouping: assignments) { "\($0.userID)|\(AssignmentScopeKey.key($0.scope))" }
            for key in grouped.keys.sorted() {
                let group = grouped[key]!
                for role in Self.effectiveRoles(group.map(\.roleID), all: roles) {
                    rows.append(RoleAssignment(userID: group[0].userID, scope: group[0].scope, roleID: role.id))
                }
            }
            if let roleFilter { rows = rows.filter { $0.roleID == roleFilter } }
        } else {
            rows = assignments
        }
        let roleByID = Dictionary(roles.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let userByID = Dictionary(users.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let projectByID = Dictionary(projects.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let domain: JSON = ["id": .string(IdentityDomain.defaultID), "name": .string(IdentityDomain.defaultName)]
        let views: [JSON] = rows.map { a in
            var role: [String: JSON] = ["id": .string(a.roleID)]
            var user: [String: JSON] = ["id": .string(a.userID)]
            var scopeView: JSON
            let link: String
            switch a.scope {
            case .project(let id):
                var p: [String: JSON] = ["id": .string(id)]
                if names, let project = projectByID[id] { p["name"] = .string(project.name); p["domain"] = domain }
                scopeView = ["project": .object(p)]
                link = "\(v3)/projects/\(id)/users/\(a.userID)/roles/\(a.roleID)"
            case .system:
                scopeView = ["system": ["all": true]]
                link = "\(v3)/system/users/\(a.userID)/roles/\(a.roleID)"
            }
            if names {
                if let r = roleByID[a.roleID] { role["name"] = .string(r.name) }
                if let u = userByID[a.userID] { user["name"] = .string(u.name); user["domain"] = domain }
            }
            return ["role": .object(role), "user": .object(user), "scope": scopeView, "links": ["assignment": .string(link)]]
        }
        return .init(200, ["role_assignments": .array(views), "links": Self.listLinks("\(v3)/role_assignments")])
    }

    // MARK: Catalog views

    func catalogRoutes(_ r: IdentityRequest, _ s: [String], _ v3: String) throws -> IdentityResponse {
        guard r.method == "GET" || r.method == "HEAD" else {
            throw MagnumError(.forbidden, "The built-in identity's catalog is derived from the server's public URL and cannot be changed.")
        }
        let (key, items): (String, [JSON])
        switch s[0] {
        case "services":
            var all = catalog.serviceViews(v3)
            if let type = r.query("type") { all = all.filter { $0["type"]?.stringValue == type } }
            (key, items) = ("service", all)
        case "endpoints":
            var all = catalog.endpointViews(v3)
            if let i = r.query("interface") { all = all.filter { $0["interface"]?.stringValue == i } }
            if let sid = r.query("service_id") { all = all.filter { $0["service_id"]?.stringValue == sid } }
            if let region = r.query("region_id") { all = all.filter { $0["region_id"]?.stringValue == region } }
            (key, items) = ("endpoint", all)
        default:
            (key, items) = ("region", catalog.regionViews(v3))
        }
        switch s.count {
        case 1:
            return .init(200, [key + "s": .array(items), "links": Self.listLinks("\(v3)/\(s[0])")])
        case 2:
            guard let one = items.first(where: { $0["id"]?.stringValue == s[1] }) else {
                throw MagnumError(.notFound, "Could not find \(key): \(s[1]).")
            }
            return .init(200, [key: one])
        default:
            throw MagnumError(.notFound, "The resource could not be found.")
        }
    }

    // MARK: Views

    /// The body of an issued or validated token.
    public func tokenView(_ v: ValidatedToken, catalog withCatalog: Bool) -> JSON {
        let domain: JSON = ["id": .string(IdentityDomain.defaultID), "name": .string(IdentityDomain.defaultName)]
        var t: [String: JSON] = [
            "methods": JSON(v.token.methods),
            "user": ["id": .string(v.user.id), "name": .string(v.user.name), "domain": domain, "password_expires_at": nil],
            "audit_ids": JSON(v.token.auditIDs),
            "expires_at": .string(Self.timestamp(v.token.expiresDate)),
            "issued_at": .string(Self.timestamp(v.token.issuedDate)),
        ]
        switch v.token.scope {
        case .unscoped:
            return ["token": .object(t)]
        case .project:
            if let p = v.project {
                t["project"] = ["id": .string(p.id), "name": .string(p.name), "domain": domain]
            }
            t["is_domain"] = false
        case .system:
            t["system"] = ["all": true]
        }
        t["roles"] = .array(v.roles.map { ["id": .string($0.id), "name": .string($0.name)] })
        if withCatalog { t["catalog"] = catalog.tokenCatalog }
        return ["token": .object(t)]
    }

    func projectView(_ p: IdentityProject, _ v3: String) -> JSON {
        ["id": .string(p.id), "name": .string(p.name), "domain_id": .string(p.domainID), "description": .string(p.description ?? ""),
         "enabled": .bool(p.enabled), "parent_id": .string(p.domainID), "is_domain": false, "tags": JSON(p.tags), "options": [:],
         "links": ["self": .string("\(v3)/projects/\(p.id)")]]
    }

    func userView(_ u: IdentityUser, _ v3: String) -> JSON {
        var o: [String: JSON] = u.extra
        o["id"] = .string(u.id)
        o["name"] = .string(u.name)
        o["domain_id"] = .string(u.domainID)
        o["enabled"] = .bool(u.enabled)
        o["password_expires_at"] = nil
        o["options"] = [:]
        o["links"] = ["self": .string("\(v3)/users/\(u.id)")]
        if let p = u.defaultProjectID { o["default_project_id"] = .string(p) }
        return .object(o)
    }

    func roleView(_ r: IdentityRole, _ v3: String) -> JSON {
        ["id": .string(r.id), "name": .string(r.name), "domain_id": nil, "description": JSON(r.description), "options": [:],
         "links": ["self": .string("\(v3)/roles/\(r.id)")]]
    }

    func domainView(_ d: IdentityDomain, _ v3: String) -> JSON {
        ["id": .string(d.id), "name": .string(d.name), "description": .string(d.description), "enabled": true, "tags": [],
         "options": [:], "links": ["self": .string("\(v3)/domains/\(d.id)")]]
    }

    static func listLinks(_ url: String) -> JSON {
        ["self": .string(url), "previous": nil, "next": nil]
    }

    /// Keystone's timestamp: `2026-11-25T16:00:00.000000Z`.
    public static func timestamp(_ date: Date) -> String {
        let micros = Int64((date.timeIntervalSince1970 * 1e6).rounded(.down))
        var seconds = micros / 1_000_000
        var fraction = micros % 1_000_000
        if fraction < 0 { fraction += 1_000_000; seconds -= 1 }
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        let c = utc.dateComponents([.year, .month, .day, .hour, .minute, .second], from: Date(timeIntervalSince1970: Double(seconds)))
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0,
                      c.second ?? 0, Int(fraction))
    }

    // MARK: Body helpers

    static func member(_ body: JSON?, _ key: String) throws -> [String: JSON] {
        guard let o = body?[key]?.objectValue else { throw MagnumError(.invalid, "'\(key)' is a required property") }
        return o
    }

    static func name(_ value: JSON?, _ kind: String) throws -> String {
        guard let name = value?.stringValue else { throw MagnumError(.invalid, "'name' is a required property") }
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, name.count <= 255 else { throw MagnumError(.invalid, "Invalid input for field 'name': '\(name)' is not a valid \(kind) name.") }
        return name
    }

    static func domain(_ value: JSON?) throws -> String {
        guard let value, !value.isNull else { return IdentityDomain.defaultID }
        guard value.stringValue == IdentityDomain.defaultID else {
            throw MagnumError(.notFound, "Could not find domain: \(value.stringValue ?? value.pythonDescription).")
        }
        return IdentityDomain.defaultID
    }

    static func optionalBool(_ value: JSON?, _ field: String) throws -> Bool? {
        guard let value, !value.isNull else { return nil }
        guard let b = value.boolValue else { throw MagnumError(.invalid, "Invalid input for field '\(field)': \(value.pythonDescription) is not of type 'boolean'") }
        return b
    }

    static func boolQuery(_ r: IdentityRequest, _ name: String) -> Bool? {
        guard let v = r.query(name)?.lowercased() else { return nil }
        if ["true", "1", "yes", "on", "t", "y"].contains(v) { return true }
        if ["false", "0", "no", "off", "f", "n"].contains(v) { return false }
        return nil
    }
}

/// A printable key of an assignment scope.
enum AssignmentScopeKey {
    static func key(_ scope: RoleAssignment.Scope) -> String {
        switch scope {
        case .project(let id): return "p:" + id
        case .system: return "system"
        }
    }
}
