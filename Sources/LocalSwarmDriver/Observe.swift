import Foundation
import Logging
import MagnumCore
import MagnumDrivers

extension LocalSwarmDriver {
    /// What the cluster is: the persisted nodes against the spec, and the Swarm node states a
    /// manager reports. A cluster whose every nodegroup has its node count, all Ready and none
    /// being removed, has completed its operation (`CREATE_IN_PROGRESS` → `CREATE_COMPLETE`, …);
    /// health is HEALTHY when every node is Ready, UNHEALTHY when one is not, UNKNOWN when no
    /// manager answers, with a reason per node (`<node>.Ready`). Changes nothing.
    func observation(of spec: ClusterSpec, logger: Logger) async throws -> ClusterObservation {
        let status = spec.cluster.status ?? .createInProgress
        guard let cluster = try state.find(spec.cluster.uuid) else {
            // Nothing built (yet, or any more).
            if status == .deleteInProgress { return ClusterObservation(status: .deleteComplete) }
            return ClusterObservation(status: status, statusReason: spec.cluster.statusReason)
        }
        if status == .deleteInProgress {
            return ClusterObservation(status: .deleteInProgress, statusReason: spec.cluster.statusReason, stackID: cluster.handle)
        }
        let managers = cluster.nodes.filter { $0.role == .manager && !$0.removing }
            .sorted { $0.address.lastOctet < $1.address.lastOctet }
        let seen: (nodes: [DockerEngine.SwarmNode], version: String?)? = try await withEngines(cluster) { engines in
            for manager in managers {
                guard let engine = try? engines.engine(for: manager),
                      let nodes = try? await engine.nodes(manager.address, timeout: .seconds(3)) else { continue }
                return (nodes, await engine.version(manager.address))
            }
            return nil
        }
        // Ready: the swarm says so and the node's daemon still runs (a killed daemon is seen at
        // once, before the swarm's heartbeat timeout marks its node down).
        let ready = Set(seen?.nodes.filter { $0.state == "ready" }.map(\.hostname) ?? [])
            .intersection(cluster.nodes.filter { host.isDaemonRunning(directory: state.nodeDirectory(cluster, $0)) }.map(\.name))

        var nodegroups: [String: NodeGroupObservation] = [:]
        var converged = !cluster.nodes.contains(where: \.removing)
        for ng in spec.nodegroups {
            let members = cluster.nodes(of: ng.uuid).sorted { $0.address.lastOctet < $1.address.lastOctet }
            let desired = ng.status == .deleteInProgress ? 0 : ng.nodeCount
            let done = members.count == desired && members.allSatisfy { ready.contains($0.name) }
                && !cluster.nodes.contains { $0.nodegroupUUID == ng.uuid && $0.removing }
            converged = converged && done
            let ngStatus = ng.status ?? status
            nodegroups[ng.uuid] = NodeGroupObservation(
                status: done ? Self.completed(ngStatus) : ngStatus, statusReason: done ? nil : ng.statusReason,
                nodeAddresses: members.map(\.address), stackID: cluster.handle, version: seen?.version)
        }
        converged = converged && cluster.nodes.allSatisfy { spec.nodegroup($0.nodegroupUUID) != nil }

        var reasons: [String: String] = [:]
        let health: HealthStatus
        if seen == nil {
            health = .unknown
            reasons["api"] = "No manager of the cluster answered."
        } else {
            reasons["api"] = "ok"
            for node in cluster.nodes where !node.removing {
                reasons["\(node.name).Ready"] = ready.contains(node.name) ? "True" : "False"
            }
            health = cluster.nodes.filter { !$0.removing }.allSatisfy { ready.contains($0.name) } ? .healthy : .unhealthy
        }
        return ClusterObservation(
            status: converged ? Self.completed(status) : status,
            statusReason: converged ? nil : spec.cluster.statusReason,
            stackID: cluster.handle,
            apiAddress: cluster.leader.map { "tcp://\($0.address):2376" },
            coeVersion: seen?.version, containerVersion: seen?.version,
            health: health, healthReason: reasons, nodegroups: nodegroups,
            clusterTemplateID: cluster.templateUUID)
    }

    /// The completed status of an in-progress one; any other status as it is.
    static func completed(_ status: ClusterStatus) -> ClusterStatus {
        switch status {
        case .createInProgress: return .createComplete
        case .updateInProgress: return .updateComplete
        case .deleteInProgress: return .deleteComplete
        case .rollbackInProgress: return .rollbackComplete
        default: return status
        }
    }

    /// Deletes the cluster: every node powered off at once (a VM delete), then what a crashed
    /// driver may have left by name, the bridge and its FORWARD rule, and the cluster's state —
    /// its claim last, so the index is not reused before everything is gone.
    func teardown(_ spec: ClusterSpec, context: DriverContext) async throws {
        guard let cluster = try state.find(spec.cluster.uuid) else { return }
        let host = self.host
        try await withThrowingTaskGroup(of: Void.self) { group in
            for node in cluster.nodes {
                let dir = state.nodeDirectory(cluster, node)
                group.addTask { try await host.powerOff(cluster, node, directory: dir) }
            }
            try await group.waitForAll()
        }
        try await host.sweep(index: cluster.index)
        try await host.removeBridge(index: cluster.index)
        try state.remove(cluster.index)
        context.logger.info("local cluster deleted", metadata: ["index": .stringConvertible(cluster.index)])
    }
}
