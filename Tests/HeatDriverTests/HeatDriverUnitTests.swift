import Foundation
@testable import HeatDriver
import MagnumCore
import XCTest

/// The Heat driver's pure parts: names, records, removal indexes, environments, user data,
/// catalogs and error bodies. Its work against a real Heat runs in scripts/heat-e2e.sh.
final class HeatDriverUnitTests: XCTestCase {
    func testStackNamesAreValidHeatNamesUniquePerCluster() {
        var c = Cluster(uuid: "0123456789ab-cdef-0000-000000000000", clusterTemplateID: "t")
        c.name = "9 my cluster!"
        XCTAssertEqual(HeatDriver.stackName(c), "c9-my-cluster--0123456789ab")
        XCTAssertEqual(HeatDriver.hostPrefix(c), "9-my-cluster")
        c.name = nil
        XCTAssertEqual(HeatDriver.stackName(c), "cluster-0123456789ab")
        var ng = NodeGroup(uuid: "abcdef01-2222", clusterID: c.uuid)
        ng.name = "gpu pool"
        XCTAssertEqual(HeatDriver.nodegroupStackName(c, ng), "cluster-0123456789ab-gpu-pool-abcdef01")
    }

    func testStackReferencesRoundTripAndRejectGarbage() {
        let ref = HeatClusterRecord.StackRef(name: "k8s-0123", id: "5b3c")
        XCTAssertEqual(HeatClusterRecord.StackRef(ref.stored), ref)
        XCTAssertNil(HeatClusterRecord.StackRef("no-slash"))
        XCTAssertNil(HeatClusterRecord.StackRef(nil))
        let record = HeatClusterRecord(values: [
            HeatClusterRecord.stackKey: "a/1", HeatClusterRecord.nodegroupKey("ng-1"): "b/2", HeatClusterRecord.trustKey: "t",
        ])
        XCTAssertEqual(record.stack, .init(name: "a", id: "1"))
        XCTAssertEqual(record.nodegroupStacks, ["ng-1": .init(name: "b", id: "2")])
        XCTAssertEqual(record.trustID, "t")
        XCTAssertNil(record.trusteeUserID)
    }

    func testNodesToRemoveResolveByIndexNameOrAddressAndRefuseStrangers() throws {
        let stack = HeatStack(id: "1", name: "s", status: "CREATE_COMPLETE", outputs: [
            "node_index_names": ["0": "k-default-worker-0", "2": "k-default-worker-2"],
            "node_index_addresses": ["0": "10.0.0.5", "2": "10.0.0.7"],
        ])
        var ng = NodeGroup(uuid: "u", clusterID: "c")
        ng.name = "default-worker"
        XCTAssertEqual(try HeatDriver.removalIndexes(["k-default-worker-2", "10.0.0.5", "2"], stack: stack, nodegroup: ng),
                       ["2", "0", "2"])
        XCTAssertEqual(try HeatDriver.removalIndexes([], stack: stack, nodegroup: ng), [])
        XCTAssertThrowsError(try HeatDriver.removalIndexes(["k-default-worker-1"], stack: stack, nodegroup: ng)) { error in
            XCTAssertEqual((error as? MagnumError)?.code, .invalid)
            XCTAssertEqual((error as? MagnumError)?.message, "Node k-default-worker-1 is not a node of nodegroup default-worker.")
        }
    }

    func testEnvironmentReferencesAreTheTemplateFilesOfItsRegistry() throws {
        let env = """
            parameter_defaults: {standin_boot_seconds: 0}
            resource_registry:
              OS::Nova::Server: standin-server.yaml
              OS::Neutron::Net: OS::Heat::None
              "OS::Cinder::*": remote.yaml
              Other::Type: http://example.invalid/t.yaml
              resources:
                kube_masters:
                  OS::Nova::Server: special.yml
            """
        XCTAssertEqual(try StackTemplates.referencedFiles(environment: env, path: "e.yaml"), ["remote.yaml", "standin-server.yaml", "special.yml"])
        XCTAssertEqual(try StackTemplates.referencedFiles(environment: "", path: "e.yaml"), [])
        XCTAssertThrowsError(try StackTemplates.referencedFiles(environment: "- a\n- b", path: "e.yaml"))
        XCTAssertThrowsError(try StackTemplates.referencedFiles(environment: "a: [", path: "e.yaml"))
    }

