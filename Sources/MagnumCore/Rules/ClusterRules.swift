/// Validation, defaults and patch rules of clusters (contract §4.2, §6.2).
public enum ClusterRules {
    /// Attributes computed by the server and refused on input.
    static let readOnly = ["stack_id", "cluster_id", "api_address", "coe_version", "container_version",
                           "project_id", "user_id", "node_addresses", "master_addresses", "links",
                           "created_at", "updated_at", "faults", "labels_overridden", "labels_added", "labels_skipped"]

    /// Body attributes of `POST /v1/clusters`.
    public static let schema = ResourceSchema(argument: "cluster", fields: [
        FieldSpec("uuid", .any, ignored: true),
        FieldSpec("name", .resourceName(max: 242)),
        FieldSpec("cluster_template_id", .string(min: 1, max: 255), mandatory: true),
        FieldSpec("keypair", .string(min: 1, max: 255)),
        FieldSpec("node_count", .integer(min: 0, max: nil)),
        FieldSpec("master_count", .integer(min: 1, max: nil)),
        FieldSpec("docker_volume_size", .integer(min: 1, max: nil)),
        FieldSpec("labels", .labels),
        FieldSpec("master_flavor_id", .string(min: 1, max: 255)),
        FieldSpec("flavor_id", .string(min: 1, max: 255)),
        FieldSpec("create_timeout", .integer(min: 0, max: nil)),
        FieldSpec("discovery_url", .string(min: 0, max: 255)),
        FieldSpec("fixed_network", .string(min: 1, max: 255)),
        FieldSpec("fixed_subnet", .string(min: 1, max: 255)),
        FieldSpec("floating_ip_enabled", .boolean),
        FieldSpec("master_lb_enabled", .boolean),
        FieldSpec("merge_labels", .boolean),
        FieldSpec("status", .any, ignored: true),
        FieldSpec("status_reason", .any, ignored: true),
        FieldSpec("health_status", .any, ignored: true),
        FieldSpec("health_status_reason", .any, ignored: true),
    ] + readOnly.map { FieldSpec($0, .any, readOnly: true) })

    /// Body attributes of the legacy `POST /v1/bays`: the cluster's with historical names and
    /// `node_count ≥ 1`.
    public static let baySchema = ResourceSchema(argument: "bay", fields: [
        FieldSpec("uuid", .any, ignored: true),
        FieldSpec("name", .resourceName(max: 242)),
        FieldSpec("baymodel_id", .string(min: 1, max: 255), mandatory: true),
        FieldSpec("node_count", .integer(min: 1, max: nil)),
        FieldSpec("master_count", .integer(min: 1, max: nil)),
        FieldSpec("docker_volume_size", .integer(min: 1, max: nil)),
        FieldSpec("labels", .labels),
        FieldSpec("master_flavor_id", .string(min: 1, max: 255)),
        FieldSpec("flavor_id", .string(min: 1, max: 255)),
        FieldSpec("bay_create_timeout", .integer(min: 0, max: nil)),
        FieldSpec("discovery_url", .string(min: 0, max: 255)),
        FieldSpec("status", .any, ignored: true),
        FieldSpec("status_reason", .any, ignored: true),
    ] + ["stack_id", "api_address", "coe_version", "container_version", "node_addresses", "master_addresses",
         "links", "created_at", "updated_at", "bay_faults", "project_id", "user_id"].map { FieldSpec($0, .any, readOnly: true) })

    /// JSON-patch rules of `PATCH /v1/clusters/{c}`.
    public static let patchRules = PatchRules(
        internalPaths: PatchRules.commonInternal.union([
            "/api_address", "/node_addresses", "/master_addresses", "/stack_id", "/cluster_id",
            "/ca_cert_ref", "/magnum_cert_ref", "/etcd_ca_cert_ref", "/front_proxy_ca_cert_ref",
        ]),
        nonRemovablePaths: ["/cluster_template_id"],
        literalPaths: ["/labels", "/health_status_reason"]
    )

    /// The attributes a PATCH may change.
    public static let patchable: Set<String> = ["node_count", "health_status", "health_status_reason"]

