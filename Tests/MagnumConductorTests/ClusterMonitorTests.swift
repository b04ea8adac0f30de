import Foundation
import MagnumConductor
import MagnumCore
import MagnumDrivers
import MagnumStore
import MagnumTestSupport
import XCTest

/// The periodic monitor of settled clusters: health and addresses from the driver, never while
/// an operation owns the cluster, never a status change.
final class ClusterMonitorTests: XCTestCase {
    func monitor(_ store: any Store, _ ledger: DriverLedger) -> ClusterMonitor {
        ClusterMonitor(store: store, drivers: DriverSet([ScriptedDriver(ledger: ledger)]), logger: OperationRunnerTests.logger)
    }

    /// A created cluster, CREATE_COMPLETE through the runner.
    func createdCluster(_ store: any Store, _ ledger: DriverLedger, template: ClusterTemplate) async throws -> Cluster {
        let (cluster, create) = try await ConductorFixtures.cluster(store, template: template)
        try await OperationRunnerTests.running([OperationRunnerTests.runner(store, ledger)]) {
            try await OperationRunnerTests.eventually("created") { try await OperationRunnerTests.finished(store, create) }
        }
        let created = try await OperationRunnerTests.cluster(store, cluster.uuid)
        return try XCTUnwrap(created)
    }

    func testHealthChangesAreWrittenOnceAndStatusIsLeftAlone() async throws {
        try await TestDatabases.withEach { store, label in
            let ledger = DriverLedger()
            let template = try await ConductorFixtures.template(store)
            let cluster = try await createdCluster(store, ledger, template: template)
            XCTAssertEqual(cluster.status, .createComplete, label)
            XCTAssertNil(cluster.healthStatus, label)

            await ledger.setHealth(cluster.uuid, .unhealthy, ["api": "ok", "node-1.Ready": "False"])
            let first = await monitor(store, ledger).sweep()
            XCTAssertEqual(first, 1, label)
            let seen = try await OperationRunnerTests.cluster(store, cluster.uuid)
            XCTAssertEqual(seen?.healthStatus, .unhealthy, label)
            XCTAssertEqual(seen?.healthStatusReason, ["api": "ok", "node-1.Ready": "False"], label)
            XCTAssertEqual(seen?.status, .createComplete, label)

            let unchanged = await monitor(store, ledger).sweep()
            XCTAssertEqual(unchanged, 0, "nothing changed, nothing written (\(label))")

            await ledger.setHealth(cluster.uuid, .healthy, ["api": "ok", "node-1.Ready": "True"])
            let healed = await monitor(store, ledger).sweep()
            XCTAssertEqual(healed, 1, label)
            let after = try await OperationRunnerTests.cluster(store, cluster.uuid)
            XCTAssertEqual(after?.healthStatus, .healthy, label)
        }
    }

    func testClustersWithUnfinishedOperationsOrOtherDriversAreSkipped() async throws {
        try await TestDatabases.withEach { store, label in
            let ledger = DriverLedger()
            let template = try await ConductorFixtures.template(store)
            let busy = try await createdCluster(store, ledger, template: template)
            let settled = try await createdCluster(store, ledger, template: template)
            // An operation the runner has not taken yet: the cluster belongs to it.
            _ = try await ConductorFixtures.operation(store, .clusterResize, cluster: busy.uuid, status: .updateComplete)
            // A cluster of a driver this conductor does not run.
            let foreign = try await ConductorFixtures.template(store, driver: "elsewhere", os: "elsewhere-os")
            let (other, _) = try await ConductorFixtures.cluster(store, template: foreign)
            try await store.write { session in
                var c = try await session.clusters(matching: .uuid(other.uuid), .everything).first!
                c.status = .createComplete
                _ = try await session.update(c)
            }
            for uuid in [busy.uuid, settled.uuid, other.uuid] {
                await ledger.setHealth(uuid, .unhealthy, ["api": "down"])
            }
            let updated = await monitor(store, ledger).sweep()
            XCTAssertEqual(updated, 1, label)
            let b = try await OperationRunnerTests.cluster(store, busy.uuid)
            XCTAssertNil(b?.healthStatus, label)
            let s = try await OperationRunnerTests.cluster(store, settled.uuid)
            XCTAssertEqual(s?.healthStatus, .unhealthy, label)
            let o = try await OperationRunnerTests.cluster(store, other.uuid)
            XCTAssertNil(o?.healthStatus, label)
        }
    }
}
