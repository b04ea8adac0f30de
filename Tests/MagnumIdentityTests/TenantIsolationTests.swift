import Foundation
import MagnumAPI
import MagnumCore
import MagnumIdentity
import MagnumStore
import MagnumTestSupport
import XCTest

/// The tenant-isolation matrix: every endpoint × {admin, member, reader, other-project member,
/// system-scoped admin} on resources owned by `demo-project`, asserting the contract's answers
/// (§1.5, §3.2, §3.3, §4, §5.4, §7.1, §7.3, §7.4): another project's resource is reported as 404
/// ("… could not be found."), a visible resource the rules refuse as 403 ("Policy doesn't allow
/// <rule> to be performed."). Lists are checked for what each caller *sees*.
///
/// The matrix runs with Core's `DefaultPolicy` and with the production `OsloPolicy`, each on
/// SQLite and (with `MAGNUM_TEST_DATABASE_URL`) PostgreSQL, so the two rule tables cannot drift
/// apart.
///
/// Certificates (`/v1/certificates`, §4.5) are not implemented yet and are left out of the
/// matrix; their rows (admin limited to its own project, `certificate:get`/`create` also
/// requiring the cluster's user) belong here once they are.
final class TenantIsolationTests: XCTestCase {
    typealias Token = APIHarness.Token
    typealias Reply = APIHarness.Reply

    /// The callers of every row, in the order they are tried.
    static let callers: [Token] = [.admin, .demo, .reader, .other, .systemAdmin]
    static let apiAddress = "https://198.18.0.2:6443"
    static let latest = "latest"

    /// The project of a caller's token (nil: the system-scoped token has none).
    static func project(of token: Token) -> String? {
        switch token {
        case .admin: return "admin-project"
        case .demo, .demo2, .reader: return "demo-project"
        case .other: return "other-project"
        case .systemAdmin: return nil
        }
    }

    // MARK: The matrix's vocabulary

    /// What one caller must get from one row.
    enum Expect {
        /// Success with this status; the row's `check` then looks at the body.
        case ok(Int)
        /// 404 "<kind> <target id> could not be found." — another project's resource (§1.5).
        case notFound(String)
        /// 403 "Policy doesn't allow <rule> to be performed." (§3.1 (d)).
        case policy(String)
        /// Any other error status with its exact detail.
        case error(Int, String)
        /// A 403 policy refusal, whichever rule refuses first: for the system-scoped token where
        /// the contract does not pin which rule is evaluated first (§7.1: every API rule is
        /// project-scoped and refuses it).
        case anyPolicy
    }

    /// The request methods of the matrix.
    enum Verb: String { case get = "GET", post = "POST", patch = "PATCH", delete = "DELETE" }

    /// The resource a row addresses for one caller: its path and the identifier a 404 names.
    struct Target {
        var path: String
        var id: String
    }

    /// One reply to look at, with everything a body check needs.
    struct Seen {
        let reply: Reply
        let fixture: Fixture
        let token: Token
        let target: Target
        let context: String
    }

    /// One row of the matrix: a request and the expected answer for each caller.
    struct Row {
        let name: String
        let verb: Verb
        let version: String?
        /// The request body for a target (nil: none).
        let body: (Fixture, Target) -> JSON?
        /// Builds the target for one caller, creating fresh resources when the row changes them.
        let target: (Fixture, Token) async throws -> Target
        let expect: [Token: Expect]
        /// Looks at a successful reply (what a list shows the caller, which object came back).
        let check: ((Seen) async throws -> Void)?

        init(_ name: String, _ verb: Verb, version: String? = nil, body: JSON? = nil,
             bodyFor: ((Fixture, Target) -> JSON?)? = nil,
             target: @escaping (Fixture, Token) async throws -> Target,
             admin: Expect, demo: Expect, reader: Expect, other: Expect, system: Expect,
             check: ((Seen) async throws -> Void)? = nil)
        {
            self.name = name
            self.verb = verb
            self.version = version
            self.body = bodyFor ?? { _, _ in body }
            self.target = target
            expect = [.admin: admin, .demo: demo, .reader: reader, .other: other, .systemAdmin: system]
            self.check = check
        }

        /// A row whose target does not depend on the caller.
        init(_ name: String, _ verb: Verb, version: String? = nil, body: JSON? = nil, path: @escaping (Fixture) -> Target,
             admin: Expect, demo: Expect, reader: Expect, other: Expect, system: Expect,
             check: ((Seen) async throws -> Void)? = nil)
        {
            self.init(name, verb, version: version, body: body, target: { f, _ in path(f) },
                      admin: admin, demo: demo, reader: reader, other: other, system: system, check: check)
        }
    }

    // MARK: Fixture: resources owned by demo-project

    /// The shared resources of one database, all owned by `demo-project`, and the makers of
    /// fresh ones for rows that change or delete what they address.
    struct Fixture {
        let h: APIHarness
        /// A private template (the shared cluster's).
        let template: String
        /// A public template.
        let publicTemplate: String
        /// A public and hidden template.
        let hiddenTemplate: String
        /// A CREATE_COMPLETE cluster with an API address.
        let cluster: String
        /// A federation hosted by `cluster`.
        let federation: String

