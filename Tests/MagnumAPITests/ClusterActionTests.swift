import MagnumCore
import MagnumStore
import MagnumTestSupport
import XCTest

/// `POST /v1/clusters/{c}/actions/{resize,upgrade}` (contract §4.3) and
/// `PATCH /v1/credentials/{c}` (§4.6).
final class ClusterActionTests: XCTestCase {
    // MARK: Helpers

    private func nodegroups(_ h: APIHarness, _ uuid: String) async throws -> [NodeGroup] {
        try await h.store.read { try await $0.nodegroups(clusterUUID: uuid, role: nil, sort: MagnumStore.SortOrder()) }
    }

    private func worker(_ h: APIHarness, _ uuid: String) async throws -> NodeGroup {
        let all = try await nodegroups(h, uuid)
        return try XCTUnwrap(all.first { $0.name == "default-worker" })
    }

    private func operations(_ h: APIHarness, _ uuid: String) async throws -> [MagnumCore.ClusterOperation] {
        try await h.store.read { try await $0.operations(resourceUUID: uuid) }
    }

    private func clusterStatus(_ h: APIHarness, _ uuid: String) async throws -> JSON? {
        try await h.request(.get, "/v1/clusters/\(uuid)", token: .admin).json?["status"]
    }

    /// Changes the stored bounds of a nodegroup (what a nodegroup PATCH will persist).
    private func setBounds(_ h: APIHarness, _ cluster: String, _ name: String, min: Int, max: Int?) async throws {
        try await h.store.write { s in
            guard var ng = try await s.nodegroups(clusterUUID: cluster, matching: .name(name)).first else { return }
            ng.minNodeCount = min
            ng.maxNodeCount = max
            _ = try await s.update(ng)
        }
    }

    private func resize(_ h: APIHarness, _ ident: String, _ body: JSON?, token: APIHarness.Token = .demo, version: String = "latest") async throws -> APIHarness.Reply {
        try await h.request(.post, "/v1/clusters/\(ident)/actions/resize", token: token, version: version, body: body)
    }

    private func upgrade(_ h: APIHarness, _ ident: String, _ body: JSON?, token: APIHarness.Token = .demo, version: String = "latest") async throws -> APIHarness.Reply {
        try await h.request(.post, "/v1/clusters/\(ident)/actions/upgrade", token: token, version: version, body: body)
    }

    private func rotate(_ h: APIHarness, _ ident: String, token: APIHarness.Token = .demo, version: String = "1.12") async throws -> APIHarness.Reply {
        try await h.request(.patch, "/v1/credentials/\(ident)", token: token, version: version)
    }

