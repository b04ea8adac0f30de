import Foundation
import MagnumCore
import MagnumStore
import MagnumTestSupport
import XCTest

/// The legacy `/v1/baymodels` and `/v1/bays` aliases of cluster templates and clusters, with
/// their historical field names and 1.1–1.3 semantics (contract §4.11).
final class LegacyBayTests: XCTestCase {
    static let bayBriefKeys: Set<String> = ["uuid", "name", "baymodel_id", "docker_volume_size", "labels", "master_flavor_id",
                                            "flavor_id", "node_count", "status", "bay_create_timeout", "master_count", "stack_id", "links"]
    static let bayDetailKeys: Set<String> = bayBriefKeys.union([
        "status_reason", "discovery_url", "api_address", "coe_version", "container_version", "node_addresses", "master_addresses",
        "fixed_network", "fixed_subnet", "floating_ip_enabled", "master_lb_enabled", "created_at", "updated_at",
    ])

    private func keys(_ j: JSON?) -> Set<String> { Set((j?.objectValue ?? [:]).keys) }

    private func links(_ collection: String, _ uuid: String) -> JSON {
        [["href": .string("http://localhost/v1/\(collection)/\(uuid)"), "rel": "self"],
         ["href": .string("http://localhost/\(collection)/\(uuid)"), "rel": "bookmark"]]
    }

    private let baymodelBody: JSON = [
        "name": "bm", "coe": "kubernetes", "image_id": "fedora-coreos-latest", "external_network_id": "public",
        "flavor_id": "m1.small", "master_flavor_id": "m1.medium", "keypair_id": "kp", "labels": ["kube_tag": "v1.30"],
    ]

    private func baymodel(_ h: APIHarness) async throws -> String {
        let r = try await h.request(.post, "/v1/baymodels", body: baymodelBody)
        guard r.status == 201, let uuid = r.json?["uuid"]?.stringValue else { throw HarnessError.unexpected(r.status, r.text) }
        return uuid
    }

    private func bay(_ h: APIHarness, baymodel: String, _ extra: [String: JSON] = [:]) async throws -> String {
        var body: [String: JSON] = ["name": "bay1", "baymodel_id": .string(baymodel), "node_count": 2, "master_count": 1]
        for (k, v) in extra { body[k] = v }
        let r = try await h.request(.post, "/v1/bays", version: "1.2", body: .object(body))
        guard r.status == 202, let uuid = r.json?["uuid"]?.stringValue else { throw HarnessError.unexpected(r.status, r.text) }
        return uuid
    }

    // MARK: Baymodels

