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

    func testAnUnhealthyClusterWithAutoHealingGetsOneRepairThatLeavesItsStatus() async throws {
        try await TestDatabases.withEach { store, label in
            let ledger = DriverLedger()
            let template = try await ConductorFixtures.template(store)
            let plain = try await createdCluster(store, ledger, template: template)
            let healing = try await createdCluster(store, ledger, template: template)
            try await store.write { session in
                var c = try await session.clusters(matching: .uuid(healing.uuid), .everything).first!
                c.labels["auto_healing_enabled"] = "true"
                _ = try await session.update(c)
            }
            for uuid in [plain.uuid, healing.uuid] {
                await ledger.setHealth(uuid, .unhealthy, ["api": "ok", "node-0.Ready": "False"])
            }
            func repairs(_ uuid: String) async throws -> [ClusterOperation] {
                try await store.read { try await $0.operations(resourceUUID: uuid) }.filter { $0.kind == .clusterHeal }
            }
            _ = await monitor(store, ledger).sweep()
            let requested = try await repairs(healing.uuid)
            XCTAssertEqual(requested.map(\.state), [.pending], label)
            XCTAssertEqual(requested.first?.projectID, healing.projectID, label)
            let plainRepairs = try await repairs(plain.uuid)
            XCTAssertEqual(plainRepairs.count, 0, "no repair without auto_healing_enabled (\(label))")
            let accepted = try await store.read { try await $0.events(clusterUUID: healing.uuid, after: 0, limit: 100) }
            XCTAssertTrue(accepted.contains { $0.kind == .operationAccepted && $0.detail["operation"] == .string("cluster_heal") }, label)

            _ = await monitor(store, ledger).sweep()
            let stillOne = try await repairs(healing.uuid)
            XCTAssertEqual(stillOne.count, 1, "one repair at a time (\(label))")

            try await OperationRunnerTests.running([OperationRunnerTests.runner(store, ledger)]) {
                try await OperationRunnerTests.eventually("repaired") { try await OperationRunnerTests.finished(store, requested[0]) }
            }
            let done = try await repairs(healing.uuid)
            XCTAssertEqual(done.map(\.state), [.succeeded], label)
            let invocations = await ledger.invocations(of: requested[0].uuid)
            XCTAssertEqual(invocations, 1, label)
            let after = try await OperationRunnerTests.cluster(store, healing.uuid)
            XCTAssertEqual(after?.status, .createComplete, "a repair leaves the status (\(label))")

            // Unhealthy again at once: no second repair within a minute of the first.
            await ledger.setHealth(healing.uuid, .unhealthy, ["api": "ok", "node-1.Ready": "False"])
            _ = await monitor(store, ledger).sweep()
            let later = try await repairs(healing.uuid)
            XCTAssertEqual(later.count, 1, label)
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
