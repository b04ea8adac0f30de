import Foundation
import MagnumCore
import SQLKit

/// A value bound into a statement.
typealias Bindable = any Encodable & Sendable

/// The column names and values of one row to write, in statement order.
struct RowValues {
    private(set) var names: [String] = []
    private(set) var values: [Bindable] = []

    /// Appends a column.
    mutating func set(_ name: String, _ value: Bindable) {
        names.append(name)
        values.append(value)
    }
}

extension Date {
    /// The timestamp as the store keeps it: whole seconds since 1970 (both dialects round-trip
    /// such values exactly).
    var storeNormalized: Date {
        Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.down))
    }
}

/// A stored value that cannot be turned back into a model (a corrupt row).
func corruptColumn(_ column: String) -> MagnumError {
    MagnumError(.internal, "\(DatabaseErrors.internalMessage) (unreadable column \(column))")
}

// MARK: - Encoding maps and lists as JSON text

enum JSONText {
    static func map(_ map: [String: String]) -> String { JSON(map).serialized() }
    static func list(_ list: [String]) -> String { JSON(list).serialized() }
    static func taints(_ taints: [NodeTaint]) -> String { JSON.array(taints.map(\.json)).serialized() }
    static func object(_ object: [String: JSON]) -> String { JSON.object(object).serialized() }
}

// MARK: - Decoding columns

extension SQLRow {
    func string(_ column: String) throws -> String { try decode(column: column, as: String.self) }
    func optionalString(_ column: String) throws -> String? { try decode(column: column, as: String?.self) }
    func int(_ column: String) throws -> Int { try decode(column: column, as: Int.self) }
    func optionalInt(_ column: String) throws -> Int? { try decode(column: column, as: Int?.self) }
    func int64(_ column: String) throws -> Int64 { try decode(column: column, as: Int64.self) }
    func bool(_ column: String) throws -> Bool { try decode(column: column, as: Bool.self) }
    func date(_ column: String) throws -> Date? { try decode(column: column, as: Date?.self) }

    /// A JSON text column; nil for SQL NULL.
    func json(_ column: String) throws -> JSON? {
        guard let text = try optionalString(column) else { return nil }
        do {
            return try JSON.parse(string: text)
        } catch {
            throw corruptColumn(column)
        }
    }

    /// A string map; SQL NULL reads as an empty map.
    func stringMap(_ column: String) throws -> [String: String] {
        try optionalStringMap(column) ?? [:]
    }

    /// A string map that keeps SQL NULL apart from `{}`.
    func optionalStringMap(_ column: String) throws -> [String: String]? {
        guard let value = try json(column) else { return nil }
        if value.isNull { return nil }
        guard let object = value.objectValue else { throw corruptColumn(column) }
        return object.mapValues { $0.stringValue ?? $0.pythonDescription }
    }

    /// A string list; SQL NULL reads as an empty list.
    func stringList(_ column: String) throws -> [String] {
        guard let value = try json(column), !value.isNull else { return [] }
        guard let array = value.arrayValue else { throw corruptColumn(column) }
        return array.map { $0.stringValue ?? $0.pythonDescription }
    }

    /// Node taints, keeping SQL NULL apart from `[]`.
    func taints(_ column: String) throws -> [NodeTaint]? {
        guard let value = try json(column), !value.isNull else { return nil }
        guard let array = value.arrayValue else { throw corruptColumn(column) }
        return try array.map { item in
            guard let key = item["key"]?.stringValue, let effect = item["effect"]?.stringValue else {
                throw corruptColumn(column)
            }
            return NodeTaint(key: key, value: item["value"]?.stringValue, effect: effect)
        }
    }

    /// A JSON object; SQL NULL reads as an empty object.
    func jsonObject(_ column: String) throws -> [String: JSON] {
        guard let value = try json(column), !value.isNull else { return [:] }
        guard let object = value.objectValue else { throw corruptColumn(column) }
        return object
    }

    /// A string-valued enumeration that may be NULL.
    func optionalEnum<E: RawRepresentable>(_ column: String, _ type: E.Type) throws -> E? where E.RawValue == String {
        guard let raw = try optionalString(column) else { return nil }
        guard let value = E(rawValue: raw) else { throw corruptColumn(column) }
        return value
    }

    /// A string-valued enumeration.
    func requiredEnum<E: RawRepresentable>(_ column: String, _ type: E.Type) throws -> E where E.RawValue == String {
        guard let value = try optionalEnum(column, type) else { throw corruptColumn(column) }
        return value
    }
}

// MARK: - Tables

