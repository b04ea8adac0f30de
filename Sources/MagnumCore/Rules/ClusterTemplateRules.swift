import Foundation

/// Validation and patch rules of cluster templates (contract §4.1, §6.1).
public enum ClusterTemplateRules {
    /// The COEs this product serves.
    public static let coes = ["kubernetes", "swarm-mode"]

    /// Body attributes of `POST /v1/clustertemplates`.
    public static let schema = ResourceSchema(argument: "cluster_template", fields: [
        FieldSpec("uuid", .uuid),
        FieldSpec("name", .string(min: 1, max: 255)),
        FieldSpec("coe", .enumeration(coes)),
        FieldSpec("image_id", .string(min: 1, max: 255), mandatory: true),
        FieldSpec("flavor_id", .string(min: 1, max: 255)),
        FieldSpec("master_flavor_id", .string(min: 1, max: 255)),
        FieldSpec("keypair_id", .string(min: 1, max: 255)),
        FieldSpec("external_network_id", .string(min: 1, max: 255)),
        FieldSpec("fixed_network", .string(min: 1, max: 255)),
        FieldSpec("fixed_subnet", .string(min: 1, max: 255)),
        FieldSpec("network_driver", .string(min: 1, max: 255)),
        FieldSpec("volume_driver", .string(min: 1, max: 255)),
        FieldSpec("dns_nameserver", .string(min: 1, max: 255)),
        FieldSpec("apiserver_port", .integer(min: 1024, max: 65535)),
        FieldSpec("docker_volume_size", .integer(min: 1, max: nil)),
        FieldSpec("docker_storage_driver", .string(min: 1, max: 255)),
        FieldSpec("cluster_distro", .string(min: 1, max: 255)),
        FieldSpec("http_proxy", .string(min: 1, max: 255)),
        FieldSpec("https_proxy", .string(min: 1, max: 255)),
        FieldSpec("no_proxy", .string(min: 1, max: 255)),
        FieldSpec("insecure_registry", .string(min: 1, max: 255)),
        FieldSpec("registry_enabled", .boolean),
        FieldSpec("tls_disabled", .boolean),
        FieldSpec("public", .boolean),
        FieldSpec("hidden", .boolean),
        FieldSpec("server_type", .enumeration(["vm", "bm"])),
        FieldSpec("master_lb_enabled", .boolean),
        FieldSpec("floating_ip_enabled", .boolean),
        FieldSpec("labels", .labels),
        FieldSpec("tags", .string(min: 0, max: 255)),
        FieldSpec("driver", .string(min: 1, max: 255)),
        FieldSpec("project_id", .string(min: 1, max: 255), readOnly: true),
        FieldSpec("user_id", .string(min: 1, max: 255), readOnly: true),
        FieldSpec("links", .any, readOnly: true),
        FieldSpec("created_at", .any, readOnly: true),
        FieldSpec("updated_at", .any, readOnly: true),
    ])

    /// JSON-patch rules of `PATCH /v1/clustertemplates/{ct}`.
    public static let patchRules = PatchRules(
        internalPaths: PatchRules.commonInternal,
        nonRemovablePaths: ["/image_id", "/coe", "/network_driver", "/external_network_id", "/tls_disabled",
                            "/public", "/server_type", "/registry_enabled", "/cluster_distro", "/hidden"],
        literalPaths: ["/labels"]
    )

    /// Builds a template from a validated body (defaults applied).
    public static func template(from body: [String: JSON], uuid: String) -> ClusterTemplate {
        var t = ClusterTemplate(uuid: uuid, coe: body["coe"]?.stringValue ?? "")
        apply(body, to: &t)
        return t
    }

