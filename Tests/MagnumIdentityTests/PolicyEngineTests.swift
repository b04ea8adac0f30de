import Foundation
import MagnumCore
@testable import MagnumIdentity
import XCTest

/// The oslo.policy rule language: parsing and evaluation.
final class PolicyLanguageTests: XCTestCase {
    /// Evaluates `text` against a rule set made of `rules` plus `context_is_admin: role:admin`.
    private func check(_ text: String, roles: Set<String> = [], project: String? = "p1", user: String? = "u1",
                       domain: String? = nil, system: Bool = false, target: PolicyTarget? = nil,
                       rules: [String: String] = [:], file: StaticString = #filePath, line: UInt = #line) -> Bool
    {
        do {
            var all = ["context_is_admin": "role:admin"].merging(rules) { _, new in new }
            all["under_test"] = text
            let set = try PolicyRuleSet(parsing: all)
            let context = RequestContext(userID: user, projectID: project, roles: roles, domainID: domain, systemScope: system)
            return set.allows("under_test", context, target: target ?? PolicyTarget(caller: context))
        } catch {
            XCTFail("\(error)", file: file, line: line)
            return false
        }
    }

    func testAlwaysNeverEmpty() {
        XCTAssertTrue(check("@"))
        XCTAssertFalse(check("!"))
        XCTAssertTrue(check(""))
        XCTAssertTrue(check("   "))
        XCTAssertEqual(try PolicyCheck.parse(""), .always)
    }

    func testRoleCheck() {
        XCTAssertTrue(check("role:member", roles: ["member"]))
        XCTAssertTrue(check("role:Member", roles: ["member"]), "roles compare case-insensitively")
        XCTAssertFalse(check("role:member", roles: ["reader"]))
        XCTAssertFalse(check("role:member"))
    }

    func testOperators() {
        XCTAssertTrue(check("role:a and role:b", roles: ["a", "b"]))
        XCTAssertFalse(check("role:a and role:b", roles: ["a"]))
        XCTAssertTrue(check("role:a or role:b", roles: ["b"]))
        XCTAssertFalse(check("role:a or role:b", roles: ["c"]))
        XCTAssertTrue(check("not role:a", roles: ["b"]))
        XCTAssertFalse(check("not role:a", roles: ["a"]))
        XCTAssertTrue(check("not not role:a", roles: ["a"]))
        XCTAssertTrue(check("role:a AND role:b", roles: ["a", "b"]), "keywords are case-insensitive")
        XCTAssertTrue(check("@ and @ and @"))
        XCTAssertFalse(check("@ and @ and !"))
        XCTAssertTrue(check("! or ! or @"))
    }

    func testPrecedence() throws {
        // `or` binds loosest: a or b and c == a or (b and c).
        XCTAssertTrue(check("role:a or role:b and role:c", roles: ["a"]))
        XCTAssertFalse(check("role:a or role:b and role:c", roles: ["b"]))
        XCTAssertEqual(try PolicyCheck.parse("role:a or role:b and role:c"),
                       .or([.role("a"), .and([.role("b"), .role("c")])]))
        XCTAssertEqual(try PolicyCheck.parse("role:a and role:b or role:c"),
                       .or([.and([.role("a"), .role("b")]), .role("c")]))
        // `not` binds tighter than `and`: not a and b == (not a) and b.
        XCTAssertEqual(try PolicyCheck.parse("not role:a and role:b"), .and([.not(.role("a")), .role("b")]))
        XCTAssertTrue(check("not role:a and role:b", roles: ["b"]))
        XCTAssertFalse(check("not role:a and role:b", roles: []))
        XCTAssertFalse(check("not role:a or role:b", roles: ["a"]))
        XCTAssertTrue(check("not role:a or role:b", roles: ["a", "b"]))
    }

    func testParentheses() throws {
        XCTAssertEqual(try PolicyCheck.parse("(role:a or role:b) and role:c"),
                       .and([.or([.role("a"), .role("b")]), .role("c")]))
        XCTAssertFalse(check("(role:a or role:b) and role:c", roles: ["a"]))
        XCTAssertTrue(check("(role:a or role:b) and role:c", roles: ["a", "c"]))
        XCTAssertTrue(check("not (role:a and role:b)", roles: ["a"]))
        XCTAssertFalse(check("not (role:a or role:b)", roles: ["a"]))
        XCTAssertTrue(check("((role:a))", roles: ["a"]))
        XCTAssertTrue(check("( role:a )", roles: ["a"]))
    }

    func testTargetChecks() {
        let own = PolicyTarget(projectID: "p1", userID: "u1")
        let other = PolicyTarget(projectID: "p2", userID: "u2")
        XCTAssertTrue(check("project_id:%(project_id)s", target: own))
        XCTAssertFalse(check("project_id:%(project_id)s", target: other))
        XCTAssertTrue(check("user_id:%(user_id)s", target: own))
        XCTAssertFalse(check("user_id:%(user_id)s", target: other))
        // A target key that is absent fails, as does a credential that is absent.
        XCTAssertFalse(check("project_id:%(project_id)s", target: PolicyTarget(projectID: nil, userID: "u1")))
        XCTAssertFalse(check("project_id:%(project_id)s", project: nil, target: own))
        XCTAssertFalse(check("project_id:%(nothing)s", target: own))
        // Substitution inside a role check.
        XCTAssertTrue(check("role:%(project_id)s", roles: ["p1"], target: own))
        XCTAssertEqual(PolicyRuleSet.substitute("a-%(x)s-%%-%(y)s", ["x": "1", "y": "2"]), "a-1-%-2")
        XCTAssertNil(PolicyRuleSet.substitute("%(x)s", [:]))
    }

    func testLiteralChecks() {
        XCTAssertTrue(check("domain_id:xyz", domain: "xyz"))
        XCTAssertFalse(check("domain_id:xyz", domain: "abc"))
        XCTAssertFalse(check("domain_id:xyz"))
        XCTAssertTrue(check("user_id:u1"))
        XCTAssertTrue(check("system_scope:all", project: nil, system: true))
        XCTAssertFalse(check("system_scope:all"))
        // A literal kind compares with the (substituted) match.
        XCTAssertTrue(check("'p1':%(project_id)s"))
        XCTAssertFalse(check("'p2':%(project_id)s"))
        XCTAssertTrue(check("True:True"))
        XCTAssertTrue(check("unknown_attribute:x") == false)
    }

    func testIsAdmin() {
        XCTAssertTrue(check("is_admin:True", roles: ["admin"]))
        XCTAssertFalse(check("is_admin:True", roles: ["member"]))
        XCTAssertTrue(check("is_admin:False", roles: ["member"]))
        // is_admin follows an overridden context_is_admin.
        XCTAssertTrue(check("is_admin:True", roles: ["cloud-admin"], rules: ["context_is_admin": "role:cloud-admin"]))
        XCTAssertFalse(check("is_admin:True", roles: ["admin"], rules: ["context_is_admin": "role:cloud-admin"]))
        // A context_is_admin that refers to is_admin does not recurse: is_admin is absent there.
        XCTAssertFalse(check("is_admin:True", roles: ["member"], rules: ["context_is_admin": "is_admin:True"]))
        XCTAssertTrue(check("is_admin:True", roles: ["admin"], rules: ["context_is_admin": "is_admin:True or role:admin"]))
        // Without a context_is_admin rule nobody is admin.
        let set = PolicyRuleSet(rules: ["x": .generic(kind: "is_admin", match: "True")])
        XCTAssertFalse(set.allows("x", RequestContext(userID: "u", projectID: "p", roles: ["admin"]), target: PolicyTarget(projectID: "p", userID: "u")))
    }

    func testRuleReferences() {
        XCTAssertTrue(check("rule:r", roles: ["a"], rules: ["r": "role:a"]))
        XCTAssertFalse(check("rule:r", roles: ["b"], rules: ["r": "role:a"]))
        XCTAssertFalse(check("rule:missing"), "an undefined rule fails")
        XCTAssertTrue(check("not rule:missing"))
        // Cycles fail instead of recursing forever.
        XCTAssertFalse(check("rule:a", roles: ["x"], rules: ["a": "rule:b", "b": "rule:a"]))
        XCTAssertTrue(check("rule:a", roles: ["x"], rules: ["a": "rule:b or role:x", "b": "rule:a"]))
    }

    func testParseErrors() {
        for bad in ["role:a and", "and role:a", "(role:a", "role:a)", "role:a role:b", "not", "()", "admin",
                    "role:a or or role:b", "'quoted'", ":x"]
        {
            XCTAssertThrowsError(try PolicyCheck.parse(bad), bad)
        }
        XCTAssertThrowsError(try PolicyRuleSet(parsing: ["cluster:create": "role:a and"])) { error in
            XCTAssertTrue("\(error)".contains("cluster:create"), "\(error)")
        }
    }
}

/// `OsloPolicy`: Magnum's defaults, their equivalence with `DefaultPolicy`, and override files.
final class OsloPolicyTests: XCTestCase {
    private func context(_ roles: Set<String>, project: String? = "p1", user: String? = "u1") -> RequestContext {
        RequestContext(userID: user, projectID: project, roles: roles)
    }

