import Foundation
import MagnumCore
import MagnumDrivers

extension HeatDriver {
    /// Cluster PATCH of `node_count`: a resize of the default worker nodegroup.
    public func updateCluster(_ spec: ClusterSpec, nodegroup: NodeGroup, nodeCount: Int, rollback: Bool, context: DriverContext) async throws {
        try await resizeCluster(spec, nodegroup: nodegroup, nodeCount: nodeCount, nodesToRemove: [], context: context)
    }

    /// A nodegroup's changed counts (nodegroup PATCH).
    public func updateNodegroup(_ spec: ClusterSpec, nodegroup: NodeGroup, context: DriverContext) async throws {
        try await resizeCluster(spec, nodegroup: nodegroup, nodeCount: nodegroup.nodeCount, nodesToRemove: [], context: context)
    }

    /// Resizes a worker nodegroup through a stack PATCH: the default one in the cluster stack
    /// (`number_of_minions`, `minions_to_remove`), others in their own (`node_count`,
    /// `nodes_to_remove`). `nodesToRemove` are node names, addresses or resource-group indexes,
    /// resolved through the stack's outputs. When nodes are added their user data is renewed with
    /// fresh credentials (`joinCredentials`: for Kubernetes a join token registered first).
    public func resizeCluster(_ spec: ClusterSpec, nodegroup: NodeGroup, nodeCount: Int, nodesToRemove: [String], context: DriverContext) async throws {
        guard !nodegroup.isMaster else { throw MagnumError(.notSupported, "Resizing the master nodegroup is not supported by this driver.") }
        let record = try await record(spec, context)
        guard let trust = try await trustToken(spec, record) else {
            throw MagnumError(.invalid, "Cluster \(spec.cluster.uuid) has no Heat stack to resize.")
        }
        let heat = try heat(trust)
        let isDefault = nodegroup.isDefault
        guard let ref = isDefault ? record.stack : record.nodegroupStack(nodegroup.uuid),
              let stack = try await heat.stack(name: ref.name, id: ref.id) else {
            throw MagnumError(.invalid, "Nodegroup \(nodegroup.name ?? nodegroup.uuid) has no Heat stack to resize.")
        }
        let indexes = try Self.removalIndexes(nodesToRemove, stack: stack, nodegroup: nodegroup)
        var resized = nodegroup
        resized.nodeCount = nodeCount
        var parameters: [String: JSON]
        // Only a resize that adds nodes renders user data with fresh credentials (for Kubernetes a
        // join token registered through the cluster's API); one that only removes nodes leaves it.
        let current = stack.outputs["node_index_names"]?.objectValue?.count
        let credentials = current.map { nodeCount > $0 - indexes.count } ?? true
            ? try await joinCredentials(spec, trust: trust, apiAddress: spec.cluster.apiAddress) : nil
        if isDefault {
            parameters = ["number_of_minions": .int(nodeCount), "minions_to_remove": .string(indexes.joined(separator: ","))]
            if let credentials { parameters["minion_user_data"] = .string(try userData(spec, role: .worker, nodegroup: resized, credentials: credentials)) }
        } else {
            parameters = ["node_count": .int(nodeCount), "nodes_to_remove": .string(indexes.joined(separator: ","))]
            if let credentials { parameters["user_data"] = .string(try userData(spec, role: .worker, nodegroup: resized, credentials: credentials)) }
        }
        try await heat.patchStack(name: ref.name, id: ref.id, parameters: parameters)
        try await waitForStart(heat, ref, updatedBefore: stack.updatedTime)
        context.logger.info("nodegroup stack update started", metadata: [
            "stack_id": .string(ref.id), "node_count": .stringConvertible(nodeCount), "remove": .string(indexes.joined(separator: ",")),
        ])
    }

    /// The resource-group indexes of `nodes` (names, addresses or indexes) in a stack's
    /// `*_index_names` / `*_index_addresses` outputs; an unknown node → invalid.
    static func removalIndexes(_ nodes: [String], stack: HeatStack, nodegroup: NodeGroup) throws -> [String] {
        guard !nodes.isEmpty else { return [] }
        let names = stack.outputs["node_index_names"]?.objectValue ?? [:]
        let addresses = stack.outputs["node_index_addresses"]?.objectValue ?? [:]
        return try nodes.map { node in
            if names[node] != nil || addresses[node] != nil { return node }
            if let hit = names.first(where: { $0.value.stringValue == node }) ?? addresses.first(where: { $0.value.stringValue == node }) {
                return hit.key
            }
            throw MagnumError(.invalid, "Node \(node) is not a node of nodegroup \(nodegroup.name ?? nodegroup.uuid).")
        }
    }
}
