import Foundation
import Logging
import MagnumConductor
import MagnumCore
import MagnumDrivers
import MagnumStore
import MagnumTestSupport
import XCTest

/// How a scripted driver's step behaves for one cluster.
enum StepScript: Sendable {
    /// The step succeeds; the cluster settles after `polls` in-progress observations.
    case succeed(polls: Int = 0)
    /// The step throws a permanent error with this message.
    case failPermanently(String)
    /// The step throws `.unavailable` this many times, then succeeds.
    case failTransiently(times: Int)
    /// The step waits until the test releases the cluster (or the task is cancelled).
    case hang
}

/// The state the scripted driver shares with a test: scripts per cluster, what it "built",
/// and every step invocation.
actor DriverLedger {
    struct Invocation: Sendable, Hashable {
        var operationID: String
        var clusterID: String
        var step: String
        var runner: String
    }

    private var scripts: [String: StepScript] = [:]
    private var transientLeft: [String: Int] = [:]
    private var released: Set<String> = []
    private(set) var invocations: [Invocation] = []
    /// The infrastructure per cluster: status, pending in-progress polls, node counts.
    private var built: [String: (status: ClusterStatus, polls: Int, counts: [String: Int])] = [:]

    func script(_ cluster: String, _ script: StepScript) {
        scripts[cluster] = script
        if case .failTransiently(let n) = script { transientLeft[cluster] = n }
    }

    func release(_ cluster: String) { released.insert(cluster) }

    func invocations(of operation: String) -> Int { invocations.filter { $0.operationID == operation }.count }
    func steps(runner: String) -> Int { invocations.filter { $0.runner == runner }.count }

    /// Records an invocation and returns what the step should do.
    func begin(_ step: String, cluster: String, operation: String, runner: String) throws -> StepScript {
        invocations.append(Invocation(operationID: operation, clusterID: cluster, step: step, runner: runner))
        let script = scripts[cluster] ?? .succeed()
        switch script {
        case .failTransiently:
            if let left = transientLeft[cluster], left > 0 {
                transientLeft[cluster] = left - 1
                throw MagnumError(.unavailable, "backend busy (\(left) left)")
            }
            return .succeed()
        case .failPermanently(let message):
            throw MagnumError(.invalid, message)
        default:
            return script
        }
    }

    func isReleased(_ cluster: String) -> Bool { released.contains(cluster) }

    /// What the driver's health monitor reports per cluster.
    private var health: [String: (status: HealthStatus, reason: [String: String])] = [:]

    func setHealth(_ cluster: String, _ status: HealthStatus, _ reason: [String: String]) { health[cluster] = (status, reason) }

    func health(_ cluster: String) -> (status: HealthStatus, reason: [String: String])? { health[cluster] }

    /// Starts a change whose result is `status`, settling after `polls` observations.
    func build(_ cluster: String, status: ClusterStatus, polls: Int, counts: [String: Int] = [:]) {
        var entry = built[cluster] ?? (status, 0, [:])
        entry.status = status
        entry.polls = polls
        entry.counts.merge(counts) { _, new in new }
        built[cluster] = entry
    }

    /// One observation: in progress while polls remain, then the settled status.
    func observe(_ cluster: String) -> (status: ClusterStatus, settled: Bool, counts: [String: Int])? {
        guard var entry = built[cluster] else { return nil }
        if entry.polls > 0 {
            entry.polls -= 1
            built[cluster] = entry
            return (entry.status, false, entry.counts)
        }
        return (entry.status, true, entry.counts)
    }
}

/// A test-only driver: steps follow the ledger's script; observe reports what steps "built".
struct ScriptedDriver: ClusterDriver {
    static let driverName = "scripted"
    let ledger: DriverLedger
    /// Which runner this instance belongs to (tests of several runners tell them apart).
    var runner = "a"

    var name: String { Self.driverName }
    var provides: [DriverDescriptor.Provision] { [.init(serverType: "vm", os: "scripted-os", coe: "swarm-mode")] }
    var capabilities: Set<DriverCapability> { [.create, .update, .resize, .delete, .nodegroups, .heal] }

    private func run(_ step: String, _ spec: ClusterSpec, _ context: DriverContext, settled: ClusterStatus, counts: [String: Int] = [:]) async throws {
        let cluster = spec.cluster.uuid
        let script = try await ledger.begin(step, cluster: cluster, operation: context.operationID, runner: runner)
        var polls = 0
        switch script {
        case .hang:
            while !(await ledger.isReleased(cluster)) { try await Task.sleep(for: .milliseconds(20)) }
        case .succeed(let p):
            polls = p
        default:
            break
        }
        await ledger.build(cluster, status: settled, polls: polls, counts: counts)
    }

    func createCluster(_ spec: ClusterSpec, timeoutMinutes: Int?, context: DriverContext) async throws {
        try await run("create", spec, context, settled: .createComplete)
    }

    func updateCluster(_ spec: ClusterSpec, nodegroup: NodeGroup, nodeCount: Int, rollback: Bool, context: DriverContext) async throws {
        try await run("update", spec, context, settled: .updateComplete, counts: [nodegroup.uuid: nodeCount])
    }

    func resizeCluster(_ spec: ClusterSpec, nodegroup: NodeGroup, nodeCount: Int, nodesToRemove: [String], context: DriverContext) async throws {
        try await run("resize", spec, context, settled: .updateComplete, counts: [nodegroup.uuid: nodeCount])
    }

