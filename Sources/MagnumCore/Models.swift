import Foundation

/// A cluster template: the reusable description of a cluster's infrastructure and COE.
public struct ClusterTemplate: Sendable, Hashable {
    /// Database id (never exposed by the API for templates).
    public var id: Int64 = 0
    public var uuid: String
    public var name: String?
    public var projectID: String?
    public var userID: String?
    public var coe: String
    public var imageID: String?
    public var flavorID: String?
    public var masterFlavorID: String?
    public var keypairID: String?
    public var externalNetworkID: String?
    public var fixedNetwork: String?
    public var fixedSubnet: String?
    public var networkDriver: String?
    public var volumeDriver: String?
    public var dnsNameserver: String?
    public var apiserverPort: Int?
    public var dockerVolumeSize: Int?
    public var dockerStorageDriver: String?
    public var clusterDistro: String?
    public var httpProxy: String?
    public var httpsProxy: String?
    public var noProxy: String?
    public var insecureRegistry: String?
    public var registryEnabled: Bool = false
    public var tlsDisabled: Bool = false
    public var isPublic: Bool = false
    public var hidden: Bool = false
    public var serverType: String = "vm"
    public var masterLBEnabled: Bool = false
    public var floatingIPEnabled: Bool = true
    public var labels: [String: String] = [:]
    public var tags: String?
    public var driver: String?
    public var createdAt: Date?
    public var updatedAt: Date?

    /// Creates a template with its required fields; everything else takes Magnum's defaults.
    public init(uuid: String, coe: String) {
        self.uuid = uuid
        self.coe = coe
    }
}

/// A cluster: one instance of a template, owned by a project.
public struct Cluster: Sendable, Hashable {
    public var id: Int64 = 0
    public var uuid: String
    public var name: String?
    public var projectID: String?
    public var userID: String?
    /// The template's UUID.
    public var clusterTemplateID: String
    public var keypair: String?
    public var dockerVolumeSize: Int?
    public var labels: [String: String] = [:]
    public var masterFlavorID: String?
    public var flavorID: String?
    /// Driver handle (`stack_id` below µv 1.13, `cluster_id` from 1.13).
    public var stackID: String?
    public var apiAddress: String?
    public var status: ClusterStatus?
    public var statusReason: String?
    public var healthStatus: HealthStatus?
    public var healthStatusReason: [String: String] = [:]
    public var createTimeout: Int? = 60
    public var discoveryURL: String?
    public var coeVersion: String?
    public var containerVersion: String?
    public var caCertRef: String?
    public var magnumCertRef: String?
    public var etcdCACertRef: String?
    public var frontProxyCACertRef: String?
    public var fixedNetwork: String?
    public var fixedSubnet: String?
    public var floatingIPEnabled: Bool = true
    public var masterLBEnabled: Bool = false
    public var createdAt: Date?
    public var updatedAt: Date?

    /// Creates a cluster of a template.
    public init(uuid: String, clusterTemplateID: String) {
        self.uuid = uuid
        self.clusterTemplateID = clusterTemplateID
    }
}

/// A node taint of a nodegroup (µv 1.14 `node_taints`).
public struct NodeTaint: Sendable, Hashable {
    public var key: String
    public var value: String?
    public var effect: String

    /// Creates a taint.
    public init(key: String, value: String?, effect: String) {
        self.key = key
        self.value = value
        self.effect = effect
    }

    /// The taint as JSON (`value` omitted when absent).
    public var json: JSON {
        var o: [String: JSON] = ["key": .string(key), "effect": .string(effect)]
        if let value { o["value"] = .string(value) }
        return .object(o)
    }
}

/// A set of nodes of one flavor and role inside a cluster.
public struct NodeGroup: Sendable, Hashable {
    public var id: Int64 = 0
    public var uuid: String
    public var name: String?
    /// The cluster's UUID.
    public var clusterID: String
    public var projectID: String?
    public var dockerVolumeSize: Int?
    public var labels: [String: String] = [:]
    public var flavorID: String?
    public var imageID: String?
    public var nodeAddresses: [String] = []
    public var nodeCount: Int = 1
    public var role: String = "worker"
    public var minNodeCount: Int = 0
    public var maxNodeCount: Int?
    public var isDefault: Bool = false
    public var stackID: String?
    public var status: ClusterStatus?
    public var statusReason: String?
    public var version: String?
    public var nodeLabels: [String: String]?
    public var nodeTaints: [NodeTaint]?
    public var createdAt: Date?
    public var updatedAt: Date?

    /// Creates a nodegroup of a cluster.
    public init(uuid: String, clusterID: String) {
        self.uuid = uuid
        self.clusterID = clusterID
    }

    /// Masters are the nodegroups whose role is `master`; every other role counts as workers.
    public var isMaster: Bool { role == "master" }
}

/// A per-project limit on a resource (only `Cluster` exists).
public struct Quota: Sendable, Hashable {
    public var id: Int64 = 0
    public var projectID: String
    public var resource: String
    public var hardLimit: Int
    public var createdAt: Date?
    public var updatedAt: Date?

    /// Creates a quota row.
    public init(projectID: String, resource: String, hardLimit: Int) {
        self.projectID = projectID
        self.resource = resource
        self.hardLimit = hardLimit
    }
}