    /// Counts and addresses a cluster derives from its nodegroups.
    public static func derived(_ nodegroups: [NodeGroup]) -> (masterCount: Int, nodeCount: Int, masterAddresses: [String], nodeAddresses: [String]) {
        var mc = 0, nc = 0
        var ma: [String] = [], na: [String] = []
        for ng in nodegroups.sorted(by: { $0.id < $1.id }) {
            if ng.isMaster {
                mc += ng.nodeCount
                ma += ng.nodeAddresses
            } else {
                nc += ng.nodeCount
                na += ng.nodeAddresses
            }
        }
        return (mc, nc, ma, na)
    }

    /// Every attribute of a cluster's detail view except links, `faults` and the version-dependent
    /// `stack_id`/`cluster_id` key (the patch document uses `stack_id`).
    public static func document(_ c: Cluster, nodegroups: [NodeGroup], templateLabels: [String: String]?) -> [String: JSON] {
        let d = derived(nodegroups)
        var doc: [String: JSON] = [
            "uuid": .string(c.uuid), "name": JSON(c.name), "cluster_template_id": .string(c.clusterTemplateID),
            "keypair": JSON(c.keypair), "node_count": .int(d.nodeCount), "master_count": .int(d.masterCount),
            "docker_volume_size": JSON(c.dockerVolumeSize), "labels": JSON(c.labels),
            "master_flavor_id": JSON(c.masterFlavorID), "flavor_id": JSON(c.flavorID),
            "create_timeout": JSON(c.createTimeout), "stack_id": JSON(c.stackID),
            "status": JSON(c.status?.rawValue), "status_reason": JSON(c.statusReason),
            "health_status": JSON(c.healthStatus?.rawValue), "health_status_reason": JSON(c.healthStatusReason),
            "discovery_url": JSON(c.discoveryURL), "api_address": JSON(c.apiAddress),
            "coe_version": JSON(c.coeVersion), "container_version": JSON(c.containerVersion),
            "project_id": JSON(c.projectID), "user_id": JSON(c.userID),
            "node_addresses": JSON(d.nodeAddresses), "master_addresses": JSON(d.masterAddresses),
            "fixed_network": JSON(c.fixedNetwork), "fixed_subnet": JSON(c.fixedSubnet),
            "floating_ip_enabled": .bool(c.floatingIPEnabled), "master_lb_enabled": .bool(c.masterLBEnabled),
            "merge_labels": false,
            "created_at": JSON(Timestamps.format(c.createdAt)), "updated_at": JSON(Timestamps.format(c.updatedAt)),
        ]
        if let templateLabels {
            let diff = Labels.diff(child: c.labels, parent: templateLabels)
            doc["labels_overridden"] = JSON(diff.overridden)
            doc["labels_added"] = JSON(diff.added)
            doc["labels_skipped"] = JSON(diff.skipped)
        }
        return doc
    }

    /// `faults`: `{nodegroup name: reason}` of failed nodegroups (a missing reason is `null`,
    /// as upstream renders `None`), only for failed clusters.
    public static func faults(_ c: Cluster, nodegroups: [NodeGroup]) -> JSON? {
        guard let s = c.status, ClusterStatus.failed.contains(s) else { return nil }
        var f: [String: JSON] = [:]
        for ng in nodegroups where ng.status?.isFailed == true {
            f[ng.name ?? ng.uuid] = JSON(ng.statusReason)
        }
        return .object(f)
    }

    /// The base driver's master-size rule: odd and at least one.
    public static func validateMasterCount(_ n: Int) throws {
        if n < 1 || n % 2 == 0 {
            throw MagnumError(.invalid, "master nodegroup size of \(n) is invalid, size cannot be an even number.")
        }
    }

    /// Below µv 1.10 a nodegroup cannot be sized to zero.
    public static func checkZeroNodes(_ n: Int, version: Microversion) throws {
        if n == 0 && version < .zeroNodes {
            throw MagnumError(.invalid, "Resizing a nodegroup to zero is not supported in the provided microversion.")
        }
    }