    func testBaymodelCRUD() async throws {
        try await APIHarness.withEach { h in
            let r = try await h.request(.post, "/v1/baymodels", body: baymodelBody)
            XCTAssertEqual(r.status, 201, r.text)
            let uuid = r.json?["uuid"]?.stringValue ?? ""
            XCTAssertEqual(r.header("Location"), "http://localhost/v1/baymodels/\(uuid)")
            XCTAssertEqual(r.json?["links"], links("baymodels", uuid))
            XCTAssertEqual(r.json?["name"], "bm")
            XCTAssertEqual(r.json?["coe"], "kubernetes")
            XCTAssertEqual(r.json?["cluster_distro"], "fedora-coreos")
            XCTAssertEqual(r.json?["master_flavor_id"], "m1.medium")
            XCTAssertEqual(r.json?["labels"], ["kube_tag": "v1.30"])
            XCTAssertEqual(r.json?["public"], false)

            // The same row is a cluster template.
            let ct = try await h.request(.get, "/v1/clustertemplates/\(uuid)")
            XCTAssertEqual(ct.status, 200)
            XCTAssertEqual(ct.json?["links"], links("clustertemplates", uuid))
            var asBaymodel = ct.json?.objectValue ?? [:]
            asBaymodel["links"] = links("baymodels", uuid)
            XCTAssertEqual(r.json, .object(asBaymodel), "a baymodel is the template with baymodel links")

            let get = try await h.request(.get, "/v1/baymodels/bm")
            XCTAssertEqual(get.status, 200)
            XCTAssertEqual(get.json, r.json)
            let bookmark = try await h.request(.get, "/baymodels/\(uuid)")
            XCTAssertEqual(bookmark.json?["uuid"], .string(uuid))

            // Lists (brief and detail are both full objects), with pagination.
            let second = try await h.request(.post, "/v1/baymodels", body: ["name": "bm2", "coe": "kubernetes", "image_id": "fedora-coreos-latest"])
            XCTAssertEqual(second.status, 201)
            let uuid2 = second.json?["uuid"]?.stringValue ?? ""
            for path in ["/v1/baymodels", "/v1/baymodels/detail"] {
                let list = try await h.request(.get, path)
                XCTAssertEqual(list.status, 200, path)
                XCTAssertEqual(keys(list.json), ["baymodels"], path)
                XCTAssertEqual(list.json?["baymodels"]?.arrayValue?.map { $0["uuid"] }, [.string(uuid), .string(uuid2)], path)
                XCTAssertEqual(list.json?["baymodels"]?.arrayValue?.first, r.json, path)
            }
            let page = try await h.request(.get, "/v1/baymodels?limit=1")
            XCTAssertEqual(page.json?["baymodels"]?.arrayValue?.count, 1)
            XCTAssertEqual(page.json?["next"]?.stringValue, "http://localhost/v1/baymodels?sort_key=id&sort_dir=asc&limit=1&marker=\(uuid)")
            XCTAssertEqual(page.json?["baymodels"]?.arrayValue?.first?["links"], links("baymodels", uuid))
            let detailPage = try await h.request(.get, "/v1/baymodels/detail?limit=1")
            XCTAssertEqual(detailPage.json?["next"]?.stringValue,
                           "http://localhost/v1/baymodels/detail?sort_key=id&sort_dir=asc&limit=1&marker=\(uuid)")

            // PATCH answers 200 with the full baymodel.
            let patch = try await h.request(.patch, "/v1/baymodels/\(uuid)", body: [["op": "replace", "path": "/name", "value": "renamed"]])
            XCTAssertEqual(patch.status, 200, patch.text)
            XCTAssertEqual(patch.json?["name"], "renamed")
            XCTAssertEqual(patch.json?["links"], links("baymodels", uuid))

            // Errors keep the template wording.
            let missing = try await h.request(.get, "/v1/baymodels/nope")
            XCTAssertEqual(missing.status, 404)
            XCTAssertEqual(missing.errorDetail, "ClusterTemplate nope could not be found.")
            let bad = try await h.request(.post, "/v1/baymodels", body: ["name": "x"])
            XCTAssertEqual(bad.status, 400)

            let delete = try await h.request(.delete, "/v1/baymodels/\(uuid)")
            XCTAssertEqual(delete.status, 204)
            XCTAssertEqual(delete.text, "")
            let gone = try await h.request(.get, "/v1/clustertemplates/\(uuid)")
            XCTAssertEqual(gone.status, 404)
        }
    }

    // MARK: Bay create

    func testBayCreateAtMicroversion11IsSynchronous() async throws {
        try await APIHarness.withEach { h in
            let bm = try await baymodel(h)
            let r = try await h.request(.post, "/v1/bays", body: ["name": "bay1", "baymodel_id": "bm", "node_count": 2, "bay_create_timeout": 30])
            XCTAssertEqual(r.status, 201, r.text)
            XCTAssertEqual(r.header("OpenStack-API-Version"), "container-infrastructure-management 1.1")
            let uuid = r.json?["uuid"]?.stringValue ?? ""
            XCTAssertTrue(UUIDs.isUUIDLike(uuid))
            XCTAssertEqual(r.header("Location"), "http://localhost/v1/bays/\(uuid)")
            let b = r.json
            XCTAssertEqual(keys(b), Self.bayDetailKeys)
            XCTAssertEqual(b?["name"], "bay1")
            XCTAssertEqual(b?["baymodel_id"], .string(bm), "the baymodel's UUID, even when named")
            XCTAssertEqual(b?["bay_create_timeout"], 30)
            XCTAssertEqual(b?["node_count"], 2)
            XCTAssertEqual(b?["master_count"], 1)
            XCTAssertEqual(b?["labels"], ["kube_tag": "v1.30"])
            XCTAssertEqual(b?["flavor_id"], "m1.small")
            XCTAssertEqual(b?["master_flavor_id"], "m1.medium")
            XCTAssertEqual(b?["status"], "CREATE_IN_PROGRESS")
            XCTAssertEqual(b?["stack_id"], .null)
            XCTAssertEqual(b?["links"], links("bays", uuid))
            for absent in ["cluster_template_id", "create_timeout", "keypair", "cluster_id", "faults", "bay_faults", "merge_labels",
                           "health_status", "project_id"] {
                XCTAssertNil(b?[absent], absent)
            }

            // The same row is a cluster, whose keypair came from the baymodel.
            let cluster = try await h.request(.get, "/v1/clusters/\(uuid)", version: "latest")
            XCTAssertEqual(cluster.status, 200)
            XCTAssertEqual(cluster.json?["cluster_template_id"], .string(bm))
            XCTAssertEqual(cluster.json?["create_timeout"], 30)
            XCTAssertEqual(cluster.json?["keypair"], "kp")
            XCTAssertEqual(cluster.json?["node_count"], 2)
            let ops = try await h.store.read { try await $0.operations(resourceUUID: uuid) }
            XCTAssertEqual(ops.map(\.kind), [.clusterCreate])
        }
    }

