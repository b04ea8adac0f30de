import Foundation
import MagnumCore
import MagnumStore
import MagnumTestSupport
import XCTest

/// `/v1/clustertemplates` (contract §4.1, §6.1, §1.8, §1.9, Appendix A.1).
final class ClusterTemplateTests: XCTestCase {
    // MARK: Helpers

    /// Asserts Magnum's application error body (§3.1 (a)): one error, code "client", the exact
    /// detail, and the title cut before the first period.
    func assertError(_ r: APIHarness.Reply, _ status: Int, _ detail: String, _ note: String = "",
                     file: StaticString = #filePath, line: UInt = #line)
    {
        XCTAssertEqual(r.status, status, "\(note) \(r.text)", file: file, line: line)
        let errors = r.json?["errors"]?.arrayValue ?? []
        XCTAssertEqual(errors.count, 1, "\(note) \(r.text)", file: file, line: line)
        let title = detail.firstIndex(of: ".").map { String(detail[..<$0]) } ?? detail
        XCTAssertEqual(errors.first, [
            "request_id": "", "code": "client", "status": .int(status), "title": .string(title),
            "detail": .string(detail), "links": [],
        ], note, file: file, line: line)
    }

    /// `XCTAssertEqual` for values computed with `await` (XCTest's autoclosures are synchronous).
    func check<T: Equatable>(_ a: T?, _ b: T?, _ note: String = "", file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a, b, note, file: file, line: line)
    }

    /// The minimal valid body.
    static let minimal: [String: JSON] = ["coe": "kubernetes", "image_id": "fedora-coreos-latest"]

    /// POSTs `minimal` merged with `extra`.
    func post(_ h: APIHarness, _ extra: [String: JSON], token: APIHarness.Token = .demo) async throws -> APIHarness.Reply {
        var body = Self.minimal
        for (k, v) in extra { body[k] = v }
        return try await h.request(.post, "/v1/clustertemplates", token: token, body: .object(body))
    }

    func patch(_ h: APIHarness, _ ident: String, _ ops: JSON, token: APIHarness.Token = .demo) async throws -> APIHarness.Reply {
        try await h.request(.patch, "/v1/clustertemplates/\(ident)", token: token, body: ops)
    }

    static func matches(_ s: String?, _ pattern: String) -> Bool {
        guard let s, let regex = try? Regex(pattern) else { return false }
        return s.wholeMatch(of: regex) != nil
    }

    static let timestamp = #"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00"#

    /// Every key of a rendered cluster template (§4.1.1: all present, null when unset).
    static let allKeys: Set<String> = [
        "uuid", "name", "coe", "image_id", "flavor_id", "master_flavor_id", "dns_nameserver", "keypair_id",
        "external_network_id", "fixed_network", "fixed_subnet", "network_driver", "apiserver_port",
        "docker_volume_size", "cluster_distro", "links", "http_proxy", "https_proxy", "no_proxy", "volume_driver",
        "registry_enabled", "labels", "tls_disabled", "public", "server_type", "insecure_registry",
        "docker_storage_driver", "master_lb_enabled", "floating_ip_enabled", "project_id", "user_id", "hidden",
        "tags", "driver", "created_at", "updated_at",
    ]

    // MARK: Create

    /// Appendix A.1, field by field; GET, list and detail show the same object.
    func testCreateMatchesAppendixA1() async throws {
        try await APIHarness.withEach { h in
            let body: JSON = [
                "name": "k8s-ct", "coe": "kubernetes", "image_id": "fedora-coreos-latest", "external_network_id": "public",
                "flavor_id": "m1.small", "master_flavor_id": "m1.small", "keypair_id": "kp",
                "labels": ["kube_tag": "v1.30", "boot_volume_size": "10"], "dns_nameserver": "8.8.8.8",
                "network_driver": "calico", "master_lb_enabled": true,
            ]
            let r = try await h.request(.post, "/v1/clustertemplates", body: body)
            XCTAssertEqual(r.status, 201, "\(h.label) \(r.text)")
            let uuid = r.json?["uuid"]?.stringValue ?? ""
            XCTAssertEqual(UUIDs.canonical(uuid), uuid)
            XCTAssertEqual(r.header("Location"), "http://localhost/v1/clustertemplates/\(uuid)")
            XCTAssertEqual(r.header("Content-Type"), "application/json")
            let expected: [String: JSON] = [
                "uuid": .string(uuid), "name": "k8s-ct", "coe": "kubernetes",
                "image_id": "fedora-coreos-latest", "flavor_id": "m1.small", "master_flavor_id": "m1.small",
                "dns_nameserver": "8.8.8.8", "keypair_id": "kp", "external_network_id": "public",
                "fixed_network": nil, "fixed_subnet": nil, "network_driver": "calico", "apiserver_port": nil,
                "docker_volume_size": nil, "cluster_distro": "fedora-coreos",
                "links": [["href": .string("http://localhost/v1/clustertemplates/\(uuid)"), "rel": "self"],
                          ["href": .string("http://localhost/clustertemplates/\(uuid)"), "rel": "bookmark"]],
                "http_proxy": nil, "https_proxy": nil, "no_proxy": nil, "volume_driver": nil,
                "registry_enabled": false, "labels": ["kube_tag": "v1.30", "boot_volume_size": "10"],
                "tls_disabled": false, "public": false, "server_type": "vm", "insecure_registry": nil,
                "docker_storage_driver": nil, "master_lb_enabled": true, "floating_ip_enabled": true,
                "project_id": "demo-project", "user_id": "demo", "hidden": false, "tags": nil,
                "driver": "heat_fedora_coreos", "updated_at": nil,
            ]
            let got = r.json?.objectValue ?? [:]
            XCTAssertEqual(Set(got.keys), Self.allKeys)
            for (k, v) in expected { XCTAssertEqual(got[k], v, k) }
            XCTAssertTrue(Self.matches(got["created_at"]?.stringValue, Self.timestamp), "\(String(describing: got["created_at"]))")

            let one = try await h.request(.get, "/v1/clustertemplates/\(uuid)")
            XCTAssertEqual(one.status, 200)
            XCTAssertEqual(one.json, r.json)
            let byName = try await h.request(.get, "/v1/clustertemplates/k8s-ct")
            XCTAssertEqual(byName.json, r.json)
            // No microversion changes the template view.
            for version in ["1.1", "1.9", "latest"] {
                let v = try await h.request(.get, "/v1/clustertemplates/\(uuid)", version: version)
                XCTAssertEqual(v.json, r.json, version)
            }
            for path in ["/v1/clustertemplates", "/v1/clustertemplates/detail"] {
                let list = try await h.request(.get, path)
                XCTAssertEqual(list.status, 200, path)
                XCTAssertEqual(list.json, ["clustertemplates": [r.json ?? nil]], path)
            }
        }
    }

