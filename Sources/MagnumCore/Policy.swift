/// The target a policy rule is checked against: the owner of the resource, or the caller.
public struct PolicyTarget: Sendable, Hashable {
    public var projectID: String?
    public var userID: String?

    /// Creates a target.
    public init(projectID: String?, userID: String?) {
        self.projectID = projectID
        self.userID = userID
    }

    /// The caller as target (rules that only test roles).
    public init(caller: RequestContext) {
        self.init(projectID: caller.projectID, userID: caller.userID)
    }
}

/// Decides whether a context may perform a named rule on a target.
public protocol PolicyEnforcer: Sendable {
    /// True when `rule` allows `context` on `target`.
    func allows(_ rule: String, _ context: RequestContext, target: PolicyTarget) -> Bool
}

extension PolicyEnforcer {
    /// Throws 403 "Policy doesn't allow <rule> to be performed." unless allowed.
    public func enforce(_ rule: String, _ context: RequestContext, target: PolicyTarget) throws {
        if !allows(rule, context, target: target) { throw MagnumError.policy(rule) }
    }

    /// Enforces a rule with the caller as target.
    public func enforce(_ rule: String, _ context: RequestContext) throws {
        try enforce(rule, context, target: PolicyTarget(caller: context))
    }
}

/// Magnum's default rules (contract §7.2–7.3, `enforce_new_defaults=True`). The oslo.policy rule
/// language with operator overrides replaces this with the identity work; the defaults stay.
public struct DefaultPolicy: PolicyEnforcer {
    /// The base rules the API rules are made of.
    public enum Base: Sendable, Hashable {
        case contextIsAdmin
        case adminOrProjectReader
        case adminOrProjectMember
        case adminOrProjectMemberUser
        case adminOrProjectReaderUser
        case projectMember
    }

    /// API rule name → base rule.
    public static let rules: [String: Base] = {
        var r: [String: Base] = [:]
        for name in ["create", "delete", "update", "resize", "upgrade"] { r["cluster:\(name)"] = .adminOrProjectMember }
        for name in ["detail", "get", "get_all"] { r["cluster:\(name)"] = .adminOrProjectReader }
        r["cluster:update_health_status"] = .adminOrProjectMemberUser
        for name in ["create", "delete", "update"] { r["clustertemplate:\(name)"] = .adminOrProjectMember }
        for name in ["detail", "get", "get_all"] { r["clustertemplate:\(name)"] = .adminOrProjectReader }
        r["clustertemplate:publish"] = .contextIsAdmin
        for name in ["get", "get_all"] { r["nodegroup:\(name)"] = .adminOrProjectReader }
        for name in ["create", "delete", "update"] { r["nodegroup:\(name)"] = .adminOrProjectMember }
        r["certificate:create"] = .adminOrProjectMemberUser
        r["certificate:get"] = .adminOrProjectReaderUser
        r["certificate:rotate_ca"] = .adminOrProjectMember
        r["credential:rotate"] = .projectMember
        for name in ["create", "delete", "update"] { r["federation:\(name)"] = .adminOrProjectMember }
        for name in ["get", "get_all", "detail"] { r["federation:\(name)"] = .adminOrProjectReader }
        r["magnum-service:get_all"] = .contextIsAdmin
        for name in ["create", "delete", "get_all", "update"] { r["quota:\(name)"] = .contextIsAdmin }
        r["quota:get"] = .adminOrProjectReader
        r["stats:get_all"] = .adminOrProjectReader
        return r
    }()

    /// Creates the default policy.
    public init() {}

    /// Every rule of the table is an API rule with `scope_types=["project"]` (contract §7.1): a
    /// system-scoped token fails them whatever its roles, as `OsloPolicy` does with scope
    /// enforcement on (its default).
    public func allows(_ rule: String, _ context: RequestContext, target: PolicyTarget) -> Bool {
        if context.systemScope { return false }
        // Every `*_all_projects` rule is context_is_admin.
        let base: Base = rule.hasSuffix("_all_projects") ? .contextIsAdmin : (DefaultPolicy.rules[rule] ?? .contextIsAdmin)
        let admin = context.isAdmin
        let sameProject = context.projectID != nil && context.projectID == target.projectID
        let sameUser = context.userID != nil && context.userID == target.userID
        let member = context.roles.contains("member") && sameProject
        let reader = context.roles.contains("reader") && sameProject
        switch base {
        case .contextIsAdmin: return admin
        case .adminOrProjectReader: return admin || reader
        case .adminOrProjectMember: return admin || member
        case .adminOrProjectMemberUser: return admin || (member && sameUser)
        case .adminOrProjectReaderUser: return admin || (reader && sameUser)
        case .projectMember: return member
        }
    }
}