    func testTemplatesAndOperatorEnvironmentsMakeOneDocument() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("heat-templates-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for coe in StackTemplates.coes {
            try FileManager.default.createDirectory(atPath: dir + "/" + coe, withIntermediateDirectories: true)
            for f in ["cluster.yaml", "workers.yaml", "environment.yaml", "master.yaml"] {
                try "# \(coe) \(f)\n".write(toFile: "\(dir)/\(coe)/\(f)", atomically: true, encoding: .utf8)
            }
        }
        try FileManager.default.createDirectory(atPath: dir + "/bootstrap", withIntermediateDirectories: true)
        try "echo hi\n".write(toFile: dir + "/bootstrap/common.sh", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir + "/ops", withIntermediateDirectories: true)
        try "resource_registry:\n  OS::Nova::Server: fake-server.yaml\n".write(toFile: dir + "/ops/cloud.yaml", atomically: true, encoding: .utf8)
        try "heat_template_version: 2021-04-16\n".write(toFile: dir + "/ops/fake-server.yaml", atomically: true, encoding: .utf8)

        let templates = try StackTemplates(directory: dir, environments: [dir + "/ops/cloud.yaml"])
        let doc = try templates.document(coe: "swarm-mode", top: "workers.yaml")
        XCTAssertEqual(doc.template, "# swarm-mode workers.yaml\n")
        XCTAssertEqual(doc.environmentFiles, ["environment.yaml", "cloud.yaml"])
        XCTAssertEqual(Set(doc.files.keys), ["cluster.yaml", "workers.yaml", "environment.yaml", "master.yaml", "cloud.yaml", "fake-server.yaml"])
        XCTAssertEqual(doc.files["master.yaml"], "# swarm-mode master.yaml\n")
        XCTAssertEqual(templates.bootstrapScripts["common.sh"], "echo hi\n")

