import MagnumCore
import MagnumStore

/// Name-or-UUID resolution shared by every resource (contract §1.5).
enum Lookup {
    /// How a path or body identifier is looked up: UUID-shaped → by UUID, an integer (where
    /// allowed) → by database id, otherwise by name.
    static func ident(_ s: String, allowID: Bool = false) -> Ident {
        if let u = UUIDs.canonical(s) { return .uuid(u) }
        if allowID, let i = Int64(s) { return .id(i) }
        return .name(s)
    }

    /// Exactly one match: 404 for none, 409 for several rows sharing the name.
    /// `uuidWord` names the resource in the hint (upstream says "the ClusterTemplate uuid" but
    /// "the cluster uuid").
    static func one<T>(_ matches: [T], kind: String, plural: String, ident: String, uuidWord: String? = nil) throws -> T {
        if matches.count > 1 {
            throw MagnumError(.conflict, "Multiple \(plural) exist with same name. Please use the \(uuidWord ?? kind.lowercased()) uuid instead.")
        }
        guard let m = matches.first else { throw MagnumError.notFound(kind, ident) }
        return m
    }

    /// The caller's visibility. An admin caller switches to all projects through the
    /// `<rule>_all_projects` rule, which is enforced as upstream does (contract §4.0, §7.3): when it
    /// refuses (a system-scoped token, an operator override) the request fails with 403 instead of
    /// quietly narrowing to the caller's own project.
    static func visibility(_ env: APIEnvironment, _ ctx: RequestContext, allProjectsRule: String?) throws -> Visibility {
        var all = false
        if let rule = allProjectsRule, ctx.isAdmin {
            try env.policy.enforce(rule, ctx)
            all = true
        }
        return Visibility(projectID: ctx.projectID, userID: ctx.userID, allProjects: all)
    }

    static func template(_ session: any StoreSession, _ ident: String, _ vis: Visibility, allowID: Bool = false) async throws -> ClusterTemplate {
        try one(try await session.clusterTemplates(matching: Lookup.ident(ident, allowID: allowID), vis),
                kind: "ClusterTemplate", plural: "ClusterTemplates", ident: ident, uuidWord: "ClusterTemplate")
    }

    static func cluster(_ session: any StoreSession, _ ident: String, _ vis: Visibility) async throws -> Cluster {
        try one(try await session.clusters(matching: Lookup.ident(ident), vis), kind: "Cluster", plural: "clusters", ident: ident)
    }

    static func nodegroup(_ session: any StoreSession, cluster: Cluster, _ ident: String) async throws -> NodeGroup {
        try one(try await session.nodegroups(clusterUUID: cluster.uuid, matching: Lookup.ident(ident, allowID: true)),
                kind: "Nodegroup", plural: "nodegroups", ident: ident)
    }

    static func federation(_ session: any StoreSession, _ ident: String, _ vis: Visibility) async throws -> Federation {
        try one(try await session.federations(matching: Lookup.ident(ident), vis), kind: "Federation", plural: "federations", ident: ident)
    }
}

/// Re-validates a patched document against a resource schema: each changed attribute must
/// still have its field's type.
enum PatchedDocument {
    static func revalidate(_ new: [String: JSON], old: [String: JSON], schema: ResourceSchema) throws -> [String: JSON] {
        var out = new
        for (k, v) in new where old[k] != v {
            guard let spec = schema.field(k), !spec.readOnly, !spec.ignored else { continue }
            // Integer fields need real integers after a patch ("5" is refused).
            if case .integer = spec.kind, case .string = v {
                throw MagnumError.invalidField(k, v.pythonDescription, "Wrong type. Expected '<class 'int'>', got '<class 'str'>'")
            }
            if spec.mandatory && v.isNull { throw MagnumError.invalidField(k, "None", "Mandatory field missing.") }
            out[k] = try ResourceSchema.coerce(v, to: spec)
        }
        return out
    }
}