    private func assertError(_ r: APIHarness.Reply, _ status: Int, _ detail: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, status, r.text, file: file, line: line)
        XCTAssertEqual(r.errorDetail, detail, file: file, line: line)
        XCTAssertEqual(r.json?["errors"]?.arrayValue?.first?["code"], "client", file: file, line: line)
        XCTAssertNotNil(r.header("OpenStack-API-Version"), "application errors carry the version headers", file: file, line: line)
    }

    /// The generic framework error of §3.1 (c): empty title/detail, no version headers.
    private func assertFramework(_ r: APIHarness.Reply, _ status: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, status, r.text, file: file, line: line)
        XCTAssertEqual(r.json, ["errors": [["request_id": "", "code": "", "status": .int(status), "title": "", "detail": "", "links": []]]],
                       file: file, line: line)
        XCTAssertNil(r.header("OpenStack-API-Version"), file: file, line: line)
    }

    /// A template, a CREATE_COMPLETE cluster of it and the cluster's UUID.
    private func readyCluster(_ h: APIHarness, _ extra: [String: JSON] = [:], template: [String: JSON] = [:],
                              token: APIHarness.Token = .demo) async throws -> (template: String, cluster: String) {
        let ct = try await h.createTemplate(template, token: token)["uuid"]?.stringValue ?? ""
        let uuid = try await h.createCluster(template: ct, extra, token: token)
        try await h.setClusterState(uuid, .createComplete, apiAddress: "https://198.18.0.2:6443")
        return (ct, uuid)
    }

    /// Template fields of the local Swarm-mode driver, which supports upgrades.
    static let swarm: [String: JSON] = ["coe": "swarm-mode", "image_id": "local-swarm"]

    /// `fields` merged over `base`.
    static func merged(_ base: [String: JSON], _ fields: [String: JSON]) -> [String: JSON] {
        base.merging(fields) { _, new in new }
    }

    static let zeroNodes = "Resizing a nodegroup to zero is not supported in the provided microversion."

    // MARK: Routing and versions

    func testActionRoutingAndMicroversionGates() async throws {
        try await APIHarness.withEach { h in
            let (_, uuid) = try await readyCluster(h)
            for v in ["1.1", "1.6"] {
                assertFramework(try await resize(h, uuid, ["node_count": 2], version: v), 406)
                assertFramework(try await upgrade(h, uuid, ["cluster_template": "x"], version: v), 406)
            }
            let headerless = try await h.request(.post, "/v1/clusters/\(uuid)/actions/resize", body: ["node_count": 2])
            assertFramework(headerless, 406)

            for v in ["1.1", "1.7", "latest"] {
                assertFramework(try await h.request(.post, "/v1/clusters/\(uuid)/actions/bogus", version: v, body: [:]), 405)
            }
            for action in ["resize", "upgrade"] {
                let path = "/v1/clusters/\(uuid)/actions/\(action)"
                assertFramework(try await h.request(.get, path, version: "latest"), 405)
                assertFramework(try await h.request(.put, path, version: "latest", body: [:]), 405)
                assertFramework(try await h.request(.patch, path, version: "latest", body: []), 405)
                assertFramework(try await h.request(.delete, path, version: "latest"), 405)
            }
            let count = try await operations(h, uuid).count
            XCTAssertEqual(count, 1, "only the create operation")
        }
    }

    // MARK: Resize

    func testResizeDefaultWorkerRecordsAnOperation() async throws {
        try await APIHarness.withEach { h in
            let (_, uuid) = try await readyCluster(h, ["node_count": 2])
            let before = try await worker(h, uuid)
            let r = try await resize(h, uuid, ["node_count": 4, "nodes_to_remove": ["srv-1", "srv-2"]], version: "1.7")
            XCTAssertEqual(r.status, 202, r.text)
            XCTAssertEqual(r.json, ["uuid": .string(uuid)])
            XCTAssertEqual(r.header("OpenStack-API-Version"), "container-infrastructure-management 1.7")

            let after = try await worker(h, uuid)
            XCTAssertEqual(after.nodeCount, 4)
            XCTAssertEqual(after.status, .updateInProgress)
            let master = try await nodegroups(h, uuid).first { $0.role == "master" }
            XCTAssertEqual(master?.status, .createComplete, "only the resized nodegroup changes state")
            XCTAssertEqual(master?.nodeCount, 1)
            let g = try await h.request(.get, "/v1/clusters/\(uuid)")
            XCTAssertEqual(g.json?["status"], "UPDATE_IN_PROGRESS")
            XCTAssertEqual(g.json?["node_count"], 4)

            let ops = try await operations(h, uuid)
            XCTAssertEqual(ops.map(\.kind), [.clusterCreate, .clusterResize])
            let op = try XCTUnwrap(ops.last)
            XCTAssertEqual(op.state, .pending)
            XCTAssertEqual(op.nodegroupUUID, before.uuid)
            XCTAssertEqual(op.parameters, ["node_count": 4, "previous_node_count": 2, "nodes_to_remove": ["srv-1", "srv-2"]])
            XCTAssertEqual(op.projectID, "demo-project")
            XCTAssertEqual(op.userID, "demo")
            XCTAssertEqual(op.requestID, r.header("x-openstack-request-id"))

            // Resizes are allowed again while UPDATE_IN_PROGRESS (autoscaler retries); nodes_to_remove defaults to [].
            let again = try await resize(h, "k8s", ["node_count": 3])
            XCTAssertEqual(again.status, 202, again.text)
            let last = try await operations(h, uuid).last
            XCTAssertEqual(last?.parameters, ["node_count": 3, "previous_node_count": 4, "nodes_to_remove": []])
        }
    }

    func testResizeBodyValidationAndZeroNodes() async throws {
        try await APIHarness.withEach { h in
            let (_, uuid) = try await readyCluster(h)
            for v in ["1.7", "1.9"] {
                assertError(try await resize(h, uuid, ["node_count": 0], version: v), 400, Self.zeroNodes)
            }
            // Below 1.10 the zero check comes before the lookup.
            assertError(try await resize(h, "nope", ["node_count": 0], version: "1.9"), 400, Self.zeroNodes)
            assertError(try await resize(h, uuid, [:]), 400,
                        "Invalid input for field/attribute node_count. Value: 'None'. Mandatory field missing.")
            assertError(try await resize(h, uuid, ["node_count": nil]), 400,
                        "Invalid input for field/attribute node_count. Value: 'None'. Mandatory field missing.")
            assertError(try await resize(h, uuid, nil), 400, "Missing argument: \"cluster_resize_req\"")
            assertError(try await resize(h, uuid, ["node_count": -1]), 400,
                        "Invalid input for field/attribute node_count. Value: '-1'. Value should be greater or equal to 0")
            assertError(try await resize(h, uuid, ["node_count": "x"]), 400,
                        "Invalid input for field/attribute node_count. Value: 'x'. Wrong type. Expected '<class 'int'>', got '<class 'str'>'")
            assertError(try await resize(h, uuid, ["node_count": 2, "bogus": true]), 400, "Unknown attribute for argument cluster_resize_req: bogus")
            assertError(try await resize(h, uuid, ["node_count": 2, "nodes_to_remove": "srv-1"]), 400,
                        "Invalid input for field/attribute nodes_to_remove. Value: 'srv-1'. Wrong type. Expected '<class 'list'>', got '<class 'str'>'")
            assertError(try await resize(h, uuid, ["node_count": 2, "nodegroup": ""]), 400,
                        "Invalid input for field/attribute nodegroup. Value: ''. Value should have a minimum character requirement of 1")
            let refused = try await operations(h, uuid).count
            XCTAssertEqual(refused, 1)

            let zero = try await resize(h, uuid, ["node_count": 0], version: "1.10")
            XCTAssertEqual(zero.status, 202, zero.text)
            let w = try await worker(h, uuid)
            XCTAssertEqual(w.nodeCount, 0)
            // Numeric strings are coerced in a POST body.
            let s = try await resize(h, uuid, ["node_count": "2"])
            XCTAssertEqual(s.status, 202, s.text)
            let w2 = try await worker(h, uuid)
            XCTAssertEqual(w2.nodeCount, 2)
        }
    }

    func testResizeNamedNodegroupAndBounds() async throws {
        try await APIHarness.withEach { h in
            let (_, uuid) = try await readyCluster(h, ["node_count": 3])
            let w = try await worker(h, uuid)
            for ident in ["default-worker", w.uuid, String(w.id)] {
                try await h.setClusterState(uuid, .createComplete)
                let r = try await resize(h, uuid, ["node_count": 2, "nodegroup": .string(ident)])
                XCTAssertEqual(r.status, 202, "\(ident): \(r.text)")
                let op = try await operations(h, uuid).last
                XCTAssertEqual(op?.nodegroupUUID, w.uuid, ident)
            }
            assertError(try await resize(h, uuid, ["node_count": 2, "nodegroup": "nope"]), 404, "Nodegroup nope could not be found.")
            // A nodegroup of another cluster is not found through this one.
            let (_, second) = try await readyCluster(h, ["name": "second"])
            let foreignNG = try await worker(h, second)
            assertError(try await resize(h, uuid, ["node_count": 2, "nodegroup": .string(foreignNG.uuid)]), 404,
                        "Nodegroup \(foreignNG.uuid) could not be found.")

            try await setBounds(h, uuid, "default-worker", min: 2, max: 4)
            for n in [1, 5, 0] {
                assertError(try await resize(h, uuid, ["node_count": .int(n)]), 400,
                            "Resizing default-worker outside the allowed range: min_node_count = 2, max_node_count = 4")
            }
            for n in [2, 4] {
                let r = try await resize(h, uuid, ["node_count": .int(n), "nodegroup": "default-worker"])
                XCTAssertEqual(r.status, 202, r.text)
            }
            try await setBounds(h, uuid, "default-worker", min: 3, max: nil)
            assertError(try await resize(h, uuid, ["node_count": 2]), 400,
                        "Resizing default-worker outside the allowed range: min_node_count = 3, max_node_count = None")
            let big = try await resize(h, uuid, ["node_count": 100])
            XCTAssertEqual(big.status, 202, big.text)
            let resized = try await worker(h, uuid)
            XCTAssertEqual(resized.nodeCount, 100)

            // The master nodegroup cannot be resized (base driver rule), by name or uuid.
            let all = try await nodegroups(h, uuid)
            let master = try XCTUnwrap(all.first { $0.role == "master" })
            for ident in ["default-master", master.uuid] {
                assertError(try await resize(h, uuid, ["node_count": 3, "nodegroup": .string(ident)]), 400,
                            "Resizing the master nodegroup is not supported by this driver.")
            }
            let masterAfter = try await nodegroups(h, uuid).first { $0.role == "master" }
            XCTAssertEqual(masterAfter?.nodeCount, 1)
        }
    }

    /// §5.4: resize is allowed in stable states plus UPDATE_IN_PROGRESS/UPDATE_FAILED; elsewhere
    /// 400 synchronously (contract [recommend]).
    func testResizeStateGate() async throws {
        try await APIHarness.withEach { h in
            let ct = try await h.createTemplate()["uuid"]?.stringValue ?? ""
            let uuid = try await h.createCluster(template: ct)
            assertError(try await resize(h, uuid, ["node_count": 2]), 400,
                        "Resizing a cluster when status is \"CREATE_IN_PROGRESS\" is not supported.")
            for state: ClusterStatus in [.createFailed, .deleteInProgress, .deleteFailed, .rollbackInProgress] {
                try await h.setClusterState(uuid, state)
                assertError(try await resize(h, uuid, ["node_count": 2]), 400,
                            "Resizing a cluster when status is \"\(state.rawValue)\" is not supported.")
            }
            let refused = try await operations(h, uuid).map(\.kind)
            XCTAssertEqual(refused, [.clusterCreate])
            let unchanged = try await worker(h, uuid)
            XCTAssertEqual(unchanged.nodeCount, 1)

            for (i, state) in [ClusterStatus.updateInProgress, .updateFailed, .createComplete, .updateComplete, .rollbackComplete, .checkComplete].enumerated() {
                try await h.setClusterState(uuid, state)
                let r = try await resize(h, uuid, ["node_count": .int(i + 2)])
                XCTAssertEqual(r.status, 202, "\(state.rawValue): \(r.text)")
                let status = try await clusterStatus(h, uuid)
                XCTAssertEqual(status, "UPDATE_IN_PROGRESS")
            }
            let ops = try await operations(h, uuid)
            XCTAssertEqual(ops.filter { $0.kind == .clusterResize }.count, 6)
        }
    }

    /// Resize has no admin all-projects scoping (§4.3.1, quirk 8); reader and foreign members are refused.
    func testResizeScopingAndPolicy() async throws {
        try await APIHarness.withEach { h in
            let (_, uuid) = try await readyCluster(h)
            assertError(try await resize(h, uuid, ["node_count": 2], token: .admin), 404, "Cluster \(uuid) could not be found.")
            assertError(try await resize(h, uuid, ["node_count": 2], token: .other), 404, "Cluster \(uuid) could not be found.")
            assertError(try await resize(h, uuid, ["node_count": 2], token: .reader), 403, "Policy doesn't allow cluster:resize to be performed.")
            let missing = "11111111-2222-3333-4444-555555555555"
            assertError(try await resize(h, missing, ["node_count": 2]), 404, "Cluster \(missing) could not be found.")
            let byOtherMember = try await resize(h, uuid, ["node_count": 2], token: .demo2)
            XCTAssertEqual(byOtherMember.status, 202, "any member of the project may resize")
            // The admin's own clusters are resizable.
            let (_, adminCluster) = try await readyCluster(h, ["name": "admins"], token: .admin)
            let own = try await resize(h, adminCluster, ["node_count": 2], token: .admin)
            XCTAssertEqual(own.status, 202, own.text)
            // Ambiguous names conflict.
            _ = try await readyCluster(h)
            assertError(try await resize(h, "k8s", ["node_count": 2]), 409,
                        "Multiple clusters exist with same name. Please use the cluster uuid instead.")
        }
    }

    // MARK: Upgrade

    func testUpgradeMicroversions() async throws {
        try await APIHarness.withEach { h in
            let (ct, uuid) = try await readyCluster(h, template: Self.swarm)
            assertError(try await upgrade(h, uuid, ["cluster_template": .string(ct)], version: "1.7"), 400,
                        "Cluster upgrade is not supported in the provided microversion.")
            let r17 = try await upgrade(h, uuid, ["cluster_template": .string(ct)], version: "1.7")
            XCTAssertEqual(r17.errorTitle, "Cluster upgrade is not supported in the provided microversion")
            let noOps = try await operations(h, uuid).count
            XCTAssertEqual(noOps, 1)

            let newCT = try await h.createTemplate(Self.merged(Self.swarm, ["name": "ct-v2", "labels": ["kube_tag": "v1.31"]]))["uuid"]?.stringValue ?? ""
            let r = try await upgrade(h, uuid, ["cluster_template": .string(newCT), "max_batch_size": 2], version: "1.8")
            XCTAssertEqual(r.status, 202, r.text)
            XCTAssertEqual(r.json, ["uuid": .string(uuid)])
            let g = try await h.request(.get, "/v1/clusters/\(uuid)")
            XCTAssertEqual(g.json?["status"], "UPDATE_IN_PROGRESS")
            XCTAssertEqual(g.json?["cluster_template_id"], .string(ct), "the driver, not the API, moves the cluster to the new template")
            let w = try await worker(h, uuid)
            XCTAssertEqual(w.status, .updateInProgress)
            let ops = try await operations(h, uuid)
            XCTAssertEqual(ops.map(\.kind), [.clusterCreate, .clusterUpgrade])
            let op = try XCTUnwrap(ops.last)
            XCTAssertEqual(op.nodegroupUUID, w.uuid)
            XCTAssertEqual(op.parameters, ["cluster_template": .string(newCT), "max_batch_size": 2])
            XCTAssertEqual(op.state, .pending)
            XCTAssertEqual(op.userID, "demo")
            XCTAssertEqual(op.requestID, r.header("x-openstack-request-id"))

            // By template name, default max_batch_size 1, latest version.
            try await h.setClusterState(uuid, .updateComplete)
            let byName = try await upgrade(h, "k8s", ["cluster_template": "ct-v2"])
            XCTAssertEqual(byName.status, 202, byName.text)
            let last = try await operations(h, uuid).last
            XCTAssertEqual(last?.parameters, ["cluster_template": .string(newCT), "max_batch_size": 1])
        }
    }

    func testUpgradeValidationAndStateGate() async throws {
        try await APIHarness.withEach { h in
            let ct = try await h.createTemplate(Self.swarm)["uuid"]?.stringValue ?? ""
            let uuid = try await h.createCluster(template: ct)
            assertError(try await upgrade(h, uuid, ["cluster_template": .string(ct)]), 400,
                        "Upgrading a cluster when status is \"CREATE_IN_PROGRESS\" is not supported.")
            for state: ClusterStatus in [.createFailed, .updateInProgress, .updateFailed, .deleteInProgress] {
                try await h.setClusterState(uuid, state)
                assertError(try await upgrade(h, uuid, ["cluster_template": .string(ct)]), 400,
                            "Upgrading a cluster when status is \"\(state.rawValue)\" is not supported.")
            }
            try await h.setClusterState(uuid, .createComplete)
            assertError(try await upgrade(h, uuid, ["cluster_template": "nope"]), 404, "ClusterTemplate nope could not be found.")
            let missing = "11111111-2222-3333-4444-555555555555"
            assertError(try await upgrade(h, uuid, ["cluster_template": .string(missing)]), 404, "ClusterTemplate \(missing) could not be found.")
            let foreignCT = try await h.createTemplate(Self.swarm, token: .other)["uuid"]?.stringValue ?? ""
            assertError(try await upgrade(h, uuid, ["cluster_template": .string(foreignCT)]), 404, "ClusterTemplate \(foreignCT) could not be found.")
            assertError(try await upgrade(h, uuid, [:]), 400,
                        "Invalid input for field/attribute cluster_template. Value: 'None'. Mandatory field missing.")
            assertError(try await upgrade(h, uuid, nil), 400, "Missing argument: \"cluster_upgrade_req\"")
            assertError(try await upgrade(h, uuid, ["cluster_template": .string(ct), "max_batch_size": 0]), 400,
                        "Invalid input for field/attribute max_batch_size. Value: '0'. Value should be greater or equal to 1")
            assertError(try await upgrade(h, uuid, ["cluster_template": .string(ct), "bogus": 1]), 400,
                        "Unknown attribute for argument cluster_upgrade_req: bogus")
            assertError(try await upgrade(h, uuid, ["cluster_template": .string(ct), "nodegroup": "nope"]), 404,
                        "Nodegroup nope could not be found.")
            assertError(try await upgrade(h, missing, ["cluster_template": .string(ct)]), 404, "Cluster \(missing) could not be found.")
            assertError(try await upgrade(h, uuid, ["cluster_template": .string(ct)], token: .reader), 403,
                        "Policy doesn't allow cluster:upgrade to be performed.")
            assertError(try await upgrade(h, uuid, ["cluster_template": .string(ct)], token: .other), 404,
                        "Cluster \(uuid) could not be found.")
            let refused = try await operations(h, uuid).map(\.kind)
            XCTAssertEqual(refused, [.clusterCreate])

            // The default master may be named.
            let m = try await upgrade(h, uuid, ["cluster_template": .string(ct), "nodegroup": "default-master"])
            XCTAssertEqual(m.status, 202, m.text)
            let master = try await nodegroups(h, uuid).first { $0.role == "master" }
            XCTAssertEqual(master?.status, .updateInProgress)
            let lastOp = try await operations(h, uuid).last
            XCTAssertEqual(lastOp?.nodegroupUUID, master?.uuid)
        }
    }

    /// A non-default nodegroup can only be upgraded to the cluster's own template (409); the
    /// admin may upgrade any project's cluster.
    func testUpgradeNonDefaultNodegroupAndAdminScope() async throws {
        try await APIHarness.withEach { h in
            let (ct, uuid) = try await readyCluster(h, template: Self.swarm)
            try await h.store.write { s in
                var ng = NodeGroup(uuid: UUIDs.make(), clusterID: uuid)
                ng.name = "extra"
                ng.role = "worker"
                ng.nodeCount = 1
                ng.projectID = "demo-project"
                ng.status = .createComplete
                _ = try await s.insert(ng)
            }
            let newCT = try await h.createTemplate(Self.merged(Self.swarm, ["name": "ct-v2"]))["uuid"]?.stringValue ?? ""
            assertError(try await upgrade(h, uuid, ["cluster_template": .string(newCT), "nodegroup": "extra"]), 409,
                        "Cluster Template is not valid for upgrade: Nodegroup extra can be upgraded only to match cluster's template (ct).")
            let same = try await upgrade(h, uuid, ["cluster_template": .string(ct), "nodegroup": "extra"])
            XCTAssertEqual(same.status, 202, same.text)
            let extra = try await nodegroups(h, uuid).first { $0.name == "extra" }
            XCTAssertEqual(extra?.status, .updateInProgress)

            // Admin: all projects (cluster:upgrade_all_projects), and admin sees every template.
            let (otherCT, theirs) = try await readyCluster(h, ["name": "theirs"], template: Self.swarm, token: .other)
            let a = try await upgrade(h, theirs, ["cluster_template": .string(otherCT)], token: .admin)
            XCTAssertEqual(a.status, 202, a.text)
            let op = try await operations(h, theirs).last
            XCTAssertEqual(op?.kind, .clusterUpgrade)
            XCTAssertEqual(op?.userID, "admin")
        }
    }

    // MARK: Credentials

    func testCredentialRotation() async throws {
        try await APIHarness.withEach { h in
            let (_, uuid) = try await readyCluster(h)
            for v in ["1.1", "1.11"] {
                assertFramework(try await rotate(h, uuid, version: v), 406)
            }
            assertFramework(try await h.request(.patch, "/v1/credentials/\(uuid)"), 406)
            for v in ["1.12", "latest"] {
                let r = try await rotate(h, uuid, version: v)
                assertError(r, 400, "Credential rotation is not supported by driver.")
                XCTAssertEqual(r.errorTitle, "Credential rotation is not supported by driver")
            }
            // Allowed states include UPDATE_IN_PROGRESS / UPDATE_FAILED; the driver still refuses.
            for state: ClusterStatus in [.updateInProgress, .updateFailed, .updateComplete] {
                try await h.setClusterState(uuid, state)
                assertError(try await rotate(h, uuid), 400, "Credential rotation is not supported by driver.")
            }
            // Other states are refused by the state check first.
            for state: ClusterStatus in [.createInProgress, .createFailed, .deleteInProgress] {
                try await h.setClusterState(uuid, state)
                let r = try await rotate(h, uuid)
                assertError(r, 400, "Rotating the credential of a cluster when status is \"\(state.rawValue)\" is not supported.")
            }
            let status = try await clusterStatus(h, uuid)
            XCTAssertEqual(status, "DELETE_IN_PROGRESS", "no status change by rotation")
            let ops = try await operations(h, uuid).map(\.kind)
            XCTAssertEqual(ops, [.clusterCreate])

            // Policy: project member only (quirk 18: no admin override) — readers are refused; the
            // admin passes only through Keystone's implied member role, in its own project, so
            // another project's cluster is not found (no all-projects scoping).
            assertError(try await rotate(h, uuid, token: .reader), 403, "Policy doesn't allow credential:rotate to be performed.")
            assertError(try await rotate(h, uuid, token: .admin), 404, "Cluster \(uuid) could not be found.")
            let missing = "11111111-2222-3333-4444-555555555555"
            assertError(try await rotate(h, missing), 404, "Cluster \(missing) could not be found.")
            assertError(try await rotate(h, "nope"), 404, "Cluster nope could not be found.")
            assertError(try await rotate(h, uuid, token: .other), 404, "Cluster \(uuid) could not be found.")
            try await h.setClusterState(uuid, .createComplete)
            assertError(try await rotate(h, "k8s", token: .demo2), 400, "Credential rotation is not supported by driver.")

            // Routing: only PATCH on a member.
            assertFramework(try await h.request(.get, "/v1/credentials/\(uuid)", version: "1.12"), 405)
            assertFramework(try await h.request(.post, "/v1/credentials/\(uuid)", version: "1.12", body: [:]), 405)
            assertFramework(try await h.request(.patch, "/v1/credentials", version: "1.12"), 404)
            assertError(try await h.request(.patch, "/v1/credentials/\(uuid)?force=1", version: "1.12"), 400, "Unknown argument: \"force\"")
        }
    }

    // MARK: Driver capabilities

    /// A registry where the local Swarm-mode driver supports only `capabilities`.
    static func registry(localSwarm capabilities: Set<DriverCapability>) -> DriverRegistry {
        DriverRegistry(drivers: DriverRegistry.builtIn.drivers.map { d in
            var d = d
            if d.name == "local_swarm" { d.capabilities = capabilities }
            return d
        })
    }

    /// What an operation refused by the driver must leave untouched.
    private func snapshot(_ h: APIHarness, _ uuid: String) async throws -> (JSON?, [NodeGroup], [MagnumCore.ClusterOperation]) {
        (try await h.request(.get, "/v1/clusters/\(uuid)", token: .admin).json, try await nodegroups(h, uuid), try await operations(h, uuid))
    }

    /// The Heat driver does not upgrade: 400 NotSupported, and nothing changes.
    func testUpgradeRefusedByTheHeatDriverChangesNothing() async throws {
        try await APIHarness.withEach { h in
            let (ct, uuid) = try await readyCluster(h)
            let before = try await snapshot(h, uuid)
            let newCT = try await h.createTemplate(["name": "ct-v2"])["uuid"]?.stringValue ?? ""
            for body: JSON in [["cluster_template": .string(newCT)], ["cluster_template": .string(ct), "nodegroup": "default-master"]] {
                let r = try await upgrade(h, uuid, body)
                assertError(r, 400, "Upgrading a cluster is not supported by driver heat_fedora_coreos.")
            }
            let after = try await snapshot(h, uuid)
            XCTAssertEqual(after.0, before.0)
            XCTAssertEqual(after.1, before.1)
            XCTAssertEqual(after.2, before.2)
            // The state check still comes first (contract §8.2.5).
            try await h.setClusterState(uuid, .updateInProgress)
            assertError(try await upgrade(h, uuid, ["cluster_template": .string(newCT)]), 400,
                        "Upgrading a cluster when status is \"UPDATE_IN_PROGRESS\" is not supported.")
        }
    }

    /// Every operation-starting request consults the cluster's driver before it writes: a driver
    /// without the capability answers 400 and leaves cluster, nodegroups and operations as they were.
    func testEveryOperationChecksTheDriverBeforeAnythingChanges() async throws {
        let registry = Self.registry(localSwarm: [.create, .delete])
        try await APIHarness.withEach(drivers: registry) { h in
            let (ct, uuid) = try await readyCluster(h, template: Self.swarm)
            let before = try await snapshot(h, uuid)
            let refusals: [(String, APIHarness.Reply)] = [
                ("Updating a cluster", try await h.request(.patch, "/v1/clusters/\(uuid)", body: [["op": "replace", "path": "/node_count", "value": 3]])),
                ("Resizing a cluster", try await resize(h, uuid, ["node_count": 3])),
                ("Upgrading a cluster", try await upgrade(h, uuid, ["cluster_template": .string(ct)])),
                ("Managing nodegroups", try await h.request(.post, "/v1/clusters/\(uuid)/nodegroups", version: "latest",
                                                           body: ["name": "extra", "node_count": 1])),
                ("Managing nodegroups", try await h.request(.delete, "/v1/clusters/\(uuid)/nodegroups/default-worker", version: "latest")),
                ("Rotating the CA certificate", try await h.request(.patch, "/v1/certificates/\(uuid)", version: "latest")),
            ]
            for (operation, r) in refusals {
                if operation == "Managing nodegroups", r.status != 400 || r.errorDetail?.hasPrefix(operation) != true {
                    // Deleting a default nodegroup is refused by its own rule first.
                    XCTAssertEqual(r.status, 400, r.text)
                    continue
                }
                assertError(r, 400, "\(operation) is not supported by driver local_swarm.")
            }
            let after = try await snapshot(h, uuid)
            XCTAssertEqual(after.0, before.0)
            XCTAssertEqual(after.1, before.1)
            XCTAssertEqual(after.2, before.2)
            let certificates = try await h.store.read { try await $0.certificates(clusterUUID: uuid) }
            XCTAssertEqual(certificates.count, 4, "the refused CA rotation issued nothing")

            // Delete is supported and accepted.
            let d = try await h.request(.delete, "/v1/clusters/\(uuid)")
            XCTAssertEqual(d.status, 204, d.text)
            let kinds = try await operations(h, uuid).map(\.kind)
            XCTAssertEqual(kinds, [.clusterCreate, .clusterDelete])
        }
    }

    /// A driver that cannot create refuses the cluster (400) before certificates or rows exist;
    /// a disabled driver refuses every later operation as an unsupported cluster type.
    func testCreateAndDisabledDrivers() async throws {
        try await APIHarness.withEach(drivers: Self.registry(localSwarm: [.delete])) { h in
            let ct = try await h.createTemplate(Self.swarm)["uuid"]?.stringValue ?? ""
            let r = try await h.request(.post, "/v1/clusters", version: "latest",
                                        body: ["name": "s", "cluster_template_id": .string(ct), "master_count": 1, "node_count": 1])
            assertError(r, 400, "Creating a cluster is not supported by driver local_swarm.")
            let count = try await h.store.read { try await $0.clusters(.everything, sort: MagnumStore.SortOrder()).count }
            XCTAssertEqual(count, 0)
        }
        var config = APIConfiguration()
        config.disabledDrivers = ["heat_fedora_coreos"]
        try await APIHarness.withEach { enabled in
            let (_, uuid) = try await readyCluster(enabled)
            let disabled = enabled.with(config: config)
            assertError(try await resize(disabled, uuid, ["node_count": 2]), 400,
                        "Cluster type (vm, fedora-coreos, kubernetes) not supported.")
            let kinds = try await operations(disabled, uuid).map(\.kind)
            XCTAssertEqual(kinds, [.clusterCreate])
        }
    }

    /// With a driver that rotates credentials, the request is accepted (202) as an operation and
    /// the cluster's status is left alone (contract §8.2.8).
    func testCredentialRotationByADriverThatSupportsIt() async throws {
        try await APIHarness.withEach(drivers: Self.registry(localSwarm: Set(DriverCapability.allCases))) { h in
            let (_, uuid) = try await readyCluster(h, template: Self.swarm)
            let r = try await rotate(h, uuid)
            XCTAssertEqual(r.status, 202, r.text)
            XCTAssertEqual(r.json, ["uuid": .string(uuid)])
            let status = try await clusterStatus(h, uuid)
            XCTAssertEqual(status, "CREATE_COMPLETE")
            let op = try await operations(h, uuid).last
            XCTAssertEqual(op?.kind, .credentialRotate)
            XCTAssertEqual(op?.userID, "demo")
        }
    }
}
