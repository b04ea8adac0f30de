import MagnumCore
import MagnumStore

/// Federation use cases (contract §4.10). Federations hold no infrastructure of their own, so
/// they are stored and answered at once instead of upstream's never-persisted request.
struct FederationService {
    let env: APIEnvironment

    func list(_ ctx: RequestContext, detail: Bool, sort: SortOrder) async throws -> [Federation] {
        try env.policy.enforce(detail ? "federation:detail" : "federation:get_all", ctx)
        let vis = Lookup.visibility(env, ctx, allProjectsRule: nil)
        return try await env.store.read { try await $0.federations(vis, sort: sort) }
    }

    func get(_ ident: String, _ ctx: RequestContext) async throws -> Federation {
        let vis = Lookup.visibility(env, ctx, allProjectsRule: nil)
        let f = try await env.store.read { try await Lookup.federation($0, ident, vis) }
        try env.policy.enforce("federation:get", ctx, target: PolicyTarget(projectID: f.projectID, userID: nil))
        return f
    }

    func create(_ body: JSON?, _ ctx: RequestContext) async throws -> String {
        let fields = try FederationRules.schema.decode(body)
        try env.policy.enforce("federation:create", ctx)
        guard let host = fields["hostcluster_id"]?.stringValue else {
            throw MagnumError(.invalid, "No hostcluster specified. Please specify a hostcluster_id.")
        }
        guard let props = fields["properties"]?.objectValue?.compactMapValues(\.stringValue) else {
            throw MagnumError(.invalid, "Please specify a `properties` dict for the federation.")
        }
        guard props["dns-zone"] != nil else { throw MagnumError(.invalid, "No DNS zone specified. Please specify a `dns-zone`.") }
        let vis = Lookup.visibility(env, ctx, allProjectsRule: nil)
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

    func update(_ ident: String, patch: JSON?, _ ctx: RequestContext) async throws -> String {
        let ops = try JSONPatch.parse(patch ?? .null)
        let vis = Lookup.visibility(env, ctx, allProjectsRule: nil)
        return try await env.store.write { session in
            var f = try await Lookup.federation(session, ident, vis)
            try env.policy.enforce("federation:update", ctx, target: PolicyTarget(projectID: f.projectID, userID: nil))
            var members = f.memberIDs
            var rest: [PatchOperation] = []
            for op in ops {
                guard op.path == "/member_ids" else { rest.append(op); continue }
                let uuid = op.value?.stringValue ?? ""
                switch op.op {
                case .add:
                    if members.contains(uuid) {
                        throw MagnumError(.conflict, "A cluster with UUID \(uuid) is already a member of the federation \(f.uuid).")
                    }
                    members.append(uuid)
                case .remove:
                    guard let i = members.firstIndex(of: uuid) else { throw MagnumError.notFound("Cluster", uuid) }
                    members.remove(at: i)
                case .replace:
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
            if newDoc["properties"] != oldDoc["properties"] {
                let p = try ResourceSchema.coerce(newDoc["properties"] ?? .object([:]), to: FieldSpec("properties", .labels))
                f.properties = p.objectValue?.compactMapValues(\.stringValue) ?? [:]
            }
            f.memberIDs = members
            f.status = "UPDATE_COMPLETE"
            return try await session.update(f).uuid
        }
    }

    func delete(_ ident: String, _ ctx: RequestContext) async throws {
        let vis = Lookup.visibility(env, ctx, allProjectsRule: nil)
        try await env.store.write { session in
            let f = try await Lookup.federation(session, ident, vis)
            try env.policy.enforce("federation:delete", ctx, target: PolicyTarget(projectID: f.projectID, userID: nil))
            try await session.deleteFederation(uuid: f.uuid)
        }
    }
}
