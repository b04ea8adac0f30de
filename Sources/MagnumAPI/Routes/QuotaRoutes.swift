import MagnumCore
import MagnumStore

/// `/v1/quotas`, `/v1/stats` and `/v1/mservices`.
struct QuotaRoutes: Sendable {
    let service: QuotaService
    let maxLimit: Int
    let store: any Store

    func route(_ method: String, _ s: [String]) -> Handler? {
        switch (method, s.count) {
        case ("GET", 1): return { req in
            try req.allowQuery(PageQuery.parameters.union(["all_tenants"]))
            let page = try PageQuery(req, maxLimit: maxLimit, sortable: StoreTable.quotas.sortableColumns, integerMarker: true)
            let all = try await service.list(allTenants: try req.boolQuery("all_tenants") ?? false, sort: page.sort, req.context)
            let (items, next) = try page.page(all, key: { String($0.id) }, notFound: { MagnumError(.notFound, "Quota could not be found: quota id \($0) .") })
            return .ok(page.collection("quotas", items.map(QuotaService.view), next: next, base: req.baseURL, path: "quotas"))
        }
        case ("POST", 1): return { req in
            try req.allowQuery([])
            return APIResponse(201, QuotaService.view(try await service.create(req.body, req.context)))
        }
        case ("GET", 3): return { req in
            try req.allowQuery([])
            return .ok(try await service.get(project: s[1], resource: s[2], req.context))
        }
        case ("PATCH", 3): return { req in
            try req.allowQuery([])
            return APIResponse(202, QuotaService.view(try await service.update(project: s[1], resource: s[2], body: req.body, req.context)))
        }
        case ("DELETE", 3): return { req in
            try req.allowQuery([])
            try await service.delete(project: s[1], resource: s[2], req.context)
            return .noContent
        }
        default: return nil
        }
    }

    var stats: Handler {
        { req in
            try req.allowQuery(["project_id", "type"])
            return .ok(try await service.stats(project: req.query("project_id"), type: req.query("type"), req.context))
        }
    }

    var mservices: Handler {
        { req in
            try req.allowQuery([])
            return .ok(try await service.services(req.context))
        }
    }
}