    func testCreateDefaultsAndGeneratedName() async throws {
        try await APIHarness.withEach { h in
            let r = try await self.post(h, [:])
            XCTAssertEqual(r.status, 201, r.text)
            let t = r.json
            let expected: [String: JSON] = [
                "coe": "kubernetes", "image_id": "fedora-coreos-latest", "network_driver": "flannel", "server_type": "vm",
                "floating_ip_enabled": true, "master_lb_enabled": false, "registry_enabled": false, "tls_disabled": false,
                "public": false, "hidden": false, "labels": [:], "cluster_distro": "fedora-coreos",
                "driver": "heat_fedora_coreos", "flavor_id": nil, "master_flavor_id": nil, "keypair_id": nil,
                "external_network_id": nil, "volume_driver": nil, "tags": nil, "docker_volume_size": nil,
                "apiserver_port": nil, "updated_at": nil, "project_id": "demo-project", "user_id": "demo",
            ]
            XCTAssertEqual(Set(t?.objectValue?.keys.map { $0 } ?? []), Self.allKeys)
            for (k, v) in expected { XCTAssertEqual(t?[k], v, k) }
            let greek = "(alpha|beta|gamma|delta|epsilon|zeta|eta|theta|iota|kappa|lambda|mu|nu|xi|omicron|pi|rho|sigma|tau|upsilon|phi|chi|psi|omega)"
            XCTAssertTrue(Self.matches(t?["name"]?.stringValue, "\(greek)-([1-9]|1[0-9]|2[0-4])-template"), "\(String(describing: t?["name"]))")

            // An explicit null name is generated too; null optional attributes mean "not given".
            let nulls = try await self.post(h, ["name": nil, "network_driver": nil, "server_type": nil, "labels": nil,
                                                "floating_ip_enabled": nil, "flavor_id": nil, "master_flavor_id": nil])
            XCTAssertEqual(nulls.status, 201, nulls.text)
            XCTAssertTrue(Self.matches(nulls.json?["name"]?.stringValue, "\(greek)-([1-9]|1[0-9]|2[0-4])-template"))
            XCTAssertEqual(nulls.json?["network_driver"], "flannel")
            XCTAssertEqual(nulls.json?["server_type"], "vm")
            XCTAssertEqual(nulls.json?["floating_ip_enabled"], true)
            XCTAssertEqual(nulls.json?["labels"], [:])

            // Image by id; cluster_distro always comes from the image.
            let byID = try await self.post(h, ["image_id": "8e1c7a52-3b6d-4f0e-8c2a-5d9f4b7e6c02", "driver": "heat_fedora_coreos",
                                               "cluster_distro": "ubuntu", "floating_ip_enabled": false, "server_type": "bm"])
            XCTAssertEqual(byID.status, 201, byID.text)
            XCTAssertEqual(byID.json?["cluster_distro"], "fedora-coreos")
            XCTAssertEqual(byID.json?["image_id"], "8e1c7a52-3b6d-4f0e-8c2a-5d9f4b7e6c02")
            XCTAssertEqual(byID.json?["floating_ip_enabled"], false)
            XCTAssertEqual(byID.json?["server_type"], "bm")
            XCTAssertEqual(byID.json?["driver"], "heat_fedora_coreos")
        }
    }

    func testClientSuppliedUUIDIsUsedAndDuplicatesConflict() async throws {
        try await APIHarness.withEach { h in
            let u = "5c3ab1c6-0d2e-4b8a-9a0f-6d8e2f1c4b7a"
            let r = try await self.post(h, ["uuid": .string(u), "name": "mine"])
            XCTAssertEqual(r.status, 201, r.text)
            XCTAssertEqual(r.json?["uuid"], .string(u))
            XCTAssertEqual(r.header("Location"), "http://localhost/v1/clustertemplates/\(u)")
            self.check(try await h.request(.get, "/v1/clustertemplates/\(u)").json?["name"], "mine")

            let dup = try await self.post(h, ["uuid": .string(u), "name": "again"])
            self.assertError(dup, 409, "A ClusterTemplate with UUID \(u) already exists.")
            // Also across projects.
            let other = try await self.post(h, ["uuid": .string(u)], token: .other)
            self.assertError(other, 409, "A ClusterTemplate with UUID \(u) already exists.")

            let bad = try await self.post(h, ["uuid": "not-a-uuid"])
            self.assertError(bad, 400, "Invalid input for field/attribute uuid. Value: 'not-a-uuid'. Expected a uuid but received not-a-uuid.")
            let list = try await h.request(.get, "/v1/clustertemplates")
            XCTAssertEqual(list.json?["clustertemplates"]?.arrayValue?.count, 1)
        }
    }

    func testDriverResolution() async throws {
        try await APIHarness.withEach { h in
            // A body distro with no driver providing (vm, ubuntu, kubernetes).
            let ubuntu = try await self.post(h, ["cluster_distro": "ubuntu"])
            self.assertError(ubuntu, 400, "Cluster type (vm, ubuntu, kubernetes) not supported.")
            let unknown = try await self.post(h, ["driver": "nope"])
            self.assertError(unknown, 400, "Cluster driver (nope) not supported.")
            // The local-swarm image only serves swarm-mode.
            let k8sOnSwarmImage = try await self.post(h, ["image_id": "local-swarm"])
            self.assertError(k8sOnSwarmImage, 400, "Cluster type (vm, local-swarm, kubernetes) not supported.")
            let bm = try await self.post(h, ["image_id": "local-swarm", "coe": "swarm-mode", "server_type": "bm"])
            self.assertError(bm, 400, "Cluster type (bm, local-swarm, swarm-mode) not supported.")
        }
        // A configured default driver is used when the image names none.
        var config = APIConfiguration()
        config.defaultDriver = "local_swarm"
        try await APIHarness.withEach(config: config) { h in
            let r = try await self.post(h, [:])
            XCTAssertEqual(r.status, 201, r.text)
            XCTAssertEqual(r.json?["driver"], "local_swarm")
        }
        var bad = APIConfiguration()
        bad.defaultDriver = "missing_driver"
        try await APIHarness.withEach(config: bad) { h in
            self.assertError(try await self.post(h, [:]), 400, "Cluster driver (missing_driver) not supported.")
        }
    }

    func testSwarmModeTemplates() async throws {
        try await APIHarness.withEach { h in
            let r = try await self.post(h, ["coe": "swarm-mode", "image_id": "local-swarm", "name": "swarm"])
            XCTAssertEqual(r.status, 201, r.text)
            XCTAssertEqual(r.json?["network_driver"], "docker")
            XCTAssertEqual(r.json?["cluster_distro"], "local-swarm")
            XCTAssertEqual(r.json?["driver"], "local_swarm")
            XCTAssertEqual(r.json?["coe"], "swarm-mode")

            let heat = try await self.post(h, ["coe": "swarm-mode", "network_driver": "docker", "volume_driver": "rexray"])
            XCTAssertEqual(heat.status, 201, heat.text)
            XCTAssertEqual(heat.json?["driver"], "heat_fedora_coreos")
            XCTAssertEqual(heat.json?["volume_driver"], "rexray")

            self.assertError(try await self.post(h, ["coe": "swarm-mode", "image_id": "local-swarm", "network_driver": "flannel"]), 400,
                             "Network driver type flannel is not supported, expecting a docker/unspecified network driver.")
            self.assertError(try await self.post(h, ["coe": "swarm-mode", "image_id": "local-swarm", "volume_driver": "cinder"]), 400,
                             "Volume driver type cinder is not supported, expecting a rexray/unspecified volume driver.")
            self.assertError(try await self.post(h, ["network_driver": "docker"]), 400,
                             "Network driver type docker is not supported, expecting a flannel/calico/cilium/unspecified network driver.")
        }
    }

    // MARK: Create validation

    func testMandatoryAndCOEErrors() async throws {
        try await APIHarness.withEach { h in
            self.assertError(try await h.request(.post, "/v1/clustertemplates", body: ["coe": "kubernetes"]), 400,
                             "Invalid input for field/attribute image_id. Value: 'None'. Mandatory field missing.")
            self.assertError(try await h.request(.post, "/v1/clustertemplates", body: ["coe": "kubernetes", "image_id": nil]), 400,
                             "Invalid input for field/attribute image_id. Value: 'None'. Mandatory field missing.")
            self.assertError(try await h.request(.post, "/v1/clustertemplates", body: ["image_id": "fedora-coreos-latest"]), 400,
                             "Requested COE type Unset is not supported.")
            self.assertError(try await self.post(h, ["coe": nil]), 400, "Requested COE type Unset is not supported.")
            self.assertError(try await self.post(h, ["coe": "mesos"]), 400,
                             "Invalid input for field/attribute coe. Value: 'mesos'. Value should be one of: kubernetes, swarm-mode")
            self.assertError(try await self.post(h, ["server_type": "cloud"]), 400,
                             "Invalid input for field/attribute server_type. Value: 'cloud'. Value should be one of: bm, vm")
            self.assertError(try await self.post(h, ["name": ""]), 400,
                             "Invalid input for field/attribute name. Value: ''. Value should have a minimum character requirement of 1")
            let long = String(repeating: "n", count: 256)
            self.assertError(try await self.post(h, ["name": .string(long)]), 400,
                             "Invalid input for field/attribute name. Value: '\(long)'. Value should have a maximum character requirement of 255")
            self.assertError(try await self.post(h, ["name": 5]), 400,
                             "Invalid input for field/attribute name. Value: '5'. Wrong type. Expected '<class 'str'>', got '<class 'int'>'")
            // Template names are free text.
            let free = try await self.post(h, ["name": "My template #1 (ü)"])
            XCTAssertEqual(free.status, 201, free.text)
            XCTAssertEqual(free.json?["name"], "My template #1 (ü)")
            self.check(try await h.request(.get, "/v1/clustertemplates").json?["clustertemplates"]?.arrayValue?.count, 1)
        }
    }

