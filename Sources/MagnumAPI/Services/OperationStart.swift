import MagnumCore
import MagnumStore

/// Starts asynchronous work inside the caller's transaction: the cluster enters the
/// operation's in-progress status and the operation row a conductor will lease is inserted,
/// so the change, its operation and its `operation.accepted` event commit (or roll back) together.
/// An operation the cluster's driver does not support is refused with 400 before anything is
/// written.
enum OperationStart {
    /// Checks the cluster's driver supports `kind`, saves `cluster` with `status` (nil leaves
    /// its status and reason as they are), inserts the operation and its `operation.accepted`
    /// event, and returns the saved cluster.
    @discardableResult
    static func record(_ session: any StoreSession, _ env: APIEnvironment, cluster: Cluster, status: ClusterStatus? = .updateInProgress,
                       kind: ClusterOperation.Kind, nodegroup: NodeGroup? = nil, parameters: [String: JSON] = [:],
                       _ ctx: RequestContext) async throws -> Cluster
    {
        let driver = try await requireDriverSupport(DriverCapability(kind), cluster: cluster, session, env)
        var c = cluster
        if let status {
            c.status = status
            c.statusReason = nil
        }
        let saved = try await session.update(c)
        let uuid = UUIDs.make()
        let all = kind == .nodegroupCreate ? parameters.merging(try callerParameters(driver, operationUUID: uuid, env, ctx)) { $1 } : parameters
        let op = try await session.insert(operation(kind, cluster: c.uuid, nodegroup: nodegroup?.uuid, uuid: uuid, parameters: all, ctx))
        _ = try await session.append(.accepted(op, cluster: saved))
        return saved
    }

    /// Refuses (400) an operation the driver of `cluster`'s template does not support, or a
    /// cluster whose driver is no longer installed or has been disabled.
    @discardableResult
    static func requireDriverSupport(_ capability: DriverCapability, cluster: Cluster, _ session: any StoreSession,
                                     _ env: APIEnvironment) async throws -> DriverDescriptor
    {
        guard let template = try await session.clusterTemplates(matching: .uuid(cluster.clusterTemplateID), .everything).first else {
            throw MagnumError.notFound("ClusterTemplate", cluster.clusterTemplateID)
        }
        return try requireDriverSupport(capability, template: template, env)
    }

    /// Refuses (400) `capability` unless the driver running `template`'s clusters supports it;
    /// returns that driver.
    @discardableResult
    static func requireDriverSupport(_ capability: DriverCapability, template: ClusterTemplate, _ env: APIEnvironment) throws -> DriverDescriptor {
        guard let driver = env.drivers.driver(for: template, disabled: env.config.disabledDrivers) else {
            throw MagnumError(.invalid, "Cluster type (\(template.serverType), \(template.clusterDistro ?? "None"), \(template.coe)) not supported.")
        }
        try driver.require(capability)
        return driver
    }

    /// For a driver that acts as the requesting user (`usesCallerToken`): the user's token,
    /// sealed to the operation, and their roles — never shown by any view.
    static func callerParameters(_ driver: DriverDescriptor, operationUUID: String, _ env: APIEnvironment,
                                 _ ctx: RequestContext) throws -> [String: JSON] {
        guard driver.usesCallerToken, let token = ctx.authToken else { return [:] }
        return [
            CallerToken.tokenParameter: .string(try env.certificates.seal(secret: token, context: CallerToken.sealContext(operationUUID))),
            CallerToken.rolesParameter: .array(ctx.roles.sorted().map(JSON.string)),
        ]
    }

    /// A pending operation stamped with the caller's project, user and request id.
    static func operation(_ kind: ClusterOperation.Kind, cluster: String, nodegroup: String? = nil, uuid: String = UUIDs.make(),
                          parameters: [String: JSON] = [:], _ ctx: RequestContext) -> ClusterOperation
    {
        var op = ClusterOperation(uuid: uuid, kind: kind, resourceUUID: cluster)
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
