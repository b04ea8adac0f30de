import Foundation
import MagnumCore
import MagnumStore
import MagnumTestSupport
import XCTest

/// `/v1/quotas` (contract §4.7, A.7), `/v1/stats` (§4.8) and `/v1/mservices` (§4.9).
final class QuotaTests: XCTestCase {
    static let quotaKeys: Set<String> = ["id", "project_id", "resource", "hard_limit", "created_at", "updated_at"]
    static let serviceKeys: Set<String> = ["id", "host", "binary", "state", "report_count", "disabled", "disabled_reason",
                                           "created_at", "updated_at"]

    private func keys(_ j: JSON?) -> Set<String> { Set((j?.objectValue ?? [:]).keys) }

    private func isTimestamp(_ v: JSON?) -> Bool {
        guard let s = v?.stringValue else { return false }
        return s.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+00:00$"#, options: .regularExpression) != nil
    }

    /// Creates a quota as admin and answers its body.
    private func quota(_ h: APIHarness, _ project: String, _ limit: Int? = nil) async throws -> JSON {
        var body: [String: JSON] = ["project_id": .string(project), "resource": "Cluster"]
        if let limit { body["hard_limit"] = .int(limit) }
        let r = try await h.request(.post, "/v1/quotas", token: .admin, body: .object(body))
        guard r.status == 201, let json = r.json else { throw HarnessError.unexpected(r.status, r.text) }
        return json
    }

    // MARK: Quota create

    func testCreateQuota() async throws {
        try await APIHarness.withEach { h in
            let r = try await h.request(.post, "/v1/quotas", token: .admin, body: ["project_id": "demo-project", "resource": "Cluster", "hard_limit": 3])
            XCTAssertEqual(r.status, 201, r.text)
            XCTAssertEqual(keys(r.json), Self.quotaKeys)
            guard case .int(let id)? = r.json?["id"] else { return XCTFail("no integer id: \(r.text)") }
            XCTAssertGreaterThan(id, 0)
            XCTAssertEqual(r.json?["project_id"], "demo-project")
            XCTAssertEqual(r.json?["resource"], "Cluster")
            XCTAssertEqual(r.json?["hard_limit"], 3)
            XCTAssertTrue(isTimestamp(r.json?["created_at"]), r.text)
            XCTAssertEqual(r.json?["updated_at"], .null)
            XCTAssertEqual(r.header("OpenStack-API-Version"), "container-infrastructure-management 1.1", "not version-gated")

            // Defaults: hard_limit 1, resource Cluster.
            let d = try await h.request(.post, "/v1/quotas", token: .admin, body: ["project_id": "other-project"])
            XCTAssertEqual(d.status, 201, d.text)
            XCTAssertEqual(d.json?["hard_limit"], 1)
            XCTAssertEqual(d.json?["resource"], "Cluster")
            XCTAssertNotEqual(d.json?["id"], r.json?["id"])
            let zero = try await h.request(.post, "/v1/quotas", token: .admin, body: ["project_id": "p0", "hard_limit": 0])
            XCTAssertEqual(zero.status, 201)
            XCTAssertEqual(zero.json?["hard_limit"], 0)
            let numeric = try await h.request(.post, "/v1/quotas", token: .admin, version: "1.14", body: ["project_id": "p1", "hard_limit": "4"])
            XCTAssertEqual(numeric.status, 201)
            XCTAssertEqual(numeric.json?["hard_limit"], 4)

            let dup = try await h.request(.post, "/v1/quotas", token: .admin, body: ["project_id": "demo-project", "hard_limit": 9])
            XCTAssertEqual(dup.status, 409)
            XCTAssertEqual(dup.errorDetail, "Quota for project demo-project already exists for resource Cluster.")
            XCTAssertEqual(dup.errorTitle, "Quota for project demo-project already exists for resource Cluster")
            let stored = try await h.request(.get, "/v1/quotas/demo-project/Cluster", token: .admin)
            XCTAssertEqual(stored.json?["hard_limit"], 3, "the duplicate changed nothing")
        }
    }

