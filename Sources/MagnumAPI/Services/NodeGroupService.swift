import MagnumCore
import MagnumStore

/// Nodegroup use cases (contract §4.4). Unlike upstream, a new nodegroup's row is written at
/// once (with its operation), so a GET right after the 202 finds it.
struct NodeGroupService {
    let env: APIEnvironment

    func list(_ clusterIdent: String, role: String?, sort: SortOrder, _ ctx: RequestContext) async throws -> (Cluster, [NodeGroup]) {
        try env.policy.enforce("nodegroup:get_all", ctx)
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: "nodegroup:get_all_all_projects")
        return try await env.store.read { session in
            let c = try await Lookup.cluster(session, clusterIdent, vis)
            var ngs = try await session.nodegroups(clusterUUID: c.uuid, role: role, sort: sort)
            if !vis.allProjects { ngs = ngs.filter { $0.projectID == ctx.projectID } }
            return (c, ngs)
        }
    }

    func get(_ clusterIdent: String, _ ident: String, _ ctx: RequestContext) async throws -> (Cluster, NodeGroup) {
        try env.policy.enforce("nodegroup:get", ctx)
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: "nodegroup:get_one_all_projects")
        return try await env.store.read { session in
            let c = try await Lookup.cluster(session, clusterIdent, vis)
            let ng = try await Lookup.nodegroup(session, cluster: c, ident)
            if !vis.allProjects && ng.projectID != ctx.projectID { throw MagnumError.notFound("Nodegroup", ident) }
            return (c, ng)
        }
    }

    func create(_ clusterIdent: String, body: JSON?, version: Microversion, _ ctx: RequestContext) async throws -> (Cluster, NodeGroup) {
        try env.policy.enforce("nodegroup:create", ctx)
        let fields = try NodeGroupRules.schema.decode(body)
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: nil)
        let name = fields["name"]?.stringValue
        // The synchronous checks read the cluster first; catalog lookups must not run inside
        // the write transaction (they use the store themselves).
        let (cluster, template) = try await env.store.read { session in
            let c = try await Lookup.cluster(session, clusterIdent, vis)
            guard let api = c.apiAddress, !api.isEmpty else { throw MagnumError(.conflict, "Cluster API address is not available yet") }
            try await NodeGroupService.checkUniqueName(session, name, in: c)
            let t = try await session.clusterTemplates(matching: .uuid(c.clusterTemplateID), .everything).first
            return (c, t)
        }
        var ng = NodeGroup(uuid: UUIDs.make(), clusterID: cluster.uuid)
        ng.name = name
        ng.nodeCount = fields["node_count"]?.intValue ?? 1
        ng.minNodeCount = fields["min_node_count"]?.intValue ?? 0
        ng.maxNodeCount = fields["max_node_count"]?.intValue
        ng.role = fields["role"]?.stringValue ?? "worker"
        ng.dockerVolumeSize = fields["docker_volume_size"]?.intValue
        ng.projectID = ctx.projectID
        let label = ng.name ?? ng.uuid
        // Upstream's order: counts, then node labels/taints, then the master rule.
        try NodeGroupRules.checkCounts(ng)
        ng.nodeLabels = try NodeGroupRules.nodeLabels(fields["node_labels"], nodegroup: label)
        ng.nodeTaints = try NodeGroupRules.taints(fields["node_taints"], nodegroup: label)
        try NodeGroupRules.checkNodeLabelsAndTaints(ng)
        if ng.isMaster { throw MagnumError(.invalid, "Creating master nodegroups is currently not supported.") }
        ng.imageID = fields["image_id"]?.stringValue ?? template?.imageID
        ng.flavorID = fields["flavor_id"]?.stringValue ?? cluster.flavorID
        let given = fields["labels"]?.objectValue?.compactMapValues(\.stringValue)
        ng.labels = Labels.effective(given: given, parent: cluster.labels, merge: fields["merge_labels"]?.boolValue ?? false)
        try await RootVolume.check(labels: cluster.labels, flavors: [ng.flavorID], env: env, ctx)
        if let f = ng.flavorID { _ = try await env.catalog.flavor(f, ctx) }
        ng.status = .createInProgress
        let new = ng
        return try await env.store.write { session in
            // Re-read under the transaction: the cluster may have changed since the checks.
            let c = try await Lookup.cluster(session, cluster.uuid, vis)
            try await NodeGroupService.checkUniqueName(session, new.name, in: c)
            let inserted = try await session.insert(new)
            let saved = try await OperationStart.record(session, env, cluster: c, kind: .nodegroupCreate, nodegroup: inserted, ctx)
            return (saved, inserted)
        }
    }

    /// 409 when the cluster already has a nodegroup of that name.
    static func checkUniqueName(_ session: any StoreSession, _ name: String?, in c: Cluster) async throws {
        if let name, !(try await session.nodegroups(clusterUUID: c.uuid, matching: .name(name))).isEmpty {
            throw MagnumError(.conflict, "A node group with name \(name) already exists in the cluster \(c.name ?? c.uuid).")
        }
    }

    func update(_ clusterIdent: String, _ ident: String, patch: JSON?, _ ctx: RequestContext) async throws -> (Cluster, NodeGroup) {
        let ops = try JSONPatch.parse(patch ?? .null)
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: nil)
        return try await env.store.write { session in
            let c = try await Lookup.cluster(session, clusterIdent, vis)
            try env.policy.enforce("nodegroup:update", ctx)
            var ng = try await Lookup.nodegroup(session, cluster: c, ident)
            let oldDoc = NodeGroupRules.document(ng, clusterLabels: c.labels)
            let newDoc = try JSONPatch.apply(ops, to: oldDoc, rules: NodeGroupRules.patchRules)
            let label = ng.name ?? ng.uuid
            for key in ["min_node_count", "max_node_count"] where newDoc[key] != oldDoc[key] {
                let v = newDoc[key] ?? .null
                if key == "min_node_count" && v.isNull { throw MagnumError.invalidField(key, "None", "Mandatory field missing.") }
                if !v.isNull {
                    guard case .int(let n) = v else {
                        throw MagnumError.invalidField(key, v.pythonDescription, "Wrong type. Expected '<class 'int'>', got '<class 'str'>'")
                    }
                    if n < 0 { throw MagnumError.invalidField(key, String(n), "Value should be greater or equal to 0") }
                }
            }
            ng.minNodeCount = newDoc["min_node_count"]?.intValue ?? 0
            ng.maxNodeCount = newDoc["max_node_count"]?.intValue
            try NodeGroupRules.checkCounts(ng)
            if newDoc["node_labels"] != oldDoc["node_labels"] {
                ng.nodeLabels = try NodeGroupRules.nodeLabels(newDoc["node_labels"], nodegroup: label) ?? [:]
            }
            if newDoc["node_taints"] != oldDoc["node_taints"] {
                let v = newDoc["node_taints"]
                if case .string(let s)? = v, s.isEmpty { ng.nodeTaints = [] } else {
                    ng.nodeTaints = try NodeGroupRules.taints(v, nodegroup: label) ?? []
                }
            }
            try NodeGroupRules.checkNodeLabelsAndTaints(ng)
            if let s = ng.status, !OperationGate.nodegroupChange.contains(s) {
                throw MagnumError(.notSupported, "Updating a nodegroup when status is \"\(s.rawValue)\" is not supported.")
            }
            ng.status = .updateInProgress
            let saved = try await session.update(ng)
            let cluster = try await OperationStart.record(session, env, cluster: c, kind: .nodegroupUpdate, nodegroup: saved, ctx)
            return (cluster, saved)
        }
    }

    func delete(_ clusterIdent: String, _ ident: String, _ ctx: RequestContext) async throws {
        try env.policy.enforce("nodegroup:delete", ctx)
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: nil)
        try await env.store.write { session in
            let c = try await Lookup.cluster(session, clusterIdent, vis)
            var ng = try await Lookup.nodegroup(session, cluster: c, ident)
            if ng.isDefault { throw MagnumError(.invalid, "Deleting a default nodegroup is not supported.") }
            if ng.status == .deleteInProgress { return }
            ng.status = .deleteInProgress
            _ = try await session.update(ng)
            try await OperationStart.record(session, env, cluster: c, kind: .nodegroupDelete, nodegroup: ng, ctx)
        }
    }
}
