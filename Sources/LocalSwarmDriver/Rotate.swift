import Foundation
import Logging
import MagnumCore
import MagnumDrivers

extension LocalSwarmDriver {
    /// CA rotation (after the API replaced the cluster's CAs and Magnum's client certificate):
    /// node by node — workers first, managers last — a server certificate from the new CA and
    /// a daemon restarted to trust only the new CA, so clients with a certificate of the old CA
    /// are refused. The swarm keeps its own state and the restarted node rejoins it. A node is
    /// recorded as rotated only once it answers with the new credentials, so a re-run after a
    /// crash redoes exactly the nodes not yet done.
    func rotateNodeCertificates(_ spec: ClusterSpec, context: DriverContext) async throws {
        try checkPrerequisites()
        guard var cluster = try state.find(spec.cluster.uuid) else { return }
        let credentials = try currentCredentials(spec)
        let current = credentials.fingerprint
        if NodeCredentials.read(from: state.credentialsDirectory(cluster, current)) == nil {
            try credentials.write(to: state.credentialsDirectory(cluster, current))
        }
        let order = cluster.nodes.filter { !$0.removing && $0.trust != current }
            .sorted { ($0.role == .worker ? 0 : 1, $0.address.lastOctet) < ($1.role == .worker ? 0 : 1, $1.address.lastOctet) }
        let engine = try DockerEngine(credentials: credentials)
        do {
            for var node in order {
                let dir = state.nodeDirectory(cluster, node)
                try writeServerCertificate(cluster, node, spec, directory: dir)
                await host.killAll(cgroup: cluster.cgroup(node))
                try await host.ensureNodeNetwork(cluster, node)
                try await host.startDaemon(cluster, node, directory: dir, dockerd: configuration.dockerd)
                try await waitForEngine(cluster, node, engine: engine, directory: dir)
                node.trust = current
                cluster.nodes = cluster.nodes.map { $0.name == node.name ? node : $0 }
                try state.save(cluster)
                context.logger.info("node certificate rotated", metadata: ["node": .string(node.name)])
            }
            await engine.shutdown()
        } catch {
            await engine.shutdown()
            throw error
        }
        let rotated = cluster
        try await withEngines(rotated) { engines in try await self.waitReady(rotated, engines: engines) }
        for trust in (try? FileManager.default.contentsOfDirectory(atPath: "\(state.directory(cluster))/pki")) ?? [] where trust != current {
            try? FileManager.default.removeItem(atPath: state.credentialsDirectory(cluster, trust))
        }
    }

    /// Upgrade to `template`: when it changes the nodegroup's flavor or the labels, its nodes
    /// are replaced `batchSize` at a time — new nodes start, join and are Ready before the old
    /// ones are drained and removed, so the nodegroup never runs short. Masters are re-sized in
    /// place (the first master is the cluster's API address).
    func replaceNodes(_ spec: ClusterSpec, template: ClusterTemplate, nodegroup: NodeGroup, batchSize: Int, context: DriverContext) async throws {
        try checkPrerequisites()
        guard let built = try state.find(spec.cluster.uuid) else {
            throw MagnumError(.invalid, "Cluster \(spec.cluster.uuid) has no nodes to upgrade.")
        }
        var target = spec
        target.template = template
        let groups = nodegroup.isDefault ? spec.nodegroups.filter(\.isDefault) : [nodegroup]
        let labelsChanged = template.labels != spec.template.labels
        for ng in groups where !ng.isMaster {
            var upgraded = ng
            if ng.isDefault { upgraded.flavorID = template.flavorID ?? ng.flavorID }
            upgraded.labels = labelsChanged ? template.labels.merging(ng.labels.filter { spec.template.labels[$0.key] == nil }) { a, _ in a } : ng.labels
            target.nodegroups = target.nodegroups.map { $0.uuid == ng.uuid ? upgraded : $0 }
            let flavor = target.flavor(of: upgraded)?.name
            var stale = built.nodes.filter { $0.nodegroupUUID == ng.uuid && !$0.removing && ($0.flavor != flavor || labelsChanged) }
            while !stale.isEmpty {
                let batch = Array(stale.prefix(batchSize))
                stale.removeFirst(batch.count)
                // Grow by the batch, then shrink away exactly the batch.
                try await converge(target, counts: [ng.uuid: ng.nodeCount + batch.count], context: context)
                try await converge(target, counts: [ng.uuid: ng.nodeCount], remove: batch.map(\.name), context: context)
            }
        }
        // Masters and everything else: converge in place (limits, labels).
        try await converge(target, context: context)
        if nodegroup.isDefault, var upgraded = try state.find(spec.cluster.uuid) {
            upgraded.templateUUID = template.uuid
            try state.save(upgraded)
        }
    }
}
