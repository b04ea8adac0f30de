import MagnumCore
import MagnumStore

/// `/v1/clustertemplates`.
struct ClusterTemplateRoutes: Sendable {
    let service: ClusterTemplateService
    let maxLimit: Int
    let store: any Store

    func route(_ method: String, _ s: [String]) -> Handler? {
        switch (method, s.count) {
        case ("GET", 1): return { try await list($0, detail: false) }
        case ("GET", 2) where s[1] == "detail": return { try await list($0, detail: true) }
        case ("POST", 1): return create
        case ("GET", 2): return { req in
            try req.allowQuery([])
            return .ok(ClusterTemplateViews.full(try await service.get(s[1], req.context), base: req.baseURL))
        }
        case ("PATCH", 2): return { req in
            try req.allowQuery([])
            return .ok(ClusterTemplateViews.full(try await service.update(s[1], req.body, req.context), base: req.baseURL))
        }
        case ("DELETE", 2): return { req in
            try req.allowQuery([])
            try await service.delete(s[1], req.context)
            return .noContent
        }
        default: return nil
        }
    }

    func list(_ req: APIRequest, detail: Bool) async throws -> APIResponse {
        try req.allowQuery(PageQuery.parameters)
        let page = try PageQuery(req, maxLimit: maxLimit, sortable: StoreTable.clusterTemplate.sortableColumns)
        let all = try await service.list(req.context, detail: detail, sort: page.sort)
        let (items, next) = try page.page(all, key: \.uuid, notFound: { MagnumError.notFound("ClusterTemplate", $0) })
        return .ok(page.collection("clustertemplates", items.map { ClusterTemplateViews.full($0, base: req.baseURL) }, next: next,
                                   base: req.baseURL, path: detail ? "clustertemplates/detail" : "clustertemplates"))
    }

    func create(_ req: APIRequest) async throws -> APIResponse {
        try req.allowQuery([])
        let t = try await service.create(req.body, req.context)
        return APIResponse(201, ClusterTemplateViews.full(t, base: req.baseURL),
                           headers: [("Location", "\(req.baseURL)/v1/clustertemplates/\(t.uuid)")])
    }
}