    func testBayCreateFromMicroversion12IsAsync() async throws {
        try await APIHarness.withEach { h in
            let bm = try await baymodel(h)
            for version in ["1.2", "1.3", "1.10", "latest"] {
                let r = try await h.request(.post, "/v1/bays", version: version, body: ["baymodel_id": .string(bm)])
                XCTAssertEqual(r.status, 202, "\(version): \(r.text)")
                XCTAssertEqual(keys(r.json), ["uuid"], version)
                XCTAssertNil(r.header("Location"), version)
                let uuid = r.json?["uuid"]?.stringValue ?? ""
                let get = try await h.request(.get, "/v1/bays/\(uuid)", version: version)
                XCTAssertEqual(get.status, 200, version)
                XCTAssertEqual(get.json?["node_count"], 1, "default node count")
                XCTAssertEqual(get.json?["master_count"], 1)
                XCTAssertEqual(get.json?["bay_create_timeout"], 60, "default timeout")
                XCTAssertNotNil(get.json?["name"]?.stringValue, "a name is generated")
                XCTAssertTrue(get.json?["stack_id"] != nil, "bays keep stack_id at \(version)")
                XCTAssertNil(get.json?["cluster_id"], version)
            }
        }
    }

    func testBayCreateValidation() async throws {
        try await APIHarness.withEach { h in
            let bm = try await baymodel(h)
            let cases: [(JSON?, String)] = [
                (["baymodel_id": .string(bm), "node_count": 0],
                 "Invalid input for field/attribute node_count. Value: '0'. Value should be greater or equal to 1"),
                (["baymodel_id": "nope"], "ClusterTemplate nope could not be found."),
                (["node_count": 1], "Invalid input for field/attribute baymodel_id. Value: 'None'. Mandatory field missing."),
                (["baymodel_id": .string(bm), "cluster_template_id": .string(bm)], "Unknown attribute for argument bay: cluster_template_id"),
                (["baymodel_id": .string(bm), "keypair": "kp"], "Unknown attribute for argument bay: keypair"),
                (["baymodel_id": .string(bm), "create_timeout": 5], "Unknown attribute for argument bay: create_timeout"),
                (["baymodel_id": .string(bm), "bay_create_timeout": -1],
                 "Invalid input for field/attribute bay_create_timeout. Value: '-1'. Value should be greater or equal to 0"),
                (["baymodel_id": .string(bm), "master_count": 2], "master nodegroup size of 2 is invalid, size cannot be an even number."),
                (["baymodel_id": .string(bm), "stack_id": "x"], "Invalid input for field/attribute stack_id. Value: 'x'. Cannot set read only field."),
                (nil, "Missing argument: \"bay\""),
            ]
            for version in ["1.1", "1.2"] {
                for (body, message) in cases {
                    let r = try await h.request(.post, "/v1/bays", version: version, body: body)
                    XCTAssertEqual(r.status, 400, "\(version) \(message)")
                    XCTAssertEqual(r.errorDetail, message, version)
                }
            }
            let bays = try await h.request(.get, "/v1/bays")
            XCTAssertEqual(bays.json, ["bays": []])
        }
    }

    // MARK: Bay get and list