/// Column lists of the tables lists can be sorted on (they match the migrations; a store test
/// checks that).
enum TableColumns {
    static let clusterTemplate = [
        "id", "uuid", "project_id", "user_id", "name", "image_id", "flavor_id", "master_flavor_id", "keypair_id",
        "external_network_id", "fixed_network", "fixed_subnet", "network_driver", "volume_driver",
        "dns_nameserver", "apiserver_port", "docker_volume_size", "docker_storage_driver", "cluster_distro", "coe",
        "http_proxy", "https_proxy", "no_proxy", "registry_enabled", "labels", "tls_disabled", "public",
        "server_type", "insecure_registry", "master_lb_enabled", "floating_ip_enabled", "hidden", "tags", "driver",
        "created_at", "updated_at",
    ]
    static let cluster = [
        "id", "uuid", "name", "project_id", "user_id", "cluster_template_id", "keypair", "docker_volume_size",
        "labels", "master_flavor_id", "flavor_id", "stack_id", "api_address", "status", "status_reason",
        "health_status", "health_status_reason", "create_timeout", "discovery_url", "coe_version",
        "container_version", "ca_cert_ref", "magnum_cert_ref", "etcd_ca_cert_ref", "front_proxy_ca_cert_ref",
        "fixed_network", "fixed_subnet", "floating_ip_enabled", "master_lb_enabled", "created_at", "updated_at",
    ]
    static let nodegroup = [
        "id", "uuid", "name", "cluster_id", "project_id", "docker_volume_size", "labels", "flavor_id", "image_id",
        "node_addresses", "node_count", "role", "max_node_count", "min_node_count", "is_default", "stack_id",
        "status", "status_reason", "version", "node_labels", "node_taints", "created_at", "updated_at",
    ]
    static let quotas = ["id", "project_id", "resource", "hard_limit", "created_at", "updated_at"]
    static let federation = [
        "id", "project_id", "uuid", "name", "hostcluster_id", "member_ids", "status", "status_reason", "properties",
        "created_at", "updated_at",
    ]

    static func columns(_ table: StoreTable) -> [String] {
        switch table {
        case .clusterTemplate: return clusterTemplate
        case .cluster: return cluster
        case .nodegroup: return nodegroup
        case .quotas: return quotas
        case .federation: return federation
        }
    }

    static let sets: [StoreTable: Set<String>] = [
        .clusterTemplate: Set(clusterTemplate), .cluster: Set(cluster), .nodegroup: Set(nodegroup),
        .quotas: Set(quotas), .federation: Set(federation),
    ]
}

// MARK: - Model ⇄ row

enum ModelRows {
    // Cluster templates

    static func values(_ t: ClusterTemplate) -> RowValues {
        var v = RowValues()
        v.set("uuid", t.uuid)
        v.set("project_id", t.projectID)
        v.set("user_id", t.userID)
        v.set("name", t.name)
        v.set("image_id", t.imageID)
        v.set("flavor_id", t.flavorID)
        v.set("master_flavor_id", t.masterFlavorID)
        v.set("keypair_id", t.keypairID)
        v.set("external_network_id", t.externalNetworkID)
        v.set("fixed_network", t.fixedNetwork)
        v.set("fixed_subnet", t.fixedSubnet)
        v.set("network_driver", t.networkDriver)
        v.set("volume_driver", t.volumeDriver)
        v.set("dns_nameserver", t.dnsNameserver)
        v.set("apiserver_port", t.apiserverPort)
        v.set("docker_volume_size", t.dockerVolumeSize)
        v.set("docker_storage_driver", t.dockerStorageDriver)
        v.set("cluster_distro", t.clusterDistro)
        v.set("coe", t.coe)
        v.set("http_proxy", t.httpProxy)
        v.set("https_proxy", t.httpsProxy)
        v.set("no_proxy", t.noProxy)
        v.set("registry_enabled", t.registryEnabled)
        v.set("labels", JSONText.map(t.labels))
        v.set("tls_disabled", t.tlsDisabled)
        v.set("public", t.isPublic)
        v.set("server_type", t.serverType)
        v.set("insecure_registry", t.insecureRegistry)
        v.set("master_lb_enabled", t.masterLBEnabled)
        v.set("floating_ip_enabled", t.floatingIPEnabled)
        v.set("hidden", t.hidden)
        v.set("tags", t.tags)
        v.set("driver", t.driver)
        return v
    }

