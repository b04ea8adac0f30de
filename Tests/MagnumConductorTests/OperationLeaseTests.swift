import Foundation
import MagnumConductor
import MagnumCore
import MagnumDrivers
import MagnumStore
import MagnumTestSupport
import XCTest

/// The store's leasing rules, driven with explicit instants (no waiting), on both dialects.
final class OperationLeaseTests: XCTestCase {
    let drivers = [ScriptedDriver(ledger: DriverLedger()).descriptor]

    func lease(_ store: any Store, owner: String, now: Date, for seconds: TimeInterval = 30) async throws -> ClusterOperation? {
        let drivers = self.drivers
        return try await store.write { try await $0.leaseOperation(owner: owner, until: now + seconds, now: now, drivers: drivers) }
    }

    func testOperationsOfOneClusterRunInOrderOneAtATime() async throws {
        try await TestDatabases.withEach { store, label in
            let template = try await ConductorFixtures.template(store)
            let (cluster, create) = try await ConductorFixtures.cluster(store, template: template)
            let delete = try await ConductorFixtures.operation(store, .clusterDelete, cluster: cluster.uuid, status: .deleteInProgress)
            let now = Date()
            let first = try await lease(store, owner: "a", now: now)
            XCTAssertEqual(first?.uuid, create.uuid, label)
            XCTAssertEqual(first?.attempts, 1, label)
            XCTAssertEqual(first?.leaseOwner, "a", label)
            // The delete waits while the create is leased, for every runner.
            let none = try await lease(store, owner: "b", now: now)
            XCTAssertNil(none, label)
            // A stale owner cannot finish; the owner can.
            let stale = try await store.write { try await $0.completeOperation(uuid: create.uuid, owner: "b", state: .succeeded, error: nil) }
            XCTAssertFalse(stale, label)
            let done = try await store.write { try await $0.completeOperation(uuid: create.uuid, owner: "a", state: .succeeded, error: nil) }
            XCTAssertTrue(done, label)
            let next = try await lease(store, owner: "b", now: now)
            XCTAssertEqual(next?.uuid, delete.uuid, label)
        }
    }

    func testExpiredLeasesAreTakenOverAndBackoffIsHonoured() async throws {
        try await TestDatabases.withEach { store, label in
            let template = try await ConductorFixtures.template(store)
            let (_, create) = try await ConductorFixtures.cluster(store, template: template)
            let now = Date()
            _ = try await lease(store, owner: "a", now: now, for: 10)
            let early = try await lease(store, owner: "b", now: now + 5)
            XCTAssertNil(early, label)
            let takeover = try await lease(store, owner: "b", now: now + 12)
            XCTAssertEqual(takeover?.uuid, create.uuid, label)
            XCTAssertEqual(takeover?.leaseOwner, "b", label)
            XCTAssertEqual(takeover?.attempts, 2, label)
            let renewedByA = try await store.write { try await $0.renewLease(operationUUID: create.uuid, owner: "a", until: now + 100) }
            XCTAssertFalse(renewedByA, label)

            // Handed back for a retry in 60 s: not leased before then.
            let handedBack = try await store.write {
                try await $0.retryOperation(uuid: create.uuid, owner: "b", notBefore: now + 60, error: "busy")
            }
            XCTAssertTrue(handedBack, label)
            let pending = try await store.read { try await $0.operation(uuid: create.uuid) }
            XCTAssertEqual(pending?.state, .pending, label)
            XCTAssertEqual(pending?.lastError, "busy", label)
            XCTAssertNil(pending?.leaseOwner, label)
            let tooSoon = try await lease(store, owner: "c", now: now + 30)
            XCTAssertNil(tooSoon, label)
            let later = try await lease(store, owner: "c", now: now + 61)
            XCTAssertEqual(later?.uuid, create.uuid, label)
            XCTAssertEqual(later?.attempts, 3, label)
        }
    }

    func testOnlyRunnableDriversAreLeased() async throws {
        try await TestDatabases.withEach { store, label in
            let heat = try await ConductorFixtures.template(store, driver: "heat_fedora_coreos", os: "fedora-coreos")
            _ = try await ConductorFixtures.cluster(store, template: heat)
            let none = try await lease(store, owner: "a", now: Date())
            XCTAssertNil(none, label)
            let noDrivers = try await store.write { try await $0.leaseOperation(owner: "a", until: Date() + 30, now: Date(), drivers: []) }
            XCTAssertNil(noDrivers, label)
        }
    }

    func testDriverSetResolvesByNameThenByTuple() {
        let set = DriverSet([ScriptedDriver(ledger: DriverLedger())])
        var t = ClusterTemplate(uuid: "t", coe: "swarm-mode")
        t.clusterDistro = "scripted-os"
        XCTAssertEqual(set.driver(for: t)?.name, "scripted")
        t.driver = "scripted"
        XCTAssertEqual(set.driver(for: t)?.name, "scripted")
        t.driver = "heat_fedora_coreos"
        XCTAssertNil(set.driver(for: t))
        t.driver = nil
        t.coe = "kubernetes"
        XCTAssertNil(set.driver(for: t))
        XCTAssertNil(DriverSet.empty.driver(for: t))
        XCTAssertEqual(set.registry.named("scripted")?.provides.first?.os, "scripted-os")
    }
}