    func testCatalogValidation() async throws {
        try await APIHarness.withEach { h in
            self.assertError(try await self.post(h, ["image_id": "x"]), 400, "Image x could not be found.")
            self.assertError(try await self.post(h, ["flavor_id": "m9.huge"]), 400, "Unable to find flavor m9.huge.")
            self.assertError(try await self.post(h, ["master_flavor_id": "m9.huge"]), 400, "Unable to find flavor m9.huge.")
            self.assertError(try await self.post(h, ["external_network_id": "private"]), 400, "Unable to find external network private.")
            self.assertError(try await self.post(h, ["external_network_id": "nope"]), 400, "Unable to find external network nope.")
            self.assertError(try await self.post(h, ["fixed_network": "nope"]), 400, "Unable to find fixed network nope.")
            self.assertError(try await self.post(h, ["fixed_subnet": "nope"]), 400, "Unable to find fixed subnet nope.")
            // Reader cannot create: policy before the catalog checks.
            self.assertError(try await self.post(h, ["flavor_id": "m9.huge"], token: .reader), 403,
                             "Policy doesn't allow clustertemplate:create to be performed.")
            self.check(try await h.request(.get, "/v1/clustertemplates").json?["clustertemplates"], [])

            // Names and ids resolve; the keypair is not validated at template level.
            let ok = try await self.post(h, [
                "flavor_id": "2", "master_flavor_id": "m1.large", "external_network_id": "3c2e1d4b-7a6f-4e58-9b0c-1d2e3f4a5b03",
                "fixed_network": "private", "fixed_subnet": "private-subnet", "keypair_id": "no-such-keypair",
            ])
            XCTAssertEqual(ok.status, 201, ok.text)
            XCTAssertEqual(ok.json?["keypair_id"], "no-such-keypair")
            XCTAssertEqual(ok.json?["flavor_id"], "2")
            XCTAssertEqual(ok.json?["fixed_subnet"], "private-subnet")
        }
    }

    /// Images without `os_distro`, with a `magnum_driver` property, and ambiguous image names.
    func testImageProperties() async throws {
        try await APIHarness.withEach { h in
            try await h.store.write { s in
                try await s.insert(Image(id: "0a0a0a0a-0000-4000-8000-000000000001", name: "bare", osDistro: nil))
                try await s.insert(Image(id: "0a0a0a0a-0000-4000-8000-000000000002", name: "swarm-driven", osDistro: "fedora-coreos",
                                         magnumDriver: "local_swarm"))
                try await s.insert(Image(id: "0a0a0a0a-0000-4000-8000-000000000003", name: "odd-driver", osDistro: "fedora-coreos",
                                         magnumDriver: "nope"))
                try await s.insert(Image(id: "0a0a0a0a-0000-4000-8000-000000000004", name: "twin", osDistro: "fedora-coreos"))
                try await s.insert(Image(id: "0a0a0a0a-0000-4000-8000-000000000005", name: "twin", osDistro: "fedora-coreos"))
            }
            self.assertError(try await self.post(h, ["image_id": "bare"]), 400, "Cluster type (vm, None, kubernetes) not supported.")
            self.assertError(try await self.post(h, ["image_id": "bare", "driver": "heat_fedora_coreos"]), 400,
                             "Image bare doesn't contain os_distro field.")
            let driven = try await self.post(h, ["image_id": "swarm-driven"])
            XCTAssertEqual(driven.status, 201, driven.text)
            XCTAssertEqual(driven.json?["driver"], "local_swarm")
            XCTAssertEqual(driven.json?["cluster_distro"], "fedora-coreos")
            // An explicit driver wins over the image's.
            let explicit = try await self.post(h, ["image_id": "swarm-driven", "driver": "heat_fedora_coreos"])
            XCTAssertEqual(explicit.json?["driver"], "heat_fedora_coreos")
            self.assertError(try await self.post(h, ["image_id": "odd-driver"]), 400, "Cluster driver (nope) not supported.")
            self.assertError(try await self.post(h, ["image_id": "twin"]), 409,
                             "Multiple images exist with same name 'twin'. Please use the image ID instead.")
            let byID = try await self.post(h, ["image_id": "0a0a0a0a-0000-4000-8000-000000000005"])
            XCTAssertEqual(byID.status, 201, byID.text)
        }
    }

    /// Flavors need a root disk unless a boot volume size is given (§4.1.2 step 10); null
    /// flavors are skipped ([recommend]).
    func testRootVolumeCheck() async throws {
        let zero = "Flavor with zero root volume size is not supported when boot_volume_size is zero."
        try await APIHarness.withEach { h in
            try await h.store.write { try await $0.insert(Flavor(id: "70", name: "diskless", vcpus: 1, ramMB: 512, diskGB: 0)) }
            self.assertError(try await self.post(h, ["flavor_id": "diskless"]), 400, zero)
            self.assertError(try await self.post(h, ["master_flavor_id": "diskless", "flavor_id": "m1.small"]), 400, zero)
            self.assertError(try await self.post(h, ["flavor_id": "diskless", "labels": ["boot_volume_size": "0"]]), 400, zero)
            let withVolume = try await self.post(h, ["flavor_id": "diskless", "master_flavor_id": "diskless",
                                                     "labels": ["boot_volume_size": "10"]])
            XCTAssertEqual(withVolume.status, 201, withVolume.text)
            let nulls = try await self.post(h, ["flavor_id": nil, "master_flavor_id": nil])
            XCTAssertEqual(nulls.status, 201, nulls.text)

            let uuid = nulls.json?["uuid"]?.stringValue ?? ""
            self.assertError(try await self.patch(h, uuid, [["op": "add", "path": "/flavor_id", "value": "diskless"]]), 400, zero)
            // Patching an unrelated attribute of a flavor-less template works.
            let renamed = try await self.patch(h, uuid, [["op": "replace", "path": "/name", "value": "still-ok"]])
            XCTAssertEqual(renamed.status, 200, renamed.text)
        }
        var config = APIConfiguration()
        config.defaultBootVolumeSize = 20
        try await APIHarness.withEach(config: config) { h in
            try await h.store.write { try await $0.insert(Flavor(id: "70", name: "diskless", vcpus: 1, ramMB: 512, diskGB: 0)) }
            let r = try await self.post(h, ["flavor_id": "diskless"])
            XCTAssertEqual(r.status, 201, r.text)
            self.assertError(try await self.post(h, ["flavor_id": "diskless", "labels": ["boot_volume_size": "0"]]), 400, zero)
        }
    }

    func testNetworkVolumeAndStorageDrivers() async throws {
        try await APIHarness.withEach { h in
            self.assertError(try await self.post(h, ["network_driver": "bogus"]), 400,
                             "Network driver type bogus is not supported, expecting a flannel/calico/cilium/unspecified network driver.")
            self.assertError(try await self.post(h, ["network_driver": "cilium"]), 400,
                             "Network driver type cilium is not allowed, expecting a flannel/calico/unspecified network driver. ")
            self.assertError(try await self.post(h, ["volume_driver": "rexray"]), 400,
                             "Volume driver type rexray is not supported, expecting a cinder/unspecified volume driver.")
            self.assertError(try await self.post(h, ["docker_storage_driver": "devicemapper"]), 400,
                             "docker volume size None GB is not valid, expecting minimum value 3GB for devicemapper storage driver.")
            self.assertError(try await self.post(h, ["docker_storage_driver": "devicemapper", "docker_volume_size": 2]), 400,
                             "docker volume size 2 GB is not valid, expecting minimum value 3GB for devicemapper storage driver.")
            self.assertError(try await self.post(h, ["docker_volume_size": 0]), 400,
                             "Invalid input for field/attribute docker_volume_size. Value: '0'. Value should be greater or equal to 1")
            self.assertError(try await self.post(h, ["docker_volume_size": "big"]), 400,
                             "Invalid input for field/attribute docker_volume_size. Value: 'big'. Wrong type. Expected '<class 'int'>', got '<class 'str'>'")

            let ok = try await self.post(h, ["network_driver": "calico", "volume_driver": "cinder",
                                             "docker_storage_driver": "devicemapper", "docker_volume_size": "3"])
            XCTAssertEqual(ok.status, 201, ok.text)
            XCTAssertEqual(ok.json?["network_driver"], "calico")
            XCTAssertEqual(ok.json?["volume_driver"], "cinder")
            XCTAssertEqual(ok.json?["docker_storage_driver"], "devicemapper")
            XCTAssertEqual(ok.json?["docker_volume_size"], 3)
            let overlay = try await self.post(h, ["docker_storage_driver": "overlay2"])
            XCTAssertEqual(overlay.status, 201, overlay.text)
            XCTAssertEqual(overlay.json?["docker_volume_size"], .null)
        }
        var config = APIConfiguration()
        config.kubernetesAllowedNetworkDrivers = ["all"]
        try await APIHarness.withEach(config: config) { h in
            let r = try await self.post(h, ["network_driver": "cilium"])
            XCTAssertEqual(r.status, 201, r.text)
            XCTAssertEqual(r.json?["network_driver"], "cilium")
        }
        var calicoOnly = APIConfiguration()
        calicoOnly.kubernetesAllowedNetworkDrivers = ["calico"]
        calicoOnly.kubernetesDefaultNetworkDriver = "calico"
        try await APIHarness.withEach(config: calicoOnly) { h in
            self.check(try await self.post(h, [:]).json?["network_driver"], "calico")
            self.assertError(try await self.post(h, ["network_driver": "flannel"]), 400,
                             "Network driver type flannel is not allowed, expecting a calico/unspecified network driver. ")
        }
    }

