import Foundation
import MagnumConductor
import MagnumCore
import MagnumStore
import MagnumTestSupport
import XCTest

/// Real conductor processes (`magnum-test-conductor`: the production assembly with the
/// journaling test driver) on one PostgreSQL database, driven by real API requests (the
/// in-process API over the same database): SIGKILLed at random points and restarted, or sharing
/// the work of two. Needs `MAGNUM_TEST_DATABASE_URL` (scripts/test.sh sets it).
final class ConductorCrashTests: XCTestCase {
    /// The journaling driver as the API's registry knows it (the fixture runs it).
    static let journalDriver = DriverDescriptor(name: "journal", provides: [.init(serverType: "vm", os: "journal-os", coe: "kubernetes")])
    static let registry = DriverRegistry(drivers: DriverRegistry.builtIn.drivers + [journalDriver])

    static func adminURL() throws -> String {
        guard let url = TestDatabases.postgresAdminURL else {
            throw XCTSkip("\(TestDatabases.postgresURLVariable) is not set: the conductor crash tests need PostgreSQL (scripts/postgres.sh provides one)")
        }
        return url
    }

    /// A harness on `store` with the journaling driver installed and room for many clusters.
    static func harness(_ store: any Store) async throws -> APIHarness {
        var config = APIConfiguration()
        config.maxClustersPerProject = 1000
        return try await APIHarness.make(store: store, label: "postgres", config: config, drivers: registry)
    }

    /// Runs `body` with a fresh database, its harness, its tables and a fleet, which is killed
    /// afterwards whatever happened (the logs' tails are printed when the test failed).
    func withFleet(settings: [String: String], _ body: @escaping @Sendable (APIHarness, FixtureTables, ConductorFleet) async throws -> Void) async throws {
        let admin = try Self.adminURL()
        let binary = try ConductorFleet.executable()
        try await TestDatabases.withPostgresDatabase(adminURL: admin) { store, url in
            let h = try await Self.harness(store)
            let fleet = try ConductorFleet(binary: binary, databaseURL: url, settings: settings)
            let failuresBefore = self.testRun?.failureCount ?? 0
            let outcome: Result<Void, any Error>
            do {
                try await FixtureTables.with(url: url) { tables in try await body(h, tables, fleet) }
                outcome = .success(())
            } catch {
                outcome = .failure(error)
            }
            fleet.killAll()
            if case .failure = outcome { print(fleet.logTails()) } else if (self.testRun?.failureCount ?? 0) > failuresBefore { print(fleet.logTails()) }
            fleet.removeLogs()
            try outcome.get()
        }
    }

    /// Polls `probe` until it returns a value; fails after `timeout` (a bound, not a timing assertion).
    @discardableResult
    static func eventually<T: Sendable>(_ what: String, timeout: Duration = .seconds(60), _ probe: () async throws -> T?) async throws -> T {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if let value = try await probe() { return value }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTFail("timed out waiting for \(what)")
        throw MagnumError(.internal, "timed out waiting for \(what)")
    }

    /// Waits until every conductor in the fleet reported itself in `magnum_service`.
    static func waitForConductors(_ h: APIHarness, _ fleet: ConductorFleet) async throws {
        try await eventually("conductors registered", timeout: .seconds(30)) { () -> Bool? in
            let hosts = Set(try await h.store.read { try await $0.services() }.compactMap(\.host))
            return fleet.pids.values.allSatisfy { hosts.contains("test-conductor-\($0)") } ? true : nil
        }
    }

    /// The pid in a runner's lease owner name (`host/pid/suffix`).
    static func pid(ofOwner owner: String) -> Int32? {
        let parts = owner.split(separator: "/")
        return parts.count >= 3 ? Int32(parts[parts.count - 2]) : nil
    }

    static func createCluster(_ h: APIHarness, template: String, name: String, workers: Int) async throws -> String {
        try await h.createCluster(template: template, ["name": .string(name), "node_count": .int(workers)])
    }

    // MARK: - SIGKILL

