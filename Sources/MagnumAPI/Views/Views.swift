import MagnumCore

/// Version documents (contract §2.1–2.2).
enum VersionViews {
    static func root(base: String) -> JSON {
        ["name": "OpenStack Magnum API",
         "description": "Magnum is an OpenStack project which aims to provide container cluster management.",
         "versions": [["id": "v1", "links": [["href": .string("\(base)/v1/"), "rel": "self"]], "status": "CURRENT",
                       "max_version": .string(Microversion.maximum.description), "min_version": .string(Microversion.minimum.description)]]]
    }

    static func v1(base: String) -> JSON {
        var o: [String: JSON] = [
            "id": "v1",
            "media_types": [["base": "application/json", "type": "application/vnd.openstack.magnum.v1+json"]],
            "links": [["href": .string("\(base)/v1/"), "rel": "self"],
                      ["href": "http://docs.openstack.org/developer/magnum/dev/api-spec-v1.html", "rel": "describedby", "type": "text/html"]],
            "nodegroups": [["href": .string("\(base)/v1/clusters/{cluster_id}/nodegroups"), "rel": "self"],
                           ["href": .string("\(base)/clusters/{cluster_id}/nodegroups"), "rel": "bookmark"]],
        ]
        for name in ["clustertemplates", "clusters", "quotas", "certificates", "mservices", "stats", "federations", "credentials"] {
            o[name] = [["href": .string("\(base)/v1/\(name)/"), "rel": "self"], ["href": .string("\(base)/\(name)/"), "rel": "bookmark"]]
        }
        return .object(o)
    }
}

/// Cluster template views: list, detail and single views are all full objects.
enum ClusterTemplateViews {
    static func full(_ t: ClusterTemplate, base: String) -> JSON {
        var d = ClusterTemplateRules.document(t)
        d["links"] = Links.make(base, "clustertemplates/\(t.uuid)")
        return .object(d)
    }
}

/// Cluster views per microversion (contract §4.2.1, §2.5).
enum ClusterViews {
    static let briefKeys: Set<String> = ["uuid", "name", "cluster_template_id", "keypair", "node_count", "master_count",
                                         "docker_volume_size", "labels", "master_flavor_id", "flavor_id", "create_timeout",
                                         "stack_id", "status", "health_status", "merge_labels"]

    static func render(_ l: ClusterService.Loaded, version: Microversion, base: String, brief: Bool, withFaults: Bool) -> JSON {
        var d = ClusterRules.document(l.cluster, nodegroups: l.nodegroups, templateLabels: brief ? nil : (l.templateLabels ?? [:]))
        if brief { d = d.filter { briefKeys.contains($0.key) } }
        if version >= .clusterID, let v = d.removeValue(forKey: "stack_id") { d["cluster_id"] = v }
        d["links"] = Links.make(base, "clusters/\(l.cluster.uuid)")
        if withFaults, let f = ClusterRules.faults(l.cluster, nodegroups: l.nodegroups) { d["faults"] = f }
        return .object(d)
    }
}

/// Nodegroup views (contract §4.4.2).
enum NodeGroupViews {
    static func detail(_ ng: NodeGroup, cluster: Cluster, base: String) -> JSON {
        var d = NodeGroupRules.document(ng, clusterLabels: cluster.labels)
        d["links"] = Links.make(base, "clusters/\(cluster.uuid)/nodegroups/\(ng.uuid)")
        return .object(d)
    }

    /// The list element: brief fields. Upstream shows constant `min_node_count: 0` and
    /// `max_node_count: null` here (quirk 5); this view shows the stored values.
    static func brief(_ ng: NodeGroup) -> JSON {
        ["uuid": .string(ng.uuid), "name": JSON(ng.name), "flavor_id": JSON(ng.flavorID), "image_id": JSON(ng.imageID),
         "node_count": .int(ng.nodeCount), "role": .string(ng.role), "is_default": .bool(ng.isDefault),
         "status": JSON(ng.status?.rawValue), "stack_id": JSON(ng.stackID),
         "min_node_count": .int(ng.minNodeCount), "max_node_count": JSON(ng.maxNodeCount), "merge_labels": false]
    }

    /// The 202 body of a create: the submitted object.
    static func submitted(_ ng: NodeGroup, cluster: Cluster, base: String) -> JSON {
        var d = NodeGroupRules.document(ng, clusterLabels: cluster.labels)
        for k in ["id", "status", "status_reason", "created_at", "updated_at", "is_default", "stack_id", "version", "node_addresses"] {
            d.removeValue(forKey: k)
        }
        if ng.nodeLabels == nil { d.removeValue(forKey: "node_labels") }
        if ng.nodeTaints == nil { d.removeValue(forKey: "node_taints") }
        if ng.dockerVolumeSize == nil { d.removeValue(forKey: "docker_volume_size") }
        d["links"] = Links.make(base, "clusters/\(cluster.uuid)/nodegroups/\(ng.uuid)")
        return .object(d)
    }
}

/// Federation views.
enum FederationViews {
    static let briefKeys: Set<String> = ["uuid", "name", "hostcluster_id", "member_ids", "status", "properties", "links"]

    static func render(_ f: Federation, base: String, brief: Bool) -> JSON {
        var d = FederationRules.document(f)
        d["links"] = Links.make(base, "federations/\(f.uuid)")
        if brief { d = d.filter { briefKeys.contains($0.key) } }
        return .object(d)
    }
}
