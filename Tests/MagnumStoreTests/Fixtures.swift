import Foundation
import MagnumCore
import MagnumStore
import MagnumTestSupport
import XCTest

/// Builders of models with every field set (or left at its defaults) for round-trip tests.
enum Fixtures {
    static func uuid() -> String { UUID().uuidString.lowercased() }

    static func fullTemplate(project: String = "p1", user: String = "u1", name: String? = "tpl") -> ClusterTemplate {
        var t = ClusterTemplate(uuid: uuid(), coe: "kubernetes")
        t.name = name
        t.projectID = project
        t.userID = user
        t.imageID = "fedora-coreos-40"
        t.flavorID = "m1.small"
        t.masterFlavorID = "m1.medium"
        t.keypairID = "default"
        t.externalNetworkID = "public"
        t.fixedNetwork = "private"
        t.fixedSubnet = "private-subnet"
        t.networkDriver = "calico"
        t.volumeDriver = "cinder"
        t.dnsNameserver = "8.8.8.8"
        t.apiserverPort = 6443
        t.dockerVolumeSize = 20
        t.dockerStorageDriver = "overlay2"
        t.clusterDistro = "fedora-coreos"
        t.httpProxy = "http://proxy:3128"
        t.httpsProxy = "https://proxy:3129"
        t.noProxy = "localhost,127.0.0.1"
        t.insecureRegistry = "registry.local:5000"
        t.registryEnabled = true
        t.tlsDisabled = true
        t.isPublic = true
        t.hidden = true
        t.serverType = "bm"
        t.masterLBEnabled = true
        t.floatingIPEnabled = false
        t.labels = ["kube_tag": "v1.30.1", "quoted \"key\"": "välue\nwith newline", "empty": ""]
        t.tags = "a,b"
        t.driver = "k8s_fedora_coreos_v1"
        return t
    }

    static func fullCluster(template: String = uuid(), project: String = "p1", user: String = "u1", name: String? = "c")
        -> Cluster
    {
        var c = Cluster(uuid: uuid(), clusterTemplateID: template)
        c.name = name
        c.projectID = project
        c.userID = user
        c.keypair = "default"
        c.dockerVolumeSize = 10
        c.labels = ["a": "1", "b": "True"]
        c.masterFlavorID = "m1.medium"
        c.flavorID = "m1.small"
        c.stackID = uuid()
        c.apiAddress = "https://10.0.0.5:6443"
        c.status = .createInProgress
        c.statusReason = "Stack CREATE started"
        c.healthStatus = .unhealthy
        c.healthStatusReason = ["api": "ok", "node-0.Ready": "False"]
        c.createTimeout = 90
        c.discoveryURL = "https://discovery.etcd.io/abc"
        c.coeVersion = "v1.30.1"
        c.containerVersion = "1.12.6"
        c.caCertRef = "ca-ref"
        c.magnumCertRef = "magnum-ref"
        c.etcdCACertRef = "etcd-ref"
        c.frontProxyCACertRef = "fp-ref"
        c.fixedNetwork = "net"
        c.fixedSubnet = "subnet"
        c.floatingIPEnabled = false
        c.masterLBEnabled = true
        return c
    }

    static func fullNodegroup(cluster: String, name: String? = "workers") -> NodeGroup {
        var n = NodeGroup(uuid: uuid(), clusterID: cluster)
        n.name = name
        n.projectID = "p1"
        n.dockerVolumeSize = 30
        n.labels = ["x": "y"]
        n.flavorID = "m1.large"
        n.imageID = "img"
        n.nodeAddresses = ["10.0.0.7", "10.0.0.8"]
        n.nodeCount = 2
        n.role = "worker"
        n.minNodeCount = 1
        n.maxNodeCount = 5
        n.isDefault = true
        n.stackID = "stack"
        n.status = .updateFailed
        n.statusReason = "boom"
        n.version = "v1"
        n.nodeLabels = ["tier": "gold"]
        n.nodeTaints = [
            NodeTaint(key: "dedicated", value: "gpu", effect: "NoSchedule"),
            NodeTaint(key: "spot", value: nil, effect: "PreferNoSchedule"),
        ]
        return n
    }

    static func fullFederation(project: String? = "p1", name: String? = "fed") -> Federation {
        var f = Federation(uuid: uuid())
        f.name = name
        f.projectID = project
        f.hostclusterID = uuid()
        f.memberIDs = [uuid(), uuid()]
        f.status = "CREATE_IN_PROGRESS"
        f.statusReason = "starting"
        f.properties = ["dns-zone": "example.com."]
        return f
    }

    static func fullOperation(resource: String) -> MagnumCore.ClusterOperation {
        var o = MagnumCore.ClusterOperation(uuid: uuid(), kind: .clusterResize, resourceUUID: resource)
        o.nodegroupUUID = uuid()
        o.parameters = [
            "node_count": 3, "nodes_to_remove": ["a", "b"], "rollback": true, "ratio": 1.5, "none": nil,
            "nested": ["k": ["v": 7]],
        ]
        o.state = .running
        o.projectID = "p1"
        o.userID = "u1"
        o.requestID = "req-" + uuid()
        o.leaseOwner = "conductor-1"
        o.leaseExpiresAt = Date(timeIntervalSince1970: 1_900_000_000)
        o.attempts = 2
        o.lastError = "transient"
        return o
    }
}

/// Asserts that `body` throws a `MagnumError` with `code` (and `message`, when given).
func assertMagnumError(
    _ code: MagnumError.Code, _ message: String? = nil, _ label: String = "",
    file: StaticString = #filePath, line: UInt = #line, _ body: () async throws -> Void
) async {
    do {
        try await body()
        XCTFail("[\(label)] expected \(code) error, nothing thrown", file: file, line: line)
    } catch let error as MagnumError {
        XCTAssertEqual(error.code, code, "[\(label)] \(error.message)", file: file, line: line)
        if let message {
            XCTAssertEqual(error.message, message, "[\(label)]", file: file, line: line)
        }
    } catch {
        XCTFail("[\(label)] expected MagnumError \(code), got \(error)", file: file, line: line)
    }
}

/// Asserts that a stored timestamp was set recently (whole seconds).
func assertRecent(_ date: Date?, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
    guard let date else {
        XCTFail("[\(label)] timestamp missing", file: file, line: line)
        return
    }
    XCTAssertLessThan(abs(date.timeIntervalSinceNow), 60, "[\(label)]", file: file, line: line)
    XCTAssertEqual(date.timeIntervalSince1970, date.timeIntervalSince1970.rounded(.down), "[\(label)]", file: file, line: line)
}
