import MagnumCore

/// A route handler: decodes, calls one service, encodes.
typealias Handler = @Sendable (APIRequest) async throws -> APIResponse

/// Maps `(method, path segments after v1)` to handlers, with upstream's 404/405/406 rules.
struct APIRoutes: Sendable {
    let templates: ClusterTemplateRoutes
    let clusters: ClusterRoutes
    let nodegroups: NodeGroupRoutes
    let quotas: QuotaRoutes
    let federations: FederationRoutes
    let bays: BayRoutes
    let certificates: CertificateRoutes
    let events: ClusterEventRoutes

    init(env: APIEnvironment) {
        templates = ClusterTemplateRoutes(service: ClusterTemplateService(env: env), maxLimit: env.config.maxLimit, store: env.store)
        clusters = ClusterRoutes(service: ClusterService(env: env), maxLimit: env.config.maxLimit, store: env.store)
        nodegroups = NodeGroupRoutes(service: NodeGroupService(env: env), maxLimit: env.config.maxLimit, store: env.store)
        quotas = QuotaRoutes(service: QuotaService(env: env), maxLimit: env.config.maxLimit, store: env.store)
        federations = FederationRoutes(service: FederationService(env: env), maxLimit: env.config.maxLimit, store: env.store)
        bays = BayRoutes(templates: templates, clusters: clusters)
        certificates = CertificateRoutes(service: CertificateService(env: env))
        events = ClusterEventRoutes(service: ClusterEventService(env: env), maxLimit: env.config.maxLimit)
    }

    /// The handler for a request, or the framework error upstream answers.
    func resolve(method: String, segments s: [String], version: Microversion, originalPath: String) throws -> Handler {
        // `…/detail/` and `…/<id>/detail` answer upstream's unformatted 404.
        if originalPath.hasSuffix("/detail/") || (s.count == 3 && s[2] == "detail" && ["clusters", "clustertemplates", "federations"].contains(s[0])) {
            throw MagnumError(.notFound, "The %(name)s resource %(id)s could not be found.")
        }
        let handler: Handler?
        switch s[0] {
        case "clustertemplates": handler = templates.route(method, s)
        case "baymodels": handler = bays.baymodelRoute(method, s)
        case "bays": handler = bays.bayRoute(method, s)
        case "clusters":
            if s.count >= 3 && s[2] == "nodegroups" {
                guard version >= .nodegroups else { throw MagnumError.framework(.notAcceptable) }
                handler = nodegroups.route(method, s)
            } else if s.count == 4 && s[2] == "actions" {
                guard method == "POST" else { throw MagnumError.framework(.methodNotAllowed) }
                switch s[3] {
                case "resize":
                    guard version >= .resize else { throw MagnumError.framework(.notAcceptable) }
                case "upgrade":
                    guard version >= .resize else { throw MagnumError.framework(.notAcceptable) }
                default: throw MagnumError.framework(.methodNotAllowed)
                }
                handler = clusters.actionRoute(s[1], s[3])
            } else if s.count == 3 && s[2] == "events" {
                handler = events.route(method, s)
            } else {
                handler = clusters.route(method, s)
            }
        case "credentials":
            guard s.count == 2 else { throw MagnumError.framework(.notFound) }
            guard method == "PATCH" else { throw MagnumError.framework(.methodNotAllowed) }
            guard version >= .credentials else { throw MagnumError.framework(.notAcceptable) }
            handler = clusters.credentialRoute(s[1])
        case "quotas": handler = quotas.route(method, s)
        case "stats": handler = s.count == 1 ? (method == "GET" ? quotas.stats : nil) : nil
        case "mservices": handler = s.count == 1 ? (method == "GET" ? quotas.mservices : nil) : nil
        case "federations": handler = federations.route(method, s)
        case "certificates": handler = certificates.route(method, s)
        default: throw MagnumError.framework(.notFound)
        }
        guard let handler else {
            throw MagnumError.framework(Self.knownShape(s) ? .methodNotAllowed : .notFound)
        }
        return handler
    }

    /// Paths that exist for some method (so a wrong method is 405, not 404).
    static func knownShape(_ s: [String]) -> Bool {
        switch (s[0], s.count) {
        case ("clustertemplates", 1...2), ("baymodels", 1...2), ("bays", 1...2), ("clusters", 1...2),
             ("federations", 1...2), ("certificates", 1...2), ("quotas", 1), ("quotas", 3), ("stats", 1), ("mservices", 1):
            return true
        case ("clusters", 3...4): return s[2] == "nodegroups" || (s.count == 3 && s[2] == "events")
        default: return false
        }
    }
}