    func testCreateQuotaValidation() async throws {
        try await APIHarness.withEach { h in
            let cases: [(JSON?, String)] = [
                (["project_id": "p", "resource": "Pod"], "Invalid input for field/attribute resource. Value: 'Pod'. Value should be one of: Cluster"),
                (["resource": "Cluster", "hard_limit": 2], "Must provide a valid project ID."),
                (["project_id": nil, "hard_limit": 2], "Must provide a valid project ID."),
                (["project_id": "p", "hard_limit": -1], "Invalid input for field/attribute hard_limit. Value: '-1'. Value should be greater or equal to 0"),
                (["project_id": "p", "bogus": 1], "Unknown attribute for argument quota: bogus"),
                (["project_id": "", "hard_limit": 2], "Invalid input for field/attribute project_id. Value: ''. Value should have a minimum character requirement of 1"),
                (nil, "Missing argument: \"quota\""),
            ]
            for (body, message) in cases {
                let r = try await h.request(.post, "/v1/quotas", token: .admin, body: body)
                XCTAssertEqual(r.status, 400, message)
                XCTAssertEqual(r.errorDetail, message)
                XCTAssertEqual(r.json?["errors"]?.arrayValue?.first?["code"], "client")
            }
            let list = try await h.request(.get, "/v1/quotas?all_tenants=true", token: .admin)
            XCTAssertEqual(list.json, ["quotas": []])
        }
    }

    func testQuotaMutationsAreAdminOnly() async throws {
        try await APIHarness.withEach { h in
            _ = try await quota(h, "demo-project", 3)
            for token in [APIHarness.Token.demo, .reader, .other] {
                let c = try await h.request(.post, "/v1/quotas", token: token, body: ["project_id": "demo-project", "hard_limit": 50])
                XCTAssertEqual(c.status, 403, token.rawValue)
                XCTAssertEqual(c.errorDetail, "Policy doesn't allow quota:create to be performed.")
                XCTAssertEqual(c.errorTitle, "Policy doesn't allow quota:create to be performed")
                let missing = try await h.request(.post, "/v1/quotas", token: token, body: ["hard_limit": 50])
                XCTAssertEqual(missing.status, 403, "policy before the missing-project check")
                let u = try await h.request(.patch, "/v1/quotas/demo-project/Cluster", token: token, body: ["hard_limit": 50])
                XCTAssertEqual(u.status, 403, token.rawValue)
                XCTAssertEqual(u.errorDetail, "Policy doesn't allow quota:update to be performed.")
                let d = try await h.request(.delete, "/v1/quotas/demo-project/Cluster", token: token)
                XCTAssertEqual(d.status, 403, token.rawValue)
                XCTAssertEqual(d.errorDetail, "Policy doesn't allow quota:delete to be performed.")
                let l = try await h.request(.get, "/v1/quotas", token: token)
                XCTAssertEqual(l.status, 403, token.rawValue)
                XCTAssertEqual(l.errorDetail, "Policy doesn't allow quota:get_all to be performed.")
            }
            let q = try await h.request(.get, "/v1/quotas/demo-project/Cluster", token: .admin)
            XCTAssertEqual(q.json?["hard_limit"], 3)
        }
    }

    // MARK: Quota get

    func testGetQuota() async throws {
        try await APIHarness.withEach { h in
            let created = try await quota(h, "demo-project", 3)
            for token in [APIHarness.Token.admin, .demo, .reader] {
                let r = try await h.request(.get, "/v1/quotas/demo-project/Cluster", token: token)
                XCTAssertEqual(r.status, 200, token.rawValue)
                XCTAssertEqual(r.json, created, token.rawValue)
            }
            // No row: the configured default, without id or timestamps.
            let none = try await h.request(.get, "/v1/quotas/other-project/Cluster", token: .admin)
            XCTAssertEqual(none.status, 200)
            XCTAssertEqual(none.json, ["hard_limit": 20, "project_id": "other-project", "resource": "Cluster"])
            let own = try await h.request(.get, "/v1/quotas/other-project/Cluster", token: .other)
            XCTAssertEqual(own.json, ["hard_limit": 20, "project_id": "other-project", "resource": "Cluster"])
            // Quirk 16: the default names Cluster whatever resource was asked for.
            let pod = try await h.request(.get, "/v1/quotas/demo-project/Pod", token: .demo)
            XCTAssertEqual(pod.status, 200)
            XCTAssertEqual(pod.json, ["hard_limit": 20, "project_id": "demo-project", "resource": "Cluster"])

            // Non-admins may only read their own project.
            let foreign = try await h.request(.get, "/v1/quotas/other-project/Cluster", token: .demo)
            XCTAssertEqual(foreign.status, 403)
            XCTAssertEqual(foreign.errorDetail, "Not authorized.")
            XCTAssertEqual(foreign.errorTitle, "Not authorized")
            let foreign2 = try await h.request(.get, "/v1/quotas/demo-project/Cluster", token: .other)
            XCTAssertEqual(foreign2.status, 403)
            XCTAssertEqual(foreign2.errorDetail, "Not authorized.")

            let query = try await h.request(.get, "/v1/quotas/demo-project/Cluster?x=1", token: .admin)
            XCTAssertEqual(query.status, 400)
            XCTAssertEqual(query.errorDetail, "Unknown argument: \"x\"")
            let shape = try await h.request(.get, "/v1/quotas/demo-project", token: .admin)
            XCTAssertEqual(shape.status, 404)
        }
        var config = APIConfiguration()
        config.maxClustersPerProject = 7
        try await APIHarness.withEach(config: config) { h in
            let r = try await h.request(.get, "/v1/quotas/demo-project/Cluster", token: .demo)
            XCTAssertEqual(r.json, ["hard_limit": 7, "project_id": "demo-project", "resource": "Cluster"])
        }
    }

