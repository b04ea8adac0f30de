import Foundation
import MagnumCore
import MagnumStore
import MagnumTestSupport
import XCTest

/// `cluster_driver_state`: what drivers record per cluster, on SQLite and PostgreSQL.
final class DriverStateStoreTests: XCTestCase {
    func testValuesAreSetReplacedForgottenAndScopedToTheirCluster() async throws {
        try await TestDatabases.withEach { store, label in
            let a = Fixtures.uuid(), b = Fixtures.uuid()
            try await store.write { s in
                try await s.setDriverState(clusterUUID: a, key: "heat.stack", value: "k8s-1/abc")
                try await s.setDriverState(clusterUUID: a, key: "heat.trust_id", value: "t1")
                try await s.setDriverState(clusterUUID: b, key: "heat.stack", value: "other/def")
            }
            var values = try await store.read { try await $0.driverState(clusterUUID: a) }
            XCTAssertEqual(values, ["heat.stack": "k8s-1/abc", "heat.trust_id": "t1"], label)

            try await store.write { s in
                try await s.setDriverState(clusterUUID: a, key: "heat.stack", value: "k8s-1/xyz")
                try await s.setDriverState(clusterUUID: a, key: "heat.trust_id", value: nil)
                try await s.setDriverState(clusterUUID: a, key: "never.set", value: nil)
            }
            values = try await store.read { try await $0.driverState(clusterUUID: a) }
            XCTAssertEqual(values, ["heat.stack": "k8s-1/xyz"], label)
            let other = try await store.read { try await $0.driverState(clusterUUID: b) }
            XCTAssertEqual(other, ["heat.stack": "other/def"], label)
            let none = try await store.read { try await $0.driverState(clusterUUID: Fixtures.uuid()) }
            XCTAssertEqual(none, [:], label)
        }
    }

    func testStateGoesWithItsClusterAndRollsBackWithItsTransaction() async throws {
        struct Boom: Error {}
        try await TestDatabases.withEach { store, label in
            let cluster = try await store.write { s -> Cluster in
                let t = try await s.insert(ClusterTemplate(uuid: Fixtures.uuid(), coe: "kubernetes"))
                return try await s.insert(Cluster(uuid: Fixtures.uuid(), clusterTemplateID: t.uuid))
            }
            do {
                try await store.write { s in
                    try await s.setDriverState(clusterUUID: cluster.uuid, key: "k", value: "v")
                    throw Boom()
                }
                XCTFail("the write should have failed", file: #filePath, line: #line)
            } catch is Boom {}
            var values = try await store.read { try await $0.driverState(clusterUUID: cluster.uuid) }
            XCTAssertEqual(values, [:], label)

            try await store.write { try await $0.setDriverState(clusterUUID: cluster.uuid, key: "k", value: "v") }
            try await store.write { try await $0.deleteCluster(uuid: cluster.uuid) }
            values = try await store.read { try await $0.driverState(clusterUUID: cluster.uuid) }
            XCTAssertEqual(values, [:], label)
        }
    }
}