    /// What the test asks of one cluster, after its create.
    enum Change: Sendable, Equatable {
        case resize(Int)
        case patchNodeCount(Int)
        case delete
    }

    /// Three conductors, SIGKILLed at random points (mostly one holding a lease) and restarted
    /// for about 12 s while clusters are created, resized, updated and deleted through the API:
    /// afterwards every operation succeeded, every cluster has the node count of its last change
    /// or is gone from the database and the infrastructure, nothing is duplicated, and no step
    /// changed the infrastructure twice — re-runs after a takeover found nothing to do.
    func testSIGKILLedConductorsLoseAndDuplicateNothing() async throws {
        try await withFleet(settings: ["MAGNUM_TEST_CONDUCTOR_LEASE_SECONDS": "2"]) { h, tables, fleet in
            let slots = 0..<3
            for slot in slots { try fleet.start(slot: slot) }
            try await Self.waitForConductors(h, fleet)
            let template = try await h.createTemplate(["name": "journal", "driver": "journal"])["uuid"]?.stringValue ?? ""

            // The plan: 28 clusters, four shapes.
            let count = 28
            var plans: [[Change]] = []
            for i in 0..<count {
                switch i % 4 {
                case 0: plans.append([.resize(3), .patchNodeCount(1)])
                case 1: plans.append([.resize(4), .delete])
                case 2: plans.append([.delete])  // deleted while still being created
                default: plans.append([.resize(5)])
                }
            }
            let plan = plans
            let killUntil = ContinuousClock.now + .seconds(12)

            // Killer: every 0.3–1.5 s SIGKILL a conductor — three times in four one holding a
            // lease — and restart it at once.
            async let killing: Void = {
                while ContinuousClock.now < killUntil {
                    try await Task.sleep(for: .milliseconds(Int.random(in: 300...1500)))
                    let pids = fleet.pids
                    let leased = Set(try await tables.leaseOwners().compactMap(Self.pid(ofOwner:)))
                    let holding = pids.filter { leased.contains($0.value) }.map(\.key)
                    let slot = (Int.random(in: 0..<4) < 3 ? holding.randomElement() : nil) ?? slots.randomElement()!
                    await fleet.kill(slot: slot)
                    try fleet.start(slot: slot)
                }
            }()

            // Client: creates spread over the first 8 s; each further change as soon as the
            // cluster settled from the previous one.
            var uuids: [String] = []
            var next = Array(repeating: 0, count: count)
            var created = 0
            let started = ContinuousClock.now
            while created < count || zip(next, plan).contains(where: { $0 < $1.count }) {
                let due = min(count, Int(Double((ContinuousClock.now - started).components.seconds) * 3.5) + 4)
                while created < due {
                    let i = created
                    uuids.append(try await Self.createCluster(h, template: template, name: "crash-\(i)", workers: 2))
                    created += 1
                    if plan[i].first == .delete {
                        let d = try await h.request(.delete, "/v1/clusters/\(uuids[i])")
                        XCTAssertEqual(d.status, 204, d.text)
                        next[i] = 1
                    }
                }
                for i in 0..<created where next[i] < plan[i].count {
                    let shown = try await h.request(.get, "/v1/clusters/\(uuids[i])", version: "latest")
                    guard let status = shown.json?["status"]?.stringValue, ["CREATE_COMPLETE", "UPDATE_COMPLETE"].contains(status) else {
                        continue
                    }
                    let r: APIHarness.Reply
                    switch plan[i][next[i]] {
                    case .resize(let n):
                        r = try await h.request(.post, "/v1/clusters/\(uuids[i])/actions/resize", version: "latest", body: ["node_count": .int(n)])
                        XCTAssertEqual(r.status, 202, r.text)
                    case .patchNodeCount(let n):
                        r = try await h.request(.patch, "/v1/clusters/\(uuids[i])", version: "latest",
                                                body: [["op": "replace", "path": "/node_count", "value": .int(n)]])
                        XCTAssertEqual(r.status, 202, r.text)
                    case .delete:
                        r = try await h.request(.delete, "/v1/clusters/\(uuids[i])")
                        XCTAssertEqual(r.status, 204, r.text)
                    }
                    next[i] += 1
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            try await killing
            let kills = fleet.kills

            // Let the survivors finish everything.
            try await Self.eventually("every operation finished") { () -> Bool? in
                let ops = try await tables.operations()
                return ops.allSatisfy { $0.state == "succeeded" || $0.state == "failed" } ? true : nil
            }
            // SIGTERM once the restarted ones run their service group (a process signalled
            // before it installed its handlers just dies of the signal).
            try await Self.waitForConductors(h, fleet)
            let endings = await fleet.terminateAll()
            XCTAssertEqual(Set(endings.values), ["exit 0"], "conductors exit cleanly on SIGTERM: \(endings)")

            // Every operation ran once to success, in the expected kinds per cluster — except a
            // create still in progress when its cluster's delete arrived, which gives way to it.
            let ops = try await tables.operations()
            let deletedEarly = Set(uuids.enumerated().filter { plan[$0.offset].first == .delete }.map(\.element))
            let unexpected = ops.filter { op in
                op.state != "succeeded"
                    && !(op.kind == "cluster_create" && deletedEarly.contains(op.cluster) && op.error == OperationRunner.superseded)
            }
            XCTAssertEqual(unexpected.map { "\($0.kind) \($0.state) \($0.error ?? "")" }, [])
            for (i, uuid) in uuids.enumerated() {
                let kinds = ops.filter { $0.cluster == uuid }.map(\.kind)
                let expected = ["cluster_create"] + plan[i].map { change -> String in
                    switch change {
                    case .resize: "cluster_resize"
                    case .patchNodeCount: "cluster_update"
                    case .delete: "cluster_delete"
                    }
                }
                XCTAssertEqual(kinds, expected, "cluster \(i)")
            }

            // Survivors have the count of their last change; deleted ones are gone everywhere.
            var expected: [String: Int] = [:]
            for (i, uuid) in uuids.enumerated() where !plan[i].contains(.delete) {
                expected[uuid] = plan[i].compactMap { change -> Int? in
                    switch change {
                    case .resize(let n), .patchNodeCount(let n): n
                    case .delete: nil
                    }
                }.last ?? 2
            }
            let clusters = try await h.store.read { try await $0.clusters(.everything, sort: MagnumStore.SortOrder()) }
            XCTAssertEqual(clusters.count, Set(clusters.map(\.uuid)).count, "no duplicated cluster rows")
            XCTAssertEqual(Set(clusters.map(\.uuid)), Set(expected.keys), "exactly the clusters not deleted remain")
            for cluster in clusters {
                XCTAssertEqual(cluster.status, .updateComplete, cluster.uuid)
                let worker = try await h.store.read { try await $0.nodegroups(clusterUUID: cluster.uuid, role: nil, sort: MagnumStore.SortOrder()) }
                    .first { !$0.isMaster }
                XCTAssertEqual(worker?.nodeCount, expected[cluster.uuid], cluster.uuid)
                XCTAssertEqual(worker?.nodeAddresses.count, expected[cluster.uuid], cluster.uuid)
                XCTAssertEqual(worker?.status, .updateComplete, cluster.uuid)
            }
            let listed = try await h.request(.get, "/v1/clusters").json?["clusters"]?.arrayValue?.compactMap { $0["uuid"]?.stringValue } ?? []
            XCTAssertEqual(Set(listed), Set(expected.keys))
            let infrastructure = try await tables.infrastructure()
            XCTAssertEqual(infrastructure, expected, "the infrastructure is exactly the surviving clusters, at their counts")

            // The journal: each operation changed the infrastructure exactly once; creates once
            // per cluster; re-runs (after takeovers) changed nothing.
            let journal = try await tables.journal()
            for op in ops {
                let entries = journal.filter { $0.operation == op.uuid }
                XCTAssertEqual(entries.filter(\.changed).count, 1, "\(op.kind) \(op.uuid): \(entries)")
            }
            for uuid in uuids {
                XCTAssertEqual(journal.filter { $0.cluster == uuid && $0.step == "create" && $0.changed }.count, 1, "creates of \(uuid)")
            }
            let reruns = journal.filter { !$0.changed }.count
            let takeovers = ops.filter { $0.attempts > 1 }.count
            let crossProcess = Set(journal.map(\.operation)).filter { op in Set(journal.filter { $0.operation == op }.map(\.pid)).count > 1 }.count
            print("ConductorCrashTests: \(ops.count) operations, \(kills) SIGKILLs, \(takeovers) operations leased again, \(reruns) idempotent step re-runs, \(crossProcess) operations stepped by two processes")
            XCTAssertGreaterThanOrEqual(kills, 5, "the killer ran")
            XCTAssertGreaterThan(takeovers, 0, "some operation was taken over after a SIGKILL, or the test proved nothing")
        }
    }

    // MARK: - Two conductors

    /// Two conductor processes on one database split 60 creates between them; each step runs
    /// exactly once and every operation succeeds on its first lease.
    func testTwoConductorProcessesShareTheWorkAndRunEachOperationOnce() async throws {
        try await withFleet(settings: ["MAGNUM_TEST_CONDUCTOR_LEASE_SECONDS": "15", "MAGNUM_TEST_CONDUCTOR_STEP_MS": "20-120",
                                       "MAGNUM_TEST_CONDUCTOR_SETTLE_MS": "0-100"]) { h, tables, fleet in
            try fleet.start(slot: 0)
            try fleet.start(slot: 1)
            try await Self.waitForConductors(h, fleet)
            let pids = Set(fleet.pids.values.map(Int.init))
            let template = try await h.createTemplate(["name": "journal", "driver": "journal"])["uuid"]?.stringValue ?? ""
            let count = 60
            let uuids = try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<count {
                    group.addTask { try await Self.createCluster(h, template: template, name: "pair-\(i)", workers: 1 + i % 3) }
                }
                var out: [String] = []
                for try await uuid in group { out.append(uuid) }
                return out
            }
            try await Self.eventually("every create finished") { () -> Bool? in
                let ops = try await tables.operations()
                return ops.count == count && ops.allSatisfy { $0.state == "succeeded" || $0.state == "failed" } ? true : nil
            }
            let endings = await fleet.terminateAll()
            XCTAssertEqual(Set(endings.values), ["exit 0"], "conductors exit cleanly on SIGTERM: \(endings)")

            let ops = try await tables.operations()
            XCTAssertEqual(ops.count, count)
            XCTAssertEqual(Set(ops.map(\.state)), ["succeeded"])
            XCTAssertEqual(Set(ops.map(\.attempts)), [1], "each operation leased once")
            let journal = try await tables.journal()
            XCTAssertEqual(journal.count, count, "each operation's step ran exactly once")
            XCTAssertEqual(Set(journal.map(\.operation)), Set(ops.map(\.uuid)))
            XCTAssertTrue(journal.allSatisfy(\.changed))
            let byProcess = Dictionary(grouping: journal, by: \.pid).mapValues(\.count)
            XCTAssertEqual(Set(byProcess.keys), pids, "both processes ran operations: \(byProcess)")
            print("ConductorCrashTests: two conductors split \(count) creates \(byProcess.values.sorted())")
            let infrastructure = try await tables.infrastructure()
            XCTAssertEqual(Set(infrastructure.keys), Set(uuids))
            let clusters = try await h.store.read { try await $0.clusters(.everything, sort: MagnumStore.SortOrder()) }
            XCTAssertEqual(Set(clusters.map(\.status)), [.createComplete])
            for cluster in clusters {
                let worker = try await h.store.read { try await $0.nodegroups(clusterUUID: cluster.uuid, role: nil, sort: MagnumStore.SortOrder()) }
                    .first { !$0.isMaster }
                XCTAssertEqual(worker?.nodeCount, infrastructure[cluster.uuid], cluster.uuid)
            }
        }
    }
}
