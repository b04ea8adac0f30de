import MagnumCore
import MagnumStore

/// `/v1/federations`.
struct FederationRoutes: Sendable {
    let service: FederationService
    let maxLimit: Int
    let store: any Store

    func route(_ method: String, _ s: [String]) -> Handler? {
        switch (method, s.count) {
        case ("GET", 1): return { try await list($0, detail: false) }
        case ("GET", 2) where s[1] == "detail": return { try await list($0, detail: true) }
        case ("POST", 1): return { req in
            try req.allowQuery([])
            return .accepted(uuid: try await service.create(req.body, req.context))
        }
        case ("GET", 2): return { req in
            try req.allowQuery([])
            return .ok(FederationViews.render(try await service.get(s[1], req.context), base: req.baseURL, brief: false))
        }
        case ("PATCH", 2): return { req in
            try req.allowQuery(["rollback"])
            _ = try req.boolQuery("rollback")
            return .accepted(uuid: try await service.update(s[1], patch: req.body, req.context))
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
        let page = try PageQuery(req, maxLimit: maxLimit, sortable: StoreTable.federation.sortableColumns)
        let all = try await service.list(req.context, detail: detail, sort: page.sort)
        let (items, next) = try page.page(all, key: \.uuid, notFound: { MagnumError.notFound("Federation", $0) })
        return .ok(page.collection("federations", items.map { FederationViews.render($0, base: req.baseURL, brief: !detail) }, next: next,
                                   base: req.baseURL, path: detail ? "federations/detail" : "federations"))
    }
}