    static func template(_ row: any SQLRow) throws -> ClusterTemplate {
        var t = ClusterTemplate(uuid: try row.string("uuid"), coe: try row.string("coe"))
        t.id = try row.int64("id")
        t.projectID = try row.optionalString("project_id")
        t.userID = try row.optionalString("user_id")
        t.name = try row.optionalString("name")
        t.imageID = try row.optionalString("image_id")
        t.flavorID = try row.optionalString("flavor_id")
        t.masterFlavorID = try row.optionalString("master_flavor_id")
        t.keypairID = try row.optionalString("keypair_id")
        t.externalNetworkID = try row.optionalString("external_network_id")
        t.fixedNetwork = try row.optionalString("fixed_network")
        t.fixedSubnet = try row.optionalString("fixed_subnet")
        t.networkDriver = try row.optionalString("network_driver")
        t.volumeDriver = try row.optionalString("volume_driver")
        t.dnsNameserver = try row.optionalString("dns_nameserver")
        t.apiserverPort = try row.optionalInt("apiserver_port")
        t.dockerVolumeSize = try row.optionalInt("docker_volume_size")
        t.dockerStorageDriver = try row.optionalString("docker_storage_driver")
        t.clusterDistro = try row.optionalString("cluster_distro")
        t.httpProxy = try row.optionalString("http_proxy")
        t.httpsProxy = try row.optionalString("https_proxy")
        t.noProxy = try row.optionalString("no_proxy")
        t.insecureRegistry = try row.optionalString("insecure_registry")
        t.registryEnabled = try row.bool("registry_enabled")
        t.tlsDisabled = try row.bool("tls_disabled")
        t.isPublic = try row.bool("public")
        t.hidden = try row.bool("hidden")
        t.serverType = try row.optionalString("server_type") ?? "vm"
        t.masterLBEnabled = try row.bool("master_lb_enabled")
        t.floatingIPEnabled = try row.bool("floating_ip_enabled")
        t.labels = try row.stringMap("labels")
        t.tags = try row.optionalString("tags")
        t.driver = try row.optionalString("driver")
        t.createdAt = try row.date("created_at")
        t.updatedAt = try row.date("updated_at")
        return t
    }

    // Clusters

    static func values(_ c: Cluster) -> RowValues {
        var v = RowValues()
        v.set("uuid", c.uuid)
        v.set("name", c.name)
        v.set("project_id", c.projectID)
        v.set("user_id", c.userID)
        v.set("cluster_template_id", c.clusterTemplateID)
        v.set("keypair", c.keypair)
        v.set("docker_volume_size", c.dockerVolumeSize)
        v.set("labels", JSONText.map(c.labels))
        v.set("master_flavor_id", c.masterFlavorID)
        v.set("flavor_id", c.flavorID)
        v.set("stack_id", c.stackID)
        v.set("api_address", c.apiAddress)
        v.set("status", c.status?.rawValue)
        v.set("status_reason", c.statusReason)
        v.set("health_status", c.healthStatus?.rawValue)
        v.set("health_status_reason", JSONText.map(c.healthStatusReason))
        v.set("create_timeout", c.createTimeout)
        v.set("discovery_url", c.discoveryURL)
        v.set("coe_version", c.coeVersion)
        v.set("container_version", c.containerVersion)
        v.set("ca_cert_ref", c.caCertRef)
        v.set("magnum_cert_ref", c.magnumCertRef)
        v.set("etcd_ca_cert_ref", c.etcdCACertRef)
        v.set("front_proxy_ca_cert_ref", c.frontProxyCACertRef)
        v.set("fixed_network", c.fixedNetwork)
        v.set("fixed_subnet", c.fixedSubnet)
        v.set("floating_ip_enabled", c.floatingIPEnabled)
        v.set("master_lb_enabled", c.masterLBEnabled)
        return v
    }

