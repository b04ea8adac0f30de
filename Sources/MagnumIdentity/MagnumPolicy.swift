import Foundation
import MagnumCore
import Yams

/// Magnum's policy in the oslo.policy rule language: the default rules (contract §7.2–7.3,
/// `enforce_new_defaults=True`) with an operator's overrides from a `policy.yaml`/`policy.json`.
///
/// A rule name with no definition is denied (oslo raises `PolicyNotRegistered`).
///
/// Every API rule carries `scope_types=["project"]` (contract §7.1). With `enforceScope`
/// (oslo's `[oslo_policy] enforce_scope`, on by default as in current oslo.policy) a
/// system-scoped token fails them, whatever its roles; with it off, only the check strings count.
public struct OsloPolicy: PolicyEnforcer {
    /// The effective rules: defaults, then overrides.
    public let ruleSet: PolicyRuleSet
    /// Whether a system-scoped token is refused by the project-scoped API rules.
    public let enforceScope: Bool

    /// Magnum's base rules (contract §7.2).
    public static let baseRules: [String: String] = [
        "context_is_admin": "role:admin",
        "admin_or_owner": "is_admin:True or project_id:%(project_id)s",
        "admin_or_user": "is_admin:True or user_id:%(user_id)s",
        "is_user": "user_id:%(user_id)s",
        "project_member": "role:member and project_id:%(project_id)s",
        "project_reader": "role:reader and project_id:%(project_id)s",
        "admin_or_project_reader": "(rule:context_is_admin) or (rule:project_reader)",
        "admin_or_project_member": "(rule:context_is_admin) or (rule:project_member)",
        "admin_or_project_member_user": "(rule:context_is_admin) or ((rule:project_member) and (rule:is_user))",
        "admin_or_project_member_user_or_cluster_user": "(rule:context_is_admin) or ((rule:project_member) and (rule:is_user))",
        "project_member_deny_cluster_user": "(rule:project_member)",
        "admin_or_project_member_deny_cluster_user": "(rule:context_is_admin) or (rule:project_member)",
        "project_reader_deny_cluster_user": "(rule:project_reader)",
        "admin_or_project_reader_deny_cluster_user": "(rule:context_is_admin) or (rule:project_reader)",
        "admin_or_project_reader_user": "(rule:context_is_admin) or ((rule:project_reader) and (rule:is_user))",
    ]

    /// Magnum's API rules and their defaults (contract §7.3).
    public static let apiRules: [String: String] = {
        var r: [String: String] = [:]
        func set(_ prefix: String, _ names: [String], _ check: String) {
            for name in names { r["\(prefix):\(name)"] = check }
        }
        let admin = "rule:context_is_admin"
        let memberDeny = "rule:admin_or_project_member_deny_cluster_user"
        let readerDeny = "rule:admin_or_project_reader_deny_cluster_user"
        let member = "rule:admin_or_project_member"
        let reader = "rule:admin_or_project_reader"

        set("cluster", ["create", "delete", "update", "resize", "upgrade"], memberDeny)
        set("cluster", ["detail", "get", "get_all"], readerDeny)
        set("cluster", ["delete_all_projects", "detail_all_projects", "get_one_all_projects",
                        "get_all_all_projects", "update_all_projects", "upgrade_all_projects"], admin)
        set("cluster", ["update_health_status"], "rule:admin_or_project_member_user_or_cluster_user")

        set("clustertemplate", ["create"], memberDeny)
        set("clustertemplate", ["delete", "update"], member)
        set("clustertemplate", ["detail", "get", "get_all"], readerDeny)
        set("clustertemplate", ["delete_all_projects", "detail_all_projects", "get_one_all_projects",
                                "get_all_all_projects", "update_all_projects", "publish"], admin)

        set("nodegroup", ["get", "get_all"], reader)
        set("nodegroup", ["get_all_all_projects", "get_one_all_projects"], admin)
        set("nodegroup", ["create", "delete", "update"], member)

        set("certificate", ["create"], "rule:admin_or_project_member_user")
        set("certificate", ["get"], "rule:admin_or_project_reader_user")
        set("certificate", ["rotate_ca"], member)
        set("credential", ["rotate"], "rule:project_member_deny_cluster_user")

        set("federation", ["create", "delete", "update"], memberDeny)
        set("federation", ["get", "get_all", "detail"], readerDeny)

        set("magnum-service", ["get_all"], admin)
        set("quota", ["create", "delete", "get_all", "update"], admin)
        set("quota", ["get"], reader)
        set("stats", ["get_all"], reader)
        return r
    }()

