import Foundation
import MagnumCore
import MagnumStore
import MagnumTestSupport
import XCTest

/// `/v1/clusters/{c}/nodegroups` (contract §4.4, §6.3, Appendix A.5).
final class NodeGroupTests: XCTestCase {
    static let v = "1.9"
    static let apiAddress = "tcp://198.18.0.2:2376"
    static let framework406: JSON = ["errors": [["request_id": "", "code": "", "status": 406, "title": "", "detail": "", "links": []]]]

    static let briefKeys: Set<String> = ["uuid", "name", "flavor_id", "image_id", "node_count", "role", "min_node_count",
                                         "max_node_count", "is_default", "stack_id", "status", "merge_labels"]
    static let detailKeys: Set<String> = ["id", "uuid", "name", "cluster_id", "project_id", "docker_volume_size", "labels", "links",
                                          "flavor_id", "image_id", "node_addresses", "node_count", "role", "min_node_count",
                                          "max_node_count", "is_default", "stack_id", "status", "status_reason", "version",
                                          "merge_labels", "labels_overridden", "labels_added", "labels_skipped", "node_labels",
                                          "node_taints", "created_at", "updated_at"]
    static let submittedKeys: Set<String> = ["uuid", "name", "cluster_id", "project_id", "labels", "links", "flavor_id", "image_id",
                                             "node_count", "role", "min_node_count", "max_node_count", "merge_labels",
                                             "labels_overridden", "labels_added", "labels_skipped"]

    // MARK: Helpers

    /// A template (labels a=1, b=2) and a cluster of it; when `ready`, the cluster is
    /// CREATE_COMPLETE with an API address so nodegroups can be added.
    private func cluster(_ h: APIHarness, ready: Bool = true, labels: [String: JSON]? = nil, token: APIHarness.Token = .demo) async throws -> String {
        let t = try await h.createTemplate(["labels": ["a": "1", "b": "2"]], token: token)
        var extra: [String: JSON] = [:]
        if let labels { extra["labels"] = .object(labels) }
        let uuid = try await h.createCluster(template: t["uuid"]!.stringValue!, extra, token: token)
        if ready { try await h.setClusterState(uuid, .createComplete, apiAddress: Self.apiAddress) }
        return uuid
    }

    /// Creates a nodegroup and answers the 202 body (fails the test otherwise).
    private func createNG(_ h: APIHarness, _ c: String, _ body: [String: JSON], token: APIHarness.Token = .demo) async throws -> JSON {
        let r = try await h.request(.post, "/v1/clusters/\(c)/nodegroups", token: token, version: Self.v, body: .object(body))
        guard r.status == 202, let json = r.json else { throw HarnessError.unexpected(r.status, r.text) }
        return json
    }

    /// Upstream's 409 for a node label in a reserved Kubernetes namespace.
    static func reserved(_ ng: String, _ key: String) -> String {
        "node_labels for \(ng) is invalid (node label '\(key)' is in a restricted Kubernetes namespace; the kubelet will refuse to start. "
            + "Labels in the kubernetes.io/ and k8s.io/ namespaces must use one of the allowed prefixes (kubelet.kubernetes.io, node.kubernetes.io) "
            + "or be one of the allowed labels (beta.kubernetes.io/arch, beta.kubernetes.io/instance-type, beta.kubernetes.io/os, "
            + "failure-domain.beta.kubernetes.io/region, failure-domain.beta.kubernetes.io/zone, kubernetes.io/arch, kubernetes.io/hostname, "
            + "kubernetes.io/os, node.kubernetes.io/instance-type, node.kubernetes.io/windows-build, topology.kubernetes.io/region, "
            + "topology.kubernetes.io/zone).)."
    }

    private func keys(_ j: JSON?) -> Set<String> { Set((j?.objectValue ?? [:]).keys) }