    /// The properties a patched document changed that a PATCH may not change, in a stable order.
    public static func forbiddenChanges(old: [String: JSON], new: [String: JSON]) -> [String] {
        let keys = Set(old.keys).union(new.keys).subtracting(patchable).subtracting(["updated_at", "merge_labels"])
        return keys.filter { (old[$0] ?? .null) != (new[$0] ?? .null) }.sorted()
    }

    /// The state gate of an operation: 400 with upstream's message when the cluster's status
    /// does not allow it (upstream answers 202 and refuses silently; the contract recommends 400).
    public static func checkState(_ c: Cluster, allowed: Set<ClusterStatus>, verb: String) throws {
        let s = c.status ?? .createInProgress
        if !allowed.contains(s) {
            throw MagnumError(.notSupported, "\(verb) a cluster when status is \"\(s.rawValue)\" is not supported.")
        }
    }
}

/// Validation and patch rules of nodegroups (contract §4.4, §6.3).
public enum NodeGroupRules {
    /// Body attributes of `POST …/nodegroups`.
    public static let schema = ResourceSchema(argument: "nodegroup", fields: [
        FieldSpec("uuid", .any, ignored: true),
        FieldSpec("name", .string(min: 1, max: 255)),
        FieldSpec("docker_volume_size", .integer(min: 1, max: nil)),
        FieldSpec("labels", .labels),
        FieldSpec("flavor_id", .string(min: 1, max: 255)),
        FieldSpec("image_id", .string(min: 1, max: 255)),
        FieldSpec("node_count", .integer(min: 0, max: nil)),
        FieldSpec("role", .string(min: 1, max: 255)),
        FieldSpec("min_node_count", .integer(min: 0, max: nil)),
        FieldSpec("max_node_count", .integer(min: 0, max: nil)),
        FieldSpec("merge_labels", .boolean),
        FieldSpec("node_labels", .labels),
        FieldSpec("node_taints", .any),
    ] + ["id", "cluster_id", "project_id", "node_addresses", "is_default", "stack_id", "status", "status_reason",
         "version", "links", "created_at", "updated_at", "labels_overridden", "labels_added", "labels_skipped"]
        .map { FieldSpec($0, .any, readOnly: true) })

    /// JSON-patch rules of `PATCH …/nodegroups/{ng}`: only min/max counts, node labels and
    /// node taints are patchable.
    public static let patchRules = PatchRules(
        internalPaths: PatchRules.commonInternal.union([
            "/name", "/cluster_id", "/docker_volume_size", "/labels", "/flavor_id", "/image_id", "/node_addresses",
            "/node_count", "/role", "/is_default", "/stack_id", "/status", "/status_reason", "/version",
            "/merge_labels", "/labels_overridden", "/labels_added", "/labels_skipped",
        ]),
        nonRemovablePaths: [],
        literalPaths: ["/node_labels", "/node_taints"]
    )

    /// The full detail document of a nodegroup (no links).
    public static func document(_ ng: NodeGroup, clusterLabels: [String: String]) -> [String: JSON] {
        let diff = Labels.diff(child: ng.labels, parent: clusterLabels)
        return [
            "id": .int(Int(ng.id)), "uuid": .string(ng.uuid), "name": JSON(ng.name), "cluster_id": .string(ng.clusterID),
            "project_id": JSON(ng.projectID), "docker_volume_size": JSON(ng.dockerVolumeSize), "labels": JSON(ng.labels),
            "flavor_id": JSON(ng.flavorID), "image_id": JSON(ng.imageID), "node_addresses": JSON(ng.nodeAddresses),
            "node_count": .int(ng.nodeCount), "role": .string(ng.role), "min_node_count": .int(ng.minNodeCount),
            "max_node_count": JSON(ng.maxNodeCount), "is_default": .bool(ng.isDefault), "stack_id": JSON(ng.stackID),
            "status": JSON(ng.status?.rawValue), "status_reason": JSON(ng.statusReason), "version": JSON(ng.version),
            "merge_labels": false,
            "labels_overridden": JSON(diff.overridden), "labels_added": JSON(diff.added), "labels_skipped": JSON(diff.skipped),
            "node_labels": JSON(ng.nodeLabels ?? [:]), "node_taints": .array((ng.nodeTaints ?? []).map(\.json)),
            "created_at": JSON(Timestamps.format(ng.createdAt)), "updated_at": JSON(Timestamps.format(ng.updatedAt)),
        ]
    }

