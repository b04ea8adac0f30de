import MagnumCore
import MagnumStore
import MagnumTestSupport
import XCTest

/// `/v1/clusters`: create, list/detail/get, PATCH and DELETE (contract §4.2, §6.2, §2.5, A.2–A.4).
final class ClusterTests: XCTestCase {
    // MARK: Helpers

    /// The nodegroups of a cluster as stored.
    private func nodegroups(_ h: APIHarness, _ uuid: String) async throws -> [NodeGroup] {
        try await h.store.read { try await $0.nodegroups(clusterUUID: uuid, role: nil, sort: MagnumStore.SortOrder()) }
    }

    /// The operations recorded for a cluster.
    private func operations(_ h: APIHarness, _ uuid: String) async throws -> [ClusterOperation] {
        try await h.store.read { try await $0.operations(resourceUUID: uuid) }
    }

    private func uuidOf(_ json: JSON) -> String { json["uuid"]?.stringValue ?? "" }

    private func post(_ h: APIHarness, _ body: [String: JSON], token: APIHarness.Token = .demo, version: String = "latest") async throws -> APIHarness.Reply {
        try await h.request(.post, "/v1/clusters", token: token, version: version, body: .object(body))
    }

    private func patch(_ h: APIHarness, _ ident: String, _ ops: [JSON], token: APIHarness.Token = .demo, version: String = "latest",
                       query: String = "") async throws -> APIHarness.Reply {
        try await h.request(.patch, "/v1/clusters/\(ident)\(query)", token: token, version: version, body: .array(ops))
    }