    /// Writes the attributes of a (validated) document onto a template.
    public static func apply(_ d: [String: JSON], to t: inout ClusterTemplate) {
        func s(_ k: String) -> String? { d[k]?.stringValue }
        if let v = d["coe"] { t.coe = v.stringValue ?? "" }
        if d.keys.contains("name") { t.name = s("name") }
        if d.keys.contains("image_id") { t.imageID = s("image_id") }
        if d.keys.contains("flavor_id") { t.flavorID = s("flavor_id") }
        if d.keys.contains("master_flavor_id") { t.masterFlavorID = s("master_flavor_id") }
        if d.keys.contains("keypair_id") { t.keypairID = s("keypair_id") }
        if d.keys.contains("external_network_id") { t.externalNetworkID = s("external_network_id") }
        if d.keys.contains("fixed_network") { t.fixedNetwork = s("fixed_network") }
        if d.keys.contains("fixed_subnet") { t.fixedSubnet = s("fixed_subnet") }
        if d.keys.contains("network_driver") { t.networkDriver = s("network_driver") }
        if d.keys.contains("volume_driver") { t.volumeDriver = s("volume_driver") }
        if d.keys.contains("dns_nameserver") { t.dnsNameserver = s("dns_nameserver") }
        if d.keys.contains("apiserver_port") { t.apiserverPort = d["apiserver_port"]?.intValue }
        if d.keys.contains("docker_volume_size") { t.dockerVolumeSize = d["docker_volume_size"]?.intValue }
        if d.keys.contains("docker_storage_driver") { t.dockerStorageDriver = s("docker_storage_driver") }
        if d.keys.contains("cluster_distro") { t.clusterDistro = s("cluster_distro") }
        if d.keys.contains("http_proxy") { t.httpProxy = s("http_proxy") }
        if d.keys.contains("https_proxy") { t.httpsProxy = s("https_proxy") }
        if d.keys.contains("no_proxy") { t.noProxy = s("no_proxy") }
        if d.keys.contains("insecure_registry") { t.insecureRegistry = s("insecure_registry") }
        if let b = d["registry_enabled"]?.boolValue { t.registryEnabled = b }
        if let b = d["tls_disabled"]?.boolValue { t.tlsDisabled = b }
        if let b = d["public"]?.boolValue { t.isPublic = b }
        if let b = d["hidden"]?.boolValue { t.hidden = b }
        if let v = s("server_type") { t.serverType = v }
        if let b = d["master_lb_enabled"]?.boolValue { t.masterLBEnabled = b }
        if let b = d["floating_ip_enabled"]?.boolValue { t.floatingIPEnabled = b }
        if let l = d["labels"] { t.labels = l.objectValue?.compactMapValues(\.stringValue) ?? [:] }
        if d.keys.contains("tags") { t.tags = s("tags") }
        if d.keys.contains("driver") { t.driver = s("driver") }
    }

    /// Every attribute of a template (the document patches apply to and views render).
    public static func document(_ t: ClusterTemplate) -> [String: JSON] {
        [
            "uuid": .string(t.uuid), "name": JSON(t.name), "coe": .string(t.coe), "image_id": JSON(t.imageID),
            "flavor_id": JSON(t.flavorID), "master_flavor_id": JSON(t.masterFlavorID), "keypair_id": JSON(t.keypairID),
            "external_network_id": JSON(t.externalNetworkID), "fixed_network": JSON(t.fixedNetwork),
            "fixed_subnet": JSON(t.fixedSubnet), "network_driver": JSON(t.networkDriver),
            "volume_driver": JSON(t.volumeDriver), "dns_nameserver": JSON(t.dnsNameserver),
            "apiserver_port": JSON(t.apiserverPort), "docker_volume_size": JSON(t.dockerVolumeSize),
            "docker_storage_driver": JSON(t.dockerStorageDriver), "cluster_distro": JSON(t.clusterDistro),
            "http_proxy": JSON(t.httpProxy), "https_proxy": JSON(t.httpsProxy), "no_proxy": JSON(t.noProxy),
            "insecure_registry": JSON(t.insecureRegistry), "registry_enabled": .bool(t.registryEnabled),
            "tls_disabled": .bool(t.tlsDisabled), "public": .bool(t.isPublic), "hidden": .bool(t.hidden),
            "server_type": .string(t.serverType), "master_lb_enabled": .bool(t.masterLBEnabled),
            "floating_ip_enabled": .bool(t.floatingIPEnabled), "labels": JSON(t.labels), "tags": JSON(t.tags),
            "driver": JSON(t.driver), "project_id": JSON(t.projectID), "user_id": JSON(t.userID),
            "created_at": JSON(Timestamps.format(t.createdAt)), "updated_at": JSON(Timestamps.format(t.updatedAt)),
        ]
    }

    /// Network drivers each COE supports, and the default.
    public static func networkDrivers(coe: String, config: APIConfiguration) -> (supported: [String], allowed: [String], defaultDriver: String) {
        switch coe {
        case "swarm-mode":
            return (["docker"], ["docker"], "docker")
        default:
            let supported = ["flannel", "calico", "cilium"]
            let allowed = config.kubernetesAllowedNetworkDrivers.contains("all") ? supported : config.kubernetesAllowedNetworkDrivers
            return (supported, allowed, config.kubernetesDefaultNetworkDriver)
        }
    }