        static func make(_ h: APIHarness) async throws -> Fixture {
            // A local Swarm-mode template: its driver supports every operation the matrix sends
            // (the Heat driver refuses upgrades before policy-independent state changes).
            let template = try await h.createTemplate(["name": "iso-private", "coe": "swarm-mode", "image_id": "local-swarm"])["uuid"]!.stringValue!
            let publicTemplate = try await h.createTemplate(["name": "iso-public"])["uuid"]!.stringValue!
            let hiddenTemplate = try await h.createTemplate(["name": "iso-hidden"])["uuid"]!.stringValue!
            let cluster = try await h.createCluster(template: template, ["name": "iso"])
            try await h.setClusterState(cluster, .createComplete, apiAddress: apiAddress)
            var f = Fixture(h: h, template: template, publicTemplate: publicTemplate, hiddenTemplate: hiddenTemplate,
                            cluster: cluster, federation: "")
            try await f.publish(publicTemplate, hidden: false)
            try await f.publish(hiddenTemplate, hidden: true)
            f = Fixture(h: h, template: template, publicTemplate: publicTemplate, hiddenTemplate: hiddenTemplate,
                        cluster: cluster, federation: try await f.freshFederation())
            try await f.ensureQuota()
            _ = try await h.store.write { try await $0.reportService(host: "ctl", binary: "magnum-conductor") }
            return f
        }

        /// Only an admin may make a template public or hidden (`clustertemplate:publish`).
        func publish(_ uuid: String, hidden: Bool) async throws {
            var ops: [JSON] = [["op": "replace", "path": "/public", "value": true]]
            if hidden { ops.append(["op": "replace", "path": "/hidden", "value": true]) }
            let r = try await h.request(.patch, "/v1/clustertemplates/\(uuid)", token: .admin, body: .array(ops))
            guard r.status == 200 else { throw HarnessError.unexpected(r.status, r.text) }
        }

        func freshTemplate(public isPublic: Bool = false) async throws -> String {
            let uuid = try await h.createTemplate(["name": "iso-fresh"])["uuid"]!.stringValue!
            if isPublic { try await publish(uuid, hidden: false) }
            return uuid
        }

        /// A fresh cluster of `template`, CREATE_COMPLETE with an API address, so every
        /// operation's state rule (§5.4) lets it through.
        func freshCluster() async throws -> String {
            let uuid = try await h.createCluster(template: template, ["name": "iso-fresh"])
            try await h.setClusterState(uuid, .createComplete, apiAddress: TenantIsolationTests.apiAddress)
            return uuid
        }

        /// A fresh cluster with a non-default nodegroup `extra` (defaults cannot be deleted).
        func freshClusterWithNodegroup() async throws -> String {
            let uuid = try await freshCluster()
            let r = try await h.request(.post, "/v1/clusters/\(uuid)/nodegroups", token: .demo, version: latest, body: ["name": "extra"])
            guard r.status == 202 else { throw HarnessError.unexpected(r.status, r.text) }
            return uuid
        }

        func freshFederation() async throws -> String {
            let r = try await h.request(.post, "/v1/federations", token: .demo,
                                        body: ["name": "iso-fed", "hostcluster_id": .string(cluster), "properties": ["dns-zone": "example.com."]])
            guard r.status == 202, let uuid = r.json?["uuid"]?.stringValue else { throw HarnessError.unexpected(r.status, r.text) }
            return uuid
        }

        /// demo-project's Cluster quota row exists (an earlier admin may have deleted it).
        func ensureQuota() async throws {
            try await h.store.write { session in
                if try await session.quota(projectID: "demo-project", resource: "Cluster") == nil {
                    _ = try await session.insert(Quota(projectID: "demo-project", resource: "Cluster", hardLimit: 1000))
                }
            }
        }

        /// demo-project has no quota row (so an admin's create succeeds).
        func removeQuota() async throws {
            try await h.store.write { session in
                if let q = try await session.quota(projectID: "demo-project", resource: "Cluster") {
                    try await session.deleteQuota(id: q.id)
                }
            }
        }
    }

    // MARK: List checks

    enum Kind { case template, cluster, federation }

    /// Whether a list may show `token` the item `uuid` (contract §7.4): admins see every
    /// project's templates and clusters; others their own project's, plus public, not hidden
    /// templates; federations are own-project only, even for admins.
    static func mayList(_ kind: Kind, _ uuid: String, _ token: Token, _ h: APIHarness) async throws -> Bool {
        let project = project(of: token)
        switch kind {
        case .template:
            guard let t = try await h.store.read({ try await $0.clusterTemplates(matching: .uuid(uuid), .everything).first }) else { return false }
            return token == .admin || (project != nil && t.projectID == project) || (t.isPublic && !t.hidden)
        case .cluster:
            guard let c = try await h.store.read({ try await $0.clusters(matching: .uuid(uuid), .everything).first }) else { return false }
            return token == .admin || (project != nil && c.projectID == project)
        case .federation:
            guard let f = try await h.store.read({ try await $0.federations(matching: .uuid(uuid), .everything).first }) else { return false }
            return project != nil && f.projectID == project
        }
    }