    func testDNSAndAPIServerPort() async throws {
        try await APIHarness.withEach { h in
            let ok = try await self.post(h, ["dns_nameserver": "8.8.8.8,1.1.1.1", "apiserver_port": 8443])
            XCTAssertEqual(ok.status, 201, ok.text)
            XCTAssertEqual(ok.json?["dns_nameserver"], "8.8.8.8,1.1.1.1")
            XCTAssertEqual(ok.json?["apiserver_port"], 8443)
            for bad in ["8.8.8", "8.8.8.8,dns.example", "256.1.1.1", "8.8.8.8,"] {
                self.assertError(try await self.post(h, ["dns_nameserver": .string(bad)]), 400,
                                 "Expected a single dns address or comma separated dns list, but received \(bad).", bad)
            }
            self.assertError(try await self.post(h, ["apiserver_port": 1023]), 400,
                             "Invalid input for field/attribute apiserver_port. Value: '1023'. Value should be greater or equal to 1024")
            self.assertError(try await self.post(h, ["apiserver_port": 65536]), 400,
                             "Invalid input for field/attribute apiserver_port. Value: '65536'. Value should be lower or equal to 65535")
            let edges = try await self.post(h, ["apiserver_port": "1024"])
            XCTAssertEqual(edges.json?["apiserver_port"], 1024)
            self.check(try await self.post(h, ["apiserver_port": 65535]).json?["apiserver_port"], 65535)
        }
    }

    func testLabelsAreStoredAsStrings() async throws {
        try await APIHarness.withEach { h in
            let r = try await self.post(h, ["labels": ["int": 1, "bool": true, "off": false, "float": 1.5, "str": "x", "empty": ""]])
            XCTAssertEqual(r.status, 201, r.text)
            let expected: JSON = ["int": "1", "bool": "True", "off": "False", "float": "1.5", "str": "x", "empty": ""]
            XCTAssertEqual(r.json?["labels"], expected)
            let uuid = r.json?["uuid"]?.stringValue ?? ""
            self.check(try await h.request(.get, "/v1/clustertemplates/\(uuid)").json?["labels"], expected)

            self.check(try await self.post(h, ["labels": "a=b"]).status, 400)
            self.check(try await self.post(h, ["labels": ["nested": ["a": "b"]]]).status, 400)
            self.check(try await self.post(h, ["labels": ["list": [1]]]).status, 400)
        }
    }

    func testBodyShapeErrors() async throws {
        try await APIHarness.withEach { h in
            self.assertError(try await self.post(h, ["bogus": 1]), 400, "Unknown attribute for argument cluster_template: bogus")
            self.assertError(try await self.post(h, ["zeta": 1, "alpha": 2]), 400,
                             "Unknown attribute for argument cluster_template: alpha, zeta")
            self.assertError(try await self.post(h, ["project_id": "p"]), 400,
                             "Invalid input for field/attribute project_id. Value: 'p'. Cannot set read only field.")
            self.assertError(try await self.post(h, ["user_id": "u"]), 400,
                             "Invalid input for field/attribute user_id. Value: 'u'. Cannot set read only field.")

            // Boolean strings (§1.3).
            let yes = try await self.post(h, ["tls_disabled": "yes", "registry_enabled": "ON", "master_lb_enabled": "1",
                                              "floating_ip_enabled": "off"])
            XCTAssertEqual(yes.status, 201, yes.text)
            XCTAssertEqual(yes.json?["tls_disabled"], true)
            XCTAssertEqual(yes.json?["registry_enabled"], true)
            XCTAssertEqual(yes.json?["master_lb_enabled"], true)
            XCTAssertEqual(yes.json?["floating_ip_enabled"], false)
            self.assertError(try await self.post(h, ["tls_disabled": "maybe"]), 400,
                             "Invalid input for field/attribute tls_disabled. Value: 'maybe'. Unrecognized value 'maybe', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'")

            // Not an object ([recommend] 400 instead of upstream's 500).
            self.assertError(try await h.request(.post, "/v1/clustertemplates", body: [1, 2]), 400,
                             "Invalid input for argument cluster_template: a JSON object is expected, got [1, 2]")
            self.assertError(try await h.request(.post, "/v1/clustertemplates", body: "kubernetes"), 400,
                             "Invalid input for argument cluster_template: a JSON object is expected, got 'kubernetes'")
            self.assertError(try await h.request(.post, "/v1/clustertemplates", rawBody: "{\"coe\": ", headers: ["Content-Type": "application/json"]),
                             400, "Request is not in valid JSON format")
            self.assertError(try await h.request(.post, "/v1/clustertemplates", rawBody: "", headers: ["Content-Type": "application/json"]),
                             400, "Missing argument: \"cluster_template\"")
            self.assertError(try await h.request(.post, "/v1/clustertemplates"), 400, "Missing argument: \"cluster_template\"")
            self.assertError(try await h.request(.post, "/v1/clustertemplates", rawBody: " \n", headers: ["Content-Type": "application/json"]),
                             400, "Missing argument: \"cluster_template\"")
            // A charset parameter is fine.
            let charset = try await h.request(.post, "/v1/clustertemplates", rawBody: #"{"coe": "kubernetes", "image_id": "fedora-coreos-latest"}"#,
                                              headers: ["Content-Type": "application/json; charset=UTF-8"])
            XCTAssertEqual(charset.status, 201, charset.text)
            // Query parameters are refused on create.
            self.assertError(try await h.request(.post, "/v1/clustertemplates?x=1", body: .object(Self.minimal)), 400,
                             "Unknown argument: \"x\"")
        }
    }

    func testPublicAndHiddenNeedAdmin() async throws {
        try await APIHarness.withEach { h in
            for flag in ["public", "hidden"] {
                self.assertError(try await self.post(h, [flag: true]), 403,
                                 "Not authorized to set public or hidden flag for cluster template.", flag)
                self.assertError(try await self.post(h, [flag: "true"], token: .demo2), 403,
                                 "Not authorized to set public or hidden flag for cluster template.", flag)
                let admin = try await self.post(h, [flag: true], token: .admin)
                XCTAssertEqual(admin.status, 201, admin.text)
                XCTAssertEqual(admin.json?[flag], true)
                XCTAssertEqual(admin.json?["project_id"], "admin-project")
                XCTAssertEqual(admin.json?["user_id"], "admin")
                let explicitFalse = try await self.post(h, [flag: false])
                XCTAssertEqual(explicitFalse.status, 201, explicitFalse.text)
            }
        }
    }

    // MARK: Visibility and lookup