    /// Min/max/count rules, all answered with 409 "<attr> for <ng> is invalid (<why>)."
    public static func checkCounts(_ ng: NodeGroup) throws {
        let name = ng.name ?? ng.uuid
        if let max = ng.maxNodeCount {
            if max < ng.minNodeCount {
                throw invalid("max_node_count", name, "min_node_count (\(ng.minNodeCount)) should be less or equal to max_node_count (\(max))")
            }
            if ng.nodeCount > max {
                // Upstream names `max_node_count` as the invalid attribute here too.
                throw invalid("max_node_count", name, "node_count (\(ng.nodeCount)) should be less or equal to max_node_count (\(max))")
            }
        }
        if ng.minNodeCount > ng.nodeCount {
            throw invalid("min_node_count", name, "min_node_count (\(ng.minNodeCount)) should be less or equal to node_count (\(ng.nodeCount))")
        }
    }

    /// Label prefixes Kubernetes reserves, and the exceptions allowed on nodes.
    static let allowedReservedKeys: Set<String> = [
        "beta.kubernetes.io/arch", "beta.kubernetes.io/instance-type", "beta.kubernetes.io/os",
        "failure-domain.beta.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
        "kubernetes.io/arch", "kubernetes.io/hostname", "kubernetes.io/os",
        "node.kubernetes.io/instance-type", "node.kubernetes.io/windows-build",
        "topology.kubernetes.io/region", "topology.kubernetes.io/zone",
    ]

    /// Node label and taint rules (409), including "not on masters", with upstream's wording.
    public static func checkNodeLabelsAndTaints(_ ng: NodeGroup) throws {
        let name = ng.name ?? ng.uuid
        if ng.isMaster {
            if !(ng.nodeLabels ?? [:]).isEmpty { throw invalid("node_labels", name, "node_labels may not be set on master nodegroups") }
            if !(ng.nodeTaints ?? []).isEmpty { throw invalid("node_taints", name, "node_taints may not be set on master nodegroups") }
        }
        for key in (ng.nodeLabels ?? [:]).keys.sorted() {
            guard let slash = key.firstIndex(of: "/") else { continue }
            let prefix = String(key[..<slash])
            let reserved = prefix == "kubernetes.io" || prefix == "k8s.io" || prefix.hasSuffix(".kubernetes.io") || prefix.hasSuffix(".k8s.io")
            if reserved && !allowedReservedPrefixes.contains(prefix) && !allowedReservedKeys.contains(key) {
                throw invalid("node_labels", name, reservedLabelExplanation(key))
            }
        }
    }

    /// Prefixes of the reserved namespaces the kubelet may still self-apply.
    static let allowedReservedPrefixes = ["kubelet.kubernetes.io", "node.kubernetes.io"]

    /// Upstream's explanation for a label in a reserved namespace (its own final period
    /// included, so the message ends in ").)." as upstream's does).
    public static func reservedLabelExplanation(_ key: String) -> String {
        "node label '\(key)' is in a restricted Kubernetes namespace; the kubelet will refuse to start. "
            + "Labels in the kubernetes.io/ and k8s.io/ namespaces must use one of the allowed prefixes "
            + "(\(allowedReservedPrefixes.joined(separator: ", "))) or be one of the allowed labels "
            + "(\(allowedReservedKeys.sorted().joined(separator: ", ")))."
    }

