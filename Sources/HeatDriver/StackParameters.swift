import Foundation
import MagnumCore
import MagnumDrivers

/// The parameters of the driver's stacks, from the cluster as Magnum recorded it.
extension HeatDriver {
    /// The COE's template directory name.
    static func coe(_ spec: ClusterSpec) throws -> String {
        guard StackTemplates.coes.contains(spec.template.coe) else {
            throw MagnumError(.notSupported, "The Heat driver does not build \(spec.template.coe) clusters.")
        }
        return spec.template.coe
    }

    /// Parameters every stack of the cluster shares.
    func commonParameters(_ spec: ClusterSpec) -> [String: JSON] {
        let c = spec.cluster, t = spec.template
        var p: [String: JSON] = [
            "server_type": .string(t.serverType),
            "floating_ip_enabled": .bool(c.floatingIPEnabled),
            "docker_volume_size": .int(c.dockerVolumeSize ?? t.dockerVolumeSize ?? 0),
        ]
        if let v = t.externalNetworkID { p["external_network"] = .string(v) }
        if let v = c.keypair ?? t.keypairID { p["ssh_key_name"] = .string(v) }
        if let v = t.labels["docker_volume_type"] { p["docker_volume_type"] = .string(v) }
        if let v = t.labels["server_group_policy"] { p["server_group_policy"] = .string(v) }
        return p
    }

    /// The cluster stack's parameters: counts, flavors, network and the nodes' user data.
    func clusterParameters(_ spec: ClusterSpec, credentials: JoinCredentials) throws -> [String: JSON] {
        let c = spec.cluster, t = spec.template
        guard let master = spec.nodegroups.first(where: { $0.isDefault && $0.isMaster }),
              let worker = spec.nodegroups.first(where: { $0.isDefault && !$0.isMaster }) else {
            throw MagnumError(.internal, "Cluster \(c.uuid) lacks its default nodegroups.")
        }
        var p = commonParameters(spec)
        p["cluster_name"] = .string(Self.hostPrefix(c))
        p["cluster_uuid"] = .string(c.uuid)
        p["number_of_masters"] = .int(master.nodeCount)
        p["number_of_minions"] = .int(worker.nodeCount)
        p["master_nodegroup_name"] = .string(master.name ?? "default-master")
        p["worker_nodegroup_name"] = .string(worker.name ?? "default-worker")
        p["master_lb_enabled"] = .bool(c.masterLBEnabled)
        if let v = master.imageID ?? t.imageID { p["server_image"] = .string(v) }
        if let v = master.flavorID ?? c.masterFlavorID ?? t.masterFlavorID { p["master_flavor"] = .string(v) }
        if let v = worker.flavorID ?? c.flavorID ?? t.flavorID { p["minion_flavor"] = .string(v) }
        if let v = c.fixedNetwork ?? t.fixedNetwork { p["fixed_network"] = .string(v) }
        if let v = c.fixedSubnet ?? t.fixedSubnet { p["fixed_subnet"] = .string(v) }
        if let v = t.dnsNameserver { p["dns_nameserver"] = .string(v) }
        if let v = t.labels["fixed_subnet_cidr"] { p["fixed_subnet_cidr"] = .string(v) }
        p["master_user_data"] = .string(try userData(spec, role: .master, nodegroup: master, credentials: credentials))
        p["minion_user_data"] = .string(try userData(spec, role: .worker, nodegroup: worker, credentials: credentials))
        return p
    }

    /// A worker nodegroup stack's parameters; `cluster` is the cluster stack (its outputs give
    /// the network, security groups and join address).
    func nodegroupParameters(_ spec: ClusterSpec, _ ng: NodeGroup, cluster: HeatStack, credentials: JoinCredentials) throws -> [String: JSON] {
        let t = spec.template
        var p = commonParameters(spec)
        p["name_prefix"] = .string(Self.hostPrefix(spec.cluster) + "-" + Self.sanitized((ng.name ?? "ng").lowercased(), allowed: "abcdefghijklmnopqrstuvwxyz0123456789-"))
        p["node_count"] = .int(ng.nodeCount)
        if let v = ng.imageID ?? t.imageID { p["server_image"] = .string(v) }
        if let v = ng.flavorID ?? spec.cluster.flavorID ?? t.flavorID { p["flavor"] = .string(v) }
        if let v = ng.dockerVolumeSize { p["docker_volume_size"] = .int(v) }
        for (param, output) in [("fixed_network", "fixed_network_id"), ("fixed_subnet", "fixed_subnet_id"), ("api_address", "api_private_address")] {
            if let v = cluster.outputs[output]?.stringValue { p[param] = .string(v) }
        }
        if let groups = cluster.outputs["worker_security_groups"]?.arrayValue?.compactMap(\.stringValue) {
            p["security_groups"] = .string(groups.joined(separator: ","))
        }
        p["user_data"] = .string(try userData(spec, role: .worker, nodegroup: ng, credentials: credentials))
        return p
    }

    /// The Ignition user data of a nodegroup's nodes.
    func userData(_ spec: ClusterSpec, role: NodeBootstrap.Role, nodegroup: NodeGroup, credentials: JoinCredentials) throws -> String {
        let c = spec.cluster, t = spec.template
        let labels = t.labels.merging(c.labels) { _, cluster in cluster }
        let coe = try Self.coe(spec)
        var settings: [(String, String)] = [
            ("MAGNUM_URL", configuration.magnumURL), ("CLUSTER_UUID", c.uuid), ("COE", coe), ("ROLE", role.rawValue),
            ("NODEGROUP", nodegroup.name ?? ""),
            ("NODEGROUP_LABELS", nodegroup.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")),
            ("MASTER_COUNT", String(spec.nodegroups.first { $0.isDefault && $0.isMaster }?.nodeCount ?? 1)),
            ("BOOTSTRAP_TOKEN", credentials.keystoneToken),
            ("DOCKER_VOLUME_SIZE", String(nodegroup.dockerVolumeSize ?? c.dockerVolumeSize ?? t.dockerVolumeSize ?? 0)),
            ("TLS_DISABLED", t.tlsDisabled ? "true" : "false"),
        ]
        if coe == "kubernetes" {
            settings += [
                ("KUBEADM_TOKEN", credentials.kubeadmToken), ("CERTIFICATE_KEY", credentials.certificateKey),
                ("KUBE_TAG", labels["kube_tag"] ?? "v1.30.4"),
                ("POD_CIDR", labels["calico_ipv4pool"] ?? labels["flannel_network_cidr"] ?? "10.100.0.0/16"),
                ("SERVICE_CIDR", labels["service_cluster_ip_range"] ?? "10.254.0.0/16"),
                ("NETWORK_DRIVER", t.networkDriver ?? "calico"),
                ("DNS_DOMAIN", labels["dns_cluster_domain"] ?? "cluster.local"),
                ("CONTAINER_RUNTIME", labels["container_runtime"] ?? "containerd"),
            ]
        }
        let certificates: [(path: String, pem: String)] = [
            (CertificateKind.kubernetes, "/etc/magnum/ca.crt"), (.etcd, "/etc/magnum/etcd-ca.crt"), (.frontProxy, "/etc/magnum/front-proxy-ca.crt"),
        ].compactMap { kind, path in spec.certificate(kind).map { (path, $0.certificatePEM) } }
        return try NodeBootstrap(scripts: templates.bootstrapScripts).userData(coe: coe, role: role, settings: settings, certificates: certificates)
    }
}
