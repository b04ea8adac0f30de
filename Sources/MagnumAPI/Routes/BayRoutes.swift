import MagnumCore
import MagnumStore

/// The seed's legacy names: `/v1/baymodels` (cluster templates) and `/v1/bays` (clusters)
/// with their historical field names and microversion 1.1–1.2 semantics (contract §4.11).
struct BayRoutes: Sendable {
    let templates: ClusterTemplateRoutes
    let clusters: ClusterRoutes

    static let renames = ["cluster_template_id": "baymodel_id", "create_timeout": "bay_create_timeout", "faults": "bay_faults"]
    /// Cluster attributes the historical bay object never had.
    static let hidden = ["keypair", "merge_labels", "labels_overridden", "labels_added", "labels_skipped", "health_status",
                         "health_status_reason", "project_id", "user_id"]
    /// `POST /v1/bays` body: the legacy names plus the network options bays gained before removal.
    static let schema = ResourceSchema(argument: "bay", fields: ClusterRules.baySchema.fields + [
        FieldSpec("fixed_network", .string(min: 1, max: 255)),
        FieldSpec("fixed_subnet", .string(min: 1, max: 255)),
        FieldSpec("floating_ip_enabled", .boolean),
        FieldSpec("master_lb_enabled", .boolean),
    ])
    static let briefKeys: Set<String> = ["uuid", "name", "baymodel_id", "docker_volume_size", "labels", "master_flavor_id",
                                         "flavor_id", "node_count", "status", "bay_create_timeout", "master_count", "stack_id", "links"]

    func baymodelRoute(_ method: String, _ s: [String]) -> Handler? {
        guard let inner = templates.route(method, ["clustertemplates"] + s.dropFirst()) else { return nil }
        return { req in
            var out = try await inner(req)
            out.body = out.body.map { Self.relink($0, from: "clustertemplates", to: "baymodels") }
            out.headers = out.headers.map { ($0.0, $0.1.replacingOccurrences(of: "/clustertemplates/", with: "/baymodels/")) }
            return out
        }
    }

    func bayRoute(_ method: String, _ s: [String]) -> Handler? {
        let service = clusters.service
        switch (method, s.count) {
        case ("GET", _) where s.count == 1 || (s.count == 2 && s[1] == "detail"):
            let detail = s.count == 2
            return { req in
                var out = try await clusters.list(req, detail: detail)
                if case .object(var o)? = out.body {
                    o["bays"] = .array((o.removeValue(forKey: "clusters")?.arrayValue ?? []).map { Self.bay($0, brief: !detail) })
                    if case .string(let n)? = o["next"] { o["next"] = .string(n.replacingOccurrences(of: "/v1/clusters", with: "/v1/bays")) }
                    out.body = .object(o)
                }
                return out
            }
        case ("GET", 2): return { req in
            try req.allowQuery([])
            let l = try await service.get(s[1], req.context)
            return .ok(Self.bay(ClusterViews.render(l, version: .minimum, base: req.baseURL, brief: false, withFaults: true), brief: false))
        }
        case ("POST", 1): return { req in
            try req.allowQuery([])
            var fields = try Self.schema.decode(req.body)
            fields["cluster_template_id"] = fields.removeValue(forKey: "baymodel_id")
            if let t = fields.removeValue(forKey: "bay_create_timeout") { fields["create_timeout"] = t }
            // At 1.1 semantics an unknown baymodel is a 400 (upstream's "ClusterTemplate <x> could
            // not be found." with the code changed).
            let uuid = try await service.create(fields, version: .minimum, req.context)
            guard req.version == .minimum else { return .accepted(uuid: uuid) }
            let l = try await service.get(uuid, req.context)
            return APIResponse(201, Self.bay(ClusterViews.render(l, version: .minimum, base: req.baseURL, brief: false, withFaults: false), brief: false),
                               headers: [("Location", "\(req.baseURL)/v1/bays/\(uuid)")])
        }
        case ("PATCH", 2): return { req in
            try req.allowQuery(req.version >= .rollback ? ["rollback"] : [])
            let uuid = try await service.update(s[1], patch: Self.clusterPatch(req.body), rollback: try req.boolQuery("rollback") ?? false,
                                                version: .minimum, req.context)
            guard req.version == .minimum else { return .accepted(uuid: uuid) }
            let l = try await service.get(uuid, req.context)
            return .ok(Self.bay(ClusterViews.render(l, version: .minimum, base: req.baseURL, brief: false, withFaults: false), brief: false))
        }
        case ("DELETE", 2): return { req in
            try req.allowQuery([])
            try await service.delete(s[1], req.context)
            return .noContent
        }
        default: return nil
        }
    }

    /// A cluster view renamed to a bay view.
    static func bay(_ cluster: JSON, brief: Bool) -> JSON {
        guard case .object(var o) = cluster else { return cluster }
        for (new, old) in renames { if let v = o.removeValue(forKey: new) { o[old] = v } }
        // Bays keep `stack_id` at every microversion.
        if let v = o.removeValue(forKey: "cluster_id") { o["stack_id"] = v }
        for k in hidden { o.removeValue(forKey: k) }
        if brief { o = o.filter { briefKeys.contains($0.key) } }
        return relink(.object(o), from: "clusters", to: "bays")
    }

    /// A bay patch in cluster terms: `/baymodel_id` and `/bay_create_timeout` (and paths below
    /// them) address the cluster's `cluster_template_id` and `create_timeout`.
    static func clusterPatch(_ body: JSON?) -> JSON? {
        guard case .array(let ops)? = body else { return body }
        return .array(ops.map { op in
            guard case .object(var o) = op, let path = o["path"]?.stringValue else { return op }
            for (new, old) in renames where path == "/\(old)" || path.hasPrefix("/\(old)/") {
                o["path"] = .string("/\(new)" + path.dropFirst(old.count + 1))
            }
            return .object(o)
        })
    }

    static func relink(_ v: JSON, from: String, to: String) -> JSON {
        switch v {
        case .object(var o):
            if let links = o["links"]?.arrayValue {
                o["links"] = .array(links.map { l in
                    guard case .object(var lo) = l, let href = lo["href"]?.stringValue else { return l }
                    lo["href"] = .string(href.replacingOccurrences(of: "/\(from)/", with: "/\(to)/"))
                    return .object(lo)
                })
            }
            for key in ["clustertemplates"] where from == "clustertemplates" {
                if let items = o.removeValue(forKey: key)?.arrayValue {
                    o["baymodels"] = .array(items.map { relink($0, from: from, to: to) })
                }
            }
            if case .string(let n)? = o["next"] { o["next"] = .string(n.replacingOccurrences(of: "/v1/\(from)", with: "/v1/\(to)")) }
            return .object(o)
        default: return v
        }
    }
}