        // A name the driver's templates use, or a missing referenced file, is refused at start.
        try "resource_registry: {}\n".write(toFile: dir + "/ops/master.yaml", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try StackTemplates(directory: dir, environments: [dir + "/ops/master.yaml"])) { error in
            XCTAssertTrue((error as? MagnumError)?.message.contains("already used by the driver's templates") == true)
        }
        try "resource_registry:\n  OS::Nova::Server: missing.yaml\n".write(toFile: dir + "/ops/broken.yaml", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try StackTemplates(directory: dir, environments: [dir + "/ops/broken.yaml"]))
        XCTAssertThrowsError(try StackTemplates(directory: dir + "/nowhere", environments: []))
    }

    func testUserDataIsIgnitionWithScriptSettingsAndCertificatesButNoKey() throws {
        let bootstrap = NodeBootstrap(scripts: ["kubernetes-worker.sh": "#!/bin/bash\necho join\n", "common.sh": "log() { :; }\n",
                                                "agent.sh": "#!/bin/bash\necho poll\n"])
        let text = try bootstrap.userData(coe: "kubernetes", role: .worker, settings: [("CLUSTER_UUID", "c-1"), ("NODEGROUP_LABELS", "a=b,it's=x")],
                                          certificates: [("/etc/magnum/ca.crt", "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----")])
        let json = try JSON.parse(string: text)
        XCTAssertEqual(json["ignition"]?["version"]?.stringValue, "3.3.0")
        let files = json["storage"]?["files"]?.arrayValue ?? []
        func content(_ path: String) -> String? {
            guard let source = files.first(where: { $0["path"]?.stringValue == path })?["contents"]?["source"]?.stringValue else { return nil }
            if source.hasPrefix("data:;base64,") {
                return Data(base64Encoded: String(source.dropFirst("data:;base64,".count))).flatMap { String(data: $0, encoding: .utf8) }
            }
            return source
        }
        XCTAssertEqual(content("/usr/local/bin/magnum-bootstrap"), "#!/bin/bash\necho join\n")
        XCTAssertEqual(content("/usr/local/lib/magnum/common.sh"), "log() { :; }\n")
        XCTAssertEqual(content("/etc/magnum/cluster.env"), "CLUSTER_UUID='c-1'\nNODEGROUP_LABELS='a=b,it'\\''s=x'\n")
        XCTAssertEqual(content("/etc/magnum/ca.crt"), "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n")
        XCTAssertEqual(content("/etc/magnum/heat.env"),
                       "data:,WAIT_ENDPOINT=__WAIT_ENDPOINT__%0AWAIT_TOKEN=__WAIT_TOKEN__%0AAPI_ADDRESS=__API_ADDRESS__%0ANODE_NAME=__NODE_NAME__%0ANODE_INDEX=__NODE_INDEX__%0AVOLUME_ID=__VOLUME_ID__%0A")
        XCTAssertFalse(text.contains("PRIVATE KEY"))
        XCTAssertEqual(content("/usr/local/bin/magnum-agent"), "#!/bin/bash\necho poll\n")
        XCTAssertEqual(files.first { $0["path"]?.stringValue == "/usr/local/bin/magnum-agent" }?["mode"]?.intValue, 0o755)
        // The bootstrap runs once; the agent's timer starts it every 30 s, only once bootstrapped.
        let units = json["systemd"]?["units"]?.arrayValue ?? []
        XCTAssertEqual(units.map { $0["name"]?.stringValue ?? "" }, ["magnum-bootstrap.service", "magnum-agent.service", "magnum-agent.timer"])
        XCTAssertEqual(units.map { $0["enabled"]?.boolValue ?? false }, [true, false, true])
        XCTAssertTrue(units[1]["contents"]?.stringValue?.contains("ConditionPathExists=/var/lib/magnum/bootstrap.done") == true)
        XCTAssertTrue(units[2]["contents"]?.stringValue?.contains("OnUnitInactiveSec=30") == true)
        XCTAssertThrowsError(try bootstrap.userData(coe: "swarm-mode", role: .master, settings: [], certificates: []))
    }

    func testKubeadmTokensAndKeysHaveKubeadmsShapes() {
        let token = NodeBootstrap.kubeadmToken()
        XCTAssertNotNil(token.range(of: "^[a-z0-9]{6}\\.[a-z0-9]{16}$", options: .regularExpression), token)
        XCTAssertNotEqual(NodeBootstrap.kubeadmToken(), token)
        XCTAssertNotNil(NodeBootstrap.randomHex(bytes: 32).range(of: "^[0-9a-f]{64}$", options: .regularExpression))
    }

    func testCatalogEndpointsByTypeInterfaceAndRegion() {
        let token = ScopedToken(token: "t", expiresAt: Date(), projectID: "p", catalog: [
            ["type": "identity", "endpoints": [["interface": "public", "region_id": "RegionOne", "url": "http://k/v3"]]],
            ["type": "orchestration", "endpoints": [
                ["interface": "internal", "region_id": "RegionOne", "url": "http://internal:8004/v1/p"],
                ["interface": "public", "region_id": "RegionTwo", "url": "http://two:8004/v1/p/"],
                ["interface": "public", "region_id": "RegionOne", "url": "http://one:8004/v1/p"],
            ]],
        ])
        XCTAssertEqual(token.endpoint(type: "orchestration", interface: "public", region: nil), "http://two:8004/v1/p")
        XCTAssertEqual(token.endpoint(type: "orchestration", interface: "public", region: "RegionOne"), "http://one:8004/v1/p")
        XCTAssertEqual(token.endpoint(type: "orchestration", interface: "internal", region: nil), "http://internal:8004/v1/p")
        XCTAssertNil(token.endpoint(type: "compute", interface: "public", region: nil))
    }

    func testServiceErrorMessagesComeFromEachServicesEnvelope() {
        func message(_ status: Int, _ body: String) -> String {
            CloudResponse(status: status, headers: [:], body: body).errorMessage
        }
        XCTAssertEqual(message(400, #"{"code": 400, "title": "Bad Request", "explanation": "The server could not comply", "error": {"type": "StackValidationFailed", "message": "Property error: image"}}"#),
                       "Property error: image")
        XCTAssertEqual(message(404, #"{"error": {"code": 404, "message": "Could not find trust: x.", "title": "Not Found"}}"#), "Could not find trust: x.")
        XCTAssertEqual(message(404, #"{"itemNotFound": {"code": 404, "message": "Flavor m1 could not be found."}}"#), "Flavor m1 could not be found.")
        XCTAssertEqual(message(404, #"{"NeutronError": {"type": "NetworkNotFound", "message": "Network n could not be found."}}"#), "Network n could not be found.")
        XCTAssertEqual(message(502, "<html>bad gateway</html>"), "<html>bad gateway</html>")
        XCTAssertEqual(message(500, ""), "HTTP 500")
    }

    func testFailuresBlameTheirNodegroupAndKeepTheirAction() {
        XCTAssertTrue(HeatDriver.blames("server (OS::Nova::Server) in k-abc-masters-x-0-y: boom", master: true))
        XCTAssertFalse(HeatDriver.blames("server (OS::Nova::Server) in k-abc-masters-x-0-y: boom", master: false))
        XCTAssertTrue(HeatDriver.blames("server (OS::Nova::Server) in mastermind-abc-workers-x-1-y: boom", master: false))
        XCTAssertFalse(HeatDriver.blames(nil, master: false))
        XCTAssertEqual(HeatDriver.failed(.createInProgress), .createFailed)
        XCTAssertEqual(HeatDriver.failed(.deleteInProgress), .deleteFailed)
        XCTAssertEqual(HeatDriver.failed(.updateComplete), .updateFailed)
    }
}

extension HeatDriverUnitTests {
    func testResourcesNameTheirStackByLinkAndMarkNestedOnes() throws {
        let group = try JSON.parse(string: #"""
            {"resource_name": "group", "resource_type": "OS::Heat::ResourceGroup", "resource_status": "CREATE_FAILED",
             "resource_status_reason": "ValueError: resources.group.resources[0]: Test Resource failed 0",
             "links": [{"href": "http://h:8004/v1/p/stacks/probe-fail/f3/resources/group", "rel": "self"},
                       {"href": "http://h:8004/v1/p/stacks/probe-fail/f3", "rel": "stack"},
                       {"href": "http://h:8004/v1/p/stacks/probe-fail-group-x4/d3", "rel": "nested"}]}
            """#)
        let leaf = try JSON.parse(string: #"""
            {"resource_name": "0", "resource_type": "OS::Heat::TestResource", "resource_status": "CREATE_FAILED",
             "resource_status_reason": "ValueError: resources[0]: Test Resource failed 0", "parent_resource": "group",
             "links": [{"href": "http://h:8004/v1/p/stacks/probe-fail-group-x4/d3/resources/0", "rel": "self"},
                       {"href": "http://h:8004/v1/p/stacks/probe-fail-group-x4/d3", "rel": "stack"}]}
            """#)
        let g = HeatClient.resource(group), l = HeatClient.resource(leaf)
        XCTAssertEqual(g.stackName, "probe-fail")
        XCTAssertTrue(g.isNested)
        XCTAssertEqual(l.stackName, "probe-fail-group-x4")
        XCTAssertFalse(l.isNested)
        XCTAssertEqual(l.statusReason, "ValueError: resources[0]: Test Resource failed 0")
    }
}

extension HeatDriverUnitTests {
    func testAServiceThatRefusesConnectionsIsATransientFailureNamingIt() async {
        do {
            _ = try await CloudHTTP(service: "Heat").send(.GET, "http://127.0.0.1:1/v1/p/stacks", token: "t")
            XCTFail("a refused connection must throw")
        } catch let error as MagnumError {
            XCTAssertEqual(error.code, .unavailable, "the conductor retries it with backoff")
            XCTAssertTrue(error.message.hasPrefix("Heat at http://127.0.0.1:1 could not be reached"), error.message)
        } catch {
            XCTFail("unexpected \(error)")
        }
    }
}