    static func cluster(_ row: any SQLRow) throws -> Cluster {
        var c = Cluster(uuid: try row.string("uuid"), clusterTemplateID: try row.string("cluster_template_id"))
        c.id = try row.int64("id")
        c.name = try row.optionalString("name")
        c.projectID = try row.optionalString("project_id")
        c.userID = try row.optionalString("user_id")
        c.keypair = try row.optionalString("keypair")
        c.dockerVolumeSize = try row.optionalInt("docker_volume_size")
        c.labels = try row.stringMap("labels")
        c.masterFlavorID = try row.optionalString("master_flavor_id")
        c.flavorID = try row.optionalString("flavor_id")
        c.stackID = try row.optionalString("stack_id")
        c.apiAddress = try row.optionalString("api_address")
        c.status = try row.optionalEnum("status", ClusterStatus.self)
        c.statusReason = try row.optionalString("status_reason")
        c.healthStatus = try row.optionalEnum("health_status", HealthStatus.self)
        c.healthStatusReason = try row.stringMap("health_status_reason")
        c.createTimeout = try row.optionalInt("create_timeout")
        c.discoveryURL = try row.optionalString("discovery_url")
        c.coeVersion = try row.optionalString("coe_version")
        c.containerVersion = try row.optionalString("container_version")
        c.caCertRef = try row.optionalString("ca_cert_ref")
        c.magnumCertRef = try row.optionalString("magnum_cert_ref")
        c.etcdCACertRef = try row.optionalString("etcd_ca_cert_ref")
        c.frontProxyCACertRef = try row.optionalString("front_proxy_ca_cert_ref")
        c.fixedNetwork = try row.optionalString("fixed_network")
        c.fixedSubnet = try row.optionalString("fixed_subnet")
        c.floatingIPEnabled = try row.bool("floating_ip_enabled")
        c.masterLBEnabled = try row.bool("master_lb_enabled")
        c.createdAt = try row.date("created_at")
        c.updatedAt = try row.date("updated_at")
        return c
    }

    // Nodegroups

    static func values(_ n: NodeGroup) -> RowValues {
        var v = RowValues()
        v.set("uuid", n.uuid)
        v.set("name", n.name)
        v.set("cluster_id", n.clusterID)
        v.set("project_id", n.projectID)
        v.set("docker_volume_size", n.dockerVolumeSize)
        v.set("labels", JSONText.map(n.labels))
        v.set("flavor_id", n.flavorID)
        v.set("image_id", n.imageID)
        v.set("node_addresses", JSONText.list(n.nodeAddresses))
        v.set("node_count", n.nodeCount)
        v.set("role", n.role)
        v.set("max_node_count", n.maxNodeCount)
        v.set("min_node_count", n.minNodeCount)
        v.set("is_default", n.isDefault)
        v.set("stack_id", n.stackID)
        v.set("status", n.status?.rawValue)
        v.set("status_reason", n.statusReason)
        v.set("version", n.version)
        v.set("node_labels", n.nodeLabels.map(JSONText.map))
        v.set("node_taints", n.nodeTaints.map(JSONText.taints))
        return v
    }

    static func nodegroup(_ row: any SQLRow) throws -> NodeGroup {
        var n = NodeGroup(uuid: try row.string("uuid"), clusterID: try row.string("cluster_id"))
        n.id = try row.int64("id")
        n.name = try row.optionalString("name")
        n.projectID = try row.optionalString("project_id")
        n.dockerVolumeSize = try row.optionalInt("docker_volume_size")
        n.labels = try row.stringMap("labels")
        n.flavorID = try row.optionalString("flavor_id")
        n.imageID = try row.optionalString("image_id")
        n.nodeAddresses = try row.stringList("node_addresses")
        n.nodeCount = try row.int("node_count")
        n.role = try row.string("role")
        n.maxNodeCount = try row.optionalInt("max_node_count")
        n.minNodeCount = try row.int("min_node_count")
        n.isDefault = try row.bool("is_default")
        n.stackID = try row.optionalString("stack_id")
        n.status = try row.optionalEnum("status", ClusterStatus.self)
        n.statusReason = try row.optionalString("status_reason")
        n.version = try row.optionalString("version")
        n.nodeLabels = try row.optionalStringMap("node_labels")
        n.nodeTaints = try row.taints("node_taints")
        n.createdAt = try row.date("created_at")
        n.updatedAt = try row.date("updated_at")
        return n
    }

    // Quotas

    static func values(_ q: Quota) -> RowValues {
        var v = RowValues()
        v.set("project_id", q.projectID)
        v.set("resource", q.resource)
        v.set("hard_limit", q.hardLimit)
        return v
    }

    static func quota(_ row: any SQLRow) throws -> Quota {
        var q = Quota(
            projectID: try row.string("project_id"), resource: try row.string("resource"),
            hardLimit: try row.int("hard_limit"))
        q.id = try row.int64("id")
        q.createdAt = try row.date("created_at")
        q.updatedAt = try row.date("updated_at")
        return q
    }

    // Services

    static func service(_ row: any SQLRow) throws -> MService {
        var s = MService(host: try row.optionalString("host"), binary: try row.string("binary"))
        s.id = try row.int64("id")
        s.disabled = try row.bool("disabled")
        s.disabledReason = try row.optionalString("disabled_reason")
        s.lastSeenUp = try row.date("last_seen_up")
        s.forcedDown = try row.bool("forced_down")
        s.reportCount = try row.int("report_count")
        s.createdAt = try row.date("created_at")
        s.updatedAt = try row.date("updated_at")
        return s
    }

