import Foundation
import MagnumCore
import XCTest

@testable import LocalSwarmDriver

final class LocalClusterStateTests: XCTestCase {
    func temporaryRoot() throws -> String {
        let root = NSTemporaryDirectory() + "local-swarm-state-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }
        return root
    }

    func testClaimTakesTheLowestFreeIndexAndFindsItAgain() throws {
        let state = LocalClusterState(root: try temporaryRoot(), indexes: 3...5)
        let a = try state.claim("a") { $0 == 3 }   // 3 is in use on the host
        XCTAssertEqual(a.index, 4)
        XCTAssertEqual(try state.claim("a") { _ in false }.index, 4, "a cluster keeps its index")
        XCTAssertEqual(try state.claim("b") { _ in false }.index, 3)
        XCTAssertEqual(try state.claim("c") { _ in false }.index, 5)
        XCTAssertThrowsError(try state.claim("d") { _ in false }) { error in
            XCTAssertEqual((error as? MagnumError)?.code, .unavailable)
        }
        try state.remove(4)
        XCTAssertNil(try state.find("a"))
        XCTAssertEqual(try state.claim("d") { _ in false }.index, 4, "a removed cluster's index is free again")
    }

    func testSavedNodesSurviveAReload() throws {
        let state = LocalClusterState(root: try temporaryRoot(), indexes: 1...2)
        var cluster = try state.claim("x") { _ in false }
        var master = NodeGroup(uuid: "m", clusterID: "x")
        master.role = "master"
        master.isDefault = true
        cluster.nodes.append(try cluster.newNode(for: master, trust: "t1", flavor: "local.small"))
        try state.save(cluster)
        XCTAssertEqual(try state.find("x"), cluster)
    }

    func testNodeNamesAndAddresses() throws {
        var cluster = LocalCluster(clusterUUID: "u", index: 7)
        var master = NodeGroup(uuid: "m", clusterID: "u")
        master.role = "master"
        master.isDefault = true
        var workers = NodeGroup(uuid: "w", clusterID: "u")
        workers.isDefault = true
        var extra = NodeGroup(uuid: "e", clusterID: "u")
        extra.name = "GPU Pool_1"
        for ng in [master, master, workers, workers, extra] {
            cluster.nodes.append(try cluster.newNode(for: ng, trust: "t", flavor: nil))
        }
        XCTAssertEqual(cluster.nodes.map(\.name), ["master-0", "master-1", "node-0", "node-1", "gpu-pool-1-2"])
        XCTAssertEqual(cluster.nodes.map(\.address), ["198.18.7.10", "198.18.7.11", "198.18.7.20", "198.18.7.21", "198.18.7.22"])
        XCTAssertEqual(cluster.nodes.map(\.role), [.manager, .manager, .worker, .worker, .worker])
        XCTAssertEqual(cluster.leader?.name, "master-0")
        XCTAssertEqual(cluster.veth(cluster.nodes[4]), "msw7n22")
        XCTAssertLessThanOrEqual(cluster.veth(LocalNode(name: "x", address: "198.18.250.254", role: .worker, nodegroupUUID: "w", trust: "t")).count, 15)
        XCTAssertEqual(cluster.namespace(cluster.nodes[0]), "msw7-master-0")

        // A freed address is reused, and its node gets the name that goes with it.
        cluster.nodes.removeAll { $0.name == "node-0" }
        XCTAssertEqual(try cluster.newNode(for: workers, trust: "t", flavor: nil).name, "node-0")
        cluster.nodes[0].removing = true
        XCTAssertEqual(cluster.leader?.name, "master-1", "a master being removed is not the leader")
    }

    func testAtMostTenMasters() throws {
        var cluster = LocalCluster(clusterUUID: "u", index: 1)
        var master = NodeGroup(uuid: "m", clusterID: "u")
        master.role = "master"
        for _ in 0..<10 { cluster.nodes.append(try cluster.newNode(for: master, trust: "t", flavor: nil)) }
        XCTAssertThrowsError(try cluster.newNode(for: master, trust: "t", flavor: nil)) { error in
            XCTAssertEqual((error as? MagnumError)?.code, .invalid)
        }
    }

    func testCredentialFingerprintIgnoresLineEndings() {
        XCTAssertEqual(NodeCredentials.fingerprint(of: "A\nB\n"), NodeCredentials.fingerprint(of: "A\r\nB"))
        XCTAssertNotEqual(NodeCredentials.fingerprint(of: "A\nB"), NodeCredentials.fingerprint(of: "A\nC"))
        XCTAssertEqual(NodeCredentials.fingerprint(of: "x").count, 16)
    }
}
