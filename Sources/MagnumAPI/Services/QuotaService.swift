import Foundation
import MagnumCore
import MagnumStore

/// Quota, stats and service-record use cases (contract §4.7–§4.9).
struct QuotaService {
    let env: APIEnvironment

    func list(allTenants: Bool, sort: MagnumStore.SortOrder, _ ctx: RequestContext) async throws -> [Quota] {
        try env.policy.enforce("quota:get_all", ctx)
        let project: String? = (ctx.isAdmin && allTenants) ? nil : (ctx.projectID ?? "")
        return try await env.store.read { try await $0.quotas(projectID: project, sort: sort) }
    }

    func get(project: String, resource: String, _ ctx: RequestContext) async throws -> JSON {
        try env.policy.enforce("quota:get", ctx)
        if !ctx.isAdmin && project != ctx.projectID { throw MagnumError(.forbidden, "Not authorized.") }
        if let q = try await env.store.read({ try await $0.quota(projectID: project, resource: resource) }) {
            return QuotaService.view(q)
        }
        return ["hard_limit": .int(env.config.maxClustersPerProject), "project_id": .string(project), "resource": "Cluster"]
    }

    func create(_ body: JSON?, _ ctx: RequestContext) async throws -> Quota {
        let fields = try QuotaRules.schema.decode(body)
        // Upstream's order: project existence, policy, then the (intended) missing-project 400.
        let given = fields["project_id"]?.stringValue
        if let given, !(try await env.catalog.projectExists(given, ctx)) {
            throw MagnumError(.notFound, "The project_id \(given) could not be found.")
        }
        try env.policy.enforce("quota:create", ctx)
        guard let project = given, !project.isEmpty else {
            throw MagnumError(.invalid, "Must provide a valid project ID.")
        }
        let q = Quota(projectID: project, resource: fields["resource"]?.stringValue ?? "Cluster", hardLimit: fields["hard_limit"]?.intValue ?? 1)
        return try await env.store.write { try await $0.insert(q) }
    }

    func update(project: String, resource: String, body: JSON?, _ ctx: RequestContext) async throws -> Quota {
        let fields = try QuotaRules.schema.decode(body ?? .object([:]))
        try env.policy.enforce("quota:update", ctx)
        return try await env.store.write { session in
            guard var q = try await session.quota(projectID: project, resource: resource) else {
                throw MagnumError(.notFound, "Quota could not be found: project_id \(project) resource \(resource).")
            }
            q.hardLimit = fields["hard_limit"]?.intValue ?? 1
            return try await session.update(q)
        }
    }

    func delete(project: String, resource: String, _ ctx: RequestContext) async throws {
        try env.policy.enforce("quota:delete", ctx)
        try await env.store.write { session in
            guard let q = try await session.quota(projectID: project, resource: resource) else {
                throw MagnumError(.notFound, "Quota could not be found: project_id \(project) resource \(resource).")
            }
            try await session.deleteQuota(id: q.id)
        }
    }

    static func view(_ q: Quota) -> JSON {
        ["id": .int(Int(q.id)), "project_id": .string(q.projectID), "resource": .string(q.resource), "hard_limit": .int(q.hardLimit),
         "created_at": JSON(Timestamps.format(q.createdAt)), "updated_at": JSON(Timestamps.format(q.updatedAt))]
    }

    func stats(project: String?, type: String?, _ ctx: RequestContext) async throws -> JSON {
        let t = (type ?? "cluster").lowercased()
        guard t == "cluster" else { throw MagnumError(.invalid, "Invalid stats type. Allowed values are 'cluster'") }
        try env.policy.enforce("stats:get_all", ctx)
        var scope = project
        if !ctx.isAdmin {
            if let p = project, p != ctx.projectID { throw MagnumError(.forbidden, "Not authorized.") }
            scope = ctx.projectID ?? ""
        }
        let s = try await env.store.read { [scope] in try await $0.stats(projectID: scope) }
        return ["clusters": .int(s.clusters), "nodes": .int(s.nodes)]
    }

    func services(_ ctx: RequestContext) async throws -> JSON {
        try env.policy.enforce("magnum-service:get_all", ctx)
        let rows = try await env.store.read { try await $0.services() }
        let now = Date()
        return ["mservices": .array(rows.map { s in
            let seen = s.lastSeenUp ?? s.updatedAt ?? s.createdAt ?? .distantPast
            let up = !s.forcedDown && abs(now.timeIntervalSince(seen)) <= env.config.serviceDownTime
            return ["id": .int(Int(s.id)), "host": JSON(s.host), "binary": .string(s.binary), "state": up ? "up" : "down",
                    "report_count": .int(s.reportCount), "disabled": .bool(s.disabled), "disabled_reason": JSON(s.disabledReason),
                    "created_at": JSON(Timestamps.format(s.createdAt)), "updated_at": JSON(Timestamps.format(s.updatedAt))]
        })]
    }
}