    /// A list check: every item is one the caller may see, the caller sees `mustSee`, and sees
    /// nothing at all when `empty` says so.
    static func list(_ key: String, _ kind: Kind, mustSee: @escaping (Fixture, Token) -> [String],
                     empty: @escaping (Token) -> Bool = { _ in false }) -> (Seen) async throws -> Void
    {
        { seen in
            guard let items = seen.reply.json?[key]?.arrayValue else {
                return XCTFail("\(seen.context): no \(key) list: \(seen.reply.text)")
            }
            let uuids = items.compactMap { $0["uuid"]?.stringValue }
            XCTAssertEqual(uuids.count, items.count, "\(seen.context): items without uuid")
            for uuid in uuids {
                let allowed = try await mayList(kind, uuid, seen.token, seen.fixture.h)
                XCTAssertTrue(allowed, "\(seen.context): shows \(uuid), which it must not see")
            }
            for uuid in mustSee(seen.fixture, seen.token) {
                XCTAssertTrue(uuids.contains(uuid), "\(seen.context): does not show \(uuid)")
            }
            if empty(seen.token) { XCTAssertEqual(uuids, [], "\(seen.context): must see an empty list") }
            // Detail objects name their project: a non-admin never sees another project's cluster.
            if kind == .cluster, seen.token != .admin {
                for item in items where item["project_id"] != nil {
                    XCTAssertEqual(item["project_id"]?.stringValue, project(of: seen.token), "\(seen.context)")
                }
            }
        }
    }

    /// A single-object check: the reply is the addressed object.
    static func isTarget(_ seen: Seen) async throws {
        XCTAssertEqual(seen.reply.json?["uuid"]?.stringValue, seen.target.id, "\(seen.context): \(seen.reply.text)")
    }

    /// What `/v1/stats` must count for a project (nil: every project): the clusters and the
    /// node counts of all their nodegroups, masters included (§4.8).
    static func stats(_ h: APIHarness, project: String?) async throws -> JSON {
        try await h.store.read { session in
            let vis = project.map { Visibility(projectID: $0, userID: nil, allProjects: false, includePublicTemplates: false) } ?? .everything
            let clusters = try await session.clusters(vis, sort: MagnumStore.SortOrder())
            var nodes = 0
            for c in clusters {
                nodes += try await session.nodegroups(clusterUUID: c.uuid, role: nil, sort: MagnumStore.SortOrder()).reduce(0) { $0 + $1.nodeCount }
            }
            return ["clusters": .int(clusters.count), "nodes": .int(nodes)]
        }
    }

    // MARK: The rows