    private func assertTimestamp(_ v: JSON?, file: StaticString = #filePath, line: UInt = #line) {
        guard let s = v?.stringValue else { return XCTFail("not a timestamp: \(String(describing: v))", file: file, line: line) }
        XCTAssertNotNil(s.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+00:00$"#, options: .regularExpression), s, file: file, line: line)
    }

    private func links(_ c: String, _ ng: String) -> JSON {
        [["href": .string("http://localhost/v1/clusters/\(c)/nodegroups/\(ng)"), "rel": "self"],
         ["href": .string("http://localhost/clusters/\(c)/nodegroups/\(ng)"), "rel": "bookmark"]]
    }

    // MARK: Microversion

    func testEveryNodegroupRouteNeedsMicroversion19() async throws {
        try await APIHarness.withEach { h in
            let c = try await cluster(h)
            let patch: JSON = [["op": "replace", "path": "/min_node_count", "value": 0]]
            for version in [nil, "1.1", "1.8"] as [String?] {
                let calls: [(String, APIHarness.Reply)] = [
                    ("list", try await h.request(.get, "/v1/clusters/\(c)/nodegroups", version: version)),
                    ("list/", try await h.request(.get, "/v1/clusters/\(c)/nodegroups/", version: version)),
                    ("get", try await h.request(.get, "/v1/clusters/\(c)/nodegroups/default-worker", version: version)),
                    ("post", try await h.request(.post, "/v1/clusters/\(c)/nodegroups", version: version, body: ["name": "ng1"])),
                    ("patch", try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/default-worker", version: version, body: patch)),
                    ("delete", try await h.request(.delete, "/v1/clusters/\(c)/nodegroups/default-worker", version: version)),
                ]
                for (what, r) in calls {
                    XCTAssertEqual(r.status, 406, "\(what) at \(version ?? "no header")")
                    XCTAssertEqual(r.json, Self.framework406, what)
                    XCTAssertNil(r.header("OpenStack-API-Version"), what)
                    XCTAssertNil(r.header("OpenStack-API-Minimum-Version"), what)
                }
            }
            // Nothing was created or deleted by the refused calls.
            let list = try await h.request(.get, "/v1/clusters/\(c)/nodegroups", version: Self.v)
            XCTAssertEqual(list.status, 200)
            XCTAssertEqual(list.json?["nodegroups"]?.arrayValue?.count, 2)
            XCTAssertEqual(list.header("OpenStack-API-Version"), "container-infrastructure-management 1.9")
            for version in ["1.10", "1.14", "latest"] {
                let r = try await h.request(.get, "/v1/clusters/\(c)/nodegroups", version: version)
                XCTAssertEqual(r.status, 200, version)
            }
        }
    }

    // MARK: List

    func testListShowsBriefObjectsWithStoredCounts() async throws {
        try await APIHarness.withEach { h in
            let c = try await cluster(h)
            let ng = try await createNG(h, c, ["name": "ng1", "node_count": 2, "min_node_count": 1, "max_node_count": 5])
            let r = try await h.request(.get, "/v1/clusters/\(c)/nodegroups", version: Self.v)
            XCTAssertEqual(r.status, 200, h.label)
            XCTAssertEqual(keys(r.json), ["nodegroups"], "no next on a partial page")
            let items = r.json?["nodegroups"]?.arrayValue ?? []
            XCTAssertEqual(items.map { $0["name"] }, ["default-master", "default-worker", "ng1"], "sorted by id")
            for item in items { XCTAssertEqual(keys(item), Self.briefKeys) }

            let master = items[0]
            XCTAssertEqual(master["role"], "master")
            XCTAssertEqual(master["node_count"], 1)
            XCTAssertEqual(master["flavor_id"], "m1.small")
            XCTAssertEqual(master["image_id"], "fedora-coreos-latest")
            XCTAssertEqual(master["is_default"], true)
            XCTAssertEqual(master["status"], "CREATE_COMPLETE")
            XCTAssertEqual(master["stack_id"], .null)
            XCTAssertEqual(master["min_node_count"], 0)
            XCTAssertEqual(master["max_node_count"], .null)
            XCTAssertEqual(master["merge_labels"], false)

            let worker = items[1]
            XCTAssertEqual(worker["role"], "worker")
            XCTAssertEqual(worker["is_default"], true)
            XCTAssertEqual(worker["node_count"], 1)

            // Quirk 5 is fixed deliberately: the list shows the stored bounds.
            let added = items[2]
            XCTAssertEqual(added["uuid"], ng["uuid"])
            XCTAssertEqual(added["min_node_count"], 1)
            XCTAssertEqual(added["max_node_count"], 5)
            XCTAssertEqual(added["node_count"], 2)
            XCTAssertEqual(added["is_default"], false)
            XCTAssertEqual(added["status"], "CREATE_IN_PROGRESS")
            XCTAssertEqual(added["merge_labels"], false)

            // Trailing slash, cluster by name, and the bookmark path work the same.
            for path in ["/v1/clusters/\(c)/nodegroups/", "/v1/clusters/k8s/nodegroups", "/clusters/\(c)/nodegroups"] {
                let again = try await h.request(.get, path, version: Self.v)
                XCTAssertEqual(again.status, 200, path)
                XCTAssertEqual(again.json?["nodegroups"]?.arrayValue?.count, 3, path)
            }
        }
    }

    func testListRoleFilter() async throws {
        try await APIHarness.withEach { h in
            let c = try await cluster(h)
            _ = try await createNG(h, c, ["name": "gpu1", "role": "gpu"])
            func names(_ role: String) async throws -> [JSON?] {
                let r = try await h.request(.get, "/v1/clusters/\(c)/nodegroups?role=\(role)", version: Self.v)
                XCTAssertEqual(r.status, 200, role)
                return (r.json?["nodegroups"]?.arrayValue ?? []).map { $0["name"] }
            }
            let masters = try await names("master")
            XCTAssertEqual(masters, ["default-master"])
            let workers = try await names("worker")
            XCTAssertEqual(workers, ["default-worker"])
            let gpus = try await names("gpu")
            XCTAssertEqual(gpus, ["gpu1"])
            let none = try await names("nope")
            XCTAssertEqual(none, [])
            let bad = try await h.request(.get, "/v1/clusters/\(c)/nodegroups?bogus=1", version: Self.v)
            XCTAssertEqual(bad.status, 400)
            XCTAssertEqual(bad.errorDetail, "Unknown argument: \"bogus\"")
        }
    }

    func testListPagination() async throws {
        try await APIHarness.withEach { h in
            let c = try await cluster(h)
            _ = try await createNG(h, c, ["name": "ng1"])
            let all = try await h.request(.get, "/v1/clusters/\(c)/nodegroups", version: Self.v)
            let uuids = (all.json?["nodegroups"]?.arrayValue ?? []).compactMap { $0["uuid"]?.stringValue }
            XCTAssertEqual(uuids.count, 3)

            let p1 = try await h.request(.get, "/v1/clusters/\(c)/nodegroups?limit=1", version: Self.v)
            XCTAssertEqual(p1.status, 200)
            XCTAssertEqual(p1.json?["nodegroups"]?.arrayValue?.map { $0["uuid"] }, [.string(uuids[0])])
            XCTAssertEqual(p1.json?["next"]?.stringValue,
                           "http://localhost/v1/clusters/\(c)/nodegroups?sort_key=id&sort_dir=asc&limit=1&marker=\(uuids[0])")

            // Following the next link (by cluster name, too: the link always names the UUID).
            let p2 = try await h.request(.get, "/v1/clusters/k8s/nodegroups?sort_key=id&sort_dir=asc&limit=1&marker=\(uuids[0])", version: Self.v)
            XCTAssertEqual(p2.json?["nodegroups"]?.arrayValue?.map { $0["uuid"] }, [.string(uuids[1])])
            XCTAssertEqual(p2.json?["next"]?.stringValue,
                           "http://localhost/v1/clusters/\(c)/nodegroups?sort_key=id&sort_dir=asc&limit=1&marker=\(uuids[1])")

            // An exactly full last page still carries next; the page after it is empty.
            let full = try await h.request(.get, "/v1/clusters/\(c)/nodegroups?limit=2&marker=\(uuids[0])", version: Self.v)
            XCTAssertEqual(full.json?["nodegroups"]?.arrayValue?.count, 2)
            XCTAssertEqual(full.json?["next"]?.stringValue,
                           "http://localhost/v1/clusters/\(c)/nodegroups?sort_key=id&sort_dir=asc&limit=2&marker=\(uuids[2])")
            let empty = try await h.request(.get, "/v1/clusters/\(c)/nodegroups?limit=2&marker=\(uuids[2])", version: Self.v)
            XCTAssertEqual(empty.json, ["nodegroups": []])

            // The role filter is not propagated into next.
            let role = try await h.request(.get, "/v1/clusters/\(c)/nodegroups?role=worker&limit=1", version: Self.v)
            XCTAssertEqual(role.json?["nodegroups"]?.arrayValue?.map { $0["name"] }, ["default-worker"])
            XCTAssertEqual(role.json?["next"]?.stringValue,
                           "http://localhost/v1/clusters/\(c)/nodegroups?sort_key=id&sort_dir=asc&limit=1&marker=\(uuids[1])")

            // Sorting.
            let desc = try await h.request(.get, "/v1/clusters/\(c)/nodegroups?sort_key=name&sort_dir=desc", version: Self.v)
            XCTAssertEqual(desc.json?["nodegroups"]?.arrayValue?.map { $0["name"] }, ["ng1", "default-worker", "default-master"])
            let descNext = try await h.request(.get, "/v1/clusters/\(c)/nodegroups?sort_key=name&sort_dir=desc&limit=1", version: Self.v)
            XCTAssertEqual(descNext.json?["next"]?.stringValue,
                           "http://localhost/v1/clusters/\(c)/nodegroups?sort_key=name&sort_dir=desc&limit=1&marker=\(uuids[2])")

            // Parameter errors.
            let badKey = try await h.request(.get, "/v1/clusters/\(c)/nodegroups?sort_key=bogus", version: Self.v)
            XCTAssertEqual(badKey.status, 400)
            XCTAssertEqual(badKey.errorDetail, "The sort_key value \"bogus\" is an invalid field for sorting")
            let badDir = try await h.request(.get, "/v1/clusters/\(c)/nodegroups?sort_dir=up", version: Self.v)
            XCTAssertEqual(badDir.status, 400)
            XCTAssertEqual(badDir.errorDetail, "Invalid sort direction: up. Acceptable values are 'asc' or 'desc'")
            let zero = try await h.request(.get, "/v1/clusters/\(c)/nodegroups?limit=0", version: Self.v)
            XCTAssertEqual(zero.status, 400)
            XCTAssertEqual(zero.errorDetail, "Limit must be positive")
            let badMarker = try await h.request(.get, "/v1/clusters/\(c)/nodegroups?marker=ng1", version: Self.v)
            XCTAssertEqual(badMarker.status, 400)
            XCTAssertEqual(badMarker.errorDetail, "Invalid input for field/attribute marker. Value: 'ng1'. Expected a uuid but received ng1.")
            let unknown = "11111111-2222-3333-4444-555555555555"
            let missing = try await h.request(.get, "/v1/clusters/\(c)/nodegroups?marker=\(unknown)", version: Self.v)
            XCTAssertEqual(missing.status, 404)
            XCTAssertEqual(missing.errorDetail, "Nodegroup \(unknown) could not be found.")
        }
    }

    func testListScoping() async throws {
        try await APIHarness.withEach { h in
            let c = try await cluster(h)
            // Reader and another member of the project may list; admin sees every project.
            for token in [APIHarness.Token.reader, .demo2, .admin] {
                let r = try await h.request(.get, "/v1/clusters/\(c)/nodegroups", token: token, version: Self.v)
                XCTAssertEqual(r.status, 200, token.rawValue)
                XCTAssertEqual(r.json?["nodegroups"]?.arrayValue?.count, 2, token.rawValue)
            }
            // Another project's cluster does not exist for the caller.
            let other = try await h.request(.get, "/v1/clusters/\(c)/nodegroups", token: .other, version: Self.v)
            XCTAssertEqual(other.status, 404)
            XCTAssertEqual(other.errorDetail, "Cluster \(c) could not be found.")
            XCTAssertEqual(other.errorTitle, "Cluster \(c) could not be found")
            let otherOne = try await h.request(.get, "/v1/clusters/\(c)/nodegroups/default-worker", token: .other, version: Self.v)
            XCTAssertEqual(otherOne.status, 404)
            XCTAssertEqual(otherOne.errorDetail, "Cluster \(c) could not be found.")
            let nope = try await h.request(.get, "/v1/clusters/nope/nodegroups", version: Self.v)
            XCTAssertEqual(nope.status, 404)
            XCTAssertEqual(nope.errorDetail, "Cluster nope could not be found.")
        }
    }

    // MARK: Get

    func testGetByNameUUIDAndIntegerID() async throws {
        try await APIHarness.withEach { h in
            let c = try await cluster(h)
            let byName = try await h.request(.get, "/v1/clusters/\(c)/nodegroups/default-worker", version: Self.v)
            XCTAssertEqual(byName.status, 200, h.label)
            let d = byName.json
            XCTAssertEqual(keys(d), Self.detailKeys)
            let uuid = d?["uuid"]?.stringValue ?? ""
            guard case .int(let id)? = d?["id"] else { return XCTFail("no integer id: \(byName.text)") }
            XCTAssertGreaterThan(id, 0)
            XCTAssertEqual(d?["name"], "default-worker")
            XCTAssertEqual(d?["cluster_id"], .string(c))
            XCTAssertEqual(d?["project_id"], "demo-project")
            XCTAssertEqual(d?["docker_volume_size"], .null)
            XCTAssertEqual(d?["labels"], ["a": "1", "b": "2"])
            XCTAssertEqual(d?["links"], links(c, uuid))
            XCTAssertEqual(d?["flavor_id"], "m1.small")
            XCTAssertEqual(d?["image_id"], "fedora-coreos-latest")
            XCTAssertEqual(d?["node_addresses"], [])
            XCTAssertEqual(d?["node_count"], 1)
            XCTAssertEqual(d?["role"], "worker")
            XCTAssertEqual(d?["min_node_count"], 0)
            XCTAssertEqual(d?["max_node_count"], .null)
            XCTAssertEqual(d?["is_default"], true)
            XCTAssertEqual(d?["stack_id"], .null)
            XCTAssertEqual(d?["status"], "CREATE_COMPLETE")
            XCTAssertEqual(d?["status_reason"], .null)
            XCTAssertEqual(d?["version"], .null)
            XCTAssertEqual(d?["merge_labels"], false)
            XCTAssertEqual(d?["labels_overridden"], [:])
            XCTAssertEqual(d?["labels_added"], [:])
            XCTAssertEqual(d?["labels_skipped"], [:])
            XCTAssertEqual(d?["node_labels"], [:], "unset node labels render as {}")
            XCTAssertEqual(d?["node_taints"], [], "unset node taints render as []")
            assertTimestamp(d?["created_at"])

            for ident in [uuid, uuid.uppercased(), String(id)] {
                let r = try await h.request(.get, "/v1/clusters/\(c)/nodegroups/\(ident)", version: Self.v)
                XCTAssertEqual(r.status, 200, ident)
                XCTAssertEqual(r.json?["uuid"], .string(uuid), ident)
            }
            let slash = try await h.request(.get, "/v1/clusters/\(c)/nodegroups/default-worker/", version: Self.v)
            XCTAssertEqual(slash.json?["uuid"], .string(uuid))
            let reader = try await h.request(.get, "/v1/clusters/\(c)/nodegroups/default-worker", token: .reader, version: Self.v)
            XCTAssertEqual(reader.status, 200)
            let admin = try await h.request(.get, "/v1/clusters/\(c)/nodegroups/default-worker", token: .admin, version: Self.v)
            XCTAssertEqual(admin.status, 200)

            let master = try await h.request(.get, "/v1/clusters/\(c)/nodegroups/default-master", version: Self.v)
            XCTAssertEqual(master.json?["role"], "master")
            XCTAssertEqual(master.json?["is_default"], true)

            // Another cluster's nodegroup is not found through this cluster.
            let c2 = try await cluster(h, ready: false)
            let otherWorker = try await h.request(.get, "/v1/clusters/\(c2)/nodegroups/default-worker", version: Self.v)
            let otherUUID = otherWorker.json?["uuid"]?.stringValue ?? ""
            XCTAssertNotEqual(otherUUID, uuid)
            let cross = try await h.request(.get, "/v1/clusters/\(c)/nodegroups/\(otherUUID)", version: Self.v)
            XCTAssertEqual(cross.status, 404)
            XCTAssertEqual(cross.errorDetail, "Nodegroup \(otherUUID) could not be found.")

            for ident in ["nope", "detail", "99999"] {
                let r = try await h.request(.get, "/v1/clusters/\(c)/nodegroups/\(ident)", version: Self.v)
                XCTAssertEqual(r.status, 404, ident)
                XCTAssertEqual(r.errorDetail, "Nodegroup \(ident) could not be found.")
            }
        }
    }

    func testDetailLabelDiffsAreRelativeToTheCluster() async throws {
        try await APIHarness.withEach { h in
            // Template labels a=1, b=2; the cluster's own labels b=3, c=4 (no merge).
            let c = try await cluster(h, labels: ["b": "3", "c": "4"])
            let plain = try await createNG(h, c, ["name": "plain", "labels": ["c": "5", "d": "6"]])
            XCTAssertEqual(plain["labels"], ["c": "5", "d": "6"])
            XCTAssertEqual(plain["labels_overridden"], ["c": "4"], "the cluster's value")
            XCTAssertEqual(plain["labels_added"], ["d": "6"])
            XCTAssertEqual(plain["labels_skipped"], ["b": "3"], "template-only labels play no part")

            let get = try await h.request(.get, "/v1/clusters/\(c)/nodegroups/plain", version: Self.v)
            XCTAssertEqual(get.json?["labels"], ["c": "5", "d": "6"])
            XCTAssertEqual(get.json?["labels_overridden"], ["c": "4"])
            XCTAssertEqual(get.json?["labels_added"], ["d": "6"])
            XCTAssertEqual(get.json?["labels_skipped"], ["b": "3"])

            let merged = try await createNG(h, c, ["name": "merged", "labels": ["c": "5", "d": 6], "merge_labels": true])
            XCTAssertEqual(merged["labels"], ["b": "3", "c": "5", "d": "6"])
            XCTAssertEqual(merged["labels_overridden"], ["c": "4"])
            XCTAssertEqual(merged["labels_added"], ["d": "6"])
            XCTAssertEqual(merged["labels_skipped"], [:])
            XCTAssertEqual(merged["merge_labels"], false, "merge_labels is an input-only flag")

            for (name, labels) in [("inherit", nil), ("empty", JSON.object([:])), ("null", JSON.null)] as [(String, JSON?)] {
                var body: [String: JSON] = ["name": .string(name)]
                if let labels { body["labels"] = labels }
                let ng = try await createNG(h, c, body)
                XCTAssertEqual(ng["labels"], ["b": "3", "c": "4"], name)
                XCTAssertEqual(ng["labels_overridden"], [:], name)
                XCTAssertEqual(ng["labels_added"], [:], name)
                XCTAssertEqual(ng["labels_skipped"], [:], name)
            }
        }
    }

    // MARK: Create

    func testCreateAnswersTheSubmittedObjectAndStoresTheRow() async throws {
        try await APIHarness.withEach { h in
            let c = try await cluster(h)
            let r = try await h.request(.post, "/v1/clusters/\(c)/nodegroups", version: Self.v,
                                        body: ["name": "ng1", "node_count": 2, "min_node_count": 1, "max_node_count": 5])
            XCTAssertEqual(r.status, 202, r.text)
            XCTAssertNil(r.header("Location"))
            XCTAssertEqual(r.header("OpenStack-API-Version"), "container-infrastructure-management 1.9")
            let b = r.json
            XCTAssertEqual(keys(b), Self.submittedKeys, "no id/status/created_at/is_default; node_labels etc. only if supplied")
            let uuid = b?["uuid"]?.stringValue ?? ""
            XCTAssertTrue(UUIDs.isUUIDLike(uuid))
            XCTAssertEqual(b?["name"], "ng1")
            XCTAssertEqual(b?["cluster_id"], .string(c))
            XCTAssertEqual(b?["project_id"], "demo-project")
            XCTAssertEqual(b?["labels"], ["a": "1", "b": "2"])
            XCTAssertEqual(b?["links"], links(c, uuid))
            XCTAssertEqual(b?["flavor_id"], "m1.small", "the cluster's flavor")
            XCTAssertEqual(b?["image_id"], "fedora-coreos-latest", "the template's image")
            XCTAssertEqual(b?["node_count"], 2)
            XCTAssertEqual(b?["role"], "worker")
            XCTAssertEqual(b?["min_node_count"], 1)
            XCTAssertEqual(b?["max_node_count"], 5)
            XCTAssertEqual(b?["merge_labels"], false)
            XCTAssertEqual(b?["labels_overridden"], [:])
            XCTAssertEqual(b?["labels_added"], [:])
            XCTAssertEqual(b?["labels_skipped"], [:])

            // Stored at once with its operation.
            let get = try await h.request(.get, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v)
            XCTAssertEqual(get.status, 200)
            XCTAssertEqual(get.json?["uuid"], .string(uuid))
            XCTAssertEqual(get.json?["status"], "CREATE_IN_PROGRESS")
            XCTAssertEqual(get.json?["is_default"], false)
            XCTAssertEqual(get.json?["node_count"], 2)
            XCTAssertEqual(get.json?["min_node_count"], 1)
            XCTAssertEqual(get.json?["max_node_count"], 5)
            XCTAssertEqual(get.json?["node_labels"], [:])
            XCTAssertEqual(get.json?["node_taints"], [])
            XCTAssertEqual(get.json?["updated_at"], .null)

            let ops = try await h.store.read { try await $0.operations(resourceUUID: c) }
            let ngOps = ops.filter { $0.kind == .nodegroupCreate }
            XCTAssertEqual(ngOps.count, 1)
            XCTAssertEqual(ngOps.first?.nodegroupUUID, uuid)
            XCTAssertEqual(ngOps.first?.state, .pending)
            XCTAssertEqual(ngOps.first?.projectID, "demo-project")
            XCTAssertEqual(ngOps.first?.userID, "demo")
            XCTAssertEqual(ngOps.first?.requestID, r.header("x-openstack-request-id"))

            // The cluster is updating and counts the new workers.
            let cl = try await h.request(.get, "/v1/clusters/\(c)", version: Self.v)
            XCTAssertEqual(cl.json?["status"], "UPDATE_IN_PROGRESS")
            XCTAssertEqual(cl.json?["node_count"], 3)
            XCTAssertEqual(cl.json?["master_count"], 1)
        }
    }

    func testCreateDefaultsAndOptionalFields() async throws {
        try await APIHarness.withEach { h in
            let c = try await cluster(h)
            // Minimal body: defaults; name stays null (not generated).
            let minimal = try await createNG(h, c, [:])
            XCTAssertEqual(keys(minimal), Self.submittedKeys)
            XCTAssertEqual(minimal["name"], .null)
            XCTAssertEqual(minimal["node_count"], 1)
            XCTAssertEqual(minimal["min_node_count"], 0)
            XCTAssertEqual(minimal["max_node_count"], .null)
            XCTAssertEqual(minimal["role"], "worker")

            // Supplied optional fields appear in the answer.
            let full = try await createNG(h, c, [
                "name": "gpu", "flavor_id": "m1.large", "image_id": "local-swarm", "docker_volume_size": 10, "role": "gpu",
                "node_count": "3", "node_labels": ["tier": "gpu", "node.kubernetes.io/x": "y", "kubernetes.io/hostname": "h"],
                "node_taints": [["key": "gpu", "value": "true", "effect": "NoSchedule"], ["key": "dedicated", "effect": "NoExecute"]],
            ])
            XCTAssertEqual(keys(full), Self.submittedKeys.union(["docker_volume_size", "node_labels", "node_taints"]))
            XCTAssertEqual(full["flavor_id"], "m1.large")
            XCTAssertEqual(full["image_id"], "local-swarm")
            XCTAssertEqual(full["docker_volume_size"], 10)
            XCTAssertEqual(full["role"], "gpu")
            XCTAssertEqual(full["node_count"], 3, "numeric strings are coerced")
            XCTAssertEqual(full["node_labels"], ["tier": "gpu", "node.kubernetes.io/x": "y", "kubernetes.io/hostname": "h"])
            XCTAssertEqual(full["node_taints"], [["key": "gpu", "value": "true", "effect": "NoSchedule"], ["key": "dedicated", "effect": "NoExecute"]])
            let get = try await h.request(.get, "/v1/clusters/\(c)/nodegroups/gpu", version: Self.v)
            XCTAssertEqual(get.json?["node_labels"], ["tier": "gpu", "node.kubernetes.io/x": "y", "kubernetes.io/hostname": "h"])
            XCTAssertEqual(get.json?["node_taints"], [["key": "gpu", "value": "true", "effect": "NoSchedule"], ["key": "dedicated", "effect": "NoExecute"]])
            XCTAssertEqual(get.json?["docker_volume_size"], 10)

            // Zero nodes are allowed for nodegroups at 1.9.
            let zero = try await createNG(h, c, ["name": "zero", "node_count": 0])
            XCTAssertEqual(zero["node_count"], 0)

            // By cluster name.
            let byName = try await h.request(.post, "/v1/clusters/k8s/nodegroups", version: Self.v, body: ["name": "byname"])
            XCTAssertEqual(byName.status, 202)
            XCTAssertEqual(byName.json?["cluster_id"], .string(c))
        }
    }

    func testCreateRequiresTheClusterAPIAddress() async throws {
        try await APIHarness.withEach { h in
            let c = try await cluster(h, ready: false)
            let r = try await h.request(.post, "/v1/clusters/\(c)/nodegroups", version: Self.v, body: ["name": "ng1"])
            XCTAssertEqual(r.status, 409)
            XCTAssertEqual(r.errorDetail, "Cluster API address is not available yet")
            XCTAssertEqual(r.json?["errors"]?.arrayValue?.first?["code"], "client")
            XCTAssertEqual(r.header("OpenStack-API-Version"), "container-infrastructure-management 1.9")
            let ngs = try await h.request(.get, "/v1/clusters/\(c)/nodegroups", version: Self.v)
            XCTAssertEqual(ngs.json?["nodegroups"]?.arrayValue?.count, 2, "nothing stored")
            let ops = try await h.store.read { try await $0.operations(resourceUUID: c) }
            XCTAssertFalse(ops.contains { $0.kind == .nodegroupCreate })
        }
    }

    func testCreateDuplicateNameConflicts() async throws {
        try await APIHarness.withEach { h in
            let c = try await cluster(h)
            _ = try await createNG(h, c, ["name": "ng1"])
            for name in ["ng1", "default-worker"] {
                // The name check comes before the count rules.
                let r = try await h.request(.post, "/v1/clusters/\(c)/nodegroups", version: Self.v,
                                            body: ["name": .string(name), "min_node_count": 5])
                XCTAssertEqual(r.status, 409, name)
                XCTAssertEqual(r.errorDetail, "A node group with name \(name) already exists in the cluster k8s.")
                XCTAssertEqual(r.errorTitle, "A node group with name \(name) already exists in the cluster k8s")
            }
            // The same name in another cluster is fine.
            let c2 = try await cluster(h)
            _ = try await createNG(h, c2, ["name": "ng1"])
        }
    }

    func testCreateCountRules() async throws {
        try await APIHarness.withEach { h in
            let c = try await cluster(h)
            let cases: [([String: JSON], String)] = [
                (["min_node_count": 3, "max_node_count": 2, "node_count": 2],
                 "max_node_count for ng1 is invalid (min_node_count (3) should be less or equal to max_node_count (2))."),
                (["node_count": 4, "max_node_count": 3],
                 "max_node_count for ng1 is invalid (node_count (4) should be less or equal to max_node_count (3))."),
                (["node_count": 1, "min_node_count": 2],
                 "min_node_count for ng1 is invalid (min_node_count (2) should be less or equal to node_count (1))."),
            ]
            for (extra, message) in cases {
                var body = extra
                body["name"] = "ng1"
                let r = try await h.request(.post, "/v1/clusters/\(c)/nodegroups", version: Self.v, body: .object(body))
                XCTAssertEqual(r.status, 409, message)
                XCTAssertEqual(r.errorDetail, message)
            }
            // Boundaries are inclusive.
            let edge = try await createNG(h, c, ["name": "edge", "node_count": 3, "min_node_count": 3, "max_node_count": 3])
            XCTAssertEqual(edge["max_node_count"], 3)
            // Type and range errors are 400.
            let neg = try await h.request(.post, "/v1/clusters/\(c)/nodegroups", version: Self.v, body: ["node_count": -1])
            XCTAssertEqual(neg.status, 400)
            XCTAssertEqual(neg.errorDetail, "Invalid input for field/attribute node_count. Value: '-1'. Value should be greater or equal to 0")
            let negMax = try await h.request(.post, "/v1/clusters/\(c)/nodegroups", version: Self.v, body: ["max_node_count": -1])
            XCTAssertEqual(negMax.status, 400)
            XCTAssertEqual(negMax.errorDetail, "Invalid input for field/attribute max_node_count. Value: '-1'. Value should be greater or equal to 0")
            let word = try await h.request(.post, "/v1/clusters/\(c)/nodegroups", version: Self.v, body: ["node_count": "many"])
            XCTAssertEqual(word.status, 400)
            XCTAssertEqual(word.errorDetail, "Invalid input for field/attribute node_count. Value: 'many'. Wrong type. Expected '<class 'int'>', got '<class 'str'>'")
        }
    }

    func testCreateBodyValidation() async throws {
        try await APIHarness.withEach { h in
            let c = try await cluster(h)
            let unknown = try await h.request(.post, "/v1/clusters/\(c)/nodegroups", version: Self.v, body: ["name": "x", "bogus": 1])
            XCTAssertEqual(unknown.status, 400)
            XCTAssertEqual(unknown.errorDetail, "Unknown attribute for argument nodegroup: bogus")
            let ro = try await h.request(.post, "/v1/clusters/\(c)/nodegroups", version: Self.v, body: ["project_id": "p"])
            XCTAssertEqual(ro.status, 400)
            XCTAssertEqual(ro.errorDetail, "Invalid input for field/attribute project_id. Value: 'p'. Cannot set read only field.")
            let noBody = try await h.request(.post, "/v1/clusters/\(c)/nodegroups", version: Self.v)
            XCTAssertEqual(noBody.status, 400)
            XCTAssertEqual(noBody.errorDetail, "Missing argument: \"nodegroup\"")
            let long = try await h.request(.post, "/v1/clusters/\(c)/nodegroups", version: Self.v,
                                           body: ["name": .string(String(repeating: "n", count: 256))])
            XCTAssertEqual(long.status, 400)
            XCTAssertEqual(long.errorDetail?.hasSuffix("Value should have a maximum character requirement of 255"), true, long.text)
            let flavor = try await h.request(.post, "/v1/clusters/\(c)/nodegroups", version: Self.v, body: ["name": "x", "flavor_id": "nope"])
            XCTAssertEqual(flavor.status, 400)
            XCTAssertEqual(flavor.errorDetail, "Unable to find flavor nope.")
            let query = try await h.request(.post, "/v1/clusters/\(c)/nodegroups?x=1", version: Self.v, body: ["name": "x"])
            XCTAssertEqual(query.status, 400)
            XCTAssertEqual(query.errorDetail, "Unknown argument: \"x\"")
            let nope = try await h.request(.post, "/v1/clusters/nope/nodegroups", version: Self.v, body: ["name": "x"])
            XCTAssertEqual(nope.status, 404)
            XCTAssertEqual(nope.errorDetail, "Cluster nope could not be found.")
            // Nothing of the above was stored.
            let list = try await h.request(.get, "/v1/clusters/\(c)/nodegroups", version: Self.v)
            XCTAssertEqual(list.json?["nodegroups"]?.arrayValue?.count, 2)
        }
    }

    func testCreateNodeLabelRules() async throws {
        try await APIHarness.withEach { h in
            let c = try await cluster(h)
            let rejected = ["kubernetes.io/foo", "k8s.io/foo", "custom.kubernetes.io/foo", "x.k8s.io/foo", "kubernetes.io/hostnamex"]
            for key in rejected {
                let r = try await h.request(.post, "/v1/clusters/\(c)/nodegroups", version: Self.v,
                                            body: ["name": "ng1", "node_labels": .object([key: "v"])])
                XCTAssertEqual(r.status, 409, key)
                XCTAssertEqual(r.errorDetail, Self.reserved("ng1", key))
                XCTAssertEqual(r.errorTitle, "node_labels for ng1 is invalid (node label '\(key.split(separator: ".")[0])", "cut at the first period")
            }
            let allowed: [String: JSON] = [
                "node.kubernetes.io/x": "1", "kubelet.kubernetes.io/y": "2", "kubernetes.io/hostname": "h",
                "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux", "beta.kubernetes.io/instance-type": "m1",
                "topology.kubernetes.io/zone": "z", "failure-domain.beta.kubernetes.io/region": "r",
                "example.com/team": "a", "plain": "b", "notkubernetes.io/x": "c",
            ]
            let ok = try await createNG(h, c, ["name": "ok", "node_labels": .object(allowed)])
            XCTAssertEqual(ok["node_labels"], .object(allowed))
            // Non-string values are stored as strings, like labels.
            let typed = try await createNG(h, c, ["name": "typed", "node_labels": ["n": 1, "b": true]])
            XCTAssertEqual(typed["node_labels"], ["n": "1", "b": "True"])
        }
    }

    func testCreateNodeTaintRules() async throws {
        try await APIHarness.withEach { h in
            let c = try await cluster(h)
            let ok: JSON = ["key": "a", "effect": "NoSchedule"]
            let bad: [(JSON, String)] = [
                ([["key": "gpu", "value": "true", "effect": "Sometimes"]], "node_taints[0].effect must be one of NoSchedule, PreferNoSchedule, NoExecute"),
                ([ok, ["key": "gpu", "effect": "NoSchedule", "operator": "Equal", "extra": "1"]],
                 "node_taints[1] contains unrecognised field(s) extra, operator; allowed fields are key, value, effect"),
                ([["key": "", "effect": "NoSchedule"]], "node_taints[0].key is required"),
                ([ok, ok, ["value": "x", "effect": "NoSchedule"]], "node_taints[2].key is required"),
                ([["key": "gpu"]], "node_taints[0].effect must be one of NoSchedule, PreferNoSchedule, NoExecute"),
                ([["key": "gpu", "effect": "noschedule"]], "node_taints[0].effect must be one of NoSchedule, PreferNoSchedule, NoExecute"),
                ([ok, "gpu"], "node_taints[1] must be an object with key, effect and optional value"),
                (["key": "gpu", "effect": "NoSchedule"], "node_taints must be a list of objects with key, effect and optional value"),
            ]
            for (taints, why) in bad {
                let r = try await h.request(.post, "/v1/clusters/\(c)/nodegroups", version: Self.v, body: ["name": "ng1", "node_taints": taints])
                XCTAssertEqual(r.status, 409, why)
                XCTAssertEqual(r.errorDetail, "node_taints for ng1 is invalid (\(why)).")
            }
            for effect in ["NoSchedule", "PreferNoSchedule", "NoExecute"] {
                let ng = try await createNG(h, c, ["name": .string(effect), "node_taints": [["key": "k", "value": "v", "effect": .string(effect)]]])
                XCTAssertEqual(ng["node_taints"], [["key": "k", "value": "v", "effect": .string(effect)]])
            }
            let empty = try await createNG(h, c, ["name": "empty", "node_taints": []])
            XCTAssertEqual(empty["node_taints"], [])
        }
    }

    func testCreateMasterIsRefused() async throws {
        try await APIHarness.withEach { h in
            let c = try await cluster(h)
            let r = try await h.request(.post, "/v1/clusters/\(c)/nodegroups", version: Self.v, body: ["name": "m2", "role": "master"])
            XCTAssertEqual(r.status, 400)
            XCTAssertEqual(r.errorDetail, "Creating master nodegroups is currently not supported.")
            XCTAssertEqual(r.errorTitle, "Creating master nodegroups is currently not supported")
            // Node labels/taints on a master are a 409 checked before the master rule.
            let labels = try await h.request(.post, "/v1/clusters/\(c)/nodegroups", version: Self.v,
                                             body: ["name": "m2", "role": "master", "node_labels": ["a": "b"]])
            XCTAssertEqual(labels.status, 409)
            XCTAssertEqual(labels.errorDetail, "node_labels for m2 is invalid (node_labels may not be set on master nodegroups).")
            let taints = try await h.request(.post, "/v1/clusters/\(c)/nodegroups", version: Self.v,
                                             body: ["name": "m2", "role": "master", "node_taints": [["key": "a", "effect": "NoSchedule"]]])
            XCTAssertEqual(taints.status, 409)
            XCTAssertEqual(taints.errorDetail, "node_taints for m2 is invalid (node_taints may not be set on master nodegroups).")
            // The count rules come before the master rule.
            let counts = try await h.request(.post, "/v1/clusters/\(c)/nodegroups", version: Self.v,
                                             body: ["name": "m2", "role": "master", "min_node_count": 2])
            XCTAssertEqual(counts.status, 409)
            let masters = try await h.request(.get, "/v1/clusters/\(c)/nodegroups?role=master", version: Self.v)
            XCTAssertEqual(masters.json?["nodegroups"]?.arrayValue?.count, 1)
        }
    }

    func testCreatePolicyAndScoping() async throws {
        try await APIHarness.withEach { h in
            let c = try await cluster(h)
            let reader = try await h.request(.post, "/v1/clusters/\(c)/nodegroups", token: .reader, version: Self.v, body: ["name": "r"])
            XCTAssertEqual(reader.status, 403)
            XCTAssertEqual(reader.errorDetail, "Policy doesn't allow nodegroup:create to be performed.")
            XCTAssertEqual(reader.errorTitle, "Policy doesn't allow nodegroup:create to be performed")
            let other = try await h.request(.post, "/v1/clusters/\(c)/nodegroups", token: .other, version: Self.v, body: ["name": "o"])
            XCTAssertEqual(other.status, 404)
            XCTAssertEqual(other.errorDetail, "Cluster \(c) could not be found.")
            // Admin mutations are project-scoped (contract §7.4).
            let admin = try await h.request(.post, "/v1/clusters/\(c)/nodegroups", token: .admin, version: Self.v, body: ["name": "a"])
            XCTAssertEqual(admin.status, 404)
            XCTAssertEqual(admin.errorDetail, "Cluster \(c) could not be found.")
            // Another member of the project may add one; it carries the caller's project.
            let demo2 = try await createNG(h, c, ["name": "d2"], token: .demo2)
            XCTAssertEqual(demo2["project_id"], "demo-project")
        }
    }

    // MARK: Patch

    /// A cluster with a CREATE_COMPLETE nodegroup `ng1` (2 nodes, min 1, max 5).
    private func patchable(_ h: APIHarness) async throws -> (cluster: String, ng: String) {
        let c = try await cluster(h)
        let ng = try await createNG(h, c, ["name": "ng1", "node_count": 2, "min_node_count": 1, "max_node_count": 5])
        try await h.setClusterState(c, .createComplete)
        return (c, ng["uuid"]?.stringValue ?? "")
    }

    func testPatchCountsAnswersThePatchedDetail() async throws {
        try await APIHarness.withEach { h in
            let (c, ng) = try await patchable(h)
            let r = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v, body: [
                ["op": "replace", "path": "/min_node_count", "value": 2],
                ["op": "replace", "path": "/max_node_count", "value": 3],
            ])
            XCTAssertEqual(r.status, 202, r.text)
            XCTAssertEqual(keys(r.json), Self.detailKeys)
            XCTAssertEqual(r.json?["uuid"], .string(ng))
            XCTAssertEqual(r.json?["links"], links(c, ng))
            XCTAssertEqual(r.json?["min_node_count"], 2)
            XCTAssertEqual(r.json?["max_node_count"], 3)
            XCTAssertEqual(r.json?["node_count"], 2)
            XCTAssertEqual(r.json?["name"], "ng1")

            let get = try await h.request(.get, "/v1/clusters/\(c)/nodegroups/\(ng)", version: Self.v)
            XCTAssertEqual(get.json?["min_node_count"], 2)
            XCTAssertEqual(get.json?["max_node_count"], 3)
            XCTAssertEqual(get.json?["status"], "UPDATE_IN_PROGRESS")
            let list = try await h.request(.get, "/v1/clusters/\(c)/nodegroups?role=worker&sort_key=name&sort_dir=desc&limit=1", version: Self.v)
            XCTAssertEqual(list.json?["nodegroups"]?.arrayValue?.first?["max_node_count"], 3)
            let cl = try await h.request(.get, "/v1/clusters/\(c)", version: Self.v)
            XCTAssertEqual(cl.json?["status"], "UPDATE_IN_PROGRESS")
            let ops = try await h.store.read { try await $0.operations(resourceUUID: c) }
            let update = ops.filter { $0.kind == .nodegroupUpdate }
            XCTAssertEqual(update.count, 1)
            XCTAssertEqual(update.first?.nodegroupUUID, ng)
            XCTAssertEqual(update.first?.userID, "demo")

            // By integer id, removing the maximum.
            try await h.setClusterState(c, .updateComplete)
            let id = get.json?["id"]?.intValue ?? 0
            let rm = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/\(id)", version: Self.v,
                                         body: [["op": "remove", "path": "/max_node_count"]])
            XCTAssertEqual(rm.status, 202, rm.text)
            XCTAssertEqual(rm.json?["max_node_count"], .null)
            // add is allowed on a null attribute, refused on a set one.
            try await h.setClusterState(c, .updateComplete)
            let add = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/\(ng)", version: Self.v,
                                          body: [["op": "add", "path": "/max_node_count", "value": 4]])
            XCTAssertEqual(add.status, 202, add.text)
            XCTAssertEqual(add.json?["max_node_count"], 4)
            try await h.setClusterState(c, .updateComplete)
            let again = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/\(ng)", version: Self.v,
                                            body: [["op": "add", "path": "/max_node_count", "value": 6]])
            XCTAssertEqual(again.status, 400)
            XCTAssertEqual(again.errorDetail, "The attribute /max_node_count has existed, please use 'replace' operation instead.")
        }
    }

    func testPatchNodeLabelsAndTaintsFromPythonLiterals() async throws {
        try await APIHarness.withEach { h in
            let (c, _) = try await patchable(h)
            let r = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v, body: [
                ["op": "replace", "path": "/node_labels", "value": "{'tier': 'gpu'}"],
                ["op": "replace", "path": "/node_taints", "value": "[{'key': 'gpu', 'value': 'true', 'effect': 'NoSchedule'}]"],
            ])
            XCTAssertEqual(r.status, 202, r.text)
            XCTAssertEqual(r.json?["node_labels"], ["tier": "gpu"])
            XCTAssertEqual(r.json?["node_taints"], [["key": "gpu", "value": "true", "effect": "NoSchedule"]])
            let get = try await h.request(.get, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v)
            XCTAssertEqual(get.json?["node_labels"], ["tier": "gpu"])
            XCTAssertEqual(get.json?["node_taints"], [["key": "gpu", "value": "true", "effect": "NoSchedule"]])

            // JSON-compatible strings work as well; '' clears node labels.
            try await h.setClusterState(c, .updateComplete)
            let json = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v, body: [
                ["op": "replace", "path": "/node_labels", "value": ""],
                ["op": "replace", "path": "/node_taints", "value": "[{\"key\": \"spot\", \"effect\": \"PreferNoSchedule\"}]"],
            ])
            XCTAssertEqual(json.status, 202, json.text)
            XCTAssertEqual(json.json?["node_labels"], [:])
            XCTAssertEqual(json.json?["node_taints"], [["key": "spot", "effect": "PreferNoSchedule"]])
            let cleared = try await h.request(.get, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v)
            XCTAssertEqual(cleared.json?["node_labels"], [:])
            XCTAssertEqual(cleared.json?["node_taints"], [["key": "spot", "effect": "PreferNoSchedule"]])

            // Sub-path add on node labels.
            try await h.setClusterState(c, .updateComplete)
            let sub = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v,
                                          body: [["op": "add", "path": "/node_labels/zone", "value": "z1"]])
            XCTAssertEqual(sub.status, 202, sub.text)
            XCTAssertEqual(sub.json?["node_labels"], ["zone": "z1"])

            // Rules apply to patched values too.
            try await h.setClusterState(c, .updateComplete)
            let reserved = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v,
                                               body: [["op": "replace", "path": "/node_labels", "value": "{'kubernetes.io/foo': 'x'}"]])
            XCTAssertEqual(reserved.status, 409)
            XCTAssertEqual(reserved.errorDetail, Self.reserved("ng1", "kubernetes.io/foo"))
            let taint = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v,
                                            body: [["op": "replace", "path": "/node_taints", "value": "[{'key': 'gpu', 'effect': 'Never'}]"]])
            XCTAssertEqual(taint.status, 409)
            XCTAssertEqual(taint.errorDetail, "node_taints for ng1 is invalid (node_taints[0].effect must be one of NoSchedule, PreferNoSchedule, NoExecute).")
            let malformed = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v,
                                                body: [["op": "replace", "path": "/node_labels", "value": "{'a': "]])
            XCTAssertEqual(malformed.status, 400)
            XCTAssertEqual(malformed.errorDetail?.hasPrefix("Couldn't apply patch '"), true, malformed.text)
            // Refused patches changed nothing.
            let after = try await h.request(.get, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v)
            XCTAssertEqual(after.json?["node_labels"], ["zone": "z1"])
            XCTAssertEqual(after.json?["node_taints"], [["key": "spot", "effect": "PreferNoSchedule"]])
        }
    }

    func testPatchOnlyBoundsLabelsAndTaintsArePatchable() async throws {
        try await APIHarness.withEach { h in
            let (c, _) = try await patchable(h)
            for path in ["/node_count", "/name", "/labels", "/role", "/flavor_id", "/image_id", "/is_default", "/status",
                         "/docker_volume_size", "/id", "/uuid", "/cluster_id", "/project_id", "/stack_id", "/version"] {
                let r = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v,
                                            body: [["op": "replace", "path": .string(path), "value": 3]])
                XCTAssertEqual(r.status, 400, path)
                XCTAssertEqual(r.errorDetail, "'\(path)' is an internal attribute and can not be updated", path)
            }
            let sub = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v,
                                          body: [["op": "add", "path": "/labels/x", "value": "y"]])
            XCTAssertEqual(sub.status, 400)
            XCTAssertEqual(sub.errorDetail, "'/labels/x' is an internal attribute and can not be updated")
            let unknown = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v,
                                              body: [["op": "add", "path": "/bogus", "value": 1]])
            XCTAssertEqual(unknown.status, 400)
            XCTAssertEqual(unknown.errorDetail, "Adding a new attribute /bogus to the root of the resource is not allowed.")
            let noValue = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v,
                                              body: [["op": "replace", "path": "/min_node_count"]])
            XCTAssertEqual(noValue.status, 400)
            XCTAssertEqual(noValue.errorDetail, "'add' and 'replace' operations needs value")
            let object = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v, body: ["min_node_count": 1])
            XCTAssertEqual(object.status, 400)
            let str = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v,
                                          body: [["op": "replace", "path": "/max_node_count", "value": "4"]])
            XCTAssertEqual(str.status, 400)
            XCTAssertEqual(str.errorDetail, "Invalid input for field/attribute max_node_count. Value: '4'. Wrong type. Expected '<class 'int'>', got '<class 'str'>'")
            let neg = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v,
                                          body: [["op": "replace", "path": "/min_node_count", "value": -1]])
            XCTAssertEqual(neg.status, 400)
            XCTAssertEqual(neg.errorDetail, "Invalid input for field/attribute min_node_count. Value: '-1'. Value should be greater or equal to 0")
            let rmMin = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v,
                                            body: [["op": "remove", "path": "/min_node_count"]])
            XCTAssertEqual(rmMin.status, 400)
            XCTAssertEqual(rmMin.errorDetail, "Invalid input for field/attribute min_node_count. Value: 'None'. Mandatory field missing.")

            // Count rules after the patch (409).
            let overMax = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v,
                                              body: [["op": "replace", "path": "/max_node_count", "value": 1]])
            XCTAssertEqual(overMax.status, 409)
            XCTAssertEqual(overMax.errorDetail, "max_node_count for ng1 is invalid (node_count (2) should be less or equal to max_node_count (1)).")
            let minOver = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v,
                                              body: [["op": "replace", "path": "/min_node_count", "value": 3]])
            XCTAssertEqual(minOver.status, 409)
            XCTAssertEqual(minOver.errorDetail, "min_node_count for ng1 is invalid (min_node_count (3) should be less or equal to node_count (2)).")
            let cross = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v, body: [
                ["op": "replace", "path": "/min_node_count", "value": 2], ["op": "replace", "path": "/max_node_count", "value": 1],
            ])
            XCTAssertEqual(cross.status, 409)
            XCTAssertEqual(cross.errorDetail, "max_node_count for ng1 is invalid (min_node_count (2) should be less or equal to max_node_count (1)).")

            // None of the refused patches changed the row or queued work.
            let get = try await h.request(.get, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v)
            XCTAssertEqual(get.json?["min_node_count"], 1)
            XCTAssertEqual(get.json?["max_node_count"], 5)
            XCTAssertEqual(get.json?["node_count"], 2)
            XCTAssertEqual(get.json?["status"], "CREATE_COMPLETE")
            let ops = try await h.store.read { try await $0.operations(resourceUUID: c) }
            XCTAssertFalse(ops.contains { $0.kind == .nodegroupUpdate })
        }
    }

    func testPatchStateGateAndScoping() async throws {
        try await APIHarness.withEach { h in
            let c = try await cluster(h)
            _ = try await createNG(h, c, ["name": "ng1", "node_count": 2])
            let patch: JSON = [["op": "replace", "path": "/max_node_count", "value": 4]]
            // The new nodegroup is still CREATE_IN_PROGRESS.
            let busy = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v, body: patch)
            XCTAssertEqual(busy.status, 400)
            XCTAssertEqual(busy.errorDetail, "Updating a nodegroup when status is \"CREATE_IN_PROGRESS\" is not supported.")
            try await h.setClusterState(c, .createComplete)

            let reader = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/ng1", token: .reader, version: Self.v, body: patch)
            XCTAssertEqual(reader.status, 403)
            XCTAssertEqual(reader.errorDetail, "Policy doesn't allow nodegroup:update to be performed.")
            let other = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/ng1", token: .other, version: Self.v, body: patch)
            XCTAssertEqual(other.status, 404)
            XCTAssertEqual(other.errorDetail, "Cluster \(c) could not be found.")
            let admin = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/ng1", token: .admin, version: Self.v, body: patch)
            XCTAssertEqual(admin.status, 404)
            let missing = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/nope", version: Self.v, body: patch)
            XCTAssertEqual(missing.status, 404)
            XCTAssertEqual(missing.errorDetail, "Nodegroup nope could not be found.")

            // The default worker's bounds are patchable; UPDATE_IN_PROGRESS and UPDATE_FAILED allow it.
            let ok = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/default-worker", version: Self.v, body: patch)
            XCTAssertEqual(ok.status, 202, ok.text)
            XCTAssertEqual(ok.json?["max_node_count"], 4)
            let inFlight = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/default-worker", version: Self.v,
                                               body: [["op": "replace", "path": "/max_node_count", "value": 6]])
            XCTAssertEqual(inFlight.status, 202, "UPDATE_IN_PROGRESS accepts further updates")
            try await h.setClusterState(c, .deleteInProgress)
            let deleting = try await h.request(.patch, "/v1/clusters/\(c)/nodegroups/default-worker", version: Self.v, body: patch)
            XCTAssertEqual(deleting.status, 400)
            XCTAssertEqual(deleting.errorDetail, "Updating a nodegroup when status is \"DELETE_IN_PROGRESS\" is not supported.")
        }
    }

    // MARK: Delete

    func testDeleteDefaultNodegroupsIsRefused() async throws {
        try await APIHarness.withEach { h in
            let c = try await cluster(h)
            for name in ["default-worker", "default-master"] {
                let r = try await h.request(.delete, "/v1/clusters/\(c)/nodegroups/\(name)", version: Self.v)
                XCTAssertEqual(r.status, 400, name)
                XCTAssertEqual(r.errorDetail, "Deleting a default nodegroup is not supported.")
            }
            let list = try await h.request(.get, "/v1/clusters/\(c)/nodegroups", version: Self.v)
            XCTAssertEqual(list.json?["nodegroups"]?.arrayValue?.map { $0["status"] }, ["CREATE_COMPLETE", "CREATE_COMPLETE"])
        }
    }

    func testDeleteNonDefaultNodegroup() async throws {
        try await APIHarness.withEach { h in
            let c = try await cluster(h)
            let ng = try await createNG(h, c, ["name": "ng1"])
            let uuid = ng["uuid"]?.stringValue ?? ""
            try await h.setClusterState(c, .updateComplete)

            let reader = try await h.request(.delete, "/v1/clusters/\(c)/nodegroups/ng1", token: .reader, version: Self.v)
            XCTAssertEqual(reader.status, 403)
            XCTAssertEqual(reader.errorDetail, "Policy doesn't allow nodegroup:delete to be performed.")
            let other = try await h.request(.delete, "/v1/clusters/\(c)/nodegroups/ng1", token: .other, version: Self.v)
            XCTAssertEqual(other.status, 404)
            XCTAssertEqual(other.errorDetail, "Cluster \(c) could not be found.")
            let missing = try await h.request(.delete, "/v1/clusters/\(c)/nodegroups/nope", version: Self.v)
            XCTAssertEqual(missing.status, 404)
            XCTAssertEqual(missing.errorDetail, "Nodegroup nope could not be found.")

            let r = try await h.request(.delete, "/v1/clusters/\(c)/nodegroups/\(uuid)", version: Self.v)
            XCTAssertEqual(r.status, 204)
            XCTAssertEqual(r.text, "")
            let get = try await h.request(.get, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v)
            XCTAssertEqual(get.status, 200, "the row stays until the driver is done")
            XCTAssertEqual(get.json?["status"], "DELETE_IN_PROGRESS")
            let cl = try await h.request(.get, "/v1/clusters/\(c)", version: Self.v)
            XCTAssertEqual(cl.json?["status"], "UPDATE_IN_PROGRESS")
            let ops = try await h.store.read { try await $0.operations(resourceUUID: c) }
            let deletes = ops.filter { $0.kind == .nodegroupDelete }
            XCTAssertEqual(deletes.count, 1)
            XCTAssertEqual(deletes.first?.nodegroupUUID, uuid)
            XCTAssertEqual(deletes.first?.projectID, "demo-project")

            // Deleting again while the delete is in flight queues nothing new.
            let again = try await h.request(.delete, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v)
            XCTAssertEqual(again.status, 204)
            let ops2 = try await h.store.read { try await $0.operations(resourceUUID: c) }
            XCTAssertEqual(ops2.filter { $0.kind == .nodegroupDelete }.count, 1)
        }
    }

    func testRoutingShapes() async throws {
        try await APIHarness.withEach { h in
            let c = try await cluster(h)
            let put = try await h.request(.put, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v, body: [:])
            XCTAssertEqual(put.status, 405)
            let postOne = try await h.request(.post, "/v1/clusters/\(c)/nodegroups/ng1", version: Self.v, body: [:])
            XCTAssertEqual(postOne.status, 405)
            let deep = try await h.request(.get, "/v1/clusters/\(c)/nodegroups/ng1/extra", version: Self.v)
            XCTAssertEqual(deep.status, 404)
        }
    }
}