    func testDefaultsParse() throws {
        for (name, text) in OsloPolicy.defaultRules {
            XCTAssertNoThrow(try PolicyCheck.parse(text), name)
            XCTAssertNotEqual(OsloPolicy.parsedDefaults[name], .never, name)
        }
        // Every rule a default refers to is defined.
        func references(_ check: PolicyCheck) -> [String] {
            switch check {
            case let .rule(name): return [name]
            case let .not(c): return references(c)
            case let .and(cs), let .or(cs): return cs.flatMap(references)
            default: return []
            }
        }
        for (name, check) in OsloPolicy.parsedDefaults {
            for ref in references(check) { XCTAssertNotNil(OsloPolicy.parsedDefaults[ref], "\(name) → \(ref)") }
        }
        XCTAssertEqual(OsloPolicy.defaultRules["cluster:create"], "rule:admin_or_project_member_deny_cluster_user")
        XCTAssertEqual(OsloPolicy.defaultRules["admin_or_project_reader"], "(rule:context_is_admin) or (rule:project_reader)")
    }

    /// Table-driven: with no overrides OsloPolicy answers as DefaultPolicy for every rule.
    func testEquivalenceWithDefaultPolicy() throws {
        let oslo = try OsloPolicy.load(overridesFile: nil)
        let reference = DefaultPolicy()
        let contexts: [(String, RequestContext)] = [
            ("admin", context(["admin"])),
            ("admin+member", context(["admin", "member", "reader"])),
            ("member p1", context(["member", "reader"])),
            ("member-only p1", context(["member"])),
            ("reader p1", context(["reader"])),
            ("member p2", context(["member", "reader"], project: "p2", user: "u2")),
            ("no roles", context([])),
            ("no project", context(["member", "reader"], project: nil)),
        ]
        let targets: [(String, PolicyTarget?)] = [
            ("caller", nil),
            ("own project, own user", PolicyTarget(projectID: "p1", userID: "u1")),
            ("own project, other user", PolicyTarget(projectID: "p1", userID: "u9")),
            ("other project, own user", PolicyTarget(projectID: "p2", userID: "u1")),
            ("other project, other user", PolicyTarget(projectID: "p3", userID: "u9")),
            ("no owner", PolicyTarget(projectID: nil, userID: nil)),
        ]
        let allProjects = OsloPolicy.apiRules.keys.filter { $0.hasSuffix("_all_projects") }
        let ruleNames = Array(DefaultPolicy.rules.keys) + allProjects
        XCTAssertGreaterThan(ruleNames.count, 50)
        var compared = 0
        for rule in ruleNames.sorted() {
            XCTAssertNotNil(OsloPolicy.apiRules[rule], "\(rule) has no oslo default")
            for (cName, ctx) in contexts {
                for (tName, target) in targets {
                    let t = target ?? PolicyTarget(caller: ctx)
                    XCTAssertEqual(oslo.allows(rule, ctx, target: t), reference.allows(rule, ctx, target: t),
                                   "\(rule) for \(cName) on \(tName)")
                    compared += 1
                }
            }
        }
        XCTAssertEqual(compared, ruleNames.count * contexts.count * targets.count)
    }