    func testVisibilityAcrossProjects() async throws {
        try await APIHarness.withEach { h in
            let priv = try await h.createTemplate(["name": "private-ct"])
            let privID = priv["uuid"]?.stringValue ?? ""
            let pub = try await h.createTemplate(["name": "public-ct", "public": true], token: .admin)
            let pubID = pub["uuid"]?.stringValue ?? ""
            let hidden = try await h.createTemplate(["name": "hidden-ct", "public": true, "hidden": true], token: .admin)
            let hiddenID = hidden["uuid"]?.stringValue ?? ""
            let otherCT = try await h.createTemplate(["name": "other-ct"], token: .other)
            let otherID = otherCT["uuid"]?.stringValue ?? ""

            func names(_ token: APIHarness.Token, _ path: String = "/v1/clustertemplates") async throws -> Set<String> {
                let r = try await h.request(.get, path, token: token)
                XCTAssertEqual(r.status, 200, "\(token) \(r.text)")
                return Set(r.json?["clustertemplates"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? [])
            }
            for path in ["/v1/clustertemplates", "/v1/clustertemplates/detail"] {
                self.check(try await names(.demo, path), ["private-ct", "public-ct"])
                self.check(try await names(.demo2, path), ["private-ct", "public-ct"])
                self.check(try await names(.reader, path), ["private-ct", "public-ct"])
                self.check(try await names(.other, path), ["other-ct", "public-ct"])
                self.check(try await names(.admin, path), ["private-ct", "public-ct", "hidden-ct", "other-ct"])
            }

            // Another project's private template is 404, never 403.
            for ident in [privID, "private-ct"] {
                self.assertError(try await h.request(.get, "/v1/clustertemplates/\(ident)", token: .other), 404,
                                 "ClusterTemplate \(ident) could not be found.")
                self.assertError(try await self.patch(h, ident, [["op": "replace", "path": "/name", "value": "x"]], token: .other), 404,
                                 "ClusterTemplate \(ident) could not be found.")
                self.assertError(try await h.request(.delete, "/v1/clustertemplates/\(ident)", token: .other), 404,
                                 "ClusterTemplate \(ident) could not be found.")
            }
            self.check(try await h.request(.get, "/v1/clustertemplates/\(privID)", token: .demo2).status, 200)
            self.check(try await h.request(.get, "/v1/clustertemplates/\(privID)", token: .reader).status, 200)
            self.check(try await h.request(.get, "/v1/clustertemplates/\(privID)", token: .admin).json, priv)
            self.check(try await h.request(.get, "/v1/clustertemplates/\(otherID)", token: .admin).status, 200)

            // Public templates are visible to all but only their owners (or admins) change them.
            self.check(try await h.request(.get, "/v1/clustertemplates/\(pubID)", token: .other).json, pub)
            self.check(try await h.request(.get, "/v1/clustertemplates/public-ct", token: .reader).json, pub)
            self.assertError(try await self.patch(h, pubID, [["op": "replace", "path": "/name", "value": "x"]], token: .demo), 403,
                             "Policy doesn't allow clustertemplate:update to be performed.")
            self.assertError(try await h.request(.delete, "/v1/clustertemplates/\(pubID)", token: .other), 403,
                             "Policy doesn't allow clustertemplate:delete to be performed.")

            // Hidden templates are hidden from non-admins of other projects.
            for token in [APIHarness.Token.demo, .other] {
                self.assertError(try await h.request(.get, "/v1/clustertemplates/\(hiddenID)", token: token), 404,
                                 "ClusterTemplate \(hiddenID) could not be found.")
                self.assertError(try await h.request(.get, "/v1/clustertemplates/hidden-ct", token: token), 404,
                                 "ClusterTemplate hidden-ct could not be found.")
            }
            self.check(try await h.request(.get, "/v1/clustertemplates/\(hiddenID)", token: .admin).json, hidden)

            // Readers see but do not change.
            self.assertError(try await self.patch(h, privID, [["op": "replace", "path": "/name", "value": "x"]], token: .reader), 403,
                             "Policy doesn't allow clustertemplate:update to be performed.")
            self.assertError(try await h.request(.delete, "/v1/clustertemplates/\(privID)", token: .reader), 403,
                             "Policy doesn't allow clustertemplate:delete to be performed.")

            // Admins change and delete any project's templates.
            let renamed = try await self.patch(h, otherID, [["op": "replace", "path": "/name", "value": "renamed"]], token: .admin)
            XCTAssertEqual(renamed.status, 200, renamed.text)
            XCTAssertEqual(renamed.json?["project_id"], "other-project")
            self.check(try await h.request(.delete, "/v1/clustertemplates/\(otherID)", token: .admin).status, 204)
            self.check(try await names(.other), ["public-ct"])
        }
    }

    /// An own project's hidden template stays visible to the project (§7.4).
    func testOwnHiddenTemplateIsVisibleToItsProject() async throws {
        try await APIHarness.withEach { h in
            let t = try await h.createTemplate(["name": "mine-hidden", "hidden": true], token: .admin)
            let uuid = t["uuid"]?.stringValue ?? ""
            try await h.store.write { s in
                guard var row = try await s.clusterTemplates(matching: .uuid(uuid), .everything).first else { return }
                row.projectID = "demo-project"
                _ = try await s.update(row)
            }
            let r = try await h.request(.get, "/v1/clustertemplates/mine-hidden")
            XCTAssertEqual(r.status, 200, r.text)
            XCTAssertEqual(r.json?["hidden"], true)
            self.check(try await h.request(.get, "/v1/clustertemplates").json?["clustertemplates"]?.arrayValue?.count, 1)
            self.check(try await h.request(.get, "/v1/clustertemplates/\(uuid)", token: .other).status, 404)
        }
    }

    func testNameLookupAndDuplicateNames() async throws {
        try await APIHarness.withEach { h in
            let a = try await h.createTemplate(["name": "dup"])
            let b = try await h.createTemplate(["name": "dup"])
            XCTAssertNotEqual(a["uuid"], b["uuid"])
            let detail = "Multiple ClusterTemplates exist with same name. Please use the ClusterTemplate uuid instead."
            self.assertError(try await h.request(.get, "/v1/clustertemplates/dup"), 409, detail)
            self.assertError(try await self.patch(h, "dup", [["op": "replace", "path": "/name", "value": "x"]]), 409, detail)
            self.assertError(try await h.request(.delete, "/v1/clustertemplates/dup"), 409, detail)
            // By UUID each one is reachable.
            for t in [a, b] {
                let uuid = t["uuid"]?.stringValue ?? ""
                self.check(try await h.request(.get, "/v1/clustertemplates/\(uuid)").json, t)
                // UUIDs without dashes or in upper case are UUIDs too.
                let compact = uuid.replacingOccurrences(of: "-", with: "").uppercased()
                self.check(try await h.request(.get, "/v1/clustertemplates/\(compact)").json?["uuid"], t["uuid"])
            }
            // Names with spaces arrive percent-encoded.
            let spaced = try await h.createTemplate(["name": "my ct"])
            self.check(try await h.request(.get, "/v1/clustertemplates/my%20ct").json, spaced)
            // Another project's template of the same name does not make the name ambiguous.
            _ = try await h.createTemplate(["name": "solo"])
            _ = try await h.createTemplate(["name": "solo"], token: .other)
            self.check(try await h.request(.get, "/v1/clustertemplates/solo").json?["project_id"], "demo-project")
            self.check(try await h.request(.get, "/v1/clustertemplates/solo", token: .other).json?["project_id"], "other-project")
            self.assertError(try await h.request(.get, "/v1/clustertemplates/solo", token: .admin), 409, detail)
        }
    }

    func testNotFoundErrors() async throws {
        try await APIHarness.withEach { h in
            let u = "11111111-2222-3333-4444-555555555555"
            for ident in [u, "nope"] {
                let g = try await h.request(.get, "/v1/clustertemplates/\(ident)")
                self.assertError(g, 404, "ClusterTemplate \(ident) could not be found.")
                XCTAssertEqual(g.json?["errors"]?.arrayValue?.first?["title"], .string("ClusterTemplate \(ident) could not be found"))
                self.assertError(try await self.patch(h, ident, [["op": "replace", "path": "/name", "value": "x"]]), 404,
                                 "ClusterTemplate \(ident) could not be found.")
                self.assertError(try await h.request(.delete, "/v1/clustertemplates/\(ident)"), 404,
                                 "ClusterTemplate \(ident) could not be found.")
            }
            // A name containing a period: the title is cut at it.
            let dotted = try await h.request(.get, "/v1/clustertemplates/v1.30")
            XCTAssertEqual(dotted.status, 404)
            XCTAssertEqual(dotted.errorTitle, "ClusterTemplate v1")
            XCTAssertEqual(dotted.errorDetail, "ClusterTemplate v1.30 could not be found.")
        }
    }

    // MARK: Pagination

    func testPaginationAndSorting() async throws {
        try await APIHarness.withEach { h in
            var ids: [String] = []
            for name in ["b", "c", "a"] {
                ids.append(try await h.createTemplate(["name": .string(name)])["uuid"]?.stringValue ?? "")
            }
            _ = try await h.createTemplate(["name": "z-other"], token: .other)
            let created = ids

            func page(_ q: String) async throws -> APIHarness.Reply {
                try await h.request(.get, "/v1/clustertemplates\(q)")
            }
            let p1 = try await page("?limit=2")
            XCTAssertEqual(p1.status, 200)
            XCTAssertEqual(p1.json?["clustertemplates"]?.arrayValue?.compactMap { $0["uuid"]?.stringValue }, Array(created[0..<2]))
            let next = "http://localhost/v1/clustertemplates?sort_key=id&sort_dir=asc&limit=2&marker=\(created[1])"
            XCTAssertEqual(p1.json?["next"], .string(next))
            // Full objects in every list.
            XCTAssertEqual(Set(p1.json?["clustertemplates"]?.arrayValue?.first?.objectValue?.keys.map { $0 } ?? []), Self.allKeys)

            let p2 = try await h.request(.get, String(next.dropFirst("http://localhost".count)))
            XCTAssertEqual(p2.json?["clustertemplates"]?.arrayValue?.compactMap { $0["uuid"]?.stringValue }, [created[2]])
            XCTAssertNil(p2.json?["next"])
            XCTAssertEqual(p2.json?.objectValue?.keys.sorted(), ["clustertemplates"])

            // An exactly full last page still has a next link, which yields an empty page.
            let full = try await page("?limit=3")
            XCTAssertEqual(full.json?["next"], .string("http://localhost/v1/clustertemplates?sort_key=id&sort_dir=asc&limit=3&marker=\(created[2])"))
            let empty = try await page("?limit=3&marker=\(created[2])")
            XCTAssertEqual(empty.json, ["clustertemplates": []])

            // No limit: everything, no next.
            let all = try await page("")
            XCTAssertEqual(all.json?["clustertemplates"]?.arrayValue?.count, 3)
            XCTAssertNil(all.json?["next"])

            // Sorting by name, both directions; detail keeps its own path in next.
            let byName = try await page("?sort_key=name&sort_dir=asc")
            XCTAssertEqual(byName.json?["clustertemplates"]?.arrayValue?.compactMap { $0["name"]?.stringValue }, ["a", "b", "c"])
            let desc = try await h.request(.get, "/v1/clustertemplates/detail?sort_key=name&sort_dir=desc&limit=2")
            XCTAssertEqual(desc.json?["clustertemplates"]?.arrayValue?.compactMap { $0["name"]?.stringValue }, ["c", "b"])
            XCTAssertEqual(desc.json?["next"],
                           .string("http://localhost/v1/clustertemplates/detail?sort_key=name&sort_dir=desc&limit=2&marker=\(created[0])"))
            let descNext = try await h.request(.get, "/v1/clustertemplates/detail?sort_key=name&sort_dir=desc&limit=2&marker=\(created[0])")
            XCTAssertEqual(descNext.json?["clustertemplates"]?.arrayValue?.compactMap { $0["name"]?.stringValue }, ["a"])
            let idDesc = try await page("?sort_dir=desc")
            XCTAssertEqual(idDesc.json?["clustertemplates"]?.arrayValue?.compactMap { $0["uuid"]?.stringValue }, created.reversed())

            // Errors.
            self.assertError(try await page("?limit=0"), 400, "Limit must be positive")
            self.assertError(try await page("?limit=-1"), 400, "Limit must be positive")
            let nonInt = try await page("?limit=abc")
            XCTAssertEqual(nonInt.status, 400)
            XCTAssertTrue(nonInt.errorDetail?.hasPrefix("Invalid input for field/attribute limit. Value: 'abc'.") ?? false, nonInt.text)
            self.assertError(try await page("?marker=abc"), 400,
                             "Invalid input for field/attribute marker. Value: 'abc'. Expected a uuid but received abc.")
            let unknown = "11111111-2222-3333-4444-555555555555"
            self.assertError(try await page("?marker=\(unknown)"), 404, "ClusterTemplate \(unknown) could not be found.")
            // A marker the caller cannot see is unknown too.
            let otherID = try await h.request(.get, "/v1/clustertemplates", token: .other).json?["clustertemplates"]?.arrayValue?.first?["uuid"]?.stringValue ?? ""
            self.assertError(try await page("?marker=\(otherID)"), 404, "ClusterTemplate \(otherID) could not be found.")
            self.assertError(try await page("?sort_key=bogus"), 400, "The sort_key value \"bogus\" is an invalid field for sorting")
            self.assertError(try await page("?sort_dir=up"), 400, "Invalid sort direction: up. Acceptable values are 'asc' or 'desc'")
            self.assertError(try await page("?all_projects=True"), 400, "Unknown argument: \"all_projects\"")
            self.assertError(try await h.request(.get, "/v1/clustertemplates/detail?name=a"), 400, "Unknown argument: \"name\"")
            self.assertError(try await h.request(.get, "/v1/clustertemplates/\(created[0])?limit=1"), 400, "Unknown argument: \"limit\"")
        }
        // Limits above max_limit are capped, and the cap is the default.
        var config = APIConfiguration()
        config.maxLimit = 2
        try await APIHarness.withEach(config: config) { h in
            var ids: [String] = []
            for name in ["a", "b", "c"] { ids.append(try await h.createTemplate(["name": .string(name)])["uuid"]?.stringValue ?? "") }
            let second = ids[1]
            for q in ["", "?limit=50"] {
                let r = try await h.request(.get, "/v1/clustertemplates\(q)")
                XCTAssertEqual(r.json?["clustertemplates"]?.arrayValue?.count, 2, q)
                XCTAssertEqual(r.json?["next"], .string("http://localhost/v1/clustertemplates?sort_key=id&sort_dir=asc&limit=2&marker=\(second)"), q)
            }
        }
    }

    // MARK: Patch

    func testPatchBodyMustBeAListBeforeLookup() async throws {
        try await APIHarness.withEach { h in
            let random = UUIDs.make()
            self.assertError(try await self.patch(h, random, ["op": "replace"]), 400,
                             "Invalid input for field/attribute patch. Value: '{'op': 'replace'}'. Value not a valid list: {'op': 'replace'}")
            self.assertError(try await self.patch(h, random, [["op": "test", "path": "/name", "value": "x"]]), 400,
                             "Invalid input for field/attribute op. Value: 'test'. Value should be one of: replace, add, remove")
            self.assertError(try await self.patch(h, random, [["op": "replace", "path": "/name"]]), 400,
                             "'add' and 'replace' operations needs value")
            self.assertError(try await self.patch(h, random, [["op": "replace", "path": "name", "value": "x"]]), 400,
                             #"Invalid input for field/attribute path. Value: 'name'. Value should match the pattern ^(/[\w-]+)+$"#)
            self.assertError(try await self.patch(h, random, [["op": "replace", "path": "/labels", "value": ["a": "b"]]]), 400,
                             "Invalid input for field/attribute value. Value: '{'a': 'b'}'. Wrong type. Expected '(<class 'str'>, <class 'int'>)', got '<class 'dict'>'")
            self.assertError(try await self.patch(h, random, [["op": "move", "from": "/a", "path": "/name"]]), 400,
                             "Unknown attribute for argument patch: from")
            let empty = try await h.request(.patch, "/v1/clustertemplates/\(random)")
            self.assertError(empty, 400, "Missing argument: \"patch\"")
            self.assertError(try await self.patch(h, random, nil), 400,
                             "Invalid input for field/attribute patch. Value: 'None'. Value not a valid list: None")
            // A well-formed patch reaches the lookup.
            self.assertError(try await self.patch(h, random, [["op": "replace", "path": "/name", "value": "x"]]), 404,
                             "ClusterTemplate \(random) could not be found.")
        }
    }

    func testPatchReplaceNameAndLabels() async throws {
        try await APIHarness.withEach { h in
            let t = try await h.createTemplate(["labels": ["kube_tag": "v1.30", "keep": "yes"]])
            let uuid = t["uuid"]?.stringValue ?? ""

            let renamed = try await self.patch(h, uuid, [["op": "replace", "path": "/name", "value": "new-name"]])
            XCTAssertEqual(renamed.status, 200, renamed.text)
            XCTAssertEqual(Set(renamed.json?.objectValue?.keys.map { $0 } ?? []), Self.allKeys)
            XCTAssertEqual(renamed.json?["name"], "new-name")
            XCTAssertEqual(renamed.json?["uuid"], .string(uuid))
            XCTAssertEqual(renamed.json?["created_at"], t["created_at"])
            XCTAssertTrue(Self.matches(renamed.json?["updated_at"]?.stringValue, Self.timestamp), renamed.text)
            // Everything else is unchanged.
            for (k, v) in t.objectValue ?? [:] where !["name", "updated_at"].contains(k) {
                XCTAssertEqual(renamed.json?[k], v, k)
            }
            self.check(try await h.request(.get, "/v1/clustertemplates/new-name").json, renamed.json)

            let labels = try await self.patch(h, "new-name", [
                ["op": "add", "path": "/labels/foo", "value": "bar"],
                ["op": "remove", "path": "/labels/kube_tag"],
                ["op": "replace", "path": "/labels/keep", "value": 5],
            ])
            XCTAssertEqual(labels.status, 200, labels.text)
            XCTAssertEqual(labels.json?["labels"], ["foo": "bar", "keep": "5"])

            let literal = try await self.patch(h, uuid, [["op": "replace", "path": "/labels", "value": "{'a': 'b', 'n': 1}"]])
            XCTAssertEqual(literal.status, 200, literal.text)
            XCTAssertEqual(literal.json?["labels"], ["a": "b", "n": "1"])
            let jsonString = try await self.patch(h, uuid, [["op": "replace", "path": "/labels", "value": #"{"x": "y"}"#]])
            XCTAssertEqual(jsonString.json?["labels"], ["x": "y"])
            let cleared = try await self.patch(h, uuid, [["op": "replace", "path": "/labels", "value": ""]])
            XCTAssertEqual(cleared.json?["labels"], [:])
            self.check(try await h.request(.get, "/v1/clustertemplates/\(uuid)").json?["labels"], [:])

            let malformed = try await self.patch(h, uuid, [["op": "replace", "path": "/labels", "value": "{'a': "]])
            self.assertError(malformed, 400,
                             #"Couldn't apply patch '[{'path': '/labels', 'op': 'replace', 'value': "{'a': "}]'. Reason: malformed node or string: "{'a': ""#)
            let missing = try await self.patch(h, uuid, [["op": "replace", "path": "/labels/nope", "value": "x"]])
            self.assertError(missing, 400,
                             "Couldn't apply patch '[{'path': '/labels/nope', 'op': 'replace', 'value': 'x'}]'. Reason: can't replace a non-existent object 'nope'")
            let removeMissing = try await self.patch(h, uuid, [["op": "remove", "path": "/labels/nope"]])
            self.assertError(removeMissing, 400,
                             "Couldn't apply patch '[{'path': '/labels/nope', 'op': 'remove'}]'. Reason: can't remove a non-existent object 'nope'")
            // Nothing of a failed patch is applied.
            let atomic = try await self.patch(h, uuid, [["op": "replace", "path": "/name", "value": "half"],
                                                        ["op": "remove", "path": "/labels/nope"]])
            XCTAssertEqual(atomic.status, 400)
            self.check(try await h.request(.get, "/v1/clustertemplates/\(uuid)").json?["name"], "new-name")
        }
    }

    func testPatchAttributeRules() async throws {
        try await APIHarness.withEach { h in
            let t = try await h.createTemplate(["flavor_id": nil, "master_flavor_id": nil])
            let uuid = t["uuid"]?.stringValue ?? ""
            for path in ["/uuid", "/id", "/project_id", "/user_id", "/created_at", "/updated_at", "/links"] {
                self.assertError(try await self.patch(h, uuid, [["op": "replace", "path": .string(path), "value": "x"]]), 400,
                                 "'\(path)' is an internal attribute and can not be updated", path)
            }
            self.assertError(try await self.patch(h, uuid, [["op": "replace", "path": "/links/0", "value": "x"]]), 400,
                             "'/links/0' is an internal attribute and can not be updated")
            for path in ["/image_id", "/coe", "/network_driver", "/external_network_id", "/tls_disabled", "/public",
                         "/server_type", "/registry_enabled", "/cluster_distro", "/hidden"]
            {
                self.assertError(try await self.patch(h, uuid, [["op": "remove", "path": .string(path)]]), 400,
                                 "'\(path)' is a mandatory attribute and can not be removed", path)
            }
            self.assertError(try await self.patch(h, uuid, [["op": "add", "path": "/bogus", "value": "x"]]), 400,
                             "Adding a new attribute /bogus to the root of the resource is not allowed.")
            self.assertError(try await self.patch(h, uuid, [["op": "add", "path": "/name", "value": "x"]]), 400,
                             "The attribute /name has existed, please use 'replace' operation instead.")

            // `add` on a null attribute is allowed; removable attributes become null.
            let added = try await self.patch(h, uuid, [["op": "add", "path": "/flavor_id", "value": "m1.tiny"],
                                                       ["op": "add", "path": "/http_proxy", "value": "http://proxy:3128"]])
            XCTAssertEqual(added.status, 200, added.text)
            XCTAssertEqual(added.json?["flavor_id"], "m1.tiny")
            XCTAssertEqual(added.json?["http_proxy"], "http://proxy:3128")
            let removed = try await self.patch(h, uuid, [["op": "remove", "path": "/http_proxy"], ["op": "remove", "path": "/keypair_id"]])
            XCTAssertEqual(removed.status, 200, removed.text)
            XCTAssertEqual(removed.json?["http_proxy"], .null)
            XCTAssertEqual(removed.json?["keypair_id"], .null)

            // Typed re-validation of the patched document.
            self.assertError(try await self.patch(h, uuid, [["op": "replace", "path": "/docker_volume_size", "value": "5"]]), 400,
                             "Invalid input for field/attribute docker_volume_size. Value: '5'. Wrong type. Expected '<class 'int'>', got '<class 'str'>'")
            self.check(try await self.patch(h, uuid, [["op": "replace", "path": "/docker_volume_size", "value": 5]]).json?["docker_volume_size"], 5)
            self.assertError(try await self.patch(h, uuid, [["op": "replace", "path": "/apiserver_port", "value": 80]]), 400,
                             "Invalid input for field/attribute apiserver_port. Value: '80'. Value should be greater or equal to 1024")
            let bools = try await self.patch(h, uuid, [["op": "replace", "path": "/tls_disabled", "value": "yes"],
                                                       ["op": "replace", "path": "/master_lb_enabled", "value": 1]])
            XCTAssertEqual(bools.status, 200, bools.text)
            XCTAssertEqual(bools.json?["tls_disabled"], true)
            XCTAssertEqual(bools.json?["master_lb_enabled"], true)
            self.assertError(try await self.patch(h, uuid, [["op": "replace", "path": "/tls_disabled", "value": "maybe"]]), 400,
                             "Invalid input for field/attribute tls_disabled. Value: 'maybe'. Unrecognized value 'maybe', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'")
            self.assertError(try await self.patch(h, uuid, [["op": "replace", "path": "/server_type", "value": "cloud"]]), 400,
                             "Invalid input for field/attribute server_type. Value: 'cloud'. Value should be one of: bm, vm")

            // Template rules and the catalog on the patched document.
            self.assertError(try await self.patch(h, uuid, [["op": "replace", "path": "/network_driver", "value": "cilium"]]), 400,
                             "Network driver type cilium is not allowed, expecting a flannel/calico/unspecified network driver. ")
            self.assertError(try await self.patch(h, uuid, [["op": "replace", "path": "/network_driver", "value": "bogus"]]), 400,
                             "Network driver type bogus is not supported, expecting a flannel/calico/cilium/unspecified network driver.")
            self.assertError(try await self.patch(h, uuid, [["op": "add", "path": "/volume_driver", "value": "rexray"]]), 400,
                             "Volume driver type rexray is not supported, expecting a cinder/unspecified volume driver.")
            self.assertError(try await self.patch(h, uuid, [["op": "replace", "path": "/dns_nameserver", "value": "1.2.3"]]), 400,
                             "Expected a single dns address or comma separated dns list, but received 1.2.3.")
            self.assertError(try await self.patch(h, uuid, [["op": "add", "path": "/docker_storage_driver", "value": "devicemapper"],
                                                            ["op": "replace", "path": "/docker_volume_size", "value": 2]]), 400,
                             "docker volume size 2 GB is not valid, expecting minimum value 3GB for devicemapper storage driver.")
            self.assertError(try await self.patch(h, uuid, [["op": "replace", "path": "/image_id", "value": "nope"]]), 400,
                             "Image nope could not be found.")
            self.assertError(try await self.patch(h, uuid, [["op": "replace", "path": "/flavor_id", "value": "m9.huge"]]), 400,
                             "Unable to find flavor m9.huge.")
            self.assertError(try await self.patch(h, uuid, [["op": "add", "path": "/master_flavor_id", "value": "m9.huge"]]), 400,
                             "Unable to find flavor m9.huge.")
            self.assertError(try await self.patch(h, uuid, [["op": "replace", "path": "/external_network_id", "value": "private"]]), 400,
                             "Unable to find external network private.")
            self.assertError(try await self.patch(h, uuid, [["op": "add", "path": "/fixed_network", "value": "nope"]]), 400,
                             "Unable to find fixed network nope.")
            self.assertError(try await self.patch(h, uuid, [["op": "add", "path": "/fixed_subnet", "value": "nope"]]), 400,
                             "Unable to find fixed subnet nope.")
            self.assertError(try await self.patch(h, uuid, [["op": "replace", "path": "/coe", "value": "mesos"]]), 400,
                             "Invalid input for field/attribute coe. Value: 'mesos'. Value should be one of: kubernetes, swarm-mode")

            // Publishing needs admin.
            for flag in ["public", "hidden"] {
                self.assertError(try await self.patch(h, uuid, [["op": "replace", "path": .string("/\(flag)"), "value": true]]), 403,
                                 "Not authorized to set public or hidden flag for cluster template.", flag)
            }
            let published = try await self.patch(h, uuid, [["op": "replace", "path": "/public", "value": true]], token: .admin)
            XCTAssertEqual(published.status, 200, published.text)
            XCTAssertEqual(published.json?["public"], true)
            XCTAssertEqual(published.json?["project_id"], "demo-project")
            self.check(try await h.request(.get, "/v1/clustertemplates/\(uuid)", token: .other).status, 200)
            // The owner may still change other attributes of a public template.
            let owner = try await self.patch(h, uuid, [["op": "replace", "path": "/image_id", "value": "8e1c7a52-3b6d-4f0e-8c2a-5d9f4b7e6c02"]])
            XCTAssertEqual(owner.status, 200, owner.text)
            // cluster_distro is not recomputed when the image changes.
            XCTAssertEqual(owner.json?["cluster_distro"], "fedora-coreos")
            // A failed patch changed nothing.
            let now = try await h.request(.get, "/v1/clustertemplates/\(uuid)")
            XCTAssertEqual(now.json?["network_driver"], "flannel")
            XCTAssertEqual(now.json?["volume_driver"], .null)
            XCTAssertEqual(now.json?["docker_volume_size"], 5)
        }
    }

    // MARK: In use

    func testInUseRule() async throws {
        try await APIHarness.withEach { h in
            let t = try await h.createTemplate(["labels": ["a": "b"]])
            let uuid = t["uuid"]?.stringValue ?? ""
            _ = try await h.createCluster(template: uuid)
            let referenced = "ClusterTemplate \(uuid) is referenced by one or multiple clusters."

            // Only the name ...
            let renamed = try await self.patch(h, uuid, [["op": "replace", "path": "/name", "value": "renamed"]])
            XCTAssertEqual(renamed.status, 200, renamed.text)
            XCTAssertEqual(renamed.json?["name"], "renamed")
            // ... or exactly one of public (to true), hidden, tags.
            let tags = try await self.patch(h, uuid, [["op": "add", "path": "/tags", "value": "gold,silver"]])
            XCTAssertEqual(tags.status, 200, tags.text)
            XCTAssertEqual(tags.json?["tags"], "gold,silver")
            let pub = try await self.patch(h, uuid, [["op": "replace", "path": "/public", "value": true]], token: .admin)
            XCTAssertEqual(pub.status, 200, pub.text)
            let hide = try await self.patch(h, uuid, [["op": "replace", "path": "/hidden", "value": true]], token: .admin)
            XCTAssertEqual(hide.status, 200, hide.text)
            let unhide = try await self.patch(h, uuid, [["op": "replace", "path": "/hidden", "value": false]], token: .admin)
            XCTAssertEqual(unhide.status, 200, unhide.text)

            // Anything else is refused.
            for ops: JSON in [
                [["op": "replace", "path": "/labels", "value": "{'a': 'c'}"]],
                [["op": "add", "path": "/labels/x", "value": "y"]],
                [["op": "replace", "path": "/flavor_id", "value": "m1.large"]],
                [["op": "replace", "path": "/master_lb_enabled", "value": true]],
                [["op": "replace", "path": "/name", "value": "n2"], ["op": "replace", "path": "/tags", "value": "bronze"]],
                [["op": "remove", "path": "/tags"]],
            ] {
                self.assertError(try await self.patch(h, uuid, ops), 400, referenced, ops.serialized())
            }
            for ops: JSON in [
                [["op": "replace", "path": "/public", "value": false]],
                [["op": "replace", "path": "/public", "value": false], ["op": "replace", "path": "/hidden", "value": true]],
                [["op": "replace", "path": "/hidden", "value": true], ["op": "replace", "path": "/tags", "value": "x"]],
            ] {
                self.assertError(try await self.patch(h, uuid, ops, token: .admin), 400, referenced, ops.serialized())
            }
            let after = try await h.request(.get, "/v1/clustertemplates/\(uuid)")
            XCTAssertEqual(after.json?["labels"], ["a": "b"])
            XCTAssertEqual(after.json?["name"], "renamed")
            XCTAssertEqual(after.json?["tags"], "gold,silver")
            XCTAssertEqual(after.json?["public"], true)
            XCTAssertEqual(after.json?["hidden"], false)

            // Delete is refused while referenced, by UUID or by name, for owner and admin.
            self.assertError(try await h.request(.delete, "/v1/clustertemplates/\(uuid)"), 400, referenced)
            self.assertError(try await h.request(.delete, "/v1/clustertemplates/renamed"), 400, referenced)
            self.assertError(try await h.request(.delete, "/v1/clustertemplates/\(uuid)", token: .admin), 400, referenced)
            self.check(try await h.request(.get, "/v1/clustertemplates/\(uuid)").status, 200)
        }
    }

    func testDelete() async throws {
        try await APIHarness.withEach { h in
            let t = try await h.createTemplate(["name": "gone"])
            let uuid = t["uuid"]?.stringValue ?? ""
            let keep = try await h.createTemplate(["name": "kept"])
            let d = try await h.request(.delete, "/v1/clustertemplates/\(uuid)")
            XCTAssertEqual(d.status, 204)
            XCTAssertEqual(d.text, "")
            self.assertError(try await h.request(.get, "/v1/clustertemplates/\(uuid)"), 404, "ClusterTemplate \(uuid) could not be found.")
            self.assertError(try await h.request(.delete, "/v1/clustertemplates/\(uuid)"), 404, "ClusterTemplate \(uuid) could not be found.")
            self.check(try await h.request(.get, "/v1/clustertemplates").json, ["clustertemplates": [keep]])
            // By name, by a project colleague.
            self.check(try await h.request(.delete, "/v1/clustertemplates/kept", token: .demo2).status, 204)
            self.check(try await h.request(.get, "/v1/clustertemplates").json, ["clustertemplates": []])
            // The UUID of a deleted template can be reused.
            let again = try await self.post(h, ["uuid": .string(uuid)])
            XCTAssertEqual(again.status, 201, again.text)
        }
    }
}