    // MARK: Quota update and delete

    func testUpdateQuotaIsNotJSONPatch() async throws {
        try await APIHarness.withEach { h in
            let created = try await quota(h, "demo-project", 3)
            let r = try await h.request(.patch, "/v1/quotas/demo-project/Cluster", token: .admin, body: ["hard_limit": 5])
            XCTAssertEqual(r.status, 202, r.text)
            XCTAssertEqual(keys(r.json), Self.quotaKeys)
            XCTAssertEqual(r.json?["id"], created["id"])
            XCTAssertEqual(r.json?["hard_limit"], 5)
            XCTAssertEqual(r.json?["project_id"], "demo-project")
            XCTAssertEqual(r.json?["resource"], "Cluster")
            XCTAssertEqual(r.json?["created_at"], created["created_at"])
            XCTAssertTrue(isTimestamp(r.json?["updated_at"]), r.text)
            let get = try await h.request(.get, "/v1/quotas/demo-project/Cluster", token: .demo)
            XCTAssertEqual(get.json?["hard_limit"], 5)

            // The URL names the row; project_id in the body is overwritten.
            let moved = try await h.request(.patch, "/v1/quotas/demo-project/Cluster", token: .admin,
                                            body: ["project_id": "other-project", "resource": "Cluster", "hard_limit": 4])
            XCTAssertEqual(moved.status, 202)
            XCTAssertEqual(moved.json?["project_id"], "demo-project")
            XCTAssertEqual(moved.json?["hard_limit"], 4)
            let other = try await h.request(.get, "/v1/quotas/other-project/Cluster", token: .admin)
            XCTAssertEqual(other.json, ["hard_limit": 20, "project_id": "other-project", "resource": "Cluster"])

            // An omitted hard_limit means 1.
            let omitted = try await h.request(.patch, "/v1/quotas/demo-project/Cluster", token: .admin, body: [:])
            XCTAssertEqual(omitted.status, 202)
            XCTAssertEqual(omitted.json?["hard_limit"], 1)

            // Errors.
            let missing = try await h.request(.patch, "/v1/quotas/nobody/Cluster", token: .admin, body: ["hard_limit": 5])
            XCTAssertEqual(missing.status, 404)
            XCTAssertEqual(missing.errorDetail, "Quota could not be found: project_id nobody resource Cluster.")
            let patchList = try await h.request(.patch, "/v1/quotas/demo-project/Cluster", token: .admin,
                                                body: [["op": "replace", "path": "/hard_limit", "value": 5]])
            XCTAssertEqual(patchList.status, 400)
            let negative = try await h.request(.patch, "/v1/quotas/demo-project/Cluster", token: .admin, body: ["hard_limit": -2])
            XCTAssertEqual(negative.status, 400)
            XCTAssertEqual(negative.errorDetail, "Invalid input for field/attribute hard_limit. Value: '-2'. Value should be greater or equal to 0")
            let unknown = try await h.request(.patch, "/v1/quotas/demo-project/Cluster", token: .admin, body: ["limit": 2])
            XCTAssertEqual(unknown.status, 400)
            XCTAssertEqual(unknown.errorDetail, "Unknown attribute for argument quota: limit")
            let after = try await h.request(.get, "/v1/quotas/demo-project/Cluster", token: .admin)
            XCTAssertEqual(after.json?["hard_limit"], 1)
        }
    }