    private func assertError(_ r: APIHarness.Reply, _ status: Int, _ detail: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, status, r.text, file: file, line: line)
        XCTAssertEqual(r.errorDetail, detail, file: file, line: line)
        XCTAssertEqual(r.json?["errors"]?.arrayValue?.first?["code"], status >= 500 ? "server" : "client", file: file, line: line)
        XCTAssertEqual(r.json?["errors"]?.arrayValue?.first?["status"], .int(status), file: file, line: line)
    }

    static var isoSeconds: Regex<AnyRegexOutput> { try! Regex(#"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$"#) }

    static let briefKeys: Set<String> = ["uuid", "name", "cluster_template_id", "keypair", "node_count", "master_count",
                                         "docker_volume_size", "labels", "master_flavor_id", "flavor_id", "create_timeout",
                                         "links", "status", "health_status", "merge_labels"]
    static let detailKeys: Set<String> = briefKeys.union([
        "status_reason", "health_status_reason", "discovery_url", "api_address", "coe_version", "container_version",
        "project_id", "user_id", "node_addresses", "master_addresses", "fixed_network", "fixed_subnet",
        "floating_ip_enabled", "labels_overridden", "labels_added", "labels_skipped", "master_lb_enabled",
        "created_at", "updated_at",
    ])

    // MARK: Create

    /// A.1/A.2/A.3: the 202 carries only the UUID; the row, both default nodegroups and the
    /// `cluster_create` operation exist right away; GET shows every field.
    func testCreateAnswersUUIDOnlyAndTheClusterIsImmediatelyVisible() async throws {
        try await APIHarness.withEach { h in
            let ct = uuidOf(try await h.createTemplate([
                "name": "k8s-ct", "labels": ["kube_tag": "v1.30", "boot_volume_size": "10"], "dns_nameserver": "8.8.8.8",
                "network_driver": "calico", "master_lb_enabled": true,
            ]))
            let r = try await post(h, ["name": "k8s", "cluster_template_id": .string(ct), "master_count": 1, "node_count": 2,
                                       "keypair": "kp", "labels": ["extra": "x"], "merge_labels": true])
            XCTAssertEqual(r.status, 202, r.text)
            let uuid = r.json?["uuid"]?.stringValue ?? ""
            XCTAssertNotNil(UUIDs.canonical(uuid))
            XCTAssertEqual(UUIDs.canonical(uuid), uuid, "canonical lower-case UUID")
            XCTAssertEqual(r.json, ["uuid": .string(uuid)], "the 202 body is exactly {uuid}")
            XCTAssertNil(r.header("Location"))
            XCTAssertEqual(r.header("OpenStack-API-Version"), "container-infrastructure-management 1.14")

            let g = try await h.request(.get, "/v1/clusters/\(uuid)", version: "latest")
            XCTAssertEqual(g.status, 200, g.text)
            let created = g.json?["created_at"]?.stringValue ?? ""
            XCTAssertNotNil(created.wholeMatch(of: Self.isoSeconds), created)
            let expected: JSON = [
                "uuid": .string(uuid), "name": "k8s", "cluster_template_id": .string(ct), "keypair": "kp",
                "node_count": 2, "master_count": 1, "docker_volume_size": nil,
                "labels": ["kube_tag": "v1.30", "boot_volume_size": "10", "extra": "x"],
                "master_flavor_id": "m1.small", "flavor_id": "m1.small", "create_timeout": 60,
                "links": [["href": .string("http://localhost/v1/clusters/\(uuid)"), "rel": "self"],
                          ["href": .string("http://localhost/clusters/\(uuid)"), "rel": "bookmark"]],
                "cluster_id": nil, "status": "CREATE_IN_PROGRESS", "status_reason": nil,
                "health_status": nil, "health_status_reason": [:],
                "discovery_url": nil, "api_address": nil, "coe_version": nil, "container_version": nil,
                "project_id": "demo-project", "user_id": "demo", "node_addresses": [], "master_addresses": [],
                "fixed_network": nil, "fixed_subnet": nil, "floating_ip_enabled": true, "merge_labels": false,
                "labels_overridden": [:], "labels_added": ["extra": "x"], "labels_skipped": [:],
                "master_lb_enabled": true, "created_at": .string(created), "updated_at": nil,
            ]
            XCTAssertEqual(g.json, expected, h.label)

            // Both default nodegroups exist with the create.
            let ngs = try await nodegroups(h, uuid)
            XCTAssertEqual(ngs.count, 2)
            let master = try XCTUnwrap(ngs.first { $0.name == "default-master" })
            let worker = try XCTUnwrap(ngs.first { $0.name == "default-worker" })
            XCTAssertEqual(master.role, "master")
            XCTAssertEqual(master.nodeCount, 1)
            XCTAssertEqual(worker.role, "worker")
            XCTAssertEqual(worker.nodeCount, 2)
            for ng in [master, worker] {
                XCTAssertTrue(ng.isDefault)
                XCTAssertEqual(ng.clusterID, uuid)
                XCTAssertEqual(ng.labels, ["kube_tag": "v1.30", "boot_volume_size": "10", "extra": "x"])
                XCTAssertEqual(ng.imageID, "fedora-coreos-latest")
                XCTAssertEqual(ng.flavorID, "m1.small")
                XCTAssertEqual(ng.status, .createInProgress)
                XCTAssertEqual(ng.projectID, "demo-project")
                XCTAssertEqual(ng.minNodeCount, 0)
                XCTAssertNil(ng.maxNodeCount)
                XCTAssertNil(ng.dockerVolumeSize)
            }

            // The operation is recorded in the same transaction.
            let ops = try await operations(h, uuid)
            XCTAssertEqual(ops.count, 1)
            let op = try XCTUnwrap(ops.first)
            XCTAssertEqual(op.kind, .clusterCreate)
            XCTAssertEqual(op.state, .pending)
            XCTAssertEqual(op.resourceUUID, uuid)
            // The Heat driver acts as the caller: its sealed token and roles ride along
            // (CallerTokenTests checks them).
            XCTAssertEqual(op.parameters.filter { !$0.key.hasPrefix("caller_") }, ["master_count": 1, "node_count": 2, "create_timeout": 60])
            XCTAssertEqual(Set(op.parameters.keys.filter { $0.hasPrefix("caller_") }), [CallerToken.tokenParameter, CallerToken.rolesParameter])
            XCTAssertEqual(op.projectID, "demo-project")
            XCTAssertEqual(op.userID, "demo")
            XCTAssertEqual(op.requestID, r.header("x-openstack-request-id"))
        }
    }

    /// Defaults of §4.2.2 step 10: keypair, flavors, volume size, networks and the two booleans
    /// come from the template; create_timeout 60; counts 1; a generated `<greek>-<n>-cluster` name.
    func testCreateTakesDefaultsFromTheTemplate() async throws {
        try await APIHarness.withEach { h in
            let ct = uuidOf(try await h.createTemplate([
                "flavor_id": "m1.medium", "master_flavor_id": "m1.large", "docker_volume_size": 5,
                "fixed_network": "private", "fixed_subnet": "private-subnet", "floating_ip_enabled": false,
                "master_lb_enabled": true, "labels": ["min_node_count": "1"],
            ]))
            let r = try await post(h, ["cluster_template_id": .string(ct)])
            XCTAssertEqual(r.status, 202, r.text)
            let uuid = uuidOf(r.json ?? .null)
            let c = try await h.request(.get, "/v1/clusters/\(uuid)", version: "1.12")
            XCTAssertEqual(c.status, 200)
            let name = c.json?["name"]?.stringValue ?? ""
            let generated = try Regex(#"^(alpha|beta|gamma|delta|epsilon|zeta|eta|theta|iota|kappa|lambda|mu|nu|xi|omicron|pi|rho|sigma|tau|upsilon|phi|chi|psi|omega)-[0-9]+-cluster$"#)
            XCTAssertNotNil(name.wholeMatch(of: generated), name)
            XCTAssertEqual(c.json?["keypair"], "kp")
            XCTAssertEqual(c.json?["flavor_id"], "m1.medium")
            XCTAssertEqual(c.json?["master_flavor_id"], "m1.large")
            XCTAssertEqual(c.json?["docker_volume_size"], 5)
            XCTAssertEqual(c.json?["fixed_network"], "private")
            XCTAssertEqual(c.json?["fixed_subnet"], "private-subnet")
            XCTAssertEqual(c.json?["floating_ip_enabled"], false)
            XCTAssertEqual(c.json?["master_lb_enabled"], true)
            XCTAssertEqual(c.json?["create_timeout"], 60)
            XCTAssertEqual(c.json?["master_count"], 1)
            XCTAssertEqual(c.json?["node_count"], 1)
            XCTAssertEqual(c.json?["discovery_url"]?.isNull, true)
            XCTAssertEqual(c.json?["labels"], ["min_node_count": "1"])
            XCTAssertEqual(c.json?["stack_id"]?.isNull, true)
            XCTAssertNil(c.json?["cluster_id"])

            let ngs = try await nodegroups(h, uuid)
            let master = try XCTUnwrap(ngs.first { $0.role == "master" })
            let worker = try XCTUnwrap(ngs.first { $0.role == "worker" })
            XCTAssertEqual(master.flavorID, "m1.large")
            XCTAssertEqual(worker.flavorID, "m1.medium")
            XCTAssertEqual(worker.dockerVolumeSize, 5)
            XCTAssertEqual(worker.minNodeCount, 1, "default worker min_node_count comes from the label")
            XCTAssertEqual(master.minNodeCount, 0)

            // Explicit values win over the template's.
            try await h.store.write { try await $0.insert(Keypair(name: "kp2", userID: "demo", publicKey: "ssh-ed25519 BBBB", fingerprint: "22:33")) }
            let o = try await post(h, [
                "name": "explicit", "cluster_template_id": .string(ct), "keypair": "kp2", "flavor_id": "m1.small",
                "master_flavor_id": "m1.tiny", "docker_volume_size": 7, "fixed_network": "private", "fixed_subnet": "private-subnet",
                "floating_ip_enabled": true, "master_lb_enabled": "false", "create_timeout": 0,
                "discovery_url": "https://discovery.etcd.io/abc", "master_count": "1", "node_count": 3,
            ])
            XCTAssertEqual(o.status, 202, o.text)
            let e = try await h.request(.get, "/v1/clusters/\(uuidOf(o.json ?? .null))", version: "latest")
            XCTAssertEqual(e.json?["name"], "explicit")
            XCTAssertEqual(e.json?["keypair"], "kp2")
            XCTAssertEqual(e.json?["flavor_id"], "m1.small")
            XCTAssertEqual(e.json?["master_flavor_id"], "m1.tiny")
            XCTAssertEqual(e.json?["docker_volume_size"], 7)
            XCTAssertEqual(e.json?["floating_ip_enabled"], true)
            XCTAssertEqual(e.json?["master_lb_enabled"], false)
            XCTAssertEqual(e.json?["create_timeout"], 0)
            XCTAssertEqual(e.json?["discovery_url"], "https://discovery.etcd.io/abc")
            XCTAssertEqual(e.json?["node_count"], 3)
            XCTAssertEqual(e.json?["master_count"], 1)

            // A template without keypair gives a cluster without keypair (allowed).
            let nokp = uuidOf(try await h.createTemplate(["name": "nokp", "keypair_id": nil]))
            let n = try await post(h, ["cluster_template_id": .string(nokp)])
            XCTAssertEqual(n.status, 202, n.text)
            let nk = try await h.request(.get, "/v1/clusters/\(uuidOf(n.json ?? .null))")
            XCTAssertEqual(nk.json?["keypair"]?.isNull, true)

            // Client-supplied uuid and status are ignored.
            let fixed = "11111111-2222-3333-4444-555555555555"
            let u = try await post(h, ["cluster_template_id": .string(ct), "uuid": .string(fixed), "status": "CREATE_COMPLETE"])
            XCTAssertEqual(u.status, 202, u.text)
            XCTAssertNotEqual(uuidOf(u.json ?? .null), fixed)
            let us = try await h.request(.get, "/v1/clusters/\(uuidOf(u.json ?? .null))")
            XCTAssertEqual(us.json?["status"], "CREATE_IN_PROGRESS")
        }
    }

    /// The template may be named by UUID, name or integer DB id; it is stored as its UUID.
    func testTemplateIdentByNameAndDatabaseID() async throws {
        try await APIHarness.withEach { h in
            let ct = uuidOf(try await h.createTemplate(["name": "named-ct"]))
            let id = try await h.store.read { try await $0.clusterTemplates(matching: .uuid(ct), .everything).first?.id } ?? 0
            for ident in ["named-ct", String(id)] {
                let r = try await post(h, ["cluster_template_id": .string(ident)])
                XCTAssertEqual(r.status, 202, "\(ident): \(r.text)")
                let g = try await h.request(.get, "/v1/clusters/\(uuidOf(r.json ?? .null))")
                XCTAssertEqual(g.json?["cluster_template_id"], .string(ct), ident)
            }
        }
    }

    /// Labels merge semantics (§4.2.2) and labels_overridden/added/skipped (A.3, quirk 9).
    func testLabelsMergeSemanticsAndDiffs() async throws {
        try await APIHarness.withEach { h in
            let ct = uuidOf(try await h.createTemplate(["labels": ["a": "1", "b": "2"]]))
            func detail(_ extra: [String: JSON]) async throws -> JSON {
                var body: [String: JSON] = ["cluster_template_id": .string(ct)]
                for (k, v) in extra { body[k] = v }
                let r = try await post(h, body)
                XCTAssertEqual(r.status, 202, r.text)
                return try await h.request(.get, "/v1/clusters/\(uuidOf(r.json ?? .null))").json ?? .null
            }
            // absent, null and {} → the template's labels.
            for extra: [String: JSON] in [[:], ["labels": nil], ["labels": [:]], ["labels": [:], "merge_labels": true]] {
                let d = try await detail(extra)
                XCTAssertEqual(d["labels"], ["a": "1", "b": "2"], "\(extra)")
                XCTAssertEqual(d["labels_overridden"], [:])
                XCTAssertEqual(d["labels_added"], [:])
                XCTAssertEqual(d["labels_skipped"], [:])
                XCTAssertEqual(d["merge_labels"], false)
            }
            // Non-empty without merge → exactly the given labels.
            for extra: [String: JSON] in [["labels": ["b": "3", "c": "4"]], ["labels": ["b": "3", "c": "4"], "merge_labels": false]] {
                let d = try await detail(extra)
                XCTAssertEqual(d["labels"], ["b": "3", "c": "4"])
                XCTAssertEqual(d["labels_overridden"], ["b": "2"], "overridden shows the template's value")
                XCTAssertEqual(d["labels_added"], ["c": "4"])
                XCTAssertEqual(d["labels_skipped"], ["a": "1"])
                XCTAssertEqual(d["merge_labels"], false, "merge_labels is input-only")
            }
            // merge_labels true → merged over the template's.
            let m = try await detail(["labels": ["b": "3", "c": "4"], "merge_labels": true])
            XCTAssertEqual(m["labels"], ["a": "1", "b": "3", "c": "4"])
            XCTAssertEqual(m["labels_overridden"], ["b": "2"])
            XCTAssertEqual(m["labels_added"], ["c": "4"])
            XCTAssertEqual(m["labels_skipped"], [:])
            XCTAssertEqual(m["merge_labels"], false)
            // Same value as the template is not an override.
            let same = try await detail(["labels": ["a": "1"], "merge_labels": "true"])
            XCTAssertEqual(same["labels"], ["a": "1", "b": "2"])
            XCTAssertEqual(same["labels_overridden"], [:])
            // Values are coerced to strings.
            let coerced = try await detail(["labels": ["n": 1, "t": true, "f": 1.5, "s": "x"]])
            XCTAssertEqual(coerced["labels"], ["n": "1", "t": "True", "f": "1.5", "s": "x"])
            // The list view carries labels but no diffs.
            let list = try await h.request(.get, "/v1/clusters")
            for c in list.json?["clusters"]?.arrayValue ?? [] {
                XCTAssertNotNil(c["labels"]?.objectValue)
                XCTAssertNil(c["labels_overridden"])
            }
            // Nodegroups copy the effective labels.
            let ngs = try await nodegroups(h, uuidOf(m))
            XCTAssertEqual(ngs.map(\.labels), [["a": "1", "b": "3", "c": "4"], ["a": "1", "b": "3", "c": "4"]])
        }
    }

    // MARK: Views per microversion

    /// §4.2.1 brief keys, §2.5 `stack_id` below 1.13 and `cluster_id` from 1.13 (list, detail, get).
    func testBriefAndDetailKeysAcrossMicroversions() async throws {
        try await APIHarness.withEach { h in
            let ct = uuidOf(try await h.createTemplate())
            let uuid = try await h.createCluster(template: ct)
            try await h.store.write { s in
                guard var c = try await s.clusters(matching: .uuid(uuid), .everything).first else { return }
                c.stackID = "fake-stack-id"
                _ = try await s.update(c)
            }
            for (version, handle) in [("1.1", "stack_id"), ("1.12", "stack_id"), ("1.13", "cluster_id"), ("1.14", "cluster_id")] {
                let other = handle == "stack_id" ? "cluster_id" : "stack_id"
                let brief = try await h.request(.get, "/v1/clusters", version: version)
                XCTAssertEqual(brief.status, 200)
                XCTAssertEqual(brief.json?.objectValue.map { Set($0.keys) }, ["clusters"], "no next when the page is not full")
                let b = try XCTUnwrap(brief.json?["clusters"]?.arrayValue?.first)
                XCTAssertEqual(Set(b.objectValue?.keys.map { $0 } ?? []), Self.briefKeys.union([handle]), version)
                XCTAssertEqual(b[handle], "fake-stack-id", version)
                XCTAssertNil(b[other], version)
                XCTAssertEqual(b["merge_labels"], false)
                XCTAssertEqual(b["links"], [["href": .string("http://localhost/v1/clusters/\(uuid)"), "rel": "self"],
                                            ["href": .string("http://localhost/clusters/\(uuid)"), "rel": "bookmark"]])

                let detail = try await h.request(.get, "/v1/clusters/detail", version: version)
                XCTAssertEqual(detail.status, 200)
                let d = try XCTUnwrap(detail.json?["clusters"]?.arrayValue?.first)
                XCTAssertEqual(Set(d.objectValue?.keys.map { $0 } ?? []), Self.detailKeys.union([handle]), version)
                XCTAssertEqual(d[handle], "fake-stack-id")

                let one = try await h.request(.get, "/v1/clusters/\(uuid)", version: version)
                XCTAssertEqual(one.status, 200)
                XCTAssertEqual(Set(one.json?.objectValue?.keys.map { $0 } ?? []), Self.detailKeys.union([handle]), version)
                XCTAssertEqual(one.json?[handle], "fake-stack-id")
                XCTAssertNil(one.json?[other])
                XCTAssertEqual(one.json, d, "detail list element and GET one agree (\(version))")
            }
            // Bookmark and trailing-slash forms answer the same document.
            let canonical = try await h.request(.get, "/v1/clusters/\(uuid)")
            for path in ["/clusters/\(uuid)", "/v1/clusters/\(uuid)/", "/v1/clusters/"] {
                let r = try await h.request(.get, path)
                XCTAssertEqual(r.status, 200, path)
                if !path.hasSuffix("clusters/") { XCTAssertEqual(r.json, canonical.json, path) }
            }
            // /detail/ and /<id>/detail are not routes.
            for path in ["/v1/clusters/detail/", "/v1/clusters/\(uuid)/detail"] {
                let r = try await h.request(.get, path)
                XCTAssertEqual(r.status, 404, path)
            }
            // Unknown query parameters are refused.
            let bad = try await h.request(.get, "/v1/clusters?all_projects=True")
            assertError(bad, 400, "Unknown argument: \"all_projects\"")
            let badOne = try await h.request(.get, "/v1/clusters/\(uuid)?fields=name")
            assertError(badOne, 400, "Unknown argument: \"fields\"")
        }
    }

    /// `faults` appears only on GET one and only in failed states: `{ng name: ng status_reason}`
    /// for the failed nodegroups.
    func testFaultsOnlyOnGetOneInFailedStates() async throws {
        try await APIHarness.withEach { h in
            let ct = uuidOf(try await h.createTemplate())
            let uuid = try await h.createCluster(template: ct)
            let inProgress = try await h.request(.get, "/v1/clusters/\(uuid)")
            XCTAssertNil(inProgress.json?["faults"])

            try await h.setClusterState(uuid, .createFailed)
            try await h.store.write { s in
                guard var ng = try await s.nodegroups(clusterUUID: uuid, matching: .name("default-worker")).first else { return }
                ng.statusReason = "Resource CREATE failed: quota exceeded"
                _ = try await s.update(ng)
            }
            let failed = try await h.request(.get, "/v1/clusters/\(uuid)", version: "latest")
            XCTAssertEqual(failed.status, 200)
            XCTAssertEqual(failed.json?["status"], "CREATE_FAILED")
            XCTAssertEqual(failed.json?["faults"], ["default-worker": "Resource CREATE failed: quota exceeded", "default-master": nil],
                           "a failed nodegroup without a reason shows null")
            XCTAssertEqual(Set(failed.json?.objectValue?.keys.map { $0 } ?? []), Self.detailKeys.union(["cluster_id", "faults"]))

            // Never in the list or detail collection.
            for path in ["/v1/clusters", "/v1/clusters/detail"] {
                let l = try await h.request(.get, path)
                XCTAssertNil(l.json?["clusters"]?.arrayValue?.first?["faults"], path)
            }

            // Failed cluster with nodegroups that did not fail → {}.
            try await h.store.write { s in
                for var ng in try await s.nodegroups(clusterUUID: uuid, role: nil, sort: MagnumStore.SortOrder()) {
                    ng.status = .createComplete
                    _ = try await s.update(ng)
                }
                guard var c = try await s.clusters(matching: .uuid(uuid), .everything).first else { return }
                c.status = .updateFailed
                _ = try await s.update(c)
            }
            let noFailedNG = try await h.request(.get, "/v1/clusters/\(uuid)")
            XCTAssertEqual(noFailedNG.json?["faults"], [:])

            for state: ClusterStatus in [.deleteFailed, .rollbackFailed, .resumeFailed] {
                try await h.setClusterState(uuid, state)
                let r = try await h.request(.get, "/v1/clusters/\(uuid)")
                XCTAssertEqual(r.json?["faults"]?.objectValue.map { Set($0.keys) }, ["default-master", "default-worker"], state.rawValue)
            }
            for state: ClusterStatus in [.createComplete, .updateComplete, .deleteInProgress, .rollbackComplete] {
                try await h.setClusterState(uuid, state)
                let r = try await h.request(.get, "/v1/clusters/\(uuid)")
                XCTAssertNil(r.json?["faults"], state.rawValue)
            }
        }
    }

    // MARK: Create validation

    func testCreateBodyValidation() async throws {
        try await APIHarness.withEach { h in
            let ct = uuidOf(try await h.createTemplate())
            let t = JSON.string(ct)
            assertError(try await post(h, ["name": "1abc", "cluster_template_id": t]), 400,
                        "Invalid input for field/attribute name. Value: '1abc'. Value should match the pattern ^[a-zA-Z][a-zA-Z0-9_.-]*$")
            assertError(try await post(h, ["name": "a b", "cluster_template_id": t]), 400,
                        "Invalid input for field/attribute name. Value: 'a b'. Value should match the pattern ^[a-zA-Z][a-zA-Z0-9_.-]*$")
            let long = "a" + String(repeating: "b", count: 242)
            assertError(try await post(h, ["name": .string(long), "cluster_template_id": t]), 400,
                        "Invalid input for field/attribute name. Value: '\(long)'. Value should have a maximum character requirement of 242")
            let max = "a" + String(repeating: "b", count: 241)
            let ok = try await post(h, ["name": .string(max), "cluster_template_id": t])
            XCTAssertEqual(ok.status, 202, "242 characters are allowed")
            let okName = try await post(h, ["name": "A_b.c-1", "cluster_template_id": t])
            XCTAssertEqual(okName.status, 202)

            assertError(try await post(h, ["name": "k", "cluster_template_id": t, "master_count": 0]), 400,
                        "Invalid input for field/attribute master_count. Value: '0'. Value should be greater or equal to 1")
            assertError(try await post(h, ["cluster_template_id": t, "master_count": 2]), 400,
                        "master nodegroup size of 2 is invalid, size cannot be an even number.")
            assertError(try await post(h, ["cluster_template_id": t, "master_count": 4, "master_lb_enabled": true]), 400,
                        "master nodegroup size of 4 is invalid, size cannot be an even number.")
            assertError(try await post(h, ["cluster_template_id": t, "master_count": 3]), 400,
                        "master_count must be 1 when master_lb_enabled is False")
            assertError(try await post(h, ["cluster_template_id": t, "master_count": 3, "master_lb_enabled": false]), 400,
                        "master_count must be 1 when master_lb_enabled is False")
            let three = try await post(h, ["cluster_template_id": t, "master_count": 3, "master_lb_enabled": true])
            XCTAssertEqual(three.status, 202, three.text)
            let threeNG = try await nodegroups(h, uuidOf(three.json ?? .null))
            XCTAssertEqual(threeNG.first { $0.role == "master" }?.nodeCount, 3)

            assertError(try await post(h, ["cluster_template_id": t, "node_count": -1]), 400,
                        "Invalid input for field/attribute node_count. Value: '-1'. Value should be greater or equal to 0")
            assertError(try await post(h, ["cluster_template_id": t, "node_count": "many"]), 400,
                        "Invalid input for field/attribute node_count. Value: 'many'. Wrong type. Expected '<class 'int'>', got '<class 'str'>'")
            assertError(try await post(h, ["cluster_template_id": t, "create_timeout": -1]), 400,
                        "Invalid input for field/attribute create_timeout. Value: '-1'. Value should be greater or equal to 0")
            assertError(try await post(h, ["cluster_template_id": t, "docker_volume_size": 0]), 400,
                        "Invalid input for field/attribute docker_volume_size. Value: '0'. Value should be greater or equal to 1")
            assertError(try await post(h, ["cluster_template_id": t, "bogus": 1, "another": 2]), 400,
                        "Unknown attribute for argument cluster: another, bogus")
            assertError(try await post(h, ["cluster_template_id": t, "api_address": "https://x"]), 400,
                        "Invalid input for field/attribute api_address. Value: 'https://x'. Cannot set read only field.")
            assertError(try await post(h, ["cluster_template_id": t, "stack_id": "s"]), 400,
                        "Invalid input for field/attribute stack_id. Value: 's'. Cannot set read only field.")
            assertError(try await post(h, ["name": "k"]), 400,
                        "Invalid input for field/attribute cluster_template_id. Value: 'None'. Mandatory field missing.")
            assertError(try await post(h, ["cluster_template_id": nil]), 400,
                        "Invalid input for field/attribute cluster_template_id. Value: 'None'. Mandatory field missing.")
            assertError(try await h.request(.post, "/v1/clusters", version: "latest"), 400, "Missing argument: \"cluster\"")
            assertError(try await h.request(.post, "/v1/clusters", version: "latest", rawBody: "{not json", headers: ["Content-Type": "application/json"]),
                        400, "Request is not in valid JSON format")
            assertError(try await post(h, ["cluster_template_id": t, "flavor_id": "aaa"]), 400, "Unable to find flavor aaa.")
            assertError(try await post(h, ["cluster_template_id": t, "master_flavor_id": "bbb"]), 400, "Unable to find flavor bbb.")
            assertError(try await post(h, ["cluster_template_id": t, "fixed_network": "nonet"]), 400, "Unable to find fixed network nonet.")
            assertError(try await post(h, ["cluster_template_id": t, "fixed_subnet": "nosub"]), 400, "Unable to find fixed subnet nosub.")
            assertError(try await post(h, ["cluster_template_id": t, "keypair": "x"]), 404, "Unable to find keypair x.")
            assertError(try await post(h, ["cluster_template_id": t, "floating_ip_enabled": "maybe"]), 400,
                        "Invalid input for field/attribute floating_ip_enabled. Value: 'maybe'. Unrecognized value 'maybe', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'")

            // devicemapper needs at least 3 GB, from the cluster's value or the template's.
            let dm = uuidOf(try await h.createTemplate(["name": "dm", "docker_storage_driver": "devicemapper", "docker_volume_size": 5]))
            assertError(try await post(h, ["cluster_template_id": .string(dm), "docker_volume_size": 2]), 400,
                        "docker volume size 2 GB is not valid, expecting minimum value 3GB for devicemapper storage driver.")

            // Nothing was created by the refused requests.
            let count = try await h.store.read { try await $0.clusterCount(projectID: "demo-project") }
            XCTAssertEqual(count, 3)
        }
    }

    /// §2.5: zero nodes below 1.10 → 400; a missing template → 400 below 1.10 and 404 from 1.10.
    func testMicroversionDependentCreateRules() async throws {
        try await APIHarness.withEach { h in
            let ct = uuidOf(try await h.createTemplate())
            let zero = "Resizing a nodegroup to zero is not supported in the provided microversion."
            for v in ["1.1", "1.9"] {
                assertError(try await post(h, ["cluster_template_id": .string(ct), "node_count": 0], version: v), 400, zero)
            }
            for v in ["1.10", "1.14"] {
                let r = try await post(h, ["cluster_template_id": .string(ct), "node_count": 0], version: v)
                XCTAssertEqual(r.status, 202, r.text)
                let g = try await h.request(.get, "/v1/clusters/\(uuidOf(r.json ?? .null))", version: v)
                XCTAssertEqual(g.json?["node_count"], 0)
                let worker = try await nodegroups(h, uuidOf(r.json ?? .null)).first { $0.name == "default-worker" }
                XCTAssertEqual(worker?.nodeCount, 0)
            }
            let missing = "11111111-2222-3333-4444-555555555555"
            for v in ["1.1", "1.9"] {
                assertError(try await post(h, ["cluster_template_id": .string(missing)], version: v), 400,
                            "ClusterTemplate \(missing) could not be found.")
                assertError(try await post(h, ["cluster_template_id": "nope"], version: v), 400, "ClusterTemplate nope could not be found.")
            }
            for v in ["1.10", "1.13", "1.14"] {
                assertError(try await post(h, ["cluster_template_id": .string(missing)], version: v), 404,
                            "ClusterTemplate \(missing) could not be found.")
            }
            // Header-less requests are 1.1.
            let headerless = try await h.request(.post, "/v1/clusters", body: ["cluster_template_id": "nope"])
            assertError(headerless, 400, "ClusterTemplate nope could not be found.")
        }
    }

    /// Hidden templates are admin-only (403 "Not authorized."); another project's private
    /// template is not found; a public one is usable.
    func testTemplateVisibilityOnCreate() async throws {
        try await APIHarness.withEach { h in
            let ct = uuidOf(try await h.createTemplate(["name": "hidden-ct"]))
            try await h.store.write { s in
                guard var t = try await s.clusterTemplates(matching: .uuid(ct), .everything).first else { return }
                t.hidden = true
                _ = try await s.update(t)
            }
            assertError(try await post(h, ["cluster_template_id": .string(ct)]), 403, "Not authorized.")
            let admin = try await post(h, ["cluster_template_id": .string(ct)], token: .admin)
            XCTAssertEqual(admin.status, 202, admin.text)
            let ac = try await h.request(.get, "/v1/clusters/\(uuidOf(admin.json ?? .null))", token: .admin)
            XCTAssertEqual(ac.json?["project_id"], "admin-project")
            XCTAssertEqual(ac.json?["user_id"], "admin")

            let foreign = uuidOf(try await h.createTemplate(["name": "foreign"], token: .other))
            assertError(try await post(h, ["cluster_template_id": .string(foreign)]), 404, "ClusterTemplate \(foreign) could not be found.")
            assertError(try await post(h, ["cluster_template_id": .string(foreign)], version: "1.1"), 400,
                        "ClusterTemplate \(foreign) could not be found.")
            assertError(try await post(h, ["cluster_template_id": "foreign"]), 404, "ClusterTemplate foreign could not be found.")

            let pub = uuidOf(try await h.createTemplate(["name": "pub", "public": true], token: .admin))
            let p = try await post(h, ["cluster_template_id": .string(pub)])
            XCTAssertEqual(p.status, 202, p.text)
        }
    }

    func testCreatePolicy() async throws {
        try await APIHarness.withEach { h in
            let ct = uuidOf(try await h.createTemplate())
            assertError(try await post(h, ["cluster_template_id": .string(ct)], token: .reader), 403,
                        "Policy doesn't allow cluster:create to be performed.")
            let r = try await post(h, ["cluster_template_id": .string(ct)], token: .reader)
            XCTAssertEqual(r.errorTitle, "Policy doesn't allow cluster:create to be performed")
            let n = try await h.store.read { try await $0.clusterCount(projectID: "demo-project") }
            XCTAssertEqual(n, 0)
        }
    }

    // MARK: Quotas

    func testDefaultQuotaIsTwentyClustersPerProject() async throws {
        try await APIHarness.withEach { h in
            let ct = uuidOf(try await h.createTemplate())
            for i in 0..<20 {
                _ = try await h.createCluster(template: ct, ["name": .string("c\(i)")], token: i % 2 == 0 ? .demo : .demo2)
            }
            let r = try await post(h, ["cluster_template_id": .string(ct)])
            assertError(r, 403, "Resource limit exceeded: You have reached the maximum clusters per project, 20. You may delete a cluster to make room for a new one.")
            XCTAssertEqual(r.errorTitle, "Resource limit exceeded: You have reached the maximum clusters per project, 20")
            // Other projects are unaffected.
            let otherCT = uuidOf(try await h.createTemplate(token: .other))
            let o = try await post(h, ["cluster_template_id": .string(otherCT)], token: .other)
            XCTAssertEqual(o.status, 202)
            // Clusters in DELETE_IN_PROGRESS still count.
            let first = try await h.store.read { try await $0.clusters(Visibility(projectID: "demo-project", userID: nil, allProjects: false), sort: MagnumStore.SortOrder()) }.first?.uuid ?? ""
            let d = try await h.request(.delete, "/v1/clusters/\(first)")
            XCTAssertEqual(d.status, 204)
            let stillRefused = try await post(h, ["cluster_template_id": .string(ct)]).status
            XCTAssertEqual(stillRefused, 403)
        }
    }

    func testExplicitQuotaRowLimitsCreates() async throws {
        try await APIHarness.withEach { h in
            let q = try await h.request(.post, "/v1/quotas", token: .admin, body: ["project_id": "demo-project", "resource": "Cluster", "hard_limit": 2])
            XCTAssertEqual(q.status, 201, q.text)
            let ct = uuidOf(try await h.createTemplate())
            _ = try await h.createCluster(template: ct, ["name": "one"])
            _ = try await h.createCluster(template: ct, ["name": "two"], token: .demo2)
            let third = try await post(h, ["name": "three", "cluster_template_id": .string(ct)])
            assertError(third, 403, "Resource limit exceeded: You have reached the maximum clusters per project, 2. You may delete a cluster to make room for a new one.")
            let count = try await h.store.read { try await $0.clusterCount(projectID: "demo-project") }
            XCTAssertEqual(count, 2)
            // Raising the quota lets the next create through.
            let up = try await h.request(.patch, "/v1/quotas/demo-project/Cluster", token: .admin, body: ["hard_limit": 3])
            XCTAssertEqual(up.status, 202, up.text)
            let afterRaise = try await post(h, ["name": "three", "cluster_template_id": .string(ct)]).status
            XCTAssertEqual(afterRaise, 202)
            // A zero quota refuses everything.
            _ = try await h.request(.post, "/v1/quotas", token: .admin, body: ["project_id": "other-project", "resource": "Cluster", "hard_limit": 0])
            let otherCT = uuidOf(try await h.createTemplate(token: .other))
            assertError(try await post(h, ["cluster_template_id": .string(otherCT)], token: .other), 403,
                        "Resource limit exceeded: You have reached the maximum clusters per project, 0. You may delete a cluster to make room for a new one.")
        }
    }

    // MARK: Visibility, names, pagination

    func testProjectScopingAndAdminSeesAll() async throws {
        try await APIHarness.withEach { h in
            let ct = uuidOf(try await h.createTemplate())
            let mine = try await h.createCluster(template: ct, ["name": "mine"])
            let otherCT = uuidOf(try await h.createTemplate(token: .other))
            let theirs = try await h.createCluster(template: otherCT, ["name": "theirs"], token: .other)

            let notFound = "Cluster \(theirs) could not be found."
            assertError(try await h.request(.get, "/v1/clusters/\(theirs)"), 404, notFound)
            assertError(try await patch(h, theirs, [["op": "replace", "path": "/health_status", "value": "HEALTHY"]]), 404, notFound)
            assertError(try await h.request(.delete, "/v1/clusters/\(theirs)"), 404, notFound)
            assertError(try await h.request(.get, "/v1/clusters/theirs"), 404, "Cluster theirs could not be found.")
            let e = try await h.request(.get, "/v1/clusters/\(theirs)")
            XCTAssertEqual(e.errorTitle, "Cluster \(theirs) could not be found")
            XCTAssertEqual(e.header("OpenStack-API-Version"), "container-infrastructure-management 1.1", "application errors carry version headers")

            for path in ["/v1/clusters", "/v1/clusters/detail"] {
                let demo = try await h.request(.get, path)
                XCTAssertEqual(demo.json?["clusters"]?.arrayValue?.compactMap { $0["uuid"]?.stringValue }, [mine], path)
                let reader = try await h.request(.get, path, token: .reader)
                XCTAssertEqual(reader.json?["clusters"]?.arrayValue?.compactMap { $0["uuid"]?.stringValue }, [mine], path)
                let other = try await h.request(.get, path, token: .other)
                XCTAssertEqual(other.json?["clusters"]?.arrayValue?.compactMap { $0["uuid"]?.stringValue }, [theirs], path)
                let admin = try await h.request(.get, path, token: .admin)
                XCTAssertEqual(Set(admin.json?["clusters"]?.arrayValue?.compactMap { $0["uuid"]?.stringValue } ?? []), [mine, theirs], path)
            }
            let readerOne = try await h.request(.get, "/v1/clusters/\(mine)", token: .reader)
            XCTAssertEqual(readerOne.status, 200)
            let adminOne = try await h.request(.get, "/v1/clusters/\(theirs)", token: .admin)
            XCTAssertEqual(adminOne.status, 200)
            XCTAssertEqual(adminOne.json?["project_id"], "other-project")
            let adminByName = try await h.request(.get, "/v1/clusters/theirs", token: .admin)
            XCTAssertEqual(adminByName.json?["uuid"], .string(theirs))

            // Reader may look but not touch.
            assertError(try await patch(h, mine, [["op": "replace", "path": "/node_count", "value": 2]], token: .reader), 403,
                        "Policy doesn't allow cluster:update to be performed.")
            assertError(try await h.request(.delete, "/v1/clusters/\(mine)", token: .reader), 403,
                        "Policy doesn't allow cluster:delete to be performed.")

            // Admin may patch and delete other projects' clusters.
            let ap = try await patch(h, theirs, [["op": "replace", "path": "/health_status", "value": "UNKNOWN"]], token: .admin)
            XCTAssertEqual(ap.status, 202, ap.text)
            let ad = try await h.request(.delete, "/v1/clusters/\(theirs)", token: .admin)
            XCTAssertEqual(ad.status, 204)
            let after = try await h.request(.get, "/v1/clusters/\(theirs)", token: .other)
            XCTAssertEqual(after.json?["status"], "DELETE_IN_PROGRESS")
            XCTAssertEqual(after.json?["health_status"], "UNKNOWN")
        }
    }

    func testDuplicateNamesAreAllowedButAmbiguousLookupsConflict() async throws {
        try await APIHarness.withEach { h in
            let ct = uuidOf(try await h.createTemplate())
            let a = try await h.createCluster(template: ct, ["name": "dup"])
            let b = try await h.createCluster(template: ct, ["name": "dup"], token: .demo2)
            XCTAssertNotEqual(a, b)
            let conflict = "Multiple clusters exist with same name. Please use the cluster uuid instead."
            assertError(try await h.request(.get, "/v1/clusters/dup"), 409, conflict)
            try await h.setClusterState(a, .createComplete)
            try await h.setClusterState(b, .createComplete)
            assertError(try await patch(h, "dup", [["op": "replace", "path": "/node_count", "value": 2]]), 409, conflict)
            assertError(try await h.request(.delete, "/v1/clusters/dup"), 409, conflict)
            // UUIDs still work, and nothing was changed by the refused calls.
            for u in [a, b] {
                let g = try await h.request(.get, "/v1/clusters/\(u)")
                XCTAssertEqual(g.json?["status"], "CREATE_COMPLETE")
                XCTAssertEqual(g.json?["node_count"], 1)
                let ops = try await operations(h, u)
                XCTAssertEqual(ops.map(\.kind), [.clusterCreate])
            }
            // A name visible once (other project has the same name) resolves.
            let otherCT = uuidOf(try await h.createTemplate(token: .other))
            _ = try await h.createCluster(template: otherCT, ["name": "solo"], token: .other)
            let solo = try await h.createCluster(template: ct, ["name": "solo"])
            let g = try await h.request(.get, "/v1/clusters/solo")
            XCTAssertEqual(g.json?["uuid"], .string(solo))
            // The admin sees both → 409.
            assertError(try await h.request(.get, "/v1/clusters/solo", token: .admin), 409, conflict)
            // UUID written without dashes is UUID-like.
            let undashed = solo.replacingOccurrences(of: "-", with: "")
            let ud = try await h.request(.get, "/v1/clusters/\(undashed)")
            XCTAssertEqual(ud.json?["uuid"], .string(solo))
        }
    }

    func testPaginationWithNextLinks() async throws {
        try await APIHarness.withEach { h in
            let ct = uuidOf(try await h.createTemplate())
            var made: [String] = []
            for name in ["bravo", "alpha", "charlie"] { made.append(try await h.createCluster(template: ct, ["name": .string(name)])) }
            let otherCT = uuidOf(try await h.createTemplate(token: .other))
            _ = try await h.createCluster(template: otherCT, ["name": "zulu"], token: .other)
            let uuids = made

            for resource in ["clusters", "clusters/detail"] {
                let p1 = try await h.request(.get, "/v1/\(resource)?limit=2")
                XCTAssertEqual(p1.status, 200)
                XCTAssertEqual(p1.json?["clusters"]?.arrayValue?.compactMap { $0["uuid"]?.stringValue }, Array(uuids[0..<2]), resource)
                let next = p1.json?["next"]?.stringValue ?? ""
                XCTAssertEqual(next, "http://localhost/v1/\(resource)?sort_key=id&sort_dir=asc&limit=2&marker=\(uuids[1])")
                let p2 = try await h.request(.get, String(next.dropFirst("http://localhost".count)))
                XCTAssertEqual(p2.json?["clusters"]?.arrayValue?.compactMap { $0["uuid"]?.stringValue }, [uuids[2]], resource)
                XCTAssertNil(p2.json?["next"], "a short page has no next")

                // An exactly full page still links to an empty one.
                let full = try await h.request(.get, "/v1/\(resource)?limit=3")
                XCTAssertEqual(full.json?["clusters"]?.arrayValue?.count, 3)
                let fullNext = full.json?["next"]?.stringValue ?? ""
                XCTAssertEqual(fullNext, "http://localhost/v1/\(resource)?sort_key=id&sort_dir=asc&limit=3&marker=\(uuids[2])")
                let empty = try await h.request(.get, String(fullNext.dropFirst("http://localhost".count)))
                XCTAssertEqual(empty.json, ["clusters": []])

                let byName = try await h.request(.get, "/v1/\(resource)?sort_key=name&sort_dir=desc&limit=2")
                XCTAssertEqual(byName.json?["clusters"]?.arrayValue?.compactMap { $0["name"]?.stringValue }, ["charlie", "bravo"])
                XCTAssertEqual(byName.json?["next"]?.stringValue,
                               "http://localhost/v1/\(resource)?sort_key=name&sort_dir=desc&limit=2&marker=\(uuids[0])")
                let rest = try await h.request(.get, "/v1/\(resource)?sort_key=name&sort_dir=desc&limit=2&marker=\(uuids[0])")
                XCTAssertEqual(rest.json?["clusters"]?.arrayValue?.compactMap { $0["name"]?.stringValue }, ["alpha"])

                let withMarker = try await h.request(.get, "/v1/\(resource)?marker=\(uuids[0])")
                XCTAssertEqual(withMarker.json?["clusters"]?.arrayValue?.compactMap { $0["uuid"]?.stringValue }, Array(uuids[1...]))

                assertError(try await h.request(.get, "/v1/\(resource)?limit=0"), 400, "Limit must be positive")
                assertError(try await h.request(.get, "/v1/\(resource)?limit=abc"), 400,
                            "Invalid input for field/attribute limit. Value: 'abc'. Wrong type. Expected '<class 'int'>', got '<class 'str'>'")
                assertError(try await h.request(.get, "/v1/\(resource)?marker=nope"), 400,
                            "Invalid input for field/attribute marker. Value: 'nope'. Expected a uuid but received nope.")
                let unknown = "11111111-2222-3333-4444-555555555555"
                assertError(try await h.request(.get, "/v1/\(resource)?marker=\(unknown)"), 404, "Cluster \(unknown) could not be found.")
                assertError(try await h.request(.get, "/v1/\(resource)?sort_key=bogus"), 400,
                            "The sort_key value \"bogus\" is an invalid field for sorting")
                assertError(try await h.request(.get, "/v1/\(resource)?sort_dir=up"), 400,
                            "Invalid sort direction: up. Acceptable values are 'asc' or 'desc'")
            }
        }
    }

    // MARK: PATCH

    func testPatchNodeCountOnACompleteCluster() async throws {
        try await APIHarness.withEach { h in
            let ct = uuidOf(try await h.createTemplate())
            let uuid = try await h.createCluster(template: ct, ["node_count": 2])
            try await h.setClusterState(uuid, .createComplete, apiAddress: "https://198.18.0.2:6443")
            let before = try await nodegroups(h, uuid).first { $0.name == "default-worker" }
            let r = try await patch(h, uuid, [["op": "replace", "path": "/node_count", "value": 5]])
            XCTAssertEqual(r.status, 202, r.text)
            XCTAssertEqual(r.json, ["uuid": .string(uuid)])

            let g = try await h.request(.get, "/v1/clusters/\(uuid)", version: "latest")
            XCTAssertEqual(g.json?["status"], "UPDATE_IN_PROGRESS")
            XCTAssertEqual(g.json?["status_reason"]?.isNull, true)
            XCTAssertEqual(g.json?["node_count"], 5)
            XCTAssertEqual(g.json?["master_count"], 1)
            XCTAssertEqual(g.json?["api_address"], "https://198.18.0.2:6443")
            let ngs = try await nodegroups(h, uuid)
            XCTAssertEqual(ngs.first { $0.name == "default-worker" }?.nodeCount, 5)
            XCTAssertEqual(ngs.first { $0.name == "default-master" }?.nodeCount, 1)

            let ops = try await operations(h, uuid)
            XCTAssertEqual(ops.map(\.kind), [.clusterCreate, .clusterUpdate])
            let op = try XCTUnwrap(ops.last)
            XCTAssertEqual(op.state, .pending)
            XCTAssertEqual(op.nodegroupUUID, before?.uuid)
            XCTAssertEqual(op.parameters, ["node_count": 5, "previous_node_count": 2, "rollback": false])
            XCTAssertEqual(op.userID, "demo")
            XCTAssertEqual(op.requestID, r.header("x-openstack-request-id"))

            // A second update while UPDATE_IN_PROGRESS is refused synchronously (§5.4 [recommend]).
            assertError(try await patch(h, uuid, [["op": "replace", "path": "/node_count", "value": 6]]), 400,
                        "Updating a cluster when status is \"UPDATE_IN_PROGRESS\" is not supported.")

            // Other stable states accept updates; by name too.
            try await h.setClusterState(uuid, .updateComplete)
            let byName = try await patch(h, "k8s", [["op": "replace", "path": "/node_count", "value": 1]])
            XCTAssertEqual(byName.status, 202, byName.text)
            let previousCount = try await operations(h, uuid).last?.parameters["previous_node_count"]
            XCTAssertEqual(previousCount, 5)
        }
    }

    func testPatchRefusedWhileCreating() async throws {
        try await APIHarness.withEach { h in
            let ct = uuidOf(try await h.createTemplate())
            let uuid = try await h.createCluster(template: ct)
            assertError(try await patch(h, uuid, [["op": "replace", "path": "/node_count", "value": 3]]), 400,
                        "Updating a cluster when status is \"CREATE_IN_PROGRESS\" is not supported.")
            for state: ClusterStatus in [.createFailed, .updateFailed, .deleteInProgress, .updateInProgress] {
                try await h.setClusterState(uuid, state)
                assertError(try await patch(h, uuid, [["op": "replace", "path": "/node_count", "value": 3]]), 400,
                            "Updating a cluster when status is \"\(state.rawValue)\" is not supported.")
            }
            let ngs = try await nodegroups(h, uuid)
            XCTAssertEqual(ngs.first { $0.name == "default-worker" }?.nodeCount, 1)
            let kindsAfterRefusals = try await operations(h, uuid).map(\.kind)
            XCTAssertEqual(kindsAfterRefusals, [.clusterCreate])
        }
    }

    func testPatchForbiddenAndInternalProperties() async throws {
        try await APIHarness.withEach { h in
            let ct = uuidOf(try await h.createTemplate())
            let uuid = try await h.createCluster(template: ct)
            try await h.setClusterState(uuid, .createComplete)
            func p(_ ops: [JSON]) async throws -> APIHarness.Reply { try await patch(h, uuid, ops) }

            let nameErr = try await p([["op": "replace", "path": "/name", "value": "renamed"]])
            assertError(nameErr, 400, "cannot change cluster property(ies) name.")
            XCTAssertEqual(nameErr.errorTitle, "cannot change cluster property(ies) name")
            assertError(try await p([["op": "replace", "path": "/name", "value": "renamed"],
                                     ["op": "replace", "path": "/master_count", "value": 3],
                                     ["op": "replace", "path": "/flavor_id", "value": "m1.large"]]), 400,
                        "cannot change cluster property(ies) flavor_id, master_count, name.")
            assertError(try await p([["op": "replace", "path": "/keypair", "value": "other"]]), 400, "cannot change cluster property(ies) keypair.")
            assertError(try await p([["op": "add", "path": "/labels/new", "value": "x"]]), 400, "cannot change cluster property(ies) labels.")
            assertError(try await p([["op": "replace", "path": "/labels", "value": "{'a': 'b'}"]]), 400, "cannot change cluster property(ies) labels.")
            assertError(try await p([["op": "replace", "path": "/create_timeout", "value": 10]]), 400, "cannot change cluster property(ies) create_timeout.")
            assertError(try await p([["op": "replace", "path": "/cluster_template_id", "value": "other"]]), 400,
                        "cannot change cluster property(ies) cluster_template_id.")
            assertError(try await p([["op": "replace", "path": "/node_count", "value": 2], ["op": "replace", "path": "/name", "value": "x"]]), 400,
                        "cannot change cluster property(ies) name.")

            for path in ["/api_address", "/stack_id", "/cluster_id", "/uuid", "/node_addresses", "/master_addresses",
                         "/project_id", "/user_id", "/created_at", "/updated_at", "/links", "/id"] {
                assertError(try await p([["op": "replace", "path": .string(path), "value": "x"]]), 400,
                            "'\(path)' is an internal attribute and can not be updated")
            }
            assertError(try await p([["op": "remove", "path": "/cluster_template_id"]]), 400,
                        "'/cluster_template_id' is a mandatory attribute and can not be removed")
            assertError(try await p([["op": "replace", "path": "/node_count"]]), 400, "'add' and 'replace' operations needs value")
            assertError(try await p([["op": "move", "path": "/node_count", "value": 2]]), 400,
                        "Invalid input for field/attribute op. Value: 'move'. Value should be one of: replace, add, remove")
            let notList = try await h.request(.patch, "/v1/clusters/\(uuid)", version: "latest", body: ["op": "replace", "path": "/node_count", "value": 2])
            XCTAssertEqual(notList.status, 400, notList.text)
            XCTAssertTrue(notList.errorDetail?.contains("Value not a valid list") ?? false, notList.text)
            assertError(try await p([["op": "add", "path": "/bogus", "value": "x"]]), 400,
                        "Adding a new attribute /bogus to the root of the resource is not allowed.")

            // Unchanged values are not changes.
            let same = try await p([["op": "replace", "path": "/name", "value": "k8s"], ["op": "replace", "path": "/node_count", "value": 1]])
            XCTAssertEqual(same.status, 202, same.text)

            // Nothing changed.
            let g = try await h.request(.get, "/v1/clusters/\(uuid)")
            XCTAssertEqual(g.json?["status"], "CREATE_COMPLETE")
            XCTAssertEqual(g.json?["name"], "k8s")
            let kindsAfterRefusals = try await operations(h, uuid).map(\.kind)
            XCTAssertEqual(kindsAfterRefusals, [.clusterCreate])
        }
    }

    func testPatchNodeCountTyping() async throws {
        try await APIHarness.withEach { h in
            let ct = uuidOf(try await h.createTemplate())
            let uuid = try await h.createCluster(template: ct)
            try await h.setClusterState(uuid, .createComplete)
            assertError(try await patch(h, uuid, [["op": "replace", "path": "/node_count", "value": "5"]]), 400,
                        "Invalid input for field/attribute node_count. Value: '5'. Wrong type. Expected '<class 'int'>', got '<class 'str'>'")
            assertError(try await patch(h, uuid, [["op": "replace", "path": "/node_count", "value": -1]]), 400,
                        "Invalid input for field/attribute node_count. Value: '-1'. Value should be greater or equal to 0")
            let zero = "Resizing a nodegroup to zero is not supported in the provided microversion."
            for v in ["1.1", "1.3", "1.9"] {
                assertError(try await patch(h, uuid, [["op": "replace", "path": "/node_count", "value": 0]], version: v), 400, zero)
            }
            let opsAfterZero = try await operations(h, uuid).count
            XCTAssertEqual(opsAfterZero, 1)
            // `remove /node_count` leaves the count unchanged (§4.2.4).
            let removed = try await patch(h, uuid, [["op": "remove", "path": "/node_count"]])
            XCTAssertEqual(removed.status, 202, removed.text)
            let countAfterRemove = try await nodegroups(h, uuid).first { $0.name == "default-worker" }?.nodeCount
            XCTAssertEqual(countAfterRemove, 1)
            let opsAfterRemove = try await operations(h, uuid).count
            XCTAssertEqual(opsAfterRemove, 1)

            let ok = try await patch(h, uuid, [["op": "replace", "path": "/node_count", "value": 0]], version: "1.10")
            XCTAssertEqual(ok.status, 202, ok.text)
            let countAtZero = try await nodegroups(h, uuid).first { $0.name == "default-worker" }?.nodeCount
            XCTAssertEqual(countAtZero, 0)
            let g = try await h.request(.get, "/v1/clusters/\(uuid)", version: "1.10")
            XCTAssertEqual(g.json?["node_count"], 0)
        }
    }

    /// Health fields are saved directly, without an operation or a status change; the reason
    /// accepts python-magnumclient's Python-literal string.
    func testPatchHealthStatusIsSavedWithoutAnOperation() async throws {
        try await APIHarness.withEach { h in
            let ct = uuidOf(try await h.createTemplate())
            let uuid = try await h.createCluster(template: ct)
            try await h.setClusterState(uuid, .createComplete)
            let r = try await patch(h, uuid, [["op": "replace", "path": "/health_status", "value": "HEALTHY"],
                                              ["op": "replace", "path": "/health_status_reason", "value": "{'api': 'ok'}"]])
            XCTAssertEqual(r.status, 202, r.text)
            XCTAssertEqual(r.json, ["uuid": .string(uuid)])
            let g = try await h.request(.get, "/v1/clusters/\(uuid)")
            XCTAssertEqual(g.json?["health_status"], "HEALTHY")
            XCTAssertEqual(g.json?["health_status_reason"], ["api": "ok"])
            XCTAssertEqual(g.json?["status"], "CREATE_COMPLETE")
            let healthKinds = try await operations(h, uuid).map(\.kind)
            XCTAssertEqual(healthKinds, [.clusterCreate])
            let brief = try await h.request(.get, "/v1/clusters")
            XCTAssertEqual(brief.json?["clusters"]?.arrayValue?.first?["health_status"], "HEALTHY")

            // JSON-shaped strings and values that are not strings are stored as strings.
            let j = try await patch(h, uuid, [["op": "replace", "path": "/health_status", "value": "UNHEALTHY"],
                                              ["op": "replace", "path": "/health_status_reason", "value": "{\"api\": \"ok\", \"node-0.Ready\": false}"]])
            XCTAssertEqual(j.status, 202, j.text)
            let g2 = try await h.request(.get, "/v1/clusters/\(uuid)")
            XCTAssertEqual(g2.json?["health_status"], "UNHEALTHY")
            XCTAssertEqual(g2.json?["health_status_reason"], ["api": "ok", "node-0.Ready": "False"])

            // Sub-paths of the reason map.
            let add = try await patch(h, uuid, [["op": "add", "path": "/health_status_reason/extra", "value": "yes"]])
            XCTAssertEqual(add.status, 202, add.text)
            let g3 = try await h.request(.get, "/v1/clusters/\(uuid)")
            XCTAssertEqual(g3.json?["health_status_reason"], ["api": "ok", "node-0.Ready": "False", "extra": "yes"])

            assertError(try await patch(h, uuid, [["op": "replace", "path": "/health_status", "value": "BROKEN"]]), 400,
                        "Invalid input for field/attribute health_status. Value: 'BROKEN'. Value should be one of: HEALTHY, UNHEALTHY, UNKNOWN")
            let malformed = try await patch(h, uuid, [["op": "replace", "path": "/health_status_reason", "value": "{'api': "]])
            XCTAssertEqual(malformed.status, 400, malformed.text)
            XCTAssertTrue(malformed.errorDetail?.hasPrefix("Couldn't apply patch '") ?? false, malformed.text)
            let healthAfterMalformed = try await h.request(.get, "/v1/clusters/\(uuid)").json?["health_status"]
            XCTAssertEqual(healthAfterMalformed, "UNHEALTHY")

            // Health together with a node count change: one update operation.
            let both = try await patch(h, uuid, [["op": "replace", "path": "/health_status", "value": "UNKNOWN"],
                                                 ["op": "replace", "path": "/node_count", "value": 2]])
            XCTAssertEqual(both.status, 202, both.text)
            let g4 = try await h.request(.get, "/v1/clusters/\(uuid)")
            XCTAssertEqual(g4.json?["health_status"], "UNKNOWN")
            XCTAssertEqual(g4.json?["status"], "UPDATE_IN_PROGRESS")
            let kindsAfterBoth = try await operations(h, uuid).map(\.kind)
            XCTAssertEqual(kindsAfterBoth, [.clusterCreate, .clusterUpdate])
        }
    }

    /// §2.5 1.3: `rollback` is a known query parameter from 1.3 only; the client's trailing-slash
    /// form is accepted.
    func testPatchRollbackParameter() async throws {
        try await APIHarness.withEach { h in
            let ct = uuidOf(try await h.createTemplate())
            let uuid = try await h.createCluster(template: ct)
            try await h.setClusterState(uuid, .createComplete)
            let replace: [JSON] = [["op": "replace", "path": "/node_count", "value": 2]]
            for v in ["1.1", "1.2"] {
                assertError(try await patch(h, uuid, replace, version: v, query: "?rollback=True"), 400, "Unknown argument: \"rollback\"")
            }
            let opsAfterRefusal = try await operations(h, uuid).count
            XCTAssertEqual(opsAfterRefusal, 1)
            let r = try await patch(h, uuid, replace, version: "1.3", query: "?rollback=True")
            XCTAssertEqual(r.status, 202, r.text)
            let rollbackTrue = try await operations(h, uuid).last?.parameters["rollback"]
            XCTAssertEqual(rollbackTrue, true)

            try await h.setClusterState(uuid, .updateComplete)
            let slash = try await patch(h, uuid + "/", [["op": "replace", "path": "/node_count", "value": 3]], version: "latest", query: "?rollback=True")
            XCTAssertEqual(slash.status, 202, slash.text)
            let ops = try await operations(h, uuid)
            XCTAssertEqual(ops.count, 3)
            XCTAssertEqual(ops.last?.parameters, ["node_count": 3, "previous_node_count": 2, "rollback": true])

            try await h.setClusterState(uuid, .updateComplete)
            let f = try await patch(h, uuid, [["op": "replace", "path": "/node_count", "value": 4]], version: "1.3", query: "?rollback=false")
            XCTAssertEqual(f.status, 202, f.text)
            let rollbackFalse = try await operations(h, uuid).last?.parameters["rollback"]
            XCTAssertEqual(rollbackFalse, false)

            try await h.setClusterState(uuid, .updateComplete)
            let bad = try await patch(h, uuid, [["op": "replace", "path": "/node_count", "value": 5]], version: "1.3", query: "?rollback=maybe")
            XCTAssertEqual(bad.status, 400, bad.text)
            let opsAfterBadRollback = try await operations(h, uuid).count
            XCTAssertEqual(opsAfterBadRollback, 4)
        }
    }

    // MARK: DELETE

    func testDeleteMarksDeleteInProgressOnce() async throws {
        try await APIHarness.withEach { h in
            let ct = uuidOf(try await h.createTemplate())
            let uuid = try await h.createCluster(template: ct)
            let d = try await h.request(.delete, "/v1/clusters/\(uuid)", version: "latest")
            XCTAssertEqual(d.status, 204)
            XCTAssertEqual(d.text, "")
            let g = try await h.request(.get, "/v1/clusters/\(uuid)")
            XCTAssertEqual(g.status, 200, "the row stays until the driver finishes")
            XCTAssertEqual(g.json?["status"], "DELETE_IN_PROGRESS")
            XCTAssertEqual(g.json?["status_reason"]?.isNull, true)
            var ops = try await operations(h, uuid)
            XCTAssertEqual(ops.map(\.kind), [.clusterCreate, .clusterDelete])
            XCTAssertEqual(ops.last?.state, .pending)
            XCTAssertEqual(ops.last?.userID, "demo")
            XCTAssertEqual(ops.last?.requestID, d.header("x-openstack-request-id"))

            let again = try await h.request(.delete, "/v1/clusters/\(uuid)")
            XCTAssertEqual(again.status, 204)
            ops = try await operations(h, uuid)
            XCTAssertEqual(ops.map(\.kind), [.clusterCreate, .clusterDelete], "no second delete operation")

            // Any state may be deleted; by name; still listed while deleting.
            let other = try await h.createCluster(template: ct, ["name": "second"])
            try await h.setClusterState(other, .updateFailed)
            let secondDelete = try await h.request(.delete, "/v1/clusters/second").status
            XCTAssertEqual(secondDelete, 204)
            let secondKinds = try await operations(h, other).map(\.kind)
            XCTAssertEqual(secondKinds, [.clusterCreate, .clusterDelete])
            let list = try await h.request(.get, "/v1/clusters")
            XCTAssertEqual(list.json?["clusters"]?.arrayValue?.compactMap { $0["status"]?.stringValue }, ["DELETE_IN_PROGRESS", "DELETE_IN_PROGRESS"])

            // A deleting cluster refuses updates.
            assertError(try await patch(h, uuid, [["op": "replace", "path": "/node_count", "value": 2]]), 400,
                        "Updating a cluster when status is \"DELETE_IN_PROGRESS\" is not supported.")

            let missing = "11111111-2222-3333-4444-555555555555"
            assertError(try await h.request(.delete, "/v1/clusters/\(missing)"), 404, "Cluster \(missing) could not be found.")
            let put = try await h.request(.put, "/v1/clusters/\(uuid)", body: [:])
            XCTAssertEqual(put.status, 405)
            XCTAssertEqual(put.errorDetail, "")
        }
    }
}
