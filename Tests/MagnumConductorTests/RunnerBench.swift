import Foundation
import Logging
import MagnumConductor
import MagnumCore
import MagnumDrivers
import MagnumStore
import MagnumTestSupport
import XCTest

/// Numbers for docs/benchmarks.md — printed, never asserted. Runs only with
/// `MAGNUM_RUNNER_BENCH=1 swift test -c release --disable-swift-testing --filter RunnerBench`
/// (PostgreSQL too when `MAGNUM_TEST_DATABASE_URL` is set).
final class RunnerBench: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["MAGNUM_RUNNER_BENCH"] == "1", "set MAGNUM_RUNNER_BENCH=1 to run the runner benchmark")
    }

    /// When each cluster's infrastructure became ready, and when `observe` first reported it.
    actor Clock {
        private var settleAt: [String: ContinuousClock.Instant] = [:]
        private(set) var ready: [String: ContinuousClock.Instant] = [:]
        private(set) var observed: [String: ContinuousClock.Instant] = [:]
        let settle: ClosedRange<Int>

        init(settleMilliseconds: ClosedRange<Int>) { settle = settleMilliseconds }

        func started(_ cluster: String) {
            if settleAt[cluster] == nil { settleAt[cluster] = .now + .milliseconds(Int.random(in: settle)) }
        }

        /// True once the cluster is ready; records the instants.
        func look(_ cluster: String) -> Bool {
            let now = ContinuousClock.now
            guard let at = settleAt[cluster], at <= now else { return false }
            if ready[cluster] == nil { ready[cluster] = at }
            if observed[cluster] == nil { observed[cluster] = now }
            return true
        }
    }

    /// A driver that does nothing: its steps return at once, and `observe` reports the cluster
    /// settled once its (possibly zero) settle time passed.
    struct BenchDriver: ClusterDriver {
        let clock: Clock
        var name: String { "bench" }
        var provides: [DriverDescriptor.Provision] { [.init(serverType: "vm", os: "bench-os", coe: "kubernetes")] }
        var capabilities: Set<DriverCapability> { [.create, .update, .resize, .delete] }
        func createCluster(_ spec: ClusterSpec, timeoutMinutes: Int?, context: DriverContext) async throws { await clock.started(spec.cluster.uuid) }
        func updateCluster(_ spec: ClusterSpec, nodegroup: NodeGroup, nodeCount: Int, rollback: Bool, context: DriverContext) async throws {}
        func resizeCluster(_ spec: ClusterSpec, nodegroup: NodeGroup, nodeCount: Int, nodesToRemove: [String], context: DriverContext) async throws {}
        func deleteCluster(_ spec: ClusterSpec, context: DriverContext) async throws {}
        func createNodegroup(_ spec: ClusterSpec, nodegroup: NodeGroup, context: DriverContext) async throws {}
        func updateNodegroup(_ spec: ClusterSpec, nodegroup: NodeGroup, context: DriverContext) async throws {}
        func deleteNodegroup(_ spec: ClusterSpec, nodegroup: NodeGroup, context: DriverContext) async throws {}
        func observe(_ spec: ClusterSpec, context: DriverContext) async throws -> ClusterObservation {
            let done = await clock.look(spec.cluster.uuid)
            return ClusterObservation(status: done ? .createComplete : .createInProgress)
        }
    }

    static let logger: Logger = {
        var l = Logger(label: "bench.runner")
        l.logLevel = .critical
        return l
    }()

    /// Runs `runner` in a service group while `body` runs.
    static func running<T: Sendable>(_ runner: OperationRunner, _ body: () async throws -> T) async throws -> T {
        try await OperationRunnerTests.running([runner], body)
    }

    /// Operations per second: 500 creates recorded as the API records them, then one runner
    /// with the default configuration (16 at once) and a driver that settles at once.
    func testOperationsPerSecondWithANoOpDriver() async throws {
        try await TestDatabases.withEach { store, label in
            let count = 500
            let template = try await ConductorFixtures.template(store, driver: "bench")
            var operations: [ClusterOperation] = []
            for _ in 0..<count { operations.append(try await ConductorFixtures.cluster(store, template: template).1) }
            let recorded = operations
            let runner = OperationRunner(store: store, drivers: DriverSet([BenchDriver(clock: Clock(settleMilliseconds: 0...0))]),
                                         configuration: .init(owner: "bench"), logger: Self.logger)
            let start = ContinuousClock.now
            let elapsed = try await Self.running(runner) { () -> Duration in
                var next = 0
                while next < recorded.count {
                    let uuid = recorded[next].uuid
                    if let op = try await store.read({ try await $0.operation(uuid: uuid) }), op.state == .succeeded {
                        next += 1
                        continue
                    }
                    try await Task.sleep(for: .milliseconds(5))
                }
                return ContinuousClock.now - start
            }
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print(String(format: "RunnerBench %@: %d creates through the runner (no-op driver, 16 at once) in %.2f s: %.0f operations/s",
                         label, count, seconds, Double(count) / seconds))
        }
    }

    /// Status freshness: 50 clusters created through the API; the driver's infrastructure becomes
    /// ready 50–250 ms after the step; a client polls `GET /v1/clusters/{uuid}` every 2 ms.
    /// Reported: observation → API-visible (the runner's write) and ready → API-visible (adds the
    /// wait for the next observation, `observeInterval` 500 ms by default).
    func testStatusFreshness() async throws {
        try await TestDatabases.withEach { store, label in
            let clock = Clock(settleMilliseconds: 50...250)
            let driver = BenchDriver(clock: clock)
            var config = APIConfiguration()
            config.maxClustersPerProject = 1000
            let h = try await APIHarness.make(store: store, label: label, config: config,
                                              drivers: DriverRegistry(drivers: DriverRegistry.builtIn.drivers + [driver.descriptor]))
            let template = try await h.createTemplate(["driver": "bench"])["uuid"]?.stringValue ?? ""
            let runner = OperationRunner(store: store, drivers: DriverSet([driver]), configuration: .init(owner: "bench"), logger: Self.logger)
            var visible: [String: ContinuousClock.Instant] = [:]
            try await Self.running(runner) {
                for _ in 0..<10 {
                    let batch = try await withThrowingTaskGroup(of: (String, ContinuousClock.Instant).self) { group in
                        for _ in 0..<5 {
                            group.addTask {
                                let uuid = try await h.createCluster(template: template)
                                while true {
                                    let r = try await h.request(.get, "/v1/clusters/\(uuid)")
                                    if r.json?["status"]?.stringValue == "CREATE_COMPLETE" { return (uuid, ContinuousClock.now) }
                                    try await Task.sleep(for: .milliseconds(2))
                                }
                            }
                        }
                        var out: [(String, ContinuousClock.Instant)] = []
                        for try await seen in group { out.append(seen) }
                        return out
                    }
                    for (uuid, at) in batch { visible[uuid] = at }
                }
            }
            let observed = await clock.observed
            let ready = await clock.ready
            func percentiles(_ from: [String: ContinuousClock.Instant]) -> String {
                let ms = visible.compactMap { uuid, at in from[uuid].map { (at - $0) } }
                    .map { Double($0.components.seconds) * 1000 + Double($0.components.attoseconds) / 1e15 }.sorted()
                guard !ms.isEmpty else { return "no samples" }
                func p(_ q: Double) -> Double { ms[min(ms.count - 1, Int((Double(ms.count) * q).rounded(.up)) - 1)] }
                return String(format: "p50 %.1f ms, p95 %.1f ms, max %.1f ms (n=%d)", p(0.5), p(0.95), ms.last!, ms.count)
            }
            print("RunnerBench \(label): observation → API-visible: \(percentiles(observed))")
            print("RunnerBench \(label): infrastructure ready → API-visible (observe every 500 ms): \(percentiles(ready))")
        }
    }
}
