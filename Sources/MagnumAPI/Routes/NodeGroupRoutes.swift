import MagnumCore
import MagnumStore

/// `/v1/clusters/{c}/nodegroups` (µv ≥ 1.9).
struct NodeGroupRoutes: Sendable {
    let service: NodeGroupService
    let maxLimit: Int
    let store: any Store

    func route(_ method: String, _ s: [String]) -> Handler? {
        let cluster = s[1]
        switch (method, s.count) {
        case ("GET", 3): return { req in
            try req.allowQuery(PageQuery.parameters.union(["role"]))
            let page = try PageQuery(req, maxLimit: maxLimit, sortable: StoreTable.nodegroup.sortableColumns)
            let (c, all) = try await service.list(cluster, role: req.query("role"), sort: page.sort, req.context)
            let (items, next) = try page.page(all, key: \.uuid, notFound: { MagnumError.notFound("Nodegroup", $0) })
            return .ok(page.collection("nodegroups", items.map(NodeGroupViews.brief), next: next, base: req.baseURL,
                                       path: "clusters/\(c.uuid)/nodegroups"))
        }
        case ("POST", 3): return { req in
            try req.allowQuery([])
            let (c, ng) = try await service.create(cluster, body: req.body, version: req.version, req.context)
            return APIResponse(202, NodeGroupViews.submitted(ng, cluster: c, base: req.baseURL))
        }
        case ("GET", 4): return { req in
            try req.allowQuery([])
            let (c, ng) = try await service.get(cluster, s[3], req.context)
            return .ok(NodeGroupViews.detail(ng, cluster: c, base: req.baseURL))
        }
        case ("PATCH", 4): return { req in
            try req.allowQuery([])
            let (c, ng) = try await service.update(cluster, s[3], patch: req.body, req.context)
            return APIResponse(202, NodeGroupViews.detail(ng, cluster: c, base: req.baseURL))
        }
        case ("DELETE", 4): return { req in
            try req.allowQuery([])
            try await service.delete(cluster, s[3], req.context)
            return .noContent
        }
        default: return nil
        }
    }
}
