import MagnumCore
import MagnumStore

/// Starts asynchronous work inside the caller's transaction: the cluster enters the
/// operation's in-progress status and the operation row a conductor will lease is inserted,
/// so the change, its operation and its `operation.accepted` event commit (or roll back) together.
enum OperationStart {
    /// Saves `cluster` with `status`, inserts the operation and returns the saved cluster.
    @discardableResult
    static func record(_ session: any StoreSession, cluster: Cluster, status: ClusterStatus = .updateInProgress,
                       kind: ClusterOperation.Kind, nodegroup: NodeGroup? = nil, parameters: [String: JSON] = [:],
                       _ ctx: RequestContext) async throws -> Cluster
    {
        var c = cluster
        c.status = status
        c.statusReason = nil
        let saved = try await session.update(c)
        let op = try await session.insert(operation(kind, cluster: c.uuid, nodegroup: nodegroup?.uuid, parameters: parameters, ctx))
        _ = try await session.append(.accepted(op, cluster: saved))
        return saved
    }

    /// A pending operation stamped with the caller's project, user and request id.
    static func operation(_ kind: ClusterOperation.Kind, cluster: String, nodegroup: String? = nil,
                          parameters: [String: JSON] = [:], _ ctx: RequestContext) -> ClusterOperation
    {
        var op = ClusterOperation(uuid: UUIDs.make(), kind: kind, resourceUUID: cluster)
        op.nodegroupUUID = nodegroup
        op.parameters = parameters
        op.projectID = ctx.projectID
        op.userID = ctx.userID
        op.requestID = ctx.requestID
        return op
    }

    /// The cluster's default worker nodegroup.
    static func defaultWorker(_ session: any StoreSession, cluster: Cluster) async throws -> NodeGroup {
        let ngs = try await session.nodegroups(clusterUUID: cluster.uuid, role: nil, sort: SortOrder())
        guard let w = ngs.first(where: { $0.isDefault && !$0.isMaster }) else { throw MagnumError.notFound("Nodegroup", "default-worker") }
        return w
    }
}
