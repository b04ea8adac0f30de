import MagnumCore
import MagnumStore

/// Federation use cases (contract §4.10). Federations hold no infrastructure of their own, so
/// they are stored and answered at once instead of upstream's never-persisted request.
struct FederationService {
    let env: APIEnvironment

    func list(_ ctx: RequestContext, detail: Bool, sort: SortOrder) async throws -> [Federation] {
        try env.policy.enforce(detail ? "federation:detail" : "federation:get_all", ctx)
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: nil)
        return try await env.store.read { try await $0.federations(vis, sort: sort) }
    }

    func get(_ ident: String, _ ctx: RequestContext) async throws -> Federation {
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: nil)
        let f = try await env.store.read { try await Lookup.federation($0, ident, vis) }
        try env.policy.enforce("federation:get", ctx, target: PolicyTarget(projectID: f.projectID, userID: nil))
        return f
    }

    func create(_ body: JSON?, _ ctx: RequestContext) async throws -> String {
        let fields = try FederationRules.schema.decode(body)
        try env.policy.enforce("federation:create", ctx)
        // Upstream's order: host cluster (missing 400, unknown 404), then properties.
        guard let host = fields["hostcluster_id"]?.stringValue else {
            throw MagnumError(.invalid, "No hostcluster specified. Please specify a hostcluster_id.")
        }
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: nil)
        _ = try await env.store.read { try await Lookup.cluster($0, host, vis) }
        guard let props = fields["properties"]?.objectValue?.compactMapValues(\.stringValue) else {
            throw MagnumError(.invalid, "Please specify a `properties` dict for the federation.")
        }
        guard props["dns-zone"] != nil else { throw MagnumError(.invalid, "No DNS zone specified. Please specify a `dns-zone`.") }
        return try await env.store.write { session in
            let hostCluster = try await Lookup.cluster(session, host, vis)
            var f = Federation(uuid: UUIDs.make())
            f.name = fields["name"]?.stringValue ?? GeneratedNames.make("federation")
            f.projectID = ctx.projectID
            f.hostclusterID = hostCluster.uuid
            f.memberIDs = fields["member_ids"]?.arrayValue?.compactMap(\.stringValue) ?? []
            f.properties = props
            f.status = "CREATE_COMPLETE"
            return try await session.insert(f).uuid
        }
    }

    /// Join (`add /member_ids <cluster>`) and unjoin (`remove /member_ids <cluster>`) are
    /// handled here; `properties` is the only other attribute a patch may change.
    func update(_ ident: String, patch: JSON?, _ ctx: RequestContext) async throws -> String {
        let ops = try JSONPatch.parse(patch ?? .null)
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: nil)
        return try await env.store.write { session in
            var f = try await Lookup.federation(session, ident, vis)
            try env.policy.enforce("federation:update", ctx, target: PolicyTarget(projectID: f.projectID, userID: nil))
            let name = f.name ?? f.uuid
            var members = f.memberIDs
            var rest: [PatchOperation] = []
            for op in ops {
                guard op.path == "/member_ids" else { rest.append(op); continue }
                switch (op.op, op.value) {
                case (.add, let value?) where !value.isNull:
                    guard case .string(let clusterIdent) = value else {
                        throw MagnumError.invalidField("member_ids", value.pythonDescription, "Wrong type. Expected '<class 'str'>', got '<class 'int'>'")
                    }
                    let cluster = try await Lookup.cluster(session, clusterIdent, vis)
                    if members.contains(cluster.uuid) {
                        throw MagnumError(.conflict, "A cluster with UUID \(cluster.uuid) is already a member of the federation \(name).")
                    }
                    members.append(cluster.uuid)
                case (.remove, let value?) where !value.isNull:
                    let given = value.pythonDescription
                    guard let i = members.firstIndex(where: { $0 == given || $0 == UUIDs.canonical(given) }) else {
                        throw MagnumError(.notFound, "Cluster \(given) is not a member of the federation \(name).")
                    }
                    members.remove(at: i)
                case (.remove, _):
                    members = []
                default:
                    rest.append(op)
                }
            }
            let oldDoc = FederationRules.document(f)
            let newDoc = try JSONPatch.apply(rest, to: oldDoc, rules: PatchRules(
                internalPaths: PatchRules.commonInternal, nonRemovablePaths: [], literalPaths: ["/properties"]))
            let changed = Set(newDoc.keys.filter { newDoc[$0] != oldDoc[$0] }).subtracting(["properties", "member_ids"])
            if !changed.isEmpty {
                throw MagnumError(.invalid, "cannot change federation property(ies) \(changed.sorted().joined(separator: ", ")).")
            }
            if newDoc["member_ids"] != oldDoc["member_ids"] {
                // A replace of the whole list: it must still be a list.
                let v = newDoc["member_ids"] ?? .null
                throw MagnumError.invalidField("member_ids", v.pythonDescription,
                                               "Wrong type. Expected '<class 'list'>', got '\(v.isNull ? "<class 'NoneType'>" : "<class 'str'>")'")
            }
            if newDoc["properties"] != oldDoc["properties"] {
                let p = try ResourceSchema.coerce(newDoc["properties"] ?? .object([:]), to: FieldSpec("properties", .labels))
                let props = p.objectValue?.compactMapValues(\.stringValue) ?? [:]
                guard props["dns-zone"] != nil else { throw MagnumError(.invalid, "No DNS zone specified. Please specify a `dns-zone`.") }
                f.properties = props
            }
            f.memberIDs = members
            f.status = "UPDATE_COMPLETE"
            return try await session.update(f).uuid
        }
    }

    func delete(_ ident: String, _ ctx: RequestContext) async throws {
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: nil)
        try await env.store.write { session in
            let f = try await Lookup.federation(session, ident, vis)
            try env.policy.enforce("federation:delete", ctx, target: PolicyTarget(projectID: f.projectID, userID: nil))
            try await session.deleteFederation(uuid: f.uuid)
        }
    }
}
