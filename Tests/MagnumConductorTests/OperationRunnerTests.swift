import Foundation
import Logging
@testable import MagnumConductor
import MagnumCore
import MagnumDrivers
import MagnumStore
import MagnumTestSupport
import ServiceLifecycle
import XCTest

/// The conductor's operation runner against a scripted driver, on SQLite and PostgreSQL.
final class OperationRunnerTests: XCTestCase {
    static let logger: Logger = {
        var l = Logger(label: "test.runner")
        let level = ProcessInfo.processInfo.environment["MAGNUM_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
        l.logLevel = level ?? .critical
        return l
    }()

    /// Fast settings: short leases (whole seconds: the store keeps seconds), quick polls.
    static func configuration(owner: String, lease: Duration = .seconds(3)) -> OperationRunner.Configuration {
        OperationRunner.Configuration(
            owner: owner, leaseDuration: lease, idlePollInterval: .milliseconds(50), observeInterval: .milliseconds(20),
            maxConcurrentOperations: 4, maxAttempts: 6, baseBackoff: .milliseconds(100), maxBackoff: .milliseconds(400))
    }

    /// Runs `runners` in a service group while `body` runs, then shuts them down.
    static func running<T: Sendable>(_ runners: [OperationRunner], _ body: () async throws -> T) async throws -> T {
        let group = ServiceGroup(configuration: .init(services: runners.map { .init(service: $0) }, logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let result: Result<T, any Error>
            do { result = .success(try await body()) } catch { result = .failure(error) }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return try result.get()
        }
    }

    static func runner(_ store: any Store, _ ledger: DriverLedger, name: String = "a", lease: Duration = .seconds(3)) -> OperationRunner {
        OperationRunner(store: store, drivers: DriverSet([ScriptedDriver(ledger: ledger, runner: name)]),
                        configuration: configuration(owner: "runner-\(name)", lease: lease), logger: logger)
    }

    /// Polls `probe` until it returns a value (generous deadline; no timing is asserted).
    @discardableResult
    static func eventually<T: Sendable>(_ what: String, timeout: Duration = .seconds(30), _ probe: () async throws -> T?) async throws -> T {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if let value = try await probe() { return value }
            try await Task.sleep(for: .milliseconds(25))
        }
        XCTFail("timed out waiting for \(what)")
        throw MagnumError(.internal, "timed out waiting for \(what)")
    }

    static func operation(_ store: any Store, _ op: ClusterOperation) async throws -> ClusterOperation? {
        try await store.read { try await $0.operation(uuid: op.uuid) }
    }

    static func finished(_ store: any Store, _ op: ClusterOperation) async throws -> ClusterOperation? {
        let o = try await operation(store, op)
        return o.flatMap { $0.state == .succeeded || $0.state == .failed ? $0 : nil }
    }

    static func cluster(_ store: any Store, _ uuid: String) async throws -> Cluster? {
        try await store.read { try await $0.clusters(matching: .uuid(uuid), .everything).first }
    }

    static func nodegroups(_ store: any Store, _ uuid: String) async throws -> [NodeGroup] {
        try await store.read { try await $0.nodegroups(clusterUUID: uuid, role: nil, sort: SortOrder()) }
    }

    // MARK: - Flows

    func testCreateObservesUntilCompleteAndWritesAddresses() async throws {
        try await TestDatabases.withEach { store, label in
            let ledger = DriverLedger()
            let template = try await ConductorFixtures.template(store)
            let (cluster, op) = try await ConductorFixtures.cluster(store, template: template, workers: 2)
            await ledger.script(cluster.uuid, .succeed(polls: 3))
            try await Self.running([Self.runner(store, ledger)]) {
                let done = try await Self.eventually("create finished") { try await Self.finished(store, op) }
                XCTAssertEqual(done.state, .succeeded, label)
                XCTAssertNil(done.leaseOwner, label)
            }
            let c = try await Self.cluster(store, cluster.uuid)
            XCTAssertEqual(c?.status, .createComplete, label)
            XCTAssertEqual(c?.apiAddress, "tcp://10.0.0.10:2376", label)
            XCTAssertEqual(c?.coeVersion, "24.0", label)
            XCTAssertEqual(c?.stackID, "stack-\(cluster.uuid.prefix(8))", label)
            let ngs = try await Self.nodegroups(store, cluster.uuid)
            XCTAssertEqual(Set(ngs.map(\.status)), [.createComplete], label)
            XCTAssertEqual(ngs.first { $0.isMaster }?.nodeAddresses, ["10.0.0.10"], label)
            XCTAssertEqual(ngs.first { !$0.isMaster }?.nodeAddresses, ["10.0.1.10", "10.0.1.11"], label)
            let invocations = await ledger.invocations(of: op.uuid)
            XCTAssertEqual(invocations, 1, label)
        }
    }

    func testCreateFailureSetsCreateFailedWithReason() async throws {
        try await TestDatabases.withEach { store, label in
            let ledger = DriverLedger()
            let template = try await ConductorFixtures.template(store)
            let (cluster, op) = try await ConductorFixtures.cluster(store, template: template)
            await ledger.script(cluster.uuid, .failPermanently("no capacity for 3 nodes"))
            try await Self.running([Self.runner(store, ledger)]) {
                let done = try await Self.eventually("create failed") { try await Self.finished(store, op) }
                XCTAssertEqual(done.state, .failed, label)
                XCTAssertEqual(done.lastError, "no capacity for 3 nodes", label)
            }
            let c = try await Self.cluster(store, cluster.uuid)
            XCTAssertEqual(c?.status, .createFailed, label)
            XCTAssertEqual(c?.statusReason, "no capacity for 3 nodes", label)
            let ngs = try await Self.nodegroups(store, cluster.uuid)
            XCTAssertEqual(Set(ngs.map(\.status)), [.createFailed], label)
            let invocations = await ledger.invocations(of: op.uuid)
            XCTAssertEqual(invocations, 1, label)
        }
    }

    func testDeleteRemovesClusterNodegroupsAndCertificates() async throws {
        try await TestDatabases.withEach { store, label in
            let ledger = DriverLedger()
            let template = try await ConductorFixtures.template(store)
            let (cluster, create) = try await ConductorFixtures.cluster(store, template: template)
            let delete = try await ConductorFixtures.operation(store, .clusterDelete, cluster: cluster.uuid, status: .deleteInProgress)
            await ledger.script(cluster.uuid, .succeed(polls: 2))
            try await Self.running([Self.runner(store, ledger)]) {
                let done = try await Self.eventually("delete finished") { try await Self.finished(store, delete) }
                XCTAssertEqual(done.state, .succeeded, label)
            }
            // The delete was already waiting when the create was observed: the create gave way.
            let created = try await Self.operation(store, create)
            XCTAssertEqual(created?.state, .failed, label)
            XCTAssertEqual(created?.lastError, OperationRunner.superseded, label)
            let c = try await Self.cluster(store, cluster.uuid)
            XCTAssertNil(c, label)
            let ngs = try await Self.nodegroups(store, cluster.uuid)
            XCTAssertEqual(ngs, [], label)
            let certs = try await store.read { try await $0.certificates(clusterUUID: cluster.uuid) }
            XCTAssertEqual(certs, [], label)
        }
    }

    func testUpdateAndResizeCompleteWithNodeCounts() async throws {
        try await TestDatabases.withEach { store, label in
            let ledger = DriverLedger()
            let template = try await ConductorFixtures.template(store)
            let (cluster, create) = try await ConductorFixtures.cluster(store, template: template, workers: 1)
            let worker = try await Self.nodegroups(store, cluster.uuid).first { !$0.isMaster }!
            try await Self.running([Self.runner(store, ledger)]) {
                try await Self.eventually("create finished") { try await Self.finished(store, create) }
                // PATCH node_count 1 → 3: the API already saved the new count.
                try await store.write { session in
                    var w = worker
                    w.nodeCount = 3
                    w.status = .createComplete
                    _ = try await session.update(w)
                }
                let update = try await ConductorFixtures.operation(
                    store, .clusterUpdate, cluster: cluster.uuid, nodegroup: worker.uuid,
                    parameters: ["node_count": .int(3), "previous_node_count": .int(1), "rollback": .bool(false)])
                let updated = try await Self.eventually("update finished") { try await Self.finished(store, update) }
                XCTAssertEqual(updated.state, .succeeded, label)
                let afterUpdate = try await Self.cluster(store, cluster.uuid)
                XCTAssertEqual(afterUpdate?.status, .updateComplete, label)
                let w3 = try await Self.nodegroups(store, cluster.uuid).first { !$0.isMaster }
                XCTAssertEqual(w3?.nodeCount, 3, label)
                XCTAssertEqual(w3?.nodeAddresses.count, 3, label)

                // Resize 3 → 2.
                try await store.write { session in
                    var w = w3!
                    w.nodeCount = 2
                    w.status = .updateInProgress
                    _ = try await session.update(w)
                }
                let resize = try await ConductorFixtures.operation(
                    store, .clusterResize, cluster: cluster.uuid, nodegroup: worker.uuid,
                    parameters: ["node_count": .int(2), "previous_node_count": .int(3), "nodes_to_remove": .array([])])
                let resized = try await Self.eventually("resize finished") { try await Self.finished(store, resize) }
                XCTAssertEqual(resized.state, .succeeded, label)
            }
            let c = try await Self.cluster(store, cluster.uuid)
            XCTAssertEqual(c?.status, .updateComplete, label)
            let w = try await Self.nodegroups(store, cluster.uuid).first { !$0.isMaster }
            XCTAssertEqual(w?.nodeCount, 2, label)
            XCTAssertEqual(w?.status, .updateComplete, label)
            XCTAssertEqual(w?.nodeAddresses, ["10.0.1.10", "10.0.1.11"], label)
        }
    }

    func testFailedResizeRestoresNodeCount() async throws {
        try await TestDatabases.withEach { store, label in
            let ledger = DriverLedger()
            let template = try await ConductorFixtures.template(store)
            let (cluster, create) = try await ConductorFixtures.cluster(store, template: template, workers: 2)
            let worker = try await Self.nodegroups(store, cluster.uuid).first { !$0.isMaster }!
            try await Self.running([Self.runner(store, ledger)]) {
                try await Self.eventually("create finished") { try await Self.finished(store, create) }
                await ledger.script(cluster.uuid, .failPermanently("quota exceeded for instances"))
                try await store.write { session in
                    var w = try await session.nodegroups(clusterUUID: cluster.uuid, matching: .uuid(worker.uuid)).first!
                    w.nodeCount = 5
                    w.status = .updateInProgress
                    _ = try await session.update(w)
                }
                let resize = try await ConductorFixtures.operation(
                    store, .clusterResize, cluster: cluster.uuid, nodegroup: worker.uuid,
                    parameters: ["node_count": .int(5), "previous_node_count": .int(2)])
                let done = try await Self.eventually("resize failed") { try await Self.finished(store, resize) }
                XCTAssertEqual(done.state, .failed, label)
            }
            let c = try await Self.cluster(store, cluster.uuid)
            XCTAssertEqual(c?.status, .updateFailed, label)
            XCTAssertEqual(c?.statusReason, "quota exceeded for instances", label)
            let w = try await Self.nodegroups(store, cluster.uuid).first { !$0.isMaster }
            XCTAssertEqual(w?.nodeCount, 2, label)
            XCTAssertEqual(w?.status, .updateFailed, label)
        }
    }

    func testTransientFailuresAreRetriedWithBackoff() async throws {
        try await TestDatabases.withEach { store, label in
            let ledger = DriverLedger()
            let template = try await ConductorFixtures.template(store)
            let (cluster, op) = try await ConductorFixtures.cluster(store, template: template)
            await ledger.script(cluster.uuid, .failTransiently(times: 2))
            try await Self.running([Self.runner(store, ledger)]) {
                // While it waits for its next attempt the cluster stays in progress and says why.
                let waiting = try await Self.eventually("retry shown") { () -> Cluster? in
                    let c = try await Self.cluster(store, cluster.uuid)
                    return c?.statusReason?.contains("Retrying in") == true ? c : nil
                }
                XCTAssertEqual(waiting.status, .createInProgress, label)
                XCTAssertEqual(waiting.statusReason?.hasPrefix("backend busy"), true, label)
                XCTAssertEqual(waiting.statusReason?.hasSuffix("(attempt 1 of 6).") == true
                               || waiting.statusReason?.hasSuffix("(attempt 2 of 6).") == true, true, waiting.statusReason ?? "")
                let done = try await Self.eventually("create finished") { try await Self.finished(store, op) }
                XCTAssertEqual(done.state, .succeeded, label)
                XCTAssertEqual(done.attempts, 3, label)
                XCTAssertEqual(done.lastError, nil, label)
            }
            let c = try await Self.cluster(store, cluster.uuid)
            XCTAssertEqual(c?.status, .createComplete, label)
            XCTAssertEqual(c?.statusReason?.contains("Retrying") ?? false, false, "the observation replaced the retry's reason")
            let invocations = await ledger.invocations(of: op.uuid)
            XCTAssertEqual(invocations, 3, label)
        }
    }

    func testTransientFailuresGiveUpAfterMaxAttempts() async throws {
        try await TestDatabases.withEach { store, label in
            let ledger = DriverLedger()
            let template = try await ConductorFixtures.template(store)
            let (cluster, op) = try await ConductorFixtures.cluster(store, template: template)
            await ledger.script(cluster.uuid, .failTransiently(times: 100))
            try await Self.running([Self.runner(store, ledger)]) {
                let done = try await Self.eventually("create failed") { try await Self.finished(store, op) }
                XCTAssertEqual(done.state, .failed, label)
                XCTAssertEqual(done.attempts, 6, label)
            }
            let c = try await Self.cluster(store, cluster.uuid)
            XCTAssertEqual(c?.status, .createFailed, label)
            XCTAssertEqual(c?.statusReason?.hasPrefix("backend busy"), true, label)
        }
    }

    func testOneActiveOperationPerCluster() async throws {
        try await TestDatabases.withEach { store, label in
            let ledger = DriverLedger()
            let template = try await ConductorFixtures.template(store)
            let (cluster, create) = try await ConductorFixtures.cluster(store, template: template)
            let (other, otherCreate) = try await ConductorFixtures.cluster(store, template: template)
            await ledger.script(cluster.uuid, .hang)
            let delete = try await store.write { session in
                var op = ClusterOperation(uuid: ConductorFixtures.uuid(), kind: .clusterDelete, resourceUUID: cluster.uuid)
                op.parameters = [:]
                return try await session.insert(op)
            }
            try await Self.running([Self.runner(store, ledger)]) {
                // The other cluster's work is not held up by the hanging one.
                try await Self.eventually("other cluster created") { try await Self.finished(store, otherCreate) }
                try await Self.eventually("create running") { try await Self.operation(store, create).flatMap { $0.state == .running ? $0 : nil } }
                let waiting = try await Self.operation(store, delete)
                XCTAssertEqual(waiting?.state, .pending, label)
                let deleteSteps = await ledger.invocations(of: delete.uuid)
                XCTAssertEqual(deleteSteps, 0, label)
                await ledger.release(cluster.uuid)
                try await Self.eventually("delete finished") { try await Self.finished(store, delete) }
            }
            let created = try await Self.operation(store, create)
            XCTAssertEqual(created?.state, .succeeded, label)
            let gone = try await Self.cluster(store, cluster.uuid)
            XCTAssertNil(gone, label)
            let kept = try await Self.cluster(store, other.uuid)
            XCTAssertEqual(kept?.status, .createComplete, label)
            let steps = await ledger.invocations.filter { $0.clusterID == cluster.uuid }.map(\.step)
            XCTAssertEqual(steps, ["create", "delete"], label)
        }
    }

    func testExpiredLeaseIsTakenOver() async throws {
        try await TestDatabases.withEach { store, label in
            let ledger = DriverLedger()
            let template = try await ConductorFixtures.template(store)
            let (cluster, op) = try await ConductorFixtures.cluster(store, template: template)
            // A runner leased the operation and died without finishing it.
            let leased = try await store.write { session in
                let now = Date()
                return try await session.leaseOperation(owner: "dead-runner", until: now + 1, now: now,
                                                        drivers: [ScriptedDriver(ledger: ledger).descriptor])
            }
            XCTAssertEqual(leased?.uuid, op.uuid, label)
            XCTAssertEqual(leased?.state, .running, label)
            XCTAssertEqual(leased?.leaseOwner, "dead-runner", label)
            try await Self.running([Self.runner(store, ledger, name: "b")]) {
                let done = try await Self.eventually("create finished") { try await Self.finished(store, op) }
                XCTAssertEqual(done.state, .succeeded, label)
                XCTAssertEqual(done.attempts, 2, label)
            }
            // The dead runner's late renewal and completion are refused.
            let renewed = try await store.write { try await $0.renewLease(operationUUID: op.uuid, owner: "dead-runner", until: Date() + 60) }
            XCTAssertFalse(renewed, label)
            let c = try await Self.cluster(store, cluster.uuid)
            XCTAssertEqual(c?.status, .createComplete, label)
            let steps = await ledger.steps(runner: "b")
            XCTAssertEqual(steps, 1, label)
        }
    }

    func testLeaseIsRenewedWhileAStepRuns() async throws {
        try await TestDatabases.withEach { store, label in
            let ledger = DriverLedger()
            let template = try await ConductorFixtures.template(store)
            let (cluster, op) = try await ConductorFixtures.cluster(store, template: template)
            await ledger.script(cluster.uuid, .hang)
            let a = Self.runner(store, ledger, name: "a")
            let b = Self.runner(store, ledger, name: "b")
            try await Self.running([a, b]) {
                let running = try await Self.eventually("create running") {
                    try await Self.operation(store, op).flatMap { $0.state == .running ? $0 : nil }
                }
                // Several lease lengths pass: the lease moves forward and nobody takes over.
                let firstExpiry = running.leaseExpiresAt!
                try await Self.eventually("lease renewed") {
                    try await Self.operation(store, op).flatMap { ($0.leaseExpiresAt ?? .distantPast) > firstExpiry + 2 ? $0 : nil }
                }
                await ledger.release(cluster.uuid)
                try await Self.eventually("create finished") { try await Self.finished(store, op) }
            }
            let invocations = await ledger.invocations(of: op.uuid)
            XCTAssertEqual(invocations, 1, label)
        }
    }

    func testOperationsOfDriversWithoutImplementationStayPending() async throws {
        try await TestDatabases.withEach { store, label in
            let ledger = DriverLedger()
            let heat = try await ConductorFixtures.template(store, driver: "heat_fedora_coreos", os: "fedora-coreos")
            let (untouched, pending) = try await ConductorFixtures.cluster(store, template: heat)
            // A template without `driver` is matched by its (server type, distro, COE) tuple.
            let byTuple = try await ConductorFixtures.template(store, driver: nil)
            let (matched, create) = try await ConductorFixtures.cluster(store, template: byTuple)
            try await Self.running([Self.runner(store, ledger)]) {
                try await Self.eventually("tuple-matched create finished") { try await Self.finished(store, create) }
            }
            let op = try await Self.operation(store, pending)
            XCTAssertEqual(op?.state, .pending, label)
            XCTAssertEqual(op?.attempts, 0, label)
            XCTAssertNil(op?.leaseOwner, label)
            let c = try await Self.cluster(store, untouched.uuid)
            XCTAssertEqual(c?.status, .createInProgress, label)
            let m = try await Self.cluster(store, matched.uuid)
            XCTAssertEqual(m?.status, .createComplete, label)
        }
    }

    func testRunnerWithoutDriversLeasesNothing() async throws {
        try await TestDatabases.withSQLite { store in
            let template = try await ConductorFixtures.template(store)
            let (cluster, op) = try await ConductorFixtures.cluster(store, template: template)
            let runner = OperationRunner(store: store, drivers: .empty, configuration: Self.configuration(owner: "idle"), logger: Self.logger)
            try await Self.running([runner]) { try await Task.sleep(for: .milliseconds(300)) }
            let o = try await Self.operation(store, op)
            XCTAssertEqual(o?.state, .pending)
            let c = try await Self.cluster(store, cluster.uuid)
            XCTAssertEqual(c?.status, .createInProgress)
        }
    }

    // MARK: - Several runners, one PostgreSQL database

    /// Two runners, each with its own store (connection pool) on one database, share the work
    /// and every operation's step runs exactly once.
    func testTwoRunnersShareWorkAndRunEachOperationOnce() async throws {
        guard let admin = TestDatabases.postgresAdminURL else {
            throw XCTSkip("\(TestDatabases.postgresURLVariable) is not set")
        }
        try await TestDatabases.withPostgresDatabase(adminURL: admin) { storeA, url in
            let storeB = try SQLStore.postgres(url: url, logger: TestDatabases.logger)
            try await withThrowingTaskGroup(of: Void.self) { pool in
                pool.addTask { try? await storeB.run() }
                defer { pool.cancelAll() }
                let ledger = DriverLedger()
                let template = try await ConductorFixtures.template(storeA)
                var operations: [ClusterOperation] = []
                for _ in 0..<24 {
                    let (cluster, op) = try await ConductorFixtures.cluster(storeA, template: template)
                    await ledger.script(cluster.uuid, .succeed(polls: 3))
                    operations.append(op)
                }
                let ops = operations
                try await Self.running([Self.runner(storeA, ledger, name: "a"), Self.runner(storeB, ledger, name: "b")]) {
                    for op in ops {
                        let done = try await Self.eventually("operation finished") { try await Self.finished(storeA, op) }
                        XCTAssertEqual(done.state, .succeeded)
                        XCTAssertEqual(done.attempts, 1)
                    }
                }
                for op in ops {
                    let n = await ledger.invocations(of: op.uuid)
                    XCTAssertEqual(n, 1, "operation \(op.uuid) ran \(n) times")
                }
                let a = await ledger.steps(runner: "a")
                let b = await ledger.steps(runner: "b")
                XCTAssertEqual(a + b, ops.count)
                XCTAssertGreaterThan(a, 0)
                XCTAssertGreaterThan(b, 0)
            }
        }
    }

    // MARK: - Delete during create, create timeout

    /// A delete accepted while a create is still being observed ends the create ("superseded")
    /// instead of waiting for it; the cluster stays DELETE_IN_PROGRESS and the delete runs next.
    func testDeleteSupersedesACreateStillInProgress() async throws {
        try await TestDatabases.withEach { store, label in
            let ledger = DriverLedger()
            let template = try await ConductorFixtures.template(store)
            let (cluster, create) = try await ConductorFixtures.cluster(store, template: template)
            await ledger.script(cluster.uuid, .succeed(polls: 1_000_000))
            try await Self.running([Self.runner(store, ledger)]) {
                try await Self.eventually("create observed") {
                    await ledger.invocations(of: create.uuid) == 1 ? true : nil
                }
                await ledger.script(cluster.uuid, .succeed(polls: 2))
                let delete = try await ConductorFixtures.operation(store, .clusterDelete, cluster: cluster.uuid, status: .deleteInProgress)
                let superseded = try await Self.eventually("create superseded") { try await Self.finished(store, create) }
                XCTAssertEqual(superseded.state, .failed, label)
                XCTAssertEqual(superseded.lastError, "Superseded by a request to delete the cluster.", label)
                // Until the delete finishes, nothing writes the create's status back.
                if let c = try await Self.cluster(store, cluster.uuid) {
                    XCTAssertEqual(c.status, .deleteInProgress, label)
                }
                let deleted = try await Self.eventually("delete finished") { try await Self.finished(store, delete) }
                XCTAssertEqual(deleted.state, .succeeded, label)
            }
            let gone = try await Self.cluster(store, cluster.uuid)
            XCTAssertNil(gone, label)
            let steps = await ledger.invocations.filter { $0.clusterID == cluster.uuid }.map(\.step)
            XCTAssertEqual(steps, ["create", "delete"], label)
        }
    }

    /// A create that has not settled `create_timeout` minutes after it was accepted fails.
    func testCreateDeadlineFollowsCreateTimeout() {
        var cluster = Cluster(uuid: "c", clusterTemplateID: "t")
        cluster.createTimeout = 30
        let spec = ClusterSpec(cluster: cluster, template: ClusterTemplate(uuid: "t", coe: "swarm-mode"), nodegroups: [])
        var op = ClusterOperation(uuid: "o", kind: .clusterCreate, resourceUUID: "c")
        let accepted = Date(timeIntervalSince1970: 1_000_000)
        op.createdAt = accepted
        XCTAssertEqual(OperationRunner.deadline(of: op, spec), accepted + 1800, "the cluster's create_timeout")
        op.parameters = ["create_timeout": 5]
        XCTAssertEqual(OperationRunner.deadline(of: op, spec), accepted + 300, "the request's create_timeout wins")
        op.parameters = ["create_timeout": 0]
        XCTAssertNil(OperationRunner.deadline(of: op, spec), "0: no limit")
        op.parameters = [:]
        op.kind = .clusterResize
        XCTAssertNil(OperationRunner.deadline(of: op, spec), "only creates time out")
    }

    /// A create whose deadline passed while it was observed fails with CREATE_FAILED and says why.
    func testCreatePastItsDeadlineFails() async throws {
        try await TestDatabases.withEach { store, label in
            let ledger = DriverLedger()
            let template = try await ConductorFixtures.template(store)
            let (cluster, create) = try await ConductorFixtures.cluster(store, template: template)
            await ledger.script(cluster.uuid, .succeed(polls: 1_000_000))
            var runner = Self.runner(store, ledger)
            runner.clock = { Date() + 3600 * 2 }
            try await Self.running([runner]) {
                let failed = try await Self.eventually("create timed out") { try await Self.finished(store, create) }
                XCTAssertEqual(failed.state, .failed, label)
            }
            let c = try await Self.cluster(store, cluster.uuid)
            XCTAssertEqual(c?.status, .createFailed, label)
            XCTAssertEqual(c?.statusReason, "Cluster creation did not complete within 60 minutes (create_timeout).", label)
        }
    }
}
