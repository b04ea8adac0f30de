import Foundation
import MagnumConductor
import MagnumCore
import MagnumStore
import MagnumTestSupport
import XCTest

/// The quota under a race, through to the conductor: parallel `POST /v1/clusters` against a
/// project quota accept exactly the quota's worth (counting and inserting are one critical
/// section per project), and the operation runner builds exactly those clusters.
final class QuotaRaceTests: XCTestCase {
    static let registry = DriverRegistry(drivers: DriverRegistry.builtIn.drivers + [ScriptedDriver(ledger: DriverLedger()).descriptor])
    static let quotaExceeded = "Resource limit exceeded: You have reached the maximum clusters per project, 20. You may delete a cluster to make room for a new one."

    /// 50 parallel creates against a hard limit of 20: 20 answered 202, 30 answered 403 with the
    /// quota error, 20 cluster rows each with its nodegroups and one create operation; then a
    /// runner takes all 20 to CREATE_COMPLETE, running each create step once.
    func testFiftyParallelCreatesAgainstAQuotaOfTwentyAndTheRunnerBuildsTheTwenty() async throws {
        try await TestDatabases.withEach { store, label in
            let h = try await APIHarness.make(store: store, label: label, drivers: Self.registry)
            let q = try await h.request(.post, "/v1/quotas", token: .admin, body: ["project_id": "demo-project", "resource": "Cluster", "hard_limit": 20])
            XCTAssertEqual(q.status, 201, q.text)
            let template = try await h.createTemplate(["driver": .string(ScriptedDriver.driverName)])["uuid"]?.stringValue ?? ""
            let replies = try await withThrowingTaskGroup(of: APIHarness.Reply.self) { group in
                for i in 0..<50 {
                    group.addTask {
                        try await h.request(.post, "/v1/clusters", token: i % 2 == 0 ? .demo : .demo2, version: "latest",
                                            body: ["name": .string("race\(i)"), "cluster_template_id": .string(template)])
                    }
                }
                var out: [APIHarness.Reply] = []
                for try await r in group { out.append(r) }
                return out
            }
            let accepted = replies.filter { $0.status == 202 }
            let refused = replies.filter { $0.status == 403 }
            XCTAssertEqual(accepted.count, 20, "\(label): \(replies.map(\.status))")
            XCTAssertEqual(refused.count, 30, "\(label): \(replies.map(\.status))")
            XCTAssertEqual(Set(refused.map(\.errorDetail)), [Self.quotaExceeded], label)
            let count = try await store.read { try await $0.clusterCount(projectID: "demo-project") }
            XCTAssertEqual(count, 20, label)
            let uuids = Set(accepted.compactMap { $0.json?["uuid"]?.stringValue })
            XCTAssertEqual(uuids.count, 20, label)
            let listed = try await h.request(.get, "/v1/clusters").json?["clusters"]?.arrayValue?.compactMap { $0["uuid"]?.stringValue } ?? []
            XCTAssertEqual(Set(listed), uuids, label)
            var operations: [ClusterOperation] = []
            for uuid in uuids {
                let nodegroups = try await OperationRunnerTests.nodegroups(store, uuid)
                XCTAssertEqual(nodegroups.count, 2, label)
                let ops = try await store.read { try await $0.operations(resourceUUID: uuid) }
                XCTAssertEqual(ops.map(\.kind), [.clusterCreate], label)
                operations += ops
            }

            let ledger = DriverLedger()
            let recorded = operations
            try await OperationRunnerTests.running([OperationRunnerTests.runner(store, ledger)]) {
                for op in recorded {
                    let done = try await OperationRunnerTests.eventually("create of \(op.resourceUUID)") { try await OperationRunnerTests.finished(store, op) }
                    XCTAssertEqual(done.state, .succeeded, label)
                }
            }
            let shown = try await h.request(.get, "/v1/clusters").json?["clusters"]?.arrayValue ?? []
            XCTAssertEqual(shown.count, 20, label)
            XCTAssertEqual(Set(shown.compactMap { $0["status"]?.stringValue }), ["CREATE_COMPLETE"], label)
            let steps = await ledger.invocations
            XCTAssertEqual(steps.count, 20, "one create step per cluster (\(label))")
            XCTAssertEqual(Set(steps.map(\.clusterID)), uuids, label)
        }
    }
}
