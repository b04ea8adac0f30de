import MagnumCore
import MagnumStore

/// Cluster use cases (contract §4.2–§4.3, §4.6). Every accepted change writes the cluster's
/// desired state and its operation row in one transaction.
struct ClusterService {
    let env: APIEnvironment

    /// A cluster with the nodegroups its counts and addresses derive from.
    struct Loaded: Sendable {
        var cluster: Cluster
        var nodegroups: [NodeGroup]
        var templateLabels: [String: String]?
    }

    func list(_ ctx: RequestContext, detail: Bool, sort: SortOrder) async throws -> [Loaded] {
        try env.policy.enforce(detail ? "cluster:detail" : "cluster:get_all", ctx)
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: detail ? "cluster:detail_all_projects" : "cluster:get_all_all_projects")
        return try await env.store.read { session in
            let clusters = try await session.clusters(vis, sort: sort)
            let ngs = Dictionary(grouping: try await session.nodegroups(clusterUUIDs: clusters.map(\.uuid)), by: \.clusterID)
            var labels: [String: [String: String]] = [:]
            if detail {
                for uuid in Set(clusters.map(\.clusterTemplateID)) {
                    labels[uuid] = try await session.clusterTemplates(matching: .uuid(uuid), .everything).first?.labels
                }
            }
            return clusters.map { Loaded(cluster: $0, nodegroups: ngs[$0.uuid] ?? [], templateLabels: detail ? (labels[$0.clusterTemplateID] ?? [:]) : nil) }
        }
    }

    func get(_ ident: String, _ ctx: RequestContext) async throws -> Loaded {
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: "cluster:get_one_all_projects")
        let loaded = try await env.store.read { session in
            let c = try await Lookup.cluster(session, ident, vis)
            let ngs = try await session.nodegroups(clusterUUID: c.uuid, role: nil, sort: SortOrder())
            let labels = try await session.clusterTemplates(matching: .uuid(c.clusterTemplateID), .everything).first?.labels ?? [:]
            return Loaded(cluster: c, nodegroups: ngs, templateLabels: labels)
        }
        try env.policy.enforce("cluster:get", ctx, target: PolicyTarget(projectID: loaded.cluster.projectID, userID: loaded.cluster.userID))
        return loaded
    }

    /// `POST /v1/clusters` (contract §4.2.2 order).
    func create(_ fields: [String: JSON], version: Microversion, _ ctx: RequestContext) async throws -> String {
        let templateIdent = fields["cluster_template_id"]?.stringValue ?? ""
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: "clustertemplate:get_one_all_projects")
        let template: ClusterTemplate
        do {
            template = try await env.store.read { try await Lookup.template($0, templateIdent, vis, allowID: true) }
        } catch let e as MagnumError where e.code == .notFound && version < .zeroNodes {
            throw MagnumError(.invalid, e.message)
        }
        let driver = try OperationStart.requireDriverSupport(.create, template: template, env)
        var c = Cluster(uuid: UUIDs.make(), clusterTemplateID: template.uuid)
        let dockerVolumeSize = fields["docker_volume_size"]?.intValue ?? template.dockerVolumeSize
        if template.dockerStorageDriver == "devicemapper", (dockerVolumeSize ?? 0) < 3 {
            throw MagnumError(.invalid, "docker volume size \(dockerVolumeSize.map(String.init) ?? "None") GB is not valid, expecting minimum value 3GB for devicemapper storage driver.")
        }
        let masterCount = fields["master_count"]?.intValue ?? 1
        let nodeCount = fields["node_count"]?.intValue ?? 1
        try ClusterRules.validateMasterCount(masterCount)
        try ClusterRules.checkZeroNodes(nodeCount, version: version)
        try env.policy.enforce("cluster:create", ctx)
        let limit = try await quotaLimit(ctx)
        if let project = ctx.projectID {
            let count = try await env.store.read { try await $0.clusterCount(projectID: project) }
            if count >= limit { throw quotaExceeded(limit) }
        }
        if template.hidden && !ctx.isAdmin { throw MagnumError(.forbidden, "Not authorized.") }

        // Defaults from the template.
        c.name = fields["name"]?.stringValue ?? GeneratedNames.make("cluster")
        c.keypair = fields["keypair"]?.stringValue ?? template.keypairID
        let given = fields["labels"]?.objectValue?.compactMapValues(\.stringValue)
        c.labels = Labels.effective(given: given, parent: template.labels, merge: fields["merge_labels"]?.boolValue ?? false)
        c.floatingIPEnabled = fields["floating_ip_enabled"]?.boolValue ?? template.floatingIPEnabled
        c.masterLBEnabled = fields["master_lb_enabled"]?.boolValue ?? template.masterLBEnabled
        func orTemplate(_ k: String, _ t: String?) -> String? {
            if let v = fields[k]?.stringValue, !v.isEmpty { return v }
            return t
        }
        c.dockerVolumeSize = (fields["docker_volume_size"]?.intValue).flatMap { $0 == 0 ? nil : $0 } ?? template.dockerVolumeSize
        c.masterFlavorID = orTemplate("master_flavor_id", template.masterFlavorID)
        c.flavorID = orTemplate("flavor_id", template.flavorID)
        c.fixedNetwork = orTemplate("fixed_network", template.fixedNetwork)
        c.fixedSubnet = orTemplate("fixed_subnet", template.fixedSubnet)
        c.createTimeout = fields["create_timeout"]?.intValue ?? 60
        c.discoveryURL = fields["discovery_url"]?.stringValue

        try await RootVolume.check(labels: c.labels, flavors: [c.flavorID, c.masterFlavorID], env: env, ctx)
        if let v = c.flavorID { _ = try await env.catalog.flavor(v, ctx) }
        if let v = c.masterFlavorID { _ = try await env.catalog.flavor(v, ctx) }
        if let v = c.fixedNetwork { _ = try await env.catalog.fixedNetwork(v, ctx) }
        if let v = c.fixedSubnet { _ = try await env.catalog.fixedSubnet(v, ctx) }
        if let v = c.keypair { _ = try await env.catalog.keypair(v, ctx) }
        if masterCount > 1 && !c.masterLBEnabled {
            throw MagnumError(.invalid, "master_count must be 1 when master_lb_enabled is False")
        }

        c.projectID = ctx.projectID
        c.userID = ctx.userID
        c.status = .createInProgress
        c.healthStatusReason = [:]
        let cluster = c
        let nodegroups = defaultNodegroups(cluster, template: template, masterCount: masterCount, nodeCount: nodeCount)
        var parameters: [String: JSON] = [
            "master_count": .int(masterCount), "node_count": .int(nodeCount), "create_timeout": JSON(cluster.createTimeout),
        ]
        let operationUUID = UUIDs.make()
        parameters.merge(try OperationStart.callerParameters(driver, operationUUID: operationUUID, env, ctx)) { $1 }
        let operation = OperationStart.operation(.clusterCreate, cluster: cluster.uuid, uuid: operationUUID, parameters: parameters, ctx)
        // The cluster's CAs and Magnum's client certificate (contract §8.6) are issued before
        // the transaction (key generation is slow) and stored with the cluster.
        let certificates = try await env.certificates.issueCertificateSet(clusterName: cluster.name, clusterUUID: cluster.uuid)
        try await env.store.write { session in
            if let project = cluster.projectID {
                try await session.lockProject(project)
                if try await session.clusterCount(projectID: project) >= limit { throw quotaExceeded(limit) }
            }
            _ = try await session.insert(cluster)
            for ng in nodegroups { _ = try await session.insert(ng) }
            try await session.replaceCertificates(clusterUUID: cluster.uuid, with: certificates)
            _ = try await session.append(.accepted(try await session.insert(operation), cluster: cluster))
        }
        env.logger.info("cluster create accepted", metadata: ["cluster_id": .string(cluster.uuid), "operation_id": .string(operation.uuid), "request_id": .string(ctx.requestID)])
        return cluster.uuid
    }

    func defaultNodegroups(_ c: Cluster, template: ClusterTemplate, masterCount: Int, nodeCount: Int) -> [NodeGroup] {
        var master = NodeGroup(uuid: UUIDs.make(), clusterID: c.uuid)
        master.name = "default-master"
        master.role = "master"
        master.nodeCount = masterCount
        master.flavorID = c.masterFlavorID
        var worker = NodeGroup(uuid: UUIDs.make(), clusterID: c.uuid)
        worker.name = "default-worker"
        worker.role = "worker"
        worker.nodeCount = nodeCount
        worker.flavorID = c.flavorID
        worker.minNodeCount = c.labels["min_node_count"].flatMap { Int($0) } ?? 0
        return [master, worker].map { ng in
            var ng = ng
            ng.isDefault = true
            ng.labels = c.labels
            ng.imageID = template.imageID
            ng.dockerVolumeSize = c.dockerVolumeSize
            ng.projectID = c.projectID
            ng.status = .createInProgress
            return ng
        }
    }

    func quotaLimit(_ ctx: RequestContext) async throws -> Int {
        guard let project = ctx.projectID else { return env.config.maxClustersPerProject }
        return try await env.store.read { try await $0.quota(projectID: project, resource: "Cluster")?.hardLimit } ?? env.config.maxClustersPerProject
    }

    func quotaExceeded(_ limit: Int) -> MagnumError {
        MagnumError(.quotaExceeded, "Resource limit exceeded: You have reached the maximum clusters per project, \(limit). You may delete a cluster to make room for a new one.")
    }

    /// `PATCH /v1/clusters/{c}`: only node_count and the health fields may change.
    func update(_ ident: String, patch: JSON?, rollback: Bool, version: Microversion, _ ctx: RequestContext) async throws -> String {
        let ops = try JSONPatch.parse(patch ?? .null)
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: "cluster:update_all_projects")
        return try await env.store.write { session in
            let c = try await Lookup.cluster(session, ident, vis)
            try env.policy.enforce("cluster:update", ctx, target: PolicyTarget(projectID: c.projectID, userID: c.userID))
            try env.policy.enforce("cluster:update_health_status", ctx)
            let ngs = try await session.nodegroups(clusterUUID: c.uuid, role: nil, sort: SortOrder())
            let oldDoc = ClusterRules.document(c, nodegroups: ngs, templateLabels: nil)
            var newDoc = try JSONPatch.apply(ops, to: oldDoc, rules: ClusterRules.patchRules)
            let forbidden = ClusterRules.forbiddenChanges(old: oldDoc, new: newDoc)
            if !forbidden.isEmpty {
                throw MagnumError(.invalid, "cannot change cluster property(ies) \(forbidden.joined(separator: ", ")).")
            }
            newDoc = try ClusterService.revalidateUpdate(newDoc, old: oldDoc)
            var updated = c
            if newDoc["health_status"] != oldDoc["health_status"] {
                updated.healthStatus = newDoc["health_status"]?.stringValue.flatMap(HealthStatus.init(rawValue:))
            }
            if newDoc["health_status_reason"] != oldDoc["health_status_reason"] {
                updated.healthStatusReason = newDoc["health_status_reason"]?.objectValue?.compactMapValues(\.stringValue) ?? [:]
            }
            let newCount = newDoc["node_count"]?.intValue ?? 0
            let oldCount = oldDoc["node_count"]?.intValue ?? 0
            guard newCount != oldCount else {
                if updated != c { _ = try await session.update(updated) }
                return c.uuid
            }
            try ClusterRules.checkZeroNodes(newCount, version: version)
            try ClusterRules.checkState(c, allowed: OperationGate.update, verb: "Updating")
            guard var worker = ngs.first(where: { $0.isDefault && !$0.isMaster }) else {
                throw MagnumError(.invalid, "Cluster \(c.uuid) has no default worker nodegroup.")
            }
            let parameters: [String: JSON] = ["node_count": .int(newCount), "previous_node_count": .int(worker.nodeCount), "rollback": .bool(rollback)]
            worker.nodeCount = newCount
            _ = try await session.update(worker)
            try await OperationStart.record(session, env, cluster: updated, kind: .clusterUpdate, nodegroup: worker, parameters: parameters, ctx)
            return c.uuid
        }
    }

    static func revalidateUpdate(_ doc: [String: JSON], old: [String: JSON]) throws -> [String: JSON] {
        var out = doc
        // `remove /node_count` (the only way to null it: add/replace need a value) leaves the
        // count unchanged (contract §4.2.4).
        if (doc["node_count"] ?? .null).isNull { out["node_count"] = old["node_count"] }
        if let v = out["node_count"], v != old["node_count"] {
            guard case .int(let n) = v else {
                throw MagnumError.invalidField("node_count", v.pythonDescription, "Wrong type. Expected '<class 'int'>', got '\(v.isNull ? "<class 'NoneType'>" : "<class 'str'>")'")
            }
            if n < 0 { throw MagnumError.invalidField("node_count", String(n), "Value should be greater or equal to 0") }
        }
        if doc["health_status"] != old["health_status"], let v = doc["health_status"], !v.isNull {
            guard let s = v.stringValue, HealthStatus(rawValue: s) != nil else {
                throw MagnumError.invalidField("health_status", v.pythonDescription, "Value should be one of: HEALTHY, UNHEALTHY, UNKNOWN")
            }
        }
        if doc["health_status_reason"] != old["health_status_reason"] {
            let v = doc["health_status_reason"] ?? .null
            if v.isNull { out["health_status_reason"] = .object([:]) } else {
                out["health_status_reason"] = try ResourceSchema.coerce(v, to: FieldSpec("health_status_reason", .labels))
            }
        }
        return out
    }

    /// `DELETE /v1/clusters/{c}`: the row stays in DELETE_IN_PROGRESS until the driver is done.
    func delete(_ ident: String, _ ctx: RequestContext) async throws {
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: "cluster:delete_all_projects")
        try await env.store.write { session in
            let c = try await Lookup.cluster(session, ident, vis)
            try env.policy.enforce("cluster:delete", ctx, target: PolicyTarget(projectID: c.projectID, userID: c.userID))
            if c.status == .deleteInProgress { return }
            try await OperationStart.record(session, env, cluster: c, status: .deleteInProgress, kind: .clusterDelete, ctx)
        }
    }

    static let resizeSchema = ResourceSchema(argument: "cluster_resize_req", fields: [
        FieldSpec("node_count", .integer(min: 0, max: nil), mandatory: true),
        FieldSpec("nodes_to_remove", .stringList),
        FieldSpec("nodegroup", .string(min: 1, max: 255)),
    ])

    /// `POST /v1/clusters/{c}/actions/resize` (µv ≥ 1.7).
    func resize(_ ident: String, body: JSON?, version: Microversion, _ ctx: RequestContext) async throws -> String {
        let fields = try ClusterService.resizeSchema.decode(body)
        let nodeCount = fields["node_count"]?.intValue ?? 0
        // Upstream's 1.7–1.9 handler refuses zero before looking the cluster up.
        try ClusterRules.checkZeroNodes(nodeCount, version: version)
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: nil)
        return try await env.store.write { session in
            let c = try await Lookup.cluster(session, ident, vis)
            try env.policy.enforce("cluster:resize", ctx, target: PolicyTarget(projectID: c.projectID, userID: c.userID))
            var ng: NodeGroup
            if let name = fields["nodegroup"]?.stringValue {
                ng = try await Lookup.nodegroup(session, cluster: c, name)
            } else {
                ng = try await OperationStart.defaultWorker(session, cluster: c)
            }
            if ng.isMaster {
                throw MagnumError(.invalid, "Resizing the master nodegroup is not supported by this driver.")
            }
            if nodeCount < ng.minNodeCount || (ng.maxNodeCount.map { nodeCount > $0 } ?? false) {
                throw MagnumError(.invalid, "Resizing \(ng.name ?? ng.uuid) outside the allowed range: min_node_count = \(ng.minNodeCount), max_node_count = \(ng.maxNodeCount.map(String.init) ?? "None")")
            }
            try ClusterRules.checkState(c, allowed: OperationGate.resize, verb: "Resizing")
            let parameters: [String: JSON] = ["node_count": .int(nodeCount), "previous_node_count": .int(ng.nodeCount),
                                              "nodes_to_remove": fields["nodes_to_remove"] ?? .array([])]
            ng.nodeCount = nodeCount
            ng.status = .updateInProgress
            _ = try await session.update(ng)
            try await OperationStart.record(session, env, cluster: c, kind: .clusterResize, nodegroup: ng, parameters: parameters, ctx)
            return c.uuid
        }
    }

    static let upgradeSchema = ResourceSchema(argument: "cluster_upgrade_req", fields: [
        FieldSpec("cluster_template", .string(min: 1, max: 255), mandatory: true),
        FieldSpec("max_batch_size", .integer(min: 1, max: nil)),
        FieldSpec("nodegroup", .string(min: 1, max: 255)),
    ])

    /// `POST /v1/clusters/{c}/actions/upgrade` (µv ≥ 1.8).
    func upgrade(_ ident: String, body: JSON?, _ ctx: RequestContext) async throws -> String {
        let fields = try ClusterService.upgradeSchema.decode(body)
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: "cluster:upgrade_all_projects")
        let ctVis = try Lookup.visibility(env, ctx, allProjectsRule: "clustertemplate:get_one_all_projects")
        return try await env.store.write { session in
            let c = try await Lookup.cluster(session, ident, vis)
            try env.policy.enforce("cluster:upgrade", ctx, target: PolicyTarget(projectID: c.projectID, userID: c.userID))
            let ctIdent = fields["cluster_template"]?.stringValue ?? ""
            let template = try Lookup.one(try await session.clusterTemplates(matching: Lookup.ident(ctIdent), ctVis),
                                          kind: "ClusterTemplate", plural: "ClusterTemplates", ident: ctIdent)
            var ng: NodeGroup
            if let name = fields["nodegroup"]?.stringValue {
                ng = try await Lookup.nodegroup(session, cluster: c, name)
                if !ng.isDefault && template.uuid != c.clusterTemplateID {
                    let current = try await session.clusterTemplates(matching: .uuid(c.clusterTemplateID), .everything).first
                    throw MagnumError(.conflict, "Cluster Template is not valid for upgrade: Nodegroup \(ng.name ?? ng.uuid) can be upgraded only to match cluster's template (\(current?.name ?? c.clusterTemplateID)).")
                }
            } else {
                ng = try await OperationStart.defaultWorker(session, cluster: c)
            }
            try ClusterRules.checkState(c, allowed: OperationGate.upgrade, verb: "Upgrading")
            ng.status = .updateInProgress
            _ = try await session.update(ng)
            try await OperationStart.record(session, env, cluster: c, kind: .clusterUpgrade, nodegroup: ng, parameters: [
                "cluster_template": .string(template.uuid), "max_batch_size": .int(fields["max_batch_size"]?.intValue ?? 1),
            ], ctx)
            return c.uuid
        }
    }

    /// `PATCH /v1/credentials/{c}` (µv ≥ 1.12).
    func rotateCredential(_ ident: String, _ ctx: RequestContext) async throws -> String {
        try env.policy.enforce("credential:rotate", ctx)
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: nil)
        return try await env.store.write { session in
            let c = try await Lookup.cluster(session, ident, vis)
            try ClusterRules.checkState(c, allowed: OperationGate.rotateCredential, verb: "Rotating the credential of")
            // Contract §8.2.8: no status change by core; the driver's operation runs in the background.
            try await OperationStart.record(session, env, cluster: c, status: nil, kind: .credentialRotate, ctx)
            return c.uuid
        }
    }
}
