import MagnumCore
import MagnumStore

/// `/v1/clusters`, its actions and `/v1/credentials`.
struct ClusterRoutes: Sendable {
    let service: ClusterService
    let maxLimit: Int
    let store: any Store

    func route(_ method: String, _ s: [String]) -> Handler? {
        switch (method, s.count) {
        case ("GET", 1): return { try await list($0, detail: false) }
        case ("GET", 2) where s[1] == "detail": return { try await list($0, detail: true) }
        case ("POST", 1): return { req in
            try req.allowQuery([])
            let fields = try ClusterRules.schema.decode(req.body)
            return .accepted(uuid: try await service.create(fields, version: req.version, req.context))
        }
        case ("GET", 2): return { req in
            try req.allowQuery([])
            let l = try await service.get(s[1], req.context)
            return .ok(ClusterViews.render(l, version: req.version, base: req.baseURL, brief: false, withFaults: true))
        }
        case ("PATCH", 2): return { req in
            try req.allowQuery(req.version >= .rollback ? ["rollback"] : [])
            let rollback = try req.boolQuery("rollback") ?? false
            return .accepted(uuid: try await service.update(s[1], patch: req.body, rollback: rollback, version: req.version, req.context))
        }
        case ("DELETE", 2): return { req in
            try req.allowQuery([])
            try await service.delete(s[1], req.context)
            return .noContent
        }
        default: return nil
        }
    }

    func actionRoute(_ ident: String, _ action: String) -> Handler {
        { req in
            try req.allowQuery([])
            if action == "resize" {
                return .accepted(uuid: try await service.resize(ident, body: req.body, version: req.version, req.context))
            }
            guard req.version >= .upgrade else {
                throw MagnumError(.invalid, "Cluster upgrade is not supported in the provided microversion.")
            }
            return .accepted(uuid: try await service.upgrade(ident, body: req.body, req.context))
        }
    }

    func credentialRoute(_ ident: String) -> Handler {
        { req in
            try req.allowQuery([])
            return .accepted(uuid: try await service.rotateCredential(ident, req.context))
        }
    }

    func list(_ req: APIRequest, detail: Bool) async throws -> APIResponse {
        try req.allowQuery(PageQuery.parameters)
        let page = try PageQuery(req, maxLimit: maxLimit, sortable: StoreTable.cluster.sortableColumns)
        let all = try await service.list(req.context, detail: detail, sort: page.sort)
        let (items, next) = try page.page(all, key: \.cluster.uuid, notFound: { MagnumError.notFound("Cluster", $0) })
        let views = items.map { ClusterViews.render($0, version: req.version, base: req.baseURL, brief: !detail, withFaults: false) }
        return .ok(page.collection("clusters", views, next: next, base: req.baseURL, path: detail ? "clusters/detail" : "clusters"))
    }
}