    func testDeleteQuota() async throws {
        try await APIHarness.withEach { h in
            _ = try await quota(h, "demo-project", 3)
            let r = try await h.request(.delete, "/v1/quotas/demo-project/Cluster", token: .admin)
            XCTAssertEqual(r.status, 204)
            XCTAssertEqual(r.text, "")
            let get = try await h.request(.get, "/v1/quotas/demo-project/Cluster", token: .demo)
            XCTAssertEqual(get.json, ["hard_limit": 20, "project_id": "demo-project", "resource": "Cluster"])
            let again = try await h.request(.delete, "/v1/quotas/demo-project/Cluster", token: .admin)
            XCTAssertEqual(again.status, 404)
            XCTAssertEqual(again.errorDetail, "Quota could not be found: project_id demo-project resource Cluster.")
            let pod = try await h.request(.delete, "/v1/quotas/demo-project/Pod", token: .admin)
            XCTAssertEqual(pod.status, 404)
            XCTAssertEqual(pod.errorDetail, "Quota could not be found: project_id demo-project resource Pod.")
            // The project can be given a quota again.
            _ = try await quota(h, "demo-project", 2)
        }
    }

    // MARK: Quota list

    func testListQuotas() async throws {
        try await APIHarness.withEach { h in
            let adminQ = try await quota(h, "admin-project", 10)
            let demoQ = try await quota(h, "demo-project", 3)
            let otherQ = try await quota(h, "other-project", 1)
            let ids = [adminQ, demoQ, otherQ].compactMap { $0["id"]?.intValue }
            XCTAssertEqual(ids, ids.sorted())

            let own = try await h.request(.get, "/v1/quotas", token: .admin)
            XCTAssertEqual(own.status, 200)
            XCTAssertEqual(own.json, ["quotas": [adminQ]], "admin sees its own project's rows")
            for flag in ["false", "0", "no"] {
                let r = try await h.request(.get, "/v1/quotas?all_tenants=\(flag)", token: .admin)
                XCTAssertEqual(r.json, ["quotas": [adminQ]], flag)
            }
            for flag in ["true", "True", "1", "yes"] {
                let r = try await h.request(.get, "/v1/quotas?all_tenants=\(flag)", token: .admin)
                XCTAssertEqual(r.json, ["quotas": [adminQ, demoQ, otherQ]], flag)
            }
            let bad = try await h.request(.get, "/v1/quotas?all_tenants=maybe", token: .admin)
            XCTAssertEqual(bad.status, 400)

            // Pagination with the integer id as marker.
            let p1 = try await h.request(.get, "/v1/quotas?all_tenants=true&limit=1", token: .admin)
            XCTAssertEqual(p1.json?["quotas"], [adminQ])
            XCTAssertEqual(p1.json?["next"]?.stringValue, "http://localhost/v1/quotas?sort_key=id&sort_dir=asc&limit=1&marker=\(ids[0])")
            let p2 = try await h.request(.get, "/v1/quotas?sort_key=id&sort_dir=asc&limit=1&marker=\(ids[0])&all_tenants=true", token: .admin)
            XCTAssertEqual(p2.json?["quotas"], [demoQ])
            XCTAssertEqual(p2.json?["next"]?.stringValue, "http://localhost/v1/quotas?sort_key=id&sort_dir=asc&limit=1&marker=\(ids[1])")
            let last = try await h.request(.get, "/v1/quotas?limit=2&marker=\(ids[0])&all_tenants=true", token: .admin)
            XCTAssertEqual(last.json?["quotas"], [demoQ, otherQ])
            XCTAssertEqual(last.json?["next"]?.stringValue, "http://localhost/v1/quotas?sort_key=id&sort_dir=asc&limit=2&marker=\(ids[2])")
            let empty = try await h.request(.get, "/v1/quotas?limit=2&marker=\(ids[2])&all_tenants=true", token: .admin)
            XCTAssertEqual(empty.json, ["quotas": []])

            let sorted = try await h.request(.get, "/v1/quotas?all_tenants=true&sort_key=hard_limit&sort_dir=desc", token: .admin)
            XCTAssertEqual(sorted.json?["quotas"]?.arrayValue?.map { $0["hard_limit"] }, [10, 3, 1])
            let sortedNext = try await h.request(.get, "/v1/quotas?all_tenants=true&sort_key=project_id&sort_dir=desc&limit=1", token: .admin)
            XCTAssertEqual(sortedNext.json?["quotas"], [otherQ])
            XCTAssertEqual(sortedNext.json?["next"]?.stringValue,
                           "http://localhost/v1/quotas?sort_key=project_id&sort_dir=desc&limit=1&marker=\(ids[2])")

            let badMarker = try await h.request(.get, "/v1/quotas?marker=abc", token: .admin)
            XCTAssertEqual(badMarker.status, 400)
            let unknownMarker = try await h.request(.get, "/v1/quotas?marker=99999&all_tenants=true", token: .admin)
            XCTAssertEqual(unknownMarker.status, 404)
            XCTAssertEqual(unknownMarker.errorDetail, "Quota could not be found: quota id 99999 .")
            let badKey = try await h.request(.get, "/v1/quotas?sort_key=bogus", token: .admin)
            XCTAssertEqual(badKey.status, 400)
            XCTAssertEqual(badKey.errorDetail, "The sort_key value \"bogus\" is an invalid field for sorting")
            let zero = try await h.request(.get, "/v1/quotas?limit=0", token: .admin)
            XCTAssertEqual(zero.status, 400)
            XCTAssertEqual(zero.errorDetail, "Limit must be positive")
            let unknownArg = try await h.request(.get, "/v1/quotas?project_id=demo-project", token: .admin)
            XCTAssertEqual(unknownArg.status, 400)
            XCTAssertEqual(unknownArg.errorDetail, "Unknown argument: \"project_id\"")
        }
    }