    /// Parses `node_taints` (a list of `{key, value?, effect}`); 409 on a malformed taint, with
    /// upstream's wording (`node_taints[<i>]…`).
    public static func taints(_ value: JSON?, nodegroup name: String) throws -> [NodeTaint]? {
        guard let value, !value.isNull else { return nil }
        guard case .array(let items) = value else {
            throw invalid("node_taints", name, "node_taints must be a list of objects with key, effect and optional value")
        }
        return try items.enumerated().map { index, item in
            guard case .object(let o) = item else {
                throw invalid("node_taints", name, "node_taints[\(index)] must be an object with key, effect and optional value")
            }
            let unknown = o.keys.filter { !["key", "value", "effect"].contains($0) }.sorted()
            if !unknown.isEmpty {
                throw invalid("node_taints", name,
                              "node_taints[\(index)] contains unrecognised field(s) \(unknown.joined(separator: ", ")); allowed fields are key, value, effect")
            }
            guard let rawKey = o["key"], !rawKey.isNull, rawKey != .string("") else {
                throw invalid("node_taints", name, "node_taints[\(index)].key is required")
            }
            guard case .string(let key) = rawKey else { throw invalid("node_taints", name, "node_taints[\(index)].key must be a string") }
            guard let effect = o["effect"]?.stringValue, ["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(effect) else {
                throw invalid("node_taints", name, "node_taints[\(index)].effect must be one of NoSchedule, PreferNoSchedule, NoExecute")
            }
            var v: String? = nil
            if let raw = o["value"], !raw.isNull {
                guard case .string(let s) = raw else { throw invalid("node_taints", name, "node_taints[\(index)].value must be a string") }
                v = s
            }
            return NodeTaint(key: key, value: v, effect: effect)
        }
    }

    /// Parses `node_labels` (a string map) after a patch; 409 on other shapes.
    public static func nodeLabels(_ value: JSON?, nodegroup name: String) throws -> [String: String]? {
        guard let value, !value.isNull else { return nil }
        if case .string(let s) = value, s.isEmpty { return [:] }
        guard case .object(let o) = value else { throw invalid("node_labels", name, "node labels must be a dict") }
        var out: [String: String] = [:]
        for (k, v) in o {
            switch v {
            case .string, .int, .double, .bool: out[k] = v.pythonDescription
            default: throw invalid("node_labels", name, "node label '\(k)' must have a string value")
            }
        }
        return out
    }

    static func invalid(_ attr: String, _ ng: String, _ why: String) -> MagnumError {
        MagnumError(.conflict, "\(attr) for \(ng) is invalid (\(why)).")
    }
}

/// Rules of quotas (contract §4.7).
public enum QuotaRules {
    /// Body attributes of `POST /v1/quotas` and `PATCH /v1/quotas/{p}/{r}`.
    public static let schema = ResourceSchema(argument: "quota", fields: [
        FieldSpec("project_id", .string(min: 1, max: 255)),
        FieldSpec("resource", .enumeration(["Cluster"])),
        FieldSpec("hard_limit", .integer(min: 0, max: nil)),
        FieldSpec("id", .any, readOnly: true),
        FieldSpec("created_at", .any, readOnly: true),
        FieldSpec("updated_at", .any, readOnly: true),
    ])
}

/// Rules of federations (contract §4.10).
public enum FederationRules {
    /// Body attributes of `POST /v1/federations`.
    public static let schema = ResourceSchema(argument: "federation", fields: [
        FieldSpec("uuid", .any, ignored: true),
        FieldSpec("name", .resourceName(max: 242)),
        FieldSpec("hostcluster_id", .string(min: 1, max: 255)),
        FieldSpec("member_ids", .stringList),
        FieldSpec("properties", .labels),
        FieldSpec("status", .any, ignored: true),
        FieldSpec("status_reason", .any, ignored: true),
        FieldSpec("project_id", .any, readOnly: true),
        FieldSpec("links", .any, readOnly: true),
        FieldSpec("created_at", .any, readOnly: true),
        FieldSpec("updated_at", .any, readOnly: true),
    ])

    /// Federation status values.
    public static let statuses: [String] = ["CREATE", "UPDATE", "DELETE"].flatMap { op in
        ["IN_PROGRESS", "FAILED", "COMPLETE"].map { "\(op)_\($0)" }
    }

    /// The full document of a federation (no links).
    public static func document(_ f: Federation) -> [String: JSON] {
        [
            "uuid": .string(f.uuid), "name": JSON(f.name), "project_id": JSON(f.projectID),
            "hostcluster_id": JSON(f.hostclusterID), "member_ids": JSON(f.memberIDs), "status": JSON(f.status),
            "status_reason": JSON(f.statusReason), "properties": JSON(f.properties),
            "created_at": JSON(Timestamps.format(f.createdAt)), "updated_at": JSON(Timestamps.format(f.updatedAt)),
        ]
    }
}