    func testSpotChecks() throws {
        let policy = try OsloPolicy()
        let member = context(["member", "reader"])
        let own = PolicyTarget(projectID: "p1", userID: "u1")
        let other = PolicyTarget(projectID: "p2", userID: "u2")
        XCTAssertTrue(policy.allows("cluster:create", member, target: own))
        XCTAssertFalse(policy.allows("cluster:delete", member, target: other))
        XCTAssertTrue(policy.allows("cluster:delete", context(["admin"]), target: other))
        XCTAssertFalse(policy.allows("credential:rotate", context(["admin"]), target: other), "no admin bypass")
        XCTAssertFalse(policy.allows("certificate:get", member, target: PolicyTarget(projectID: "p1", userID: "u2")))
        XCTAssertFalse(policy.allows("cluster:get_all_all_projects", member, target: own))
        XCTAssertTrue(policy.allows("cluster:get_all_all_projects", context(["admin"]), target: own))
        XCTAssertFalse(policy.allows("no:such_rule", context(["admin"]), target: own), "an unregistered rule is denied")
        XCTAssertThrowsError(try policy.enforce("quota:create", member))
    }

    private func write(_ text: String, name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("magnum-policy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func testYAMLOverride() throws {
        let path = try write("""
        # operators only may create clusters
        "cluster:create": "role:admin"
        stats:get_all: '@'
        custom:rule: role:auditor or rule:context_is_admin
        """, name: "policy.yaml")
        let policy = try OsloPolicy.load(overridesFile: path)
        let member = context(["member", "reader"])
        XCTAssertFalse(policy.allows("cluster:create", member, target: PolicyTarget(caller: member)))
        XCTAssertTrue(policy.allows("cluster:create", context(["admin"]), target: PolicyTarget(caller: member)))
        XCTAssertTrue(policy.allows("stats:get_all", context([]), target: PolicyTarget(projectID: "p9", userID: nil)))
        XCTAssertTrue(policy.allows("custom:rule", context(["auditor"]), target: PolicyTarget(caller: member)))
        // Untouched defaults stay.
        XCTAssertTrue(policy.allows("cluster:delete", member, target: PolicyTarget(projectID: "p1", userID: "u9")))
    }

    func testBaseRuleOverrideChangesDependentRules() throws {
        let path = try write(#"{"context_is_admin": "role:cloud_admin", "project_member": "role:editor and project_id:%(project_id)s"}"#,
                             name: "policy.json")
        let policy = try OsloPolicy.load(overridesFile: path)
        let own = PolicyTarget(projectID: "p1", userID: "u1")
        XCTAssertFalse(policy.allows("quota:create", context(["admin"]), target: own))
        XCTAssertTrue(policy.allows("quota:create", context(["cloud_admin"]), target: own))
        XCTAssertFalse(policy.allows("cluster:update", context(["member"]), target: own))
        XCTAssertTrue(policy.allows("cluster:update", context(["editor"]), target: own))
    }

    func testNullEmptyAndListValues() throws {
        let overrides = try OsloPolicy.parseOverrides("""
        a:
        b: ""
        c: [["role:x", "role:y"], ["role:z"]]
        d: ["role:x", "role:z"]
        e: []
        f: [[]]
        """, path: "inline")
        XCTAssertEqual(overrides["a"], "")
        XCTAssertEqual(overrides["b"], "")
        XCTAssertEqual(overrides["c"], "(role:x and role:y) or (role:z)")
        XCTAssertEqual(overrides["d"], "(role:x) or (role:z)")
        XCTAssertEqual(overrides["e"], "")
        XCTAssertEqual(overrides["f"], "!")
        XCTAssertEqual(try OsloPolicy.parseOverrides("", path: "empty"), [:])
        XCTAssertEqual(try OsloPolicy.parseOverrides("{}", path: "empty"), [:])
    }

    func testBadOverridesFailToLoad() throws {
        let bad = try write("\"cluster:create\": \"role:admin and (role:member\"\n", name: "bad.yaml")
        XCTAssertThrowsError(try OsloPolicy.load(overridesFile: bad)) { error in
            guard case let .parse(rule, _, _)? = error as? PolicyError else { return XCTFail("\(error)") }
            XCTAssertEqual(rule, "cluster:create")
            XCTAssertTrue("\(error)".contains("cluster:create"), "\(error)")
        }
        for (text, name) in [("- role:admin\n", "list.yaml"), ("a: 42\n", "number.yaml"),
                             ("a: {b: c}\n", "nested.yaml"), ("a: [\n", "broken.yaml")]
        {
            let path = try write(text, name: name)
            XCTAssertThrowsError(try OsloPolicy.load(overridesFile: path), name) { error in
                guard case .file? = error as? PolicyError else { return XCTFail("\(name): \(error)") }
            }
        }
        XCTAssertThrowsError(try OsloPolicy.load(overridesFile: "/nonexistent/policy.yaml")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/policy.yaml"), "\(error)")
        }
    }

    /// `[oslo_policy] enforce_scope`: the API rules are project-scoped; a system-scoped admin is
    /// refused by them when scope is enforced (the default), and judged by roles alone when not.
    func testSystemScopedTokensAndEnforceScope() throws {
        let systemAdmin = RequestContext(userID: "u-sys", projectID: nil, roles: ["admin", "member", "reader"], systemScope: true)
        let projectAdmin = RequestContext(userID: "u-adm", projectID: "p-adm", roles: ["admin", "member", "reader"])
        let enforced = try OsloPolicy()
        XCTAssertTrue(enforced.enforceScope, "enforced by default")
        let relaxed = try OsloPolicy(enforceScope: false)
        for rule in ["cluster:get_all", "clustertemplate:create", "magnum-service:get_all", "quota:create", "stats:get_all"] {
            let target = PolicyTarget(caller: systemAdmin)
            XCTAssertFalse(enforced.allows(rule, systemAdmin, target: target), rule)
            XCTAssertTrue(relaxed.allows(rule, systemAdmin, target: target), rule)
            XCTAssertTrue(enforced.allows(rule, projectAdmin, target: PolicyTarget(caller: projectAdmin)), rule)
        }
        // Base rules are not scoped: they are building blocks, not API operations.
        XCTAssertTrue(enforced.allows("context_is_admin", systemAdmin, target: PolicyTarget(caller: systemAdmin)))
        // The option survives loading a policy file.
        let path = try write("\"cluster:get_all\": \"@\"\n", name: "open.yaml")
        XCTAssertFalse(try OsloPolicy.load(overridesFile: path).allows("cluster:get_all", systemAdmin, target: PolicyTarget(caller: systemAdmin)))
        XCTAssertTrue(try OsloPolicy.load(overridesFile: path, enforceScope: false).allows("cluster:get_all", systemAdmin, target: PolicyTarget(caller: systemAdmin)))
    }
}