    // MARK: Stats

    func testStatsCountClustersAndAllNodes() async throws {
        try await APIHarness.withEach { h in
            let empty = try await h.request(.get, "/v1/stats")
            XCTAssertEqual(empty.status, 200)
            XCTAssertEqual(empty.json, ["clusters": 0, "nodes": 0])

            let t = try await h.createTemplate()
            let demoCluster = try await h.createCluster(template: t["uuid"]!.stringValue!, ["node_count": 2])
            let otherTemplate = try await h.createTemplate(token: .other)
            _ = try await h.createCluster(template: otherTemplate["uuid"]!.stringValue!, ["node_count": 3, "master_count": 3, "master_lb_enabled": true],
                                          token: .other)

            // Masters count as nodes; no microversion is needed (works at 1.1).
            let demo = try await h.request(.get, "/v1/stats")
            XCTAssertEqual(demo.status, 200)
            XCTAssertEqual(demo.json, ["clusters": 1, "nodes": 3])
            XCTAssertEqual(demo.header("OpenStack-API-Version"), "container-infrastructure-management 1.1")
            let reader = try await h.request(.get, "/v1/stats", token: .reader)
            XCTAssertEqual(reader.json, ["clusters": 1, "nodes": 3])
            let explicit = try await h.request(.get, "/v1/stats?project_id=demo-project&type=cluster", token: .demo)
            XCTAssertEqual(explicit.json, ["clusters": 1, "nodes": 3])
            let other = try await h.request(.get, "/v1/stats", token: .other)
            XCTAssertEqual(other.json, ["clusters": 1, "nodes": 6])

            // Admin: every project without project_id, one project with it.
            let all = try await h.request(.get, "/v1/stats", token: .admin)
            XCTAssertEqual(all.json, ["clusters": 2, "nodes": 9])
            let one = try await h.request(.get, "/v1/stats?project_id=demo-project", token: .admin)
            XCTAssertEqual(one.json, ["clusters": 1, "nodes": 3])
            let nobody = try await h.request(.get, "/v1/stats?project_id=nobody", token: .admin)
            XCTAssertEqual(nobody.json, ["clusters": 0, "nodes": 0])

            // A new nodegroup's nodes are counted.
            try await h.setClusterState(demoCluster, .createComplete, apiAddress: "tcp://198.18.0.2:2376")
            let ng = try await h.request(.post, "/v1/clusters/\(demoCluster)/nodegroups", version: "1.9", body: ["name": "ng1", "node_count": 4])
            XCTAssertEqual(ng.status, 202)
            let grown = try await h.request(.get, "/v1/stats")
            XCTAssertEqual(grown.json, ["clusters": 1, "nodes": 7])
        }
    }