    /// Every endpoint of contract §4.0 except certificates. Rows that change or delete what
    /// they address build a fresh resource per caller, so no row disturbs another; rows that
    /// create resources in other projects come last, so the lists before them can require
    /// `other` to see nothing at all.
    static var rows: [Row] {
        let templates = list("clustertemplates", .template, mustSee: { f, t in
            t == .other ? [f.publicTemplate] : [f.template, f.publicTemplate, f.hiddenTemplate]
        })
        let baymodels = list("baymodels", .template, mustSee: { f, t in
            t == .other ? [f.publicTemplate] : [f.template, f.publicTemplate, f.hiddenTemplate]
        })
        let clusters = list("clusters", .cluster, mustSee: { f, t in t == .other ? [] : [f.cluster] }, empty: { $0 == .other })
        let bays = list("bays", .cluster, mustSee: { f, t in t == .other ? [] : [f.cluster] }, empty: { $0 == .other })
        // Federations have no all-projects switch: the admin sees its own project's only (§7.4).
        let federations = list("federations", .federation, mustSee: { f, t in [.demo, .reader].contains(t) ? [f.federation] : [] },
                               empty: { [.admin, .other].contains($0) })
        let nodegroups: (Seen) async throws -> Void = { seen in
            let names = Set((seen.reply.json?["nodegroups"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue })
            XCTAssertEqual(names, ["default-master", "default-worker"], "\(seen.context): \(seen.reply.text)")
        }
        let defaultWorker: (Seen) async throws -> Void = { seen in
            XCTAssertEqual(seen.reply.json?["name"], "default-worker", "\(seen.context)")
            XCTAssertEqual(seen.reply.json?["cluster_id"]?.stringValue, seen.target.id, "\(seen.context)")
        }
        let acceptedTarget: (Seen) async throws -> Void = { seen in
            XCTAssertEqual(seen.reply.json, ["uuid": .string(seen.target.id)], "\(seen.context)")
        }
        let demoQuota: (Seen) async throws -> Void = { seen in
            XCTAssertEqual(seen.reply.json?["project_id"], "demo-project", "\(seen.context)")
            XCTAssertEqual(seen.reply.json?["resource"], "Cluster", "\(seen.context)")
            XCTAssertEqual(seen.reply.json?["hard_limit"], 1000, "\(seen.context): \(seen.reply.text)")
        }
        let clusterBody: (Fixture, Target) -> JSON? = { _, target in
            ["name": "iso-new", "cluster_template_id": .string(target.id), "master_count": 1, "node_count": 1]
        }
        let clusterPath: (Fixture) -> Target = { Target(path: "/v1/clusters/\($0.cluster)", id: $0.cluster) }
        let fresh: (String) -> (Fixture, Token) async throws -> Target = { suffix in
            { f, _ in
                let c = try await f.freshCluster()
                return Target(path: "/v1/clusters/\(c)\(suffix)", id: c)
            }
        }

        return [
            // MARK: Cluster templates (§4.1)
            Row("list templates", .get, path: { _ in Target(path: "/v1/clustertemplates", id: "") },
                admin: .ok(200), demo: .ok(200), reader: .ok(200), other: .ok(200), system: .policy("clustertemplate:get_all"),
                check: templates),
            Row("list templates (detail)", .get, path: { _ in Target(path: "/v1/clustertemplates/detail", id: "") },
                admin: .ok(200), demo: .ok(200), reader: .ok(200), other: .ok(200), system: .policy("clustertemplate:detail"),
                check: templates),
            Row("get private template", .get, path: { Target(path: "/v1/clustertemplates/\($0.template)", id: $0.template) },
                admin: .ok(200), demo: .ok(200), reader: .ok(200), other: .notFound("ClusterTemplate"),
                system: .policy("clustertemplate:get_one_all_projects"), check: isTarget),
            // Names resolve among the caller's visible templates only (§1.5): another project's
            // hidden template is not found by name either.
            Row("get hidden template by name", .get, path: { _ in Target(path: "/v1/clustertemplates/iso-hidden", id: "iso-hidden") },
                admin: .ok(200), demo: .ok(200), reader: .ok(200), other: .notFound("ClusterTemplate"),
                system: .policy("clustertemplate:get_one_all_projects"), check: { seen in
                    XCTAssertEqual(seen.reply.json?["uuid"]?.stringValue, seen.fixture.hiddenTemplate, "\(seen.context)")
                }),
            // A pagination marker must be visible (§1.8): another project's template is a 404.
            Row("list templates after a marker", .get, path: { Target(path: "/v1/clustertemplates?marker=\($0.template)", id: $0.template) },
                admin: .ok(200), demo: .ok(200), reader: .ok(200), other: .notFound("ClusterTemplate"),
                system: .policy("clustertemplate:get_all"), check: list("clustertemplates", .template, mustSee: { _, _ in [] })),
            // A public template skips `clustertemplate:get` (§4.1.4): every project reads it.
            Row("get public template", .get, path: { Target(path: "/v1/clustertemplates/\($0.publicTemplate)", id: $0.publicTemplate) },
                admin: .ok(200), demo: .ok(200), reader: .ok(200), other: .ok(200),
                system: .policy("clustertemplate:get_one_all_projects"), check: isTarget),
            // Public but hidden: another project's hidden template is not found (§4.1.4).
            Row("get hidden template", .get, path: { Target(path: "/v1/clustertemplates/\($0.hiddenTemplate)", id: $0.hiddenTemplate) },
                admin: .ok(200), demo: .ok(200), reader: .ok(200), other: .notFound("ClusterTemplate"),
                system: .policy("clustertemplate:get_one_all_projects"), check: isTarget),
            // The admin may patch another project's private template. §4.1.5 records that upstream
            // answers 404 here ([quirk], quirk 8: its validators look the template up without the
            // all-projects switch); §4.0 lists `clustertemplate:update_all_projects` for admins,
            // and an admin who can read and delete the template expects to patch it too.
            Row("patch private template", .patch, body: [["op": "replace", "path": "/name", "value": "iso-renamed"]],
                path: { Target(path: "/v1/clustertemplates/\($0.template)", id: $0.template) },
                admin: .ok(200), demo: .ok(200), reader: .policy("clustertemplate:update"), other: .notFound("ClusterTemplate"),
                system: .policy("clustertemplate:update_all_projects"), check: isTarget),
            // A public template is visible to other projects, so they get 403, not 404.
            Row("patch public template", .patch, body: [["op": "replace", "path": "/name", "value": "iso-public-renamed"]],
                path: { Target(path: "/v1/clustertemplates/\($0.publicTemplate)", id: $0.publicTemplate) },
                admin: .ok(200), demo: .ok(200), reader: .policy("clustertemplate:update"), other: .policy("clustertemplate:update"),
                system: .policy("clustertemplate:update_all_projects"), check: isTarget),
            Row("delete private template", .delete, target: { f, _ in
                let t = try await f.freshTemplate()
                return Target(path: "/v1/clustertemplates/\(t)", id: t)
            }, admin: .ok(204), demo: .ok(204), reader: .policy("clustertemplate:delete"), other: .notFound("ClusterTemplate"),
                system: .policy("clustertemplate:delete_all_projects")),
            Row("delete public template", .delete, target: { f, _ in
                let t = try await f.freshTemplate(public: true)
                return Target(path: "/v1/clustertemplates/\(t)", id: t)
            }, admin: .ok(204), demo: .ok(204), reader: .policy("clustertemplate:delete"), other: .policy("clustertemplate:delete"),
                system: .policy("clustertemplate:delete_all_projects")),

            // MARK: Legacy baymodels (§4.11): the template table under its old name. They share the
            // cluster template rules here (the contract names `baymodel:*` rules, which neither rule
            // table defines), so the system-scoped refusal is not pinned to a rule name.
            Row("list baymodels", .get, path: { _ in Target(path: "/v1/baymodels", id: "") },
                admin: .ok(200), demo: .ok(200), reader: .ok(200), other: .ok(200), system: .anyPolicy, check: baymodels),
            Row("get private baymodel", .get, path: { Target(path: "/v1/baymodels/\($0.template)", id: $0.template) },
                admin: .ok(200), demo: .ok(200), reader: .ok(200), other: .notFound("ClusterTemplate"), system: .anyPolicy, check: isTarget),

            // MARK: Clusters (§4.2)
            Row("list clusters", .get, path: { _ in Target(path: "/v1/clusters", id: "") },
                admin: .ok(200), demo: .ok(200), reader: .ok(200), other: .ok(200), system: .policy("cluster:get_all"), check: clusters),
            Row("list clusters (detail)", .get, path: { _ in Target(path: "/v1/clusters/detail", id: "") },
                admin: .ok(200), demo: .ok(200), reader: .ok(200), other: .ok(200), system: .policy("cluster:detail"), check: clusters),
            Row("get cluster", .get, path: clusterPath,
                admin: .ok(200), demo: .ok(200), reader: .ok(200), other: .notFound("Cluster"),
                system: .policy("cluster:get_one_all_projects"), check: isTarget),
            Row("get cluster by name", .get, path: { _ in Target(path: "/v1/clusters/iso", id: "iso") },
                admin: .ok(200), demo: .ok(200), reader: .ok(200), other: .notFound("Cluster"),
                system: .policy("cluster:get_one_all_projects"), check: { seen in
                    XCTAssertEqual(seen.reply.json?["uuid"]?.stringValue, seen.fixture.cluster, "\(seen.context)")
                }),
            Row("list clusters after a marker", .get, path: { Target(path: "/v1/clusters?marker=\($0.cluster)", id: $0.cluster) },
                admin: .ok(200), demo: .ok(200), reader: .ok(200), other: .notFound("Cluster"),
                system: .policy("cluster:get_all"), check: list("clusters", .cluster, mustSee: { _, _ in [] })),
            Row("patch cluster", .patch, version: latest, body: [["op": "replace", "path": "/node_count", "value": 2]], target: fresh(""),
                admin: .ok(202), demo: .ok(202), reader: .policy("cluster:update"), other: .notFound("Cluster"),
                system: .policy("cluster:update_all_projects"), check: acceptedTarget),
            Row("delete cluster", .delete, target: fresh(""),
                admin: .ok(204), demo: .ok(204), reader: .policy("cluster:delete"), other: .notFound("Cluster"),
                system: .policy("cluster:delete_all_projects")),

            // MARK: Cluster actions (§4.3)
            // Resize looks the cluster up in the caller's project only: the admin gets 404
            // (§4.3.1, §7.4), and so does a token without a project — the lookup comes before
            // `cluster:resize`, and such a token only sees clusters its own user created.
            Row("resize cluster", .post, version: latest, body: ["node_count": 2], target: fresh("/actions/resize"),
                admin: .notFound("Cluster"), demo: .ok(202), reader: .policy("cluster:resize"), other: .notFound("Cluster"),
                system: .notFound("Cluster"), check: acceptedTarget),
            Row("upgrade cluster", .post, version: latest, bodyFor: { f, _ in ["cluster_template": .string(f.template)] }, target: { f, _ in
                let c = try await f.freshCluster()
                return Target(path: "/v1/clusters/\(c)/actions/upgrade", id: c)
            }, admin: .ok(202), demo: .ok(202), reader: .policy("cluster:upgrade"), other: .notFound("Cluster"),
                system: .policy("cluster:upgrade_all_projects"), check: acceptedTarget),

            // MARK: Credentials (§4.6): `credential:rotate` is a role check on the caller with no
            // admin bypass; the lookup that follows is own-project only, so the admin (a member of
            // its own project) gets 404. The owner passes both and meets the driver's refusal.
            Row("rotate credentials", .patch, version: latest, path: { Target(path: "/v1/credentials/\($0.cluster)", id: $0.cluster) },
                admin: .notFound("Cluster"), demo: .error(400, "Credential rotation is not supported by driver."),
                reader: .policy("credential:rotate"), other: .notFound("Cluster"), system: .policy("credential:rotate")),

            // MARK: Legacy bays (§4.11): the cluster table, with the cluster rules (see baymodels).
            Row("list bays", .get, path: { _ in Target(path: "/v1/bays", id: "") },
                admin: .ok(200), demo: .ok(200), reader: .ok(200), other: .ok(200), system: .anyPolicy, check: bays),
            Row("get bay", .get, path: { Target(path: "/v1/bays/\($0.cluster)", id: $0.cluster) },
                admin: .ok(200), demo: .ok(200), reader: .ok(200), other: .notFound("Cluster"), system: .anyPolicy, check: isTarget),

            // MARK: Nodegroups (§4.4): list/get switch the admin to all projects; create, patch and
            // delete do not (§7.4), so the admin gets 404 there.
            Row("list nodegroups", .get, version: latest,
                path: { Target(path: "/v1/clusters/\($0.cluster)/nodegroups", id: $0.cluster) },
                admin: .ok(200), demo: .ok(200), reader: .ok(200), other: .notFound("Cluster"),
                system: .policy("nodegroup:get_all"), check: nodegroups),
            Row("get nodegroup", .get, version: latest,
                path: { Target(path: "/v1/clusters/\($0.cluster)/nodegroups/default-worker", id: $0.cluster) },
                admin: .ok(200), demo: .ok(200), reader: .ok(200), other: .notFound("Cluster"),
                system: .policy("nodegroup:get"), check: defaultWorker),
            Row("create nodegroup", .post, version: latest, body: ["name": "iso-ng"], target: fresh("/nodegroups"),
                admin: .notFound("Cluster"), demo: .ok(202), reader: .policy("nodegroup:create"), other: .notFound("Cluster"),
                system: .policy("nodegroup:create"), check: { seen in
                    XCTAssertEqual(seen.reply.json?["name"], "iso-ng", "\(seen.context)")
                    XCTAssertEqual(seen.reply.json?["cluster_id"]?.stringValue, seen.target.id, "\(seen.context)")
                    XCTAssertEqual(seen.reply.json?["project_id"], "demo-project", "\(seen.context)")
                }),
            // PATCH looks the cluster up before `nodegroup:update` (§4.4.4): a token without a
            // project finds no cluster.
            Row("patch nodegroup", .patch, version: latest, body: [["op": "replace", "path": "/max_node_count", "value": 5]],
                target: fresh("/nodegroups/default-worker"),
                admin: .notFound("Cluster"), demo: .ok(202), reader: .policy("nodegroup:update"), other: .notFound("Cluster"),
                system: .notFound("Cluster"), check: { seen in
                    XCTAssertEqual(seen.reply.json?["name"], "default-worker", "\(seen.context)")
                    XCTAssertEqual(seen.reply.json?["max_node_count"], 5, "\(seen.context)")
                }),
            Row("delete nodegroup", .delete, version: latest, target: { f, _ in
                let c = try await f.freshClusterWithNodegroup()
                return Target(path: "/v1/clusters/\(c)/nodegroups/extra", id: c)
            }, admin: .notFound("Cluster"), demo: .ok(204), reader: .policy("nodegroup:delete"), other: .notFound("Cluster"),
                system: .policy("nodegroup:delete")),

            // MARK: Quotas (§4.7): admin-only rules; reading a quota is a reader's right in its own
            // project, and another project's quota is 403 "Not authorized." (not 404).
            Row("list quotas", .get, path: { _ in Target(path: "/v1/quotas", id: "") },
                admin: .ok(200), demo: .policy("quota:get_all"), reader: .policy("quota:get_all"), other: .policy("quota:get_all"),
                system: .policy("quota:get_all"), check: { seen in
                    // Without all_tenants even the admin lists its own project's rows only.
                    let projects = (seen.reply.json?["quotas"]?.arrayValue ?? []).map { $0["project_id"]?.stringValue }
                    XCTAssertEqual(projects.filter { $0 != "admin-project" }, [], "\(seen.context): \(seen.reply.text)")
                }),
            Row("list quotas of all tenants", .get, target: { f, _ in
                try await f.ensureQuota()
                return Target(path: "/v1/quotas?all_tenants=true", id: "")
            }, admin: .ok(200), demo: .policy("quota:get_all"), reader: .policy("quota:get_all"), other: .policy("quota:get_all"),
                system: .policy("quota:get_all"), check: { seen in
                    let projects = (seen.reply.json?["quotas"]?.arrayValue ?? []).map { $0["project_id"]?.stringValue }
                    XCTAssertTrue(projects.contains("demo-project"), "\(seen.context): \(seen.reply.text)")
                }),
            Row("get quota", .get, target: { f, _ in
                try await f.ensureQuota()
                return Target(path: "/v1/quotas/demo-project/Cluster", id: "demo-project")
            }, admin: .ok(200), demo: .ok(200), reader: .ok(200), other: .error(403, "Not authorized."),
                system: .policy("quota:get"), check: demoQuota),
            Row("patch quota", .patch, body: ["hard_limit": 1000], target: { f, _ in
                try await f.ensureQuota()
                return Target(path: "/v1/quotas/demo-project/Cluster", id: "demo-project")
            }, admin: .ok(202), demo: .policy("quota:update"), reader: .policy("quota:update"), other: .policy("quota:update"),
                system: .policy("quota:update"), check: demoQuota),
            Row("delete quota", .delete, target: { f, _ in
                try await f.ensureQuota()
                return Target(path: "/v1/quotas/demo-project/Cluster", id: "demo-project")
            }, admin: .ok(204), demo: .policy("quota:delete"), reader: .policy("quota:delete"), other: .policy("quota:delete"),
                system: .policy("quota:delete")),
            Row("create quota", .post, body: ["project_id": "demo-project", "resource": "Cluster", "hard_limit": 1000], target: { f, _ in
                try await f.removeQuota()
                return Target(path: "/v1/quotas", id: "demo-project")
            }, admin: .ok(201), demo: .policy("quota:create"), reader: .policy("quota:create"), other: .policy("quota:create"),
                system: .policy("quota:create"), check: demoQuota),

            // MARK: Stats (§4.8): own project for non-admins (another → 403 "Not authorized."),
            // all projects for an admin that names none.
            Row("stats of demo-project", .get, path: { _ in Target(path: "/v1/stats?project_id=demo-project", id: "") },
                admin: .ok(200), demo: .ok(200), reader: .ok(200), other: .error(403, "Not authorized."),
                system: .policy("stats:get_all"), check: { seen in
                    let expected = try await stats(seen.fixture.h, project: "demo-project")
                    XCTAssertEqual(seen.reply.json, expected, "\(seen.context)")
                }),
            Row("stats of own scope", .get, path: { _ in Target(path: "/v1/stats", id: "") },
                admin: .ok(200), demo: .ok(200), reader: .ok(200), other: .ok(200),
                system: .policy("stats:get_all"), check: { seen in
                    let expected = try await stats(seen.fixture.h, project: seen.token == .admin ? nil : project(of: seen.token))
                    XCTAssertEqual(seen.reply.json, expected, "\(seen.context)")
                    if seen.token == .other { XCTAssertEqual(seen.reply.json, ["clusters": 0, "nodes": 0], "\(seen.context)") }
                    if seen.token != .other { XCTAssertNotEqual(seen.reply.json?["clusters"], 0, "\(seen.context)") }
                }),

            // MARK: Magnum services (§4.9)
            Row("list mservices", .get, path: { _ in Target(path: "/v1/mservices", id: "") },
                admin: .ok(200), demo: .policy("magnum-service:get_all"), reader: .policy("magnum-service:get_all"),
                other: .policy("magnum-service:get_all"), system: .policy("magnum-service:get_all"), check: { seen in
                    XCTAssertEqual(seen.reply.json?["mservices"]?.arrayValue?.count, 1, "\(seen.context)")
                }),

            // MARK: Federations (§4.10): own project only, for everyone (§7.4); the lookup comes
            // before the policy check on get/patch/delete.
            Row("list federations", .get, path: { _ in Target(path: "/v1/federations", id: "") },
                admin: .ok(200), demo: .ok(200), reader: .ok(200), other: .ok(200), system: .policy("federation:get_all"), check: federations),
            Row("list federations (detail)", .get, path: { _ in Target(path: "/v1/federations/detail", id: "") },
                admin: .ok(200), demo: .ok(200), reader: .ok(200), other: .ok(200), system: .policy("federation:detail"), check: federations),
            Row("get federation", .get, path: { Target(path: "/v1/federations/\($0.federation)", id: $0.federation) },
                admin: .notFound("Federation"), demo: .ok(200), reader: .ok(200), other: .notFound("Federation"),
                system: .notFound("Federation"), check: isTarget),
            Row("patch federation", .patch, body: [["op": "replace", "path": "/properties", "value": "{'dns-zone': 'iso.example.'}"]],
                path: { Target(path: "/v1/federations/\($0.federation)", id: $0.federation) },
                admin: .notFound("Federation"), demo: .ok(202), reader: .policy("federation:update"), other: .notFound("Federation"),
                system: .notFound("Federation"), check: acceptedTarget),
            Row("delete federation", .delete, target: { f, _ in
                let fed = try await f.freshFederation()
                return Target(path: "/v1/federations/\(fed)", id: fed)
            }, admin: .notFound("Federation"), demo: .ok(204), reader: .policy("federation:delete"), other: .notFound("Federation"),
                system: .notFound("Federation")),

            // MARK: Creates — last: they add resources to other projects.
            Row("create template", .post,
                body: ["name": "iso-new", "coe": "kubernetes", "image_id": "fedora-coreos-latest", "external_network_id": "public",
                       "flavor_id": "m1.small", "master_flavor_id": "m1.small", "keypair_id": "kp"],
                path: { _ in Target(path: "/v1/clustertemplates", id: "") },
                admin: .ok(201), demo: .ok(201), reader: .policy("clustertemplate:create"), other: .ok(201),
                system: .policy("clustertemplate:create"), check: { seen in
                    XCTAssertEqual(seen.reply.json?["project_id"]?.stringValue, project(of: seen.token), "\(seen.context)")
                }),
            // A public template is usable by every project; the new cluster belongs to the caller.
            Row("create cluster from a public template", .post, version: latest, bodyFor: clusterBody, target: { f, _ in
                Target(path: "/v1/clusters", id: f.publicTemplate)
            }, admin: .ok(202), demo: .ok(202), reader: .policy("cluster:create"), other: .ok(202), system: .anyPolicy,
                check: { seen in try await createdClusterBelongsToCaller(seen) }),
            // Another project's private template is not found (at µv ≥ 1.10 a 404, §4.2.2). The
            // admin may use it: §4.2.2 looks the template up with the visibility rules of §4.1.4,
            // where admins see every project's templates.
            Row("create cluster from a private template", .post, version: latest, bodyFor: clusterBody, target: { f, _ in
                Target(path: "/v1/clusters", id: f.template)
            }, admin: .ok(202), demo: .ok(202), reader: .policy("cluster:create"), other: .notFound("ClusterTemplate"), system: .anyPolicy,
                check: { seen in try await createdClusterBelongsToCaller(seen) }),
            // The host cluster is looked up in the caller's project: the admin too gets 404.
            Row("create federation", .post, bodyFor: { _, target in
                ["name": "iso-new-fed", "hostcluster_id": .string(target.id), "properties": ["dns-zone": "example.com."]]
            }, target: { f, _ in Target(path: "/v1/federations", id: f.cluster) },
                admin: .notFound("Cluster"), demo: .ok(202), reader: .policy("federation:create"), other: .notFound("Cluster"),
                system: .policy("federation:create")),
        ]
    }

    static func createdClusterBelongsToCaller(_ seen: Seen) async throws {
        guard let uuid = seen.reply.json?["uuid"]?.stringValue else { return XCTFail("\(seen.context): \(seen.reply.text)") }
        let c = try await seen.fixture.h.store.read { try await $0.clusters(matching: .uuid(uuid), .everything).first }
        XCTAssertEqual(c?.projectID, project(of: seen.token), "\(seen.context)")
        XCTAssertEqual(c?.clusterTemplateID, seen.target.id, "\(seen.context)")
    }

    // MARK: Running the matrix

    func send(_ h: APIHarness, _ verb: Verb, _ path: String, _ token: Token, version: String?, body: JSON?) async throws -> Reply {
        switch verb {
        case .get: return try await h.request(.get, path, token: token, version: version, body: body)
        case .post: return try await h.request(.post, path, token: token, version: version, body: body)
        case .patch: return try await h.request(.patch, path, token: token, version: version, body: body)
        case .delete: return try await h.request(.delete, path, token: token, version: version, body: body)
        }
    }

    /// Asserts the status and, for errors, the error body of the contract (§3.1 (a), (d)).
    func assertAnswer(_ r: Reply, _ expect: Expect, _ target: Target, _ context: String) {
        func error(_ status: Int, _ detail: String?) {
            XCTAssertEqual(r.status, status, "\(context): \(r.text)")
            let e = r.json?["errors"]?.arrayValue?.first
            XCTAssertEqual(e?["code"], "client", "\(context): \(r.text)")
            XCTAssertEqual(e?["status"], .int(status), "\(context): \(r.text)")
            if let detail { XCTAssertEqual(r.errorDetail, detail, "\(context)") }
        }
        switch expect {
        case .ok(let status):
            XCTAssertEqual(r.status, status, "\(context): \(r.text)")
        case .notFound(let kind):
            error(404, "\(kind) \(target.id) could not be found.")
        case .policy(let rule):
            error(403, "Policy doesn't allow \(rule) to be performed.")
        case .error(let status, let detail):
            error(status, detail)
        case .anyPolicy:
            error(403, nil)
            let detail = r.errorDetail ?? ""
            XCTAssertTrue(detail.hasPrefix("Policy doesn't allow ") && detail.hasSuffix(" to be performed."), "\(context): \(detail)")
        }
    }

    /// Runs every row for every caller on each database with `policy`; answers rows × callers.
    @discardableResult
    func runMatrix(policy: any PolicyEnforcer, label: String) async throws -> Int {
        var config = APIConfiguration()
        config.maxClustersPerProject = 1000
        var cells = 0
        try await APIHarness.withEach(config: config, policy: policy) { h in
            let fixture = try await Fixture.make(h)
            cells = 0
            for row in Self.rows {
                for token in Self.callers {
                    guard let expect = row.expect[token] else { XCTFail("\(row.name): no expectation for \(token)"); continue }
                    let context = "[\(label)/\(h.label)] \(row.verb.rawValue) \(row.name) as \(token)"
                    let target = try await row.target(fixture, token)
                    let r = try await send(h, row.verb, target.path, token, version: row.version, body: row.body(fixture, target))
                    assertAnswer(r, expect, target, context)
                    if case .ok(let status) = expect, r.status == status, let check = row.check {
                        try await check(Seen(reply: r, fixture: fixture, token: token, target: target, context: context))
                    }
                    cells += 1
                }
            }
        }
        return cells
    }

    /// An operator override that refuses an `*_all_projects` rule refuses the admin's request
    /// (upstream enforces the rule, §4.0): it does not quietly narrow the admin to its own
    /// project. Non-admins never evaluate those rules.
    func testRefusedAllProjectsRuleIsA403ForTheAdmin() async throws {
        let policy = try OsloPolicy(overrides: ["cluster:get_one_all_projects": "!", "cluster:get_all_all_projects": "!"])
        try await APIHarness.withEach(policy: policy) { h in
            let ct = try await h.createTemplate()["uuid"]!.stringValue!
            let c = try await h.createCluster(template: ct)
            let get = try await h.request(.get, "/v1/clusters/\(c)", token: .admin)
            XCTAssertEqual(get.status, 403, get.text)
            XCTAssertEqual(get.errorDetail, "Policy doesn't allow cluster:get_one_all_projects to be performed.")
            let list = try await h.request(.get, "/v1/clusters", token: .admin)
            XCTAssertEqual(list.status, 403, list.text)
            XCTAssertEqual(list.errorDetail, "Policy doesn't allow cluster:get_all_all_projects to be performed.")
            let own = try await h.request(.get, "/v1/clusters/\(c)", token: .demo)
            XCTAssertEqual(own.status, 200, own.text)
            let detail = try await h.request(.get, "/v1/clusters/detail", token: .admin)
            XCTAssertEqual(detail.status, 200, "cluster:detail_all_projects is not overridden: \(detail.text)")
        }
    }

    func testMatrixWithDefaultPolicy() async throws {
        let cells = try await runMatrix(policy: DefaultPolicy(), label: "DefaultPolicy")
        XCTAssertEqual(cells, Self.rows.count * Self.callers.count)
    }

    func testMatrixWithOsloPolicy() async throws {
        let cells = try await runMatrix(policy: try OsloPolicy(), label: "OsloPolicy")
        XCTAssertEqual(cells, Self.rows.count * Self.callers.count)
    }
}