/// A Magnum service record (a conductor's heartbeat row).
public struct MService: Sendable, Hashable {
    public var id: Int64 = 0
    public var host: String?
    public var binary: String
    public var disabled: Bool = false
    public var disabledReason: String?
    public var lastSeenUp: Date?
    public var forcedDown: Bool = false
    public var reportCount: Int = 0
    public var createdAt: Date?
    public var updatedAt: Date?

    /// Creates a service record.
    public init(host: String?, binary: String) {
        self.host = host
        self.binary = binary
    }
}

/// A federation of clusters (stored and returned; no conductor work yet).
public struct Federation: Sendable, Hashable {
    public var id: Int64 = 0
    public var uuid: String
    public var name: String?
    public var projectID: String?
    public var hostclusterID: String?
    public var memberIDs: [String] = []
    public var status: String?
    public var statusReason: String?
    public var properties: [String: String] = [:]
    public var createdAt: Date?
    public var updatedAt: Date?

    /// Creates a federation.
    public init(uuid: String) {
        self.uuid = uuid
    }
}

/// A unit of asynchronous work recorded by the API in the same transaction as the resource it
/// concerns, and later leased and run by a conductor.
public struct ClusterOperation: Sendable, Hashable {
    /// What the operation does.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case clusterCreate = "cluster_create"
        case clusterUpdate = "cluster_update"
        case clusterDelete = "cluster_delete"
        case clusterResize = "cluster_resize"
        case clusterUpgrade = "cluster_upgrade"
        case nodegroupCreate = "nodegroup_create"
        case nodegroupUpdate = "nodegroup_update"
        case nodegroupDelete = "nodegroup_delete"
        case caRotate = "ca_rotate"
        case credentialRotate = "credential_rotate"
        /// A repair the conductor started itself: nodes that failed are replaced
        /// (`auto_healing_enabled=true`); the cluster's status is left as it is.
        case clusterHeal = "cluster_heal"
    }

    /// Where the operation is in its life.
    public enum State: String, Sendable, Hashable {
        case pending, running, succeeded, failed
    }

    public var id: Int64 = 0
    public var uuid: String
    public var kind: Kind
    /// UUID of the cluster the operation concerns.
    public var resourceUUID: String
    /// UUID of the nodegroup for nodegroup operations.
    public var nodegroupUUID: String?
    /// ClusterOperation parameters (node_count, nodes_to_remove, rollback, template, …).
    public var parameters: [String: JSON] = [:]
    public var state: State = .pending
    public var projectID: String?
    public var userID: String?
    public var requestID: String?
    public var leaseOwner: String?
    public var leaseExpiresAt: Date?
    /// How many times a conductor leased the operation.
    public var attempts: Int = 0
    /// The last failure's message (transient failures are retried).
    public var lastError: String?
    /// A pending operation is not leased before this instant (retry backoff).
    public var notBefore: Date?
    public var createdAt: Date?
    public var updatedAt: Date?

    /// Creates a pending operation.
    public init(uuid: String, kind: Kind, resourceUUID: String) {
        self.uuid = uuid
        self.kind = kind
        self.resourceUUID = resourceUUID
    }
}

/// A compute flavor of the local catalog.
public struct Flavor: Sendable, Hashable {
    public var id: String
    public var name: String
    public var vcpus: Int
    public var ramMB: Int
    public var diskGB: Int

    /// Creates a flavor.
    public init(id: String, name: String, vcpus: Int, ramMB: Int, diskGB: Int) {
        self.id = id
        self.name = name
        self.vcpus = vcpus
        self.ramMB = ramMB
        self.diskGB = diskGB
    }
}

/// An image of the local catalog.
public struct Image: Sendable, Hashable {
    public var id: String
    public var name: String
    /// The `os_distro` property; templates take their `cluster_distro` from it.
    public var osDistro: String?
    /// Optional `magnum_driver` property naming the driver.
    public var magnumDriver: String?

    /// Creates an image.
    public init(id: String, name: String, osDistro: String?, magnumDriver: String? = nil) {
        self.id = id
        self.name = name
        self.osDistro = osDistro
        self.magnumDriver = magnumDriver
    }
}

/// A network of the local catalog.
public struct Network: Sendable, Hashable {
    public var id: String
    public var name: String
    /// `router:external`.
    public var isExternal: Bool

    /// Creates a network.
    public init(id: String, name: String, isExternal: Bool) {
        self.id = id
        self.name = name
        self.isExternal = isExternal
    }
}

/// A subnet of the local catalog.
public struct Subnet: Sendable, Hashable {
    public var id: String
    public var name: String
    public var networkID: String
    public var cidr: String

    /// Creates a subnet.
    public init(id: String, name: String, networkID: String, cidr: String) {
        self.id = id
        self.name = name
        self.networkID = networkID
        self.cidr = cidr
    }
}

/// An SSH key pair of the local catalog, owned by a user (as in Nova).
public struct Keypair: Sendable, Hashable {
    public var name: String
    public var userID: String
    public var publicKey: String
    public var fingerprint: String
    public var createdAt: Date?

    /// Creates a key pair record.
    public init(name: String, userID: String, publicKey: String, fingerprint: String) {
        self.name = name
        self.userID = userID
        self.publicKey = publicKey
        self.fingerprint = fingerprint
    }
}
