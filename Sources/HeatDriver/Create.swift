import Foundation
import MagnumCore
import MagnumDrivers

extension HeatDriver {
    /// Creates the cluster: trustee, trust, then the cluster stack (timeout `create_timeout`),
    /// each recorded as soon as it exists; a re-run adopts what an earlier run made.
    public func createCluster(_ spec: ClusterSpec, timeoutMinutes: Int?, context: DriverContext) async throws {
        let record = try await record(spec, context)
        let trust = try await ensureTrust(spec, record, context)
        let heat = try heat(trust)
        if let ref = record.stack, try await heat.stack(name: ref.name, id: ref.id) != nil { return }
        let name = Self.stackName(spec.cluster)
        if let existing = try await heat.findStack(named: name) {
            context.logger.info("adopting the stack an earlier attempt created", metadata: ["stack_id": .string(existing.id)])
            try await remember(HeatClusterRecord.stackKey, HeatClusterRecord.StackRef(name: name, id: existing.id).stored, spec, context)
            return
        }
        let document = try templates.document(coe: try Self.coe(spec), top: "cluster.yaml")
        let parameters = try clusterParameters(spec, credentials: .fresh(keystoneToken: trust.token))
        let id = try await stackCreator(trust, context).createStack(name: name, document: document, parameters: parameters, timeoutMinutes: timeoutMinutes)
        try await remember(HeatClusterRecord.stackKey, HeatClusterRecord.StackRef(name: name, id: id).stored, spec, context)
        context.logger.info("cluster stack created", metadata: ["stack_id": .string(id), "stack_name": .string(name)])
    }

    /// Creates a worker nodegroup's stack from `workers.yaml` with the cluster stack's network.
    public func createNodegroup(_ spec: ClusterSpec, nodegroup: NodeGroup, context: DriverContext) async throws {
        let record = try await record(spec, context)
        guard let trust = try await trustToken(spec, record), let clusterRef = record.stack else {
            throw MagnumError(.invalid, "Cluster \(spec.cluster.uuid) has no Heat stack to add a nodegroup to.")
        }
        guard !nodegroup.isMaster else { throw MagnumError(.notSupported, "The Heat driver adds worker nodegroups only.") }
        let heat = try heat(trust)
        if let ref = record.nodegroupStack(nodegroup.uuid), try await heat.stack(name: ref.name, id: ref.id) != nil { return }
        let name = Self.nodegroupStackName(spec.cluster, nodegroup)
        if let existing = try await heat.findStack(named: name) {
            try await remember(HeatClusterRecord.nodegroupKey(nodegroup.uuid), HeatClusterRecord.StackRef(name: name, id: existing.id).stored, spec, context)
            return
        }
        guard let cluster = try await heat.stack(name: clusterRef.name, id: clusterRef.id) else {
            throw MagnumError(.invalid, "The cluster's Heat stack \(clusterRef.name) no longer exists.")
        }
        let document = try templates.document(coe: try Self.coe(spec), top: "workers.yaml")
        let credentials = try await joinCredentials(spec, trust: trust, apiAddress: spec.cluster.apiAddress ?? cluster.outputs["api_address"]?.stringValue)
        let parameters = try nodegroupParameters(spec, nodegroup, cluster: cluster, credentials: credentials)
        let id = try await stackCreator(trust, context).createStack(name: name, document: document, parameters: parameters,
                                                                     timeoutMinutes: spec.cluster.createTimeout)
        try await remember(HeatClusterRecord.nodegroupKey(nodegroup.uuid), HeatClusterRecord.StackRef(name: name, id: id).stored, spec, context)
    }

    /// The cluster's trust token, making the trustee and the trust first when missing: the
    /// trustee's password is recorded (sealed) before the user exists, the user and the trust
    /// as soon as Keystone made them.
    func ensureTrust(_ spec: ClusterSpec, _ record: HeatClusterRecord, _ context: DriverContext) async throws -> ScopedToken {
        if let token = try await trustToken(spec, record) { return token }
        let c = spec.cluster
        var sealed = record.sealedTrusteePassword
        if sealed == nil {
            let password = NodeBootstrap.randomHex(bytes: 24)
            sealed = try authority.seal(secret: password, context: Self.passwordContext(c.uuid))
            try await remember(HeatClusterRecord.trusteePasswordKey, sealed, spec, context)
        }
        let password = try authority.open(secret: sealed!, context: Self.passwordContext(c.uuid))
        var trustee = record.trusteeUserID
        if trustee == nil {
            trustee = try await identity.ensureTrustee(name: "magnum_\(c.uuid)", password: password)
            try await remember(HeatClusterRecord.trusteeKey, trustee, spec, context)
        }
        guard let caller = try callerToken(context) else {
            throw MagnumError(.notSupported, "Creating a cluster with the Heat driver needs the requesting user's Keystone token; run Magnum's API with --keystone-url.")
        }
        guard let owner = c.userID, let project = c.projectID else {
            throw MagnumError(.invalid, "Cluster \(c.uuid) has no owner to make a trust from.")
        }
        let roles = context.parameters[CallerToken.rolesParameter]?.arrayValue?.compactMap(\.stringValue) ?? []
        let trust = try await identity.createTrust(callerToken: caller, trustorUserID: owner, trusteeUserID: trustee!,
                                                   projectID: project, roles: roles)
        try await remember(HeatClusterRecord.trustKey, trust, spec, context)
        context.logger.info("cluster trust created", metadata: ["trustee_user_id": .string(trustee!), "trust_id": .string(trust)])
        return try await identity.trustToken(userID: trustee!, password: password, trustID: trust)
    }
}