    /// Volume drivers each COE supports.
    public static func volumeDrivers(coe: String) -> [String] {
        coe == "swarm-mode" ? ["rexray"] : ["cinder"]
    }

    /// The template-local rules of create and patch, in upstream's order: COE and server type,
    /// network driver (defaulted when nil), volume driver, devicemapper size, DNS list.
    public static func validate(_ t: inout ClusterTemplate, config: APIConfiguration, defaultNetworkDriver: Bool) throws {
        guard coes.contains(t.coe) else {
            throw MagnumError(.invalid, "Requested COE type \(t.coe.isEmpty ? "Unset" : t.coe) is not supported.")
        }
        guard ["vm", "bm"].contains(t.serverType) else {
            throw MagnumError(.invalid, "Requested server type \(t.serverType) is not supported.")
        }
        let nets = networkDrivers(coe: t.coe, config: config)
        if t.networkDriver == nil, defaultNetworkDriver { t.networkDriver = nets.defaultDriver }
        if let nd = t.networkDriver {
            if !nets.supported.contains(nd) {
                throw MagnumError(.invalid, "Network driver type \(nd) is not supported, expecting a \(nets.supported.joined(separator: "/"))/unspecified network driver.")
            }
            if !nets.allowed.contains(nd) {
                throw MagnumError(.invalid, "Network driver type \(nd) is not allowed, expecting a \(nets.allowed.joined(separator: "/"))/unspecified network driver. ")
            }
        }
        if let vd = t.volumeDriver {
            let vds = volumeDrivers(coe: t.coe)
            if !vds.contains(vd) {
                throw MagnumError(.invalid, "Volume driver type \(vd) is not supported, expecting a \(vds.joined(separator: "/"))/unspecified volume driver.")
            }
        }
        if t.dockerStorageDriver == "devicemapper" {
            if t.dockerVolumeSize == nil || t.dockerVolumeSize! < 3 {
                throw MagnumError(.invalid, "docker volume size \(t.dockerVolumeSize.map(String.init) ?? "None") GB is not valid, expecting minimum value 3GB for devicemapper storage driver.")
            }
        }
        if let dns = t.dnsNameserver {
            for part in dns.split(separator: ",", omittingEmptySubsequences: false) {
                let ip = part.trimmingCharacters(in: .whitespaces)
                if !isIPv4(ip) {
                    throw MagnumError(.invalid, "Expected a single dns address or comma separated dns list, but received \(dns).")
                }
            }
        }
    }

    /// Dotted-quad IPv4.
    public static func isIPv4(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { p in
            !p.isEmpty && p.count <= 3 && p.allSatisfy(\.isASCIIDigitChar) && Int(p)! <= 255
        }
    }

    /// The in-use rule: a template referenced by clusters may only change its name, or exactly
    /// one of public (to true) / hidden / tags (to a value).
    public static func changeAllowedWhileInUse(old: ClusterTemplate, new: ClusterTemplate) -> Bool {
        let a = document(old), b = document(new)
        let changed = Set(a.keys.filter { a[$0] != b[$0] }).subtracting(["updated_at"])
        if changed.isEmpty || changed == ["name"] { return true }
        if changed.count == 1, let only = changed.first {
            if only == "public" { return new.isPublic }
            if only == "tags" { return new.tags != nil }
            return only == "hidden"
        }
        return false
    }

    /// `boot_volume_size` from labels, falling back to the configured default.
    public static func bootVolumeSize(labels: [String: String], config: APIConfiguration) -> Int {
        if let v = labels["boot_volume_size"], let i = Int(v) { return i }
        return config.defaultBootVolumeSize
    }
}

extension Character {
    var isASCIIDigitChar: Bool { isASCII && isNumber }
}

/// Timestamps as Magnum renders them: `YYYY-MM-DDTHH:MM:SS+00:00`.
public enum Timestamps {
    /// Formats a date, nil for nil.
    public static func format(_ date: Date?) -> String? {
        guard let date else { return nil }
        let secs = Int64(date.timeIntervalSince1970.rounded(.down))
        let days = Int(floor(Double(secs) / 86400))
        let rem = Int(secs - Int64(days) * 86400)
        let (y, m, d) = civil(fromDays: days)
        func p2(_ v: Int) -> String { v < 10 ? "0\(v)" : String(v) }
        return "\(y)-\(p2(m))-\(p2(d))T\(p2(rem / 3600)):\(p2(rem % 3600 / 60)):\(p2(rem % 60))+00:00"
    }

    /// Howard Hinnant's days-to-civil algorithm.
    static func civil(fromDays z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