    func testStatsTypeAndScopeErrors() async throws {
        try await APIHarness.withEach { h in
            for type in ["cluster", "CLUSTER", "Cluster"] {
                let r = try await h.request(.get, "/v1/stats?type=\(type)")
                XCTAssertEqual(r.status, 200, type)
                XCTAssertEqual(r.json, ["clusters": 0, "nodes": 0], type)
            }
            for type in ["node", "clusters", ""] {
                let r = try await h.request(.get, "/v1/stats?type=\(type)")
                XCTAssertEqual(r.status, 400, type)
                XCTAssertEqual(r.errorDetail, "Invalid stats type. Allowed values are 'cluster'", type)
            }
            for token in [APIHarness.Token.demo, .reader] {
                let r = try await h.request(.get, "/v1/stats?project_id=other-project", token: token)
                XCTAssertEqual(r.status, 403, token.rawValue)
                XCTAssertEqual(r.errorDetail, "Not authorized.")
            }
            let unknown = try await h.request(.get, "/v1/stats?all_tenants=1")
            XCTAssertEqual(unknown.status, 400)
            XCTAssertEqual(unknown.errorDetail, "Unknown argument: \"all_tenants\"")
            let post = try await h.request(.post, "/v1/stats", body: [:])
            XCTAssertEqual(post.status, 405)
            let noToken = try await h.request(.get, "/v1/stats", token: nil)
            XCTAssertEqual(noToken.status, 401)
        }
    }

    // MARK: Magnum services

    func testMservicesAreAdminOnly() async throws {
        try await APIHarness.withEach { h in
            _ = try await h.store.write { try await $0.reportService(host: "h1", binary: "magnum-conductor") }
            for token in [APIHarness.Token.demo, .reader, .other] {
                let r = try await h.request(.get, "/v1/mservices", token: token)
                XCTAssertEqual(r.status, 403, token.rawValue)
                XCTAssertEqual(r.errorDetail, "Policy doesn't allow magnum-service:get_all to be performed.")
            }
        }
    }

    func testMservicesListTheConductorRecords() async throws {
        try await APIHarness.withEach { h in
            let none = try await h.request(.get, "/v1/mservices", token: .admin)
            XCTAssertEqual(none.status, 200)
            XCTAssertEqual(none.json, ["mservices": []])

            _ = try await h.store.write { try await $0.reportService(host: "h1", binary: "magnum-conductor") }
            let r = try await h.request(.get, "/v1/mservices", token: .admin)
            XCTAssertEqual(r.status, 200, r.text)
            XCTAssertEqual(keys(r.json), ["mservices"], "no pagination")
            let items = r.json?["mservices"]?.arrayValue ?? []
            XCTAssertEqual(items.count, 1)
            let s = items.first
            XCTAssertEqual(keys(s), Self.serviceKeys, "last_seen_up and forced_down are not exposed")
            XCTAssertEqual(s?["id"], 1)
            XCTAssertEqual(s?["host"], "h1")
            XCTAssertEqual(s?["binary"], "magnum-conductor")
            XCTAssertEqual(s?["state"], "up")
            XCTAssertEqual(s?["report_count"], 1)
            XCTAssertEqual(s?["disabled"], false)
            XCTAssertEqual(s?["disabled_reason"], .null)
            XCTAssertTrue(isTimestamp(s?["created_at"]), r.text)
            XCTAssertTrue(isTimestamp(s?["updated_at"]), r.text)

            // Each report bumps the count; another host gets its own record.
            _ = try await h.store.write { try await $0.reportService(host: "h1", binary: "magnum-conductor") }
            _ = try await h.store.write { try await $0.reportService(host: "h2", binary: "magnum-conductor") }
            let two = try await h.request(.get, "/v1/mservices", token: .admin)
            let rows = two.json?["mservices"]?.arrayValue ?? []
            XCTAssertEqual(rows.map { $0["host"] }, ["h1", "h2"])
            XCTAssertEqual(rows.map { $0["id"] }, [1, 2])
            XCTAssertEqual(rows.map { $0["report_count"] }, [2, 1])
            XCTAssertEqual(rows.map { $0["state"] }, ["up", "up"])

            let query = try await h.request(.get, "/v1/mservices?limit=1", token: .admin)
            XCTAssertEqual(query.status, 400)
            XCTAssertEqual(query.errorDetail, "Unknown argument: \"limit\"")
        }
    }

    func testMserviceNotSeenWithinServiceDownTimeIsDown() async throws {
        // With a zero service_down_time every record was last seen "too long ago".
        var config = APIConfiguration()
        config.serviceDownTime = 0
        try await APIHarness.withEach(config: config) { h in
            _ = try await h.store.write { try await $0.reportService(host: "h1", binary: "magnum-conductor") }
            try await Task.sleep(nanoseconds: 20_000_000)
            let r = try await h.request(.get, "/v1/mservices", token: .admin)
            XCTAssertEqual(r.json?["mservices"]?.arrayValue?.first?["state"], "down")
            XCTAssertEqual(r.json?["mservices"]?.arrayValue?.first?["report_count"], 1)
        }
    }
}