    func testBayListAndGet() async throws {
        try await APIHarness.withEach { h in
            let bm = try await baymodel(h)
            let b1 = try await bay(h, baymodel: bm)
            let b2 = try await bay(h, baymodel: bm, ["name": "bay2", "node_count": 1])
            for version in ["1.1", "1.14"] {
                let list = try await h.request(.get, "/v1/bays", version: version)
                XCTAssertEqual(list.status, 200, version)
                XCTAssertEqual(keys(list.json), ["bays"], version)
                let items = list.json?["bays"]?.arrayValue ?? []
                XCTAssertEqual(items.map { $0["uuid"] }, [.string(b1), .string(b2)], version)
                for item in items { XCTAssertEqual(keys(item), Self.bayBriefKeys, version) }
                let first = items.first
                XCTAssertEqual(first?["name"], "bay1")
                XCTAssertEqual(first?["baymodel_id"], .string(bm))
                XCTAssertEqual(first?["node_count"], 2)
                XCTAssertEqual(first?["master_count"], 1)
                XCTAssertEqual(first?["bay_create_timeout"], 60)
                XCTAssertEqual(first?["status"], "CREATE_IN_PROGRESS")
                XCTAssertEqual(first?["links"], links("bays", b1))

                let detail = try await h.request(.get, "/v1/bays/detail", version: version)
                XCTAssertEqual(detail.status, 200, version)
                for item in detail.json?["bays"]?.arrayValue ?? [] { XCTAssertEqual(keys(item), Self.bayDetailKeys, version) }
            }
            let page = try await h.request(.get, "/v1/bays?limit=1")
            XCTAssertEqual(page.json?["bays"]?.arrayValue?.map { $0["uuid"] }, [.string(b1)])
            XCTAssertEqual(page.json?["next"]?.stringValue, "http://localhost/v1/bays?sort_key=id&sort_dir=asc&limit=1&marker=\(b1)")
            let next = try await h.request(.get, "/v1/bays?sort_key=id&sort_dir=asc&limit=1&marker=\(b1)")
            XCTAssertEqual(next.json?["bays"]?.arrayValue?.map { $0["uuid"] }, [.string(b2)])
            let detailPage = try await h.request(.get, "/v1/bays/detail?limit=1")
            XCTAssertEqual(detailPage.json?["next"]?.stringValue, "http://localhost/v1/bays/detail?sort_key=id&sort_dir=asc&limit=1&marker=\(b1)")

            // GET by name and UUID; other projects and unknown bays are not found.
            let byName = try await h.request(.get, "/v1/bays/bay2")
            XCTAssertEqual(byName.json?["uuid"], .string(b2))
            XCTAssertEqual(keys(byName.json), Self.bayDetailKeys)
            let other = try await h.request(.get, "/v1/bays/\(b1)", token: .other)
            XCTAssertEqual(other.status, 404)
            XCTAssertEqual(other.errorDetail, "Cluster \(b1) could not be found.")
            let otherList = try await h.request(.get, "/v1/bays", token: .other)
            XCTAssertEqual(otherList.json, ["bays": []])

            // A failed bay reports bay_faults.
            try await h.setClusterState(b1, .createFailed)
            let failed = try await h.request(.get, "/v1/bays/\(b1)")
            XCTAssertEqual(failed.json?["status"], "CREATE_FAILED")
            XCTAssertEqual(failed.json?["bay_faults"], ["default-master": nil, "default-worker": nil], "failed nodegroups without a reason show null")
            XCTAssertNil(failed.json?["faults"])
        }
    }

    // MARK: Bay update and delete

    func testBayPatchAt11AnswersTheFullBay() async throws {
        try await APIHarness.withEach { h in
            let bm = try await baymodel(h)
            let b = try await bay(h, baymodel: bm)
            try await h.setClusterState(b, .createComplete, apiAddress: "https://198.18.0.2:6443")
            let r = try await h.request(.patch, "/v1/bays/\(b)", body: [["op": "replace", "path": "/node_count", "value": 3]])
            XCTAssertEqual(r.status, 200, r.text)
            XCTAssertEqual(keys(r.json), Self.bayDetailKeys)
            XCTAssertEqual(r.json?["uuid"], .string(b))
            XCTAssertEqual(r.json?["node_count"], 3)
            XCTAssertEqual(r.json?["status"], "UPDATE_IN_PROGRESS")
            XCTAssertEqual(r.json?["api_address"], "https://198.18.0.2:6443")
            XCTAssertEqual(r.json?["links"], links("bays", b))
            let ops = try await h.store.read { try await $0.operations(resourceUUID: b) }
            XCTAssertEqual(ops.filter { $0.kind == .clusterUpdate }.count, 1)

            // Renamed attributes are addressed by their bay names, and stay unchangeable.
            try await h.setClusterState(b, .updateComplete)
            let timeout = try await h.request(.patch, "/v1/bays/\(b)", body: [["op": "replace", "path": "/bay_create_timeout", "value": 5]])
            XCTAssertEqual(timeout.status, 400)
            XCTAssertEqual(timeout.errorDetail, "cannot change cluster property(ies) create_timeout.")
            let model = try await h.request(.patch, "/v1/bays/\(b)", body: [["op": "replace", "path": "/baymodel_id", "value": .string(bm)]])
            XCTAssertEqual(model.status, 200, "an unchanged value is no change")
            let name = try await h.request(.patch, "/v1/bays/\(b)", body: [["op": "replace", "path": "/name", "value": "x"]])
            XCTAssertEqual(name.status, 400)
            XCTAssertEqual(name.errorDetail, "cannot change cluster property(ies) name.")
            let rollback = try await h.request(.patch, "/v1/bays/\(b)?rollback=true", body: [["op": "replace", "path": "/node_count", "value": 2]])
            XCTAssertEqual(rollback.status, 400)
            XCTAssertEqual(rollback.errorDetail, "Unknown argument: \"rollback\"")
        }
    }