    func deleteCluster(_ spec: ClusterSpec, context: DriverContext) async throws {
        try await run("delete", spec, context, settled: .deleteComplete)
    }

    func createNodegroup(_ spec: ClusterSpec, nodegroup: NodeGroup, context: DriverContext) async throws {
        try await run("nodegroup_create", spec, context, settled: .updateComplete)
    }

    func updateNodegroup(_ spec: ClusterSpec, nodegroup: NodeGroup, context: DriverContext) async throws {
        try await run("nodegroup_update", spec, context, settled: .updateComplete)
    }

    func deleteNodegroup(_ spec: ClusterSpec, nodegroup: NodeGroup, context: DriverContext) async throws {
        try await run("nodegroup_delete", spec, context, settled: .updateComplete)
    }

    func healCluster(_ spec: ClusterSpec, context: DriverContext) async throws {
        try await run("heal", spec, context, settled: spec.cluster.status ?? .createComplete)
        await ledger.setHealth(spec.cluster.uuid, .healthy, ["api": "ok"])
    }

    func observe(_ spec: ClusterSpec, context: DriverContext) async throws -> ClusterObservation {
        guard let seen = await ledger.observe(spec.cluster.uuid) else {
            return ClusterObservation(status: spec.cluster.status ?? .createInProgress)
        }
        let inProgress: ClusterStatus = switch seen.status {
        case .createComplete: .createInProgress
        case .deleteComplete: .deleteInProgress
        default: .updateInProgress
        }
        let status = seen.settled ? seen.status : inProgress
        var nodegroups: [String: NodeGroupObservation] = [:]
        for ng in spec.nodegroups {
            let count = seen.counts[ng.uuid] ?? ng.nodeCount
            let addresses = (0..<count).map { "10.0.\(ng.isMaster ? 0 : 1).\($0 + 10)" }
            nodegroups[ng.uuid] = NodeGroupObservation(
                status: status == .deleteComplete ? .deleteComplete : (seen.settled ? (ng.status == .createInProgress ? .createComplete : .updateComplete) : inProgress),
                nodeAddresses: addresses)
        }
        let health = await ledger.health(spec.cluster.uuid)
        return ClusterObservation(
            status: status, statusReason: seen.settled ? "Stack \(status.rawValue) completed successfully" : nil,
            stackID: "stack-\(spec.cluster.uuid.prefix(8))", apiAddress: "tcp://10.0.0.10:2376", coeVersion: "24.0",
            health: health?.status, healthReason: health?.reason, nodegroups: nodegroups)
    }
}

/// Builders of the rows the API would have recorded.
enum ConductorFixtures {
    static func uuid() -> String { UUID().uuidString.lowercased() }

    /// Inserts a template of `driver`.
    static func template(_ store: any Store, driver: String? = ScriptedDriver.driverName, os: String = "scripted-os") async throws -> ClusterTemplate {
        var t = ClusterTemplate(uuid: uuid(), coe: "swarm-mode")
        t.name = "tpl-\(t.uuid.prefix(6))"
        t.projectID = "p1"
        t.clusterDistro = os
        t.driver = driver
        let template = t
        return try await store.write { try await $0.insert(template) }
    }

    /// Inserts a cluster in CREATE_IN_PROGRESS with default master and worker nodegroups and
    /// its create operation, as `POST /v1/clusters` does; returns the cluster and operation.
    static func cluster(_ store: any Store, template: ClusterTemplate, workers: Int = 2) async throws -> (Cluster, ClusterOperation) {
        var c = Cluster(uuid: uuid(), clusterTemplateID: template.uuid)
        c.name = "c-\(c.uuid.prefix(6))"
        c.projectID = "p1"
        c.status = .createInProgress
        let cluster = c
        var master = NodeGroup(uuid: uuid(), clusterID: c.uuid)
        master.name = "default-master"
        master.role = "master"
        master.isDefault = true
        master.status = .createInProgress
        var worker = NodeGroup(uuid: uuid(), clusterID: c.uuid)
        worker.name = "default-worker"
        worker.isDefault = true
        worker.nodeCount = workers
        worker.status = .createInProgress
        let groups = [master, worker]
        var op = ClusterOperation(uuid: uuid(), kind: .clusterCreate, resourceUUID: c.uuid)
        op.parameters = ["master_count": .int(1), "node_count": .int(workers)]
        let operation = op
        return try await store.write { session in
            _ = try await session.insert(cluster)
            for ng in groups { _ = try await session.insert(ng) }
            try await session.replaceCertificates(clusterUUID: cluster.uuid, with: [
                ClusterCertificate(clusterUUID: cluster.uuid, kind: .kubernetes, certificatePEM: "-----BEGIN CERTIFICATE-----", sealedPrivateKey: [1, 2, 3]),
            ])
            return (cluster, try await session.insert(operation))
        }
    }

    /// Records an operation on an existing cluster (status set as the API does).
    static func operation(_ store: any Store, _ kind: ClusterOperation.Kind, cluster: String, status: ClusterStatus = .updateInProgress,
                          nodegroup: String? = nil, parameters: [String: JSON] = [:]) async throws -> ClusterOperation {
        var op = ClusterOperation(uuid: uuid(), kind: kind, resourceUUID: cluster)
        op.nodegroupUUID = nodegroup
        op.parameters = parameters
        let operation = op
        return try await store.write { session in
            if var c = try await session.clusters(matching: .uuid(cluster), .everything).first {
                c.status = status
                c.statusReason = nil
                _ = try await session.update(c)
            }
            return try await session.insert(operation)
        }
    }
}