    // Federations

    static func values(_ f: Federation) -> RowValues {
        var v = RowValues()
        v.set("project_id", f.projectID)
        v.set("uuid", f.uuid)
        v.set("name", f.name)
        v.set("hostcluster_id", f.hostclusterID)
        v.set("member_ids", JSONText.list(f.memberIDs))
        v.set("status", f.status)
        v.set("status_reason", f.statusReason)
        v.set("properties", JSONText.map(f.properties))
        return v
    }

    static func federation(_ row: any SQLRow) throws -> Federation {
        var f = Federation(uuid: try row.string("uuid"))
        f.id = try row.int64("id")
        f.projectID = try row.optionalString("project_id")
        f.name = try row.optionalString("name")
        f.hostclusterID = try row.optionalString("hostcluster_id")
        f.memberIDs = try row.stringList("member_ids")
        f.status = try row.optionalString("status")
        f.statusReason = try row.optionalString("status_reason")
        f.properties = try row.stringMap("properties")
        f.createdAt = try row.date("created_at")
        f.updatedAt = try row.date("updated_at")
        return f
    }

    // Operations

    static func values(_ o: MagnumCore.ClusterOperation) -> RowValues {
        var v = RowValues()
        v.set("uuid", o.uuid)
        v.set("kind", o.kind.rawValue)
        v.set("resource_uuid", o.resourceUUID)
        v.set("nodegroup_uuid", o.nodegroupUUID)
        v.set("parameters", JSONText.object(o.parameters))
        v.set("state", o.state.rawValue)
        v.set("project_id", o.projectID)
        v.set("user_id", o.userID)
        v.set("request_id", o.requestID)
        v.set("lease_owner", o.leaseOwner)
        v.set("lease_expires_at", o.leaseExpiresAt?.storeNormalized)
        v.set("attempts", o.attempts)
        v.set("last_error", o.lastError)
        v.set("not_before", o.notBefore?.storeNormalized)
        return v
    }

    static func operation(_ row: any SQLRow) throws -> MagnumCore.ClusterOperation {
        var o = MagnumCore.ClusterOperation(
            uuid: try row.string("uuid"),
            kind: try row.requiredEnum("kind", MagnumCore.ClusterOperation.Kind.self),
            resourceUUID: try row.string("resource_uuid"))
        o.id = try row.int64("id")
        o.nodegroupUUID = try row.optionalString("nodegroup_uuid")
        o.parameters = try row.jsonObject("parameters")
        o.state = try row.requiredEnum("state", MagnumCore.ClusterOperation.State.self)
        o.projectID = try row.optionalString("project_id")
        o.userID = try row.optionalString("user_id")
        o.requestID = try row.optionalString("request_id")
        o.leaseOwner = try row.optionalString("lease_owner")
        o.leaseExpiresAt = try row.date("lease_expires_at")
        o.attempts = try row.int("attempts")
        o.lastError = try row.optionalString("last_error")
        o.notBefore = try row.date("not_before")
        o.createdAt = try row.date("created_at")
        o.updatedAt = try row.date("updated_at")
        return o
    }

    // Local catalog

    static func flavor(_ row: any SQLRow) throws -> Flavor {
        Flavor(
            id: try row.string("id"), name: try row.string("name"), vcpus: try row.int("vcpus"),
            ramMB: try row.int("ram_mb"), diskGB: try row.int("disk_gb"))
    }

    static func image(_ row: any SQLRow) throws -> Image {
        Image(
            id: try row.string("id"), name: try row.string("name"), osDistro: try row.optionalString("os_distro"),
            magnumDriver: try row.optionalString("magnum_driver"))
    }

    static func network(_ row: any SQLRow) throws -> Network {
        Network(id: try row.string("id"), name: try row.string("name"), isExternal: try row.bool("is_external"))
    }

    static func subnet(_ row: any SQLRow) throws -> Subnet {
        Subnet(
            id: try row.string("id"), name: try row.string("name"), networkID: try row.string("network_id"),
            cidr: try row.string("cidr"))
    }

    static func keypair(_ row: any SQLRow) throws -> Keypair {
        var k = Keypair(
            name: try row.string("name"), userID: try row.string("user_id"), publicKey: try row.string("public_key"),
            fingerprint: try row.string("fingerprint"))
        k.createdAt = try row.date("created_at")
        return k
    }
}