    /// Every default rule: base and API rules.
    public static var defaultRules: [String: String] {
        baseRules.merging(apiRules) { base, _ in base }
    }

    /// The parsed defaults. They are constants checked by the tests; a default that failed to
    /// parse would deny (`!`) rather than crash.
    static let parsedDefaults: [String: PolicyCheck] =
        defaultRules.mapValues { (try? PolicyCheck.parse($0)) ?? .never }

    /// The default policy with `overrides` (rule name → check string) replacing or adding rules.
    /// - Throws: `PolicyError.parse` naming an override that does not parse.
    public init(overrides: [String: String] = [:], enforceScope: Bool = true) throws {
        var rules = Self.parsedDefaults
        for (name, check) in try PolicyRuleSet(parsing: overrides).rules { rules[name] = check }
        ruleSet = PolicyRuleSet(rules: rules)
        self.enforceScope = enforceScope
    }

    /// The default policy, overridden by the rules in `overridesFile` (YAML or JSON, a mapping of
    /// rule name → check string) when given.
    /// - Throws: `PolicyError.file` for an unreadable or malformed file, `PolicyError.parse` for
    ///   a rule that does not parse.
    public static func load(overridesFile: String?, enforceScope: Bool = true) throws -> OsloPolicy {
        guard let path = overridesFile else { return try OsloPolicy(enforceScope: enforceScope) }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw PolicyError.file(path: path, reason: "cannot be read (\(error.localizedDescription))")
        }
        return try OsloPolicy(overrides: parseOverrides(text, path: path), enforceScope: enforceScope)
    }

    /// Rule name → check string from the text of a policy file. An empty document or a null value
    /// (`rule:` with nothing after it) is the empty check string, which oslo treats as "always".
    /// A list value is oslo's legacy list form: a list of alternatives, each a list of checks
    /// that must all pass.
    /// - Throws: `PolicyError.file` when the text is not a mapping of names to rules.
    public static func parseOverrides(_ text: String, path: String) throws -> [String: String] {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw PolicyError.file(path: path, reason: "is not valid YAML or JSON: \(error)")
        }
        guard let root else { return [:] }
        if root.null != nil { return [:] }
        guard let mapping = root.mapping else {
            throw PolicyError.file(path: path, reason: "must be a mapping of rule names to check strings")
        }
        var out: [String: String] = [:]
        for (key, value) in mapping {
            guard let name = key.scalar?.string, !name.isEmpty else {
                throw PolicyError.file(path: path, reason: "rule names must be strings")
            }
            out[name] = try checkString(value, rule: name, path: path)
        }
        return out
    }

    /// True for a scalar that YAML reads as a string: quoted, or plain and not a bool or number.
    private static func isString(_ node: Node) -> Bool {
        guard let scalar = node.scalar else { return false }
        if scalar.style != .plain { return true }
        return node.bool == nil && node.int == nil && node.float == nil
    }

    /// The check string of one policy-file value.
    private static func checkString(_ node: Node, rule: String, path: String) throws -> String {
        if node.null != nil { return "" }
        if let scalar = node.scalar {
            guard isString(node) else {
                throw PolicyError.file(path: path, reason: "rule \(rule) must be a check string, not \(scalar.string)")
            }
            return scalar.string
        }
        if let alternatives = node.sequence {
            // Legacy list form (oslo's `_parse_list_rule`): [[a, b], [c]] = (a and b) or c; a bare
            // string entry is a one-check alternative, so [a, b] = a or b; [] passes, [[]] fails.
            var ors: [String] = []
            for alternative in alternatives {
                let checks: [Node] = alternative.sequence.map(Array.init) ?? [alternative]
                var ands: [String] = []
                for check in checks {
                    guard let s = check.scalar, isString(check), !s.string.contains(where: \.isWhitespace) else {
                        throw PolicyError.file(path: path, reason: "rule \(rule): list entries must be single checks")
                    }
                    ands.append(s.string)
                }
                if !ands.isEmpty { ors.append("(" + ands.joined(separator: " and ") + ")") }
            }
            if alternatives.isEmpty { return "" }
            return ors.isEmpty ? "!" : ors.joined(separator: " or ")
        }
        throw PolicyError.file(path: path, reason: "rule \(rule) must be a check string")
    }

    /// True when `rule` allows `context` on `target`; an undefined rule is denied, and so is a
    /// system-scoped token on an API rule when scope is enforced.
    public func allows(_ rule: String, _ context: RequestContext, target: PolicyTarget) -> Bool {
        if enforceScope, context.systemScope, Self.apiRules[rule] != nil { return false }
        return ruleSet.allows(rule, context, target: target)
    }
}