    func testBayPatchFrom12IsAsync() async throws {
        try await APIHarness.withEach { h in
            let bm = try await baymodel(h)
            let b = try await bay(h, baymodel: bm)
            try await h.setClusterState(b, .createComplete)
            let r = try await h.request(.patch, "/v1/bays/bay1", version: "1.2", body: [["op": "replace", "path": "/node_count", "value": 4]])
            XCTAssertEqual(r.status, 202, r.text)
            XCTAssertEqual(r.json, ["uuid": .string(b)])
            let noRollback = try await h.request(.patch, "/v1/bays/\(b)?rollback=true", version: "1.2",
                                                 body: [["op": "replace", "path": "/node_count", "value": 4]])
            XCTAssertEqual(noRollback.status, 400)
            XCTAssertEqual(noRollback.errorDetail, "Unknown argument: \"rollback\"")

            try await h.setClusterState(b, .updateComplete)
            let withRollback = try await h.request(.patch, "/v1/bays/\(b)?rollback=true", version: "1.3",
                                                   body: [["op": "replace", "path": "/node_count", "value": 5]])
            XCTAssertEqual(withRollback.status, 202, withRollback.text)
            XCTAssertEqual(withRollback.json, ["uuid": .string(b)])
            let get = try await h.request(.get, "/v1/bays/\(b)")
            XCTAssertEqual(get.json?["node_count"], 5)
            let ops = try await h.store.read { try await $0.operations(resourceUUID: b) }
            let updates = ops.filter { $0.kind == .clusterUpdate }
            XCTAssertEqual(updates.count, 2)
            XCTAssertEqual(updates.last?.parameters["rollback"], true)

            // The state gate applies to bays as to clusters.
            let busy = try await h.request(.patch, "/v1/bays/\(b)", version: "1.2", body: [["op": "replace", "path": "/node_count", "value": 6]])
            XCTAssertEqual(busy.status, 400)
            XCTAssertEqual(busy.errorDetail, "Updating a cluster when status is \"UPDATE_IN_PROGRESS\" is not supported.")
            let other = try await h.request(.patch, "/v1/bays/\(b)", token: .other, version: "1.2",
                                            body: [["op": "replace", "path": "/node_count", "value": 6]])
            XCTAssertEqual(other.status, 404)
        }
    }

    func testBayDelete() async throws {
        try await APIHarness.withEach { h in
            let bm = try await baymodel(h)
            let b = try await bay(h, baymodel: bm)
            let other = try await h.request(.delete, "/v1/bays/\(b)", token: .other)
            XCTAssertEqual(other.status, 404)
            let reader = try await h.request(.delete, "/v1/bays/\(b)", token: .reader)
            XCTAssertEqual(reader.status, 403)
            for version in ["1.1", "1.2"] {
                let r = try await h.request(.delete, "/v1/bays/bay1", version: version)
                XCTAssertEqual(r.status, 204, version)
                XCTAssertEqual(r.text, "")
            }
            let get = try await h.request(.get, "/v1/bays/\(b)")
            XCTAssertEqual(get.json?["status"], "DELETE_IN_PROGRESS")
            let ops = try await h.store.read { try await $0.operations(resourceUUID: b) }
            XCTAssertEqual(ops.filter { $0.kind == .clusterDelete }.count, 1)
            // The baymodel is in use by the bay until it is gone.
            let inUse = try await h.request(.delete, "/v1/baymodels/\(bm)")
            XCTAssertEqual(inUse.status, 400)
            XCTAssertEqual(inUse.errorDetail, "ClusterTemplate \(bm) is referenced by one or multiple clusters.")
            let missing = try await h.request(.delete, "/v1/bays/nope")
            XCTAssertEqual(missing.status, 404)
            XCTAssertEqual(missing.errorDetail, "Cluster nope could not be found.")
        }
    }
}
