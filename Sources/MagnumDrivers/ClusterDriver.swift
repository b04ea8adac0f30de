import Logging
import MagnumCore

/// Where a driver keeps what it must remember about a cluster between steps and across
/// conductors (a stack ID, a trust): durable the moment `set` returns, so a conductor that dies
/// right after learning a value leaves it to the next one. Removed with the cluster.
public protocol ClusterDriverState: Sendable {
    /// Every value recorded for the cluster, by key.
    func values(clusterUUID: String) async throws -> [String: String]
    /// Records `value` under `key` (nil forgets it).
    func set(clusterUUID: String, key: String, value: String?) async throws
}

/// Who asks a driver for a step, and where it logs.
public struct DriverContext: Sendable {
    /// The operation being run.
    public var operationID: String
    /// The request that started the operation, if recorded.
    public var requestID: String?
    /// The project owning the cluster.
    public var projectID: String?
    /// The user who started the operation.
    public var userID: String?
    /// A logger carrying `cluster_id` and `operation_id` metadata.
    public var logger: Logger
    /// The operation's recorded parameters (e.g. the sealed token of the user who asked).
    public var parameters: [String: JSON]
    /// The drivers' durable per-cluster state; nil where nothing may be recorded.
    public var state: (any ClusterDriverState)?

    /// Creates a context.
    public init(operationID: String, requestID: String? = nil, projectID: String? = nil, userID: String? = nil,
                parameters: [String: JSON] = [:], state: (any ClusterDriverState)? = nil, logger: Logger) {
        self.operationID = operationID
        self.requestID = requestID
        self.projectID = projectID
        self.userID = userID
        self.parameters = parameters
        self.state = state
        self.logger = logger
    }
}

/// The cluster as Magnum recorded it — the desired state a driver turns into infrastructure.
public struct ClusterSpec: Sendable, Hashable {
    /// The cluster row.
    public var cluster: Cluster
    /// The cluster's template.
    public var template: ClusterTemplate
    /// Every nodegroup of the cluster (masters and workers, default and extra).
    public var nodegroups: [NodeGroup]
    /// The cluster's stored certificates (its CAs and Magnum's client certificate, keys sealed),
    /// as the conductor loaded them for an operation's step or an observation.
    public var certificates: [ClusterCertificate]
    /// The flavors of the catalog, for sizing nodes; empty when observing.
    public var flavors: [Flavor]

    /// Creates a spec.
    public init(cluster: Cluster, template: ClusterTemplate, nodegroups: [NodeGroup],
                certificates: [ClusterCertificate] = [], flavors: [Flavor] = []) {
        self.cluster = cluster
        self.template = template
        self.nodegroups = nodegroups
        self.certificates = certificates
        self.flavors = flavors
    }

    /// The stored certificate of `kind`, if the cluster has one.
    public func certificate(_ kind: CertificateKind) -> ClusterCertificate? { certificates.first { $0.kind == kind } }

    /// The flavor a nodegroup's nodes are sized by (its own, else the template's master or node
    /// flavor), matched by ID or name; nil when unknown.
    public func flavor(of nodegroup: NodeGroup) -> Flavor? {
        let ident = nodegroup.flavorID ?? (nodegroup.isMaster ? template.masterFlavorID : template.flavorID)
        guard let ident else { return nil }
        return flavors.first { $0.id == ident } ?? flavors.first { $0.name == ident }
    }

    /// The nodegroup with `uuid`, if the cluster has it.
    public func nodegroup(_ uuid: String) -> NodeGroup? { nodegroups.first { $0.uuid == uuid } }
}

/// What a driver observed of one nodegroup.
public struct NodeGroupObservation: Sendable, Hashable {
    /// The nodegroup's status (the Heat vocabulary, contract §5.1).
    public var status: ClusterStatus
    /// Why it is in that status (e.g. a failure message).
    public var statusReason: String?
    /// Addresses of the nodegroup's nodes (masters' for a master nodegroup).
    public var nodeAddresses: [String]
    /// The driver's handle of the nodegroup, if it keeps one.
    public var stackID: String?
    /// The COE version the nodes run, if known.
    public var version: String?

    /// Creates an observation.
    public init(status: ClusterStatus, statusReason: String? = nil, nodeAddresses: [String] = [], stackID: String? = nil, version: String? = nil) {
        self.status = status
        self.statusReason = statusReason
        self.nodeAddresses = nodeAddresses
        self.stackID = stackID
        self.version = version
    }
}

/// What a driver observed of a cluster: the level the conductor writes into the cluster and
/// nodegroup rows. `DELETE_COMPLETE` means the infrastructure is gone and the rows may go.
public struct ClusterObservation: Sendable, Hashable {
    /// The cluster's status.
    public var status: ClusterStatus
    /// Why it is in that status.
    public var statusReason: String?
    /// The driver's handle of the cluster (`stack_id` / `cluster_id` in the API).
    public var stackID: String?
    /// The COE API endpoint, e.g. `https://10.0.0.5:6443` or `tcp://127.0.0.1:2376`.
    public var apiAddress: String?
    /// The COE version running.
    public var coeVersion: String?
    /// The container runtime version running.
    public var containerVersion: String?
    /// Health as the driver's monitor sees it, if it has one.
    public var health: HealthStatus?
    /// Per-component health reasons (`{"api": "ok", "<node>.Ready": "True"}`).
    public var healthReason: [String: String]?
    /// Observations of nodegroups, by nodegroup UUID; nodegroups not listed are left unchanged.
    public var nodegroups: [String: NodeGroupObservation]
    /// The template the cluster now runs, when the driver moved it (an upgrade: contract §8.2.5
    /// leaves `cluster_template_id` to the driver).
    public var clusterTemplateID: String?

    /// Creates an observation.
    public init(
        status: ClusterStatus, statusReason: String? = nil, stackID: String? = nil, apiAddress: String? = nil,
        coeVersion: String? = nil, containerVersion: String? = nil, health: HealthStatus? = nil,
        healthReason: [String: String]? = nil, nodegroups: [String: NodeGroupObservation] = [:], clusterTemplateID: String? = nil
    ) {
        self.status = status
        self.statusReason = statusReason
        self.stackID = stackID
        self.apiAddress = apiAddress
        self.coeVersion = coeVersion
        self.containerVersion = containerVersion
        self.health = health
        self.healthReason = healthReason
        self.nodegroups = nodegroups
        self.clusterTemplateID = clusterTemplateID
    }

    /// Copies what was observed besides the status — handle, endpoint, versions, health, template — into
    /// `cluster`; fields not observed are left as they are.
    public func applyDetails(to cluster: inout Cluster) {
        if let v = stackID { cluster.stackID = v }
        if let v = apiAddress { cluster.apiAddress = v }
        if let v = coeVersion { cluster.coeVersion = v }
        if let v = containerVersion { cluster.containerVersion = v }
        if let v = health { cluster.healthStatus = v }
        if let v = healthReason { cluster.healthStatusReason = v }
        if let v = clusterTemplateID { cluster.clusterTemplateID = v }
    }

    /// True when the cluster is no longer in an `*_IN_PROGRESS` state.
    public var isSettled: Bool { !status.rawValue.hasSuffix("_IN_PROGRESS") }
}

/// A cluster driver (contract §8.4): turns a cluster's recorded desired state into real
/// infrastructure and reports what it observes.
///
/// **Every step is idempotent.** The conductor runs steps under a lease; when a conductor dies
/// mid-step another one runs the same step again, possibly after the first one half-finished.
/// A step must therefore converge: "create" adopts what an earlier attempt already built,
/// "delete" of something already gone succeeds, "resize to N" when N nodes exist does nothing.
///
/// A step returns once the backend accepted the change; it need not wait for the change to
/// finish. Completion is reported through `observe`, which the conductor calls until the
/// cluster settles (no `*_IN_PROGRESS` status), writing each change of status at once. A driver
/// whose steps finish synchronously simply reports a settled status on the first `observe`.
///
/// Errors are `MagnumError`s: `.unavailable` marks a transient failure (the conductor retries the
/// step with exponential backoff); every other code fails the operation permanently and its
/// message becomes the cluster's `status_reason`.
public protocol ClusterDriver: Sendable {
    /// The driver's name, as stored in a template's `driver`.
    var name: String { get }
    /// The (server type, OS distro, COE) tuples the driver builds.
    var provides: [DriverDescriptor.Provision] { get }
    /// What the driver supports.
    var capabilities: Set<DriverCapability> { get }

    /// Starts provisioning the cluster and its default nodegroups.
    func createCluster(_ spec: ClusterSpec, timeoutMinutes: Int?, context: DriverContext) async throws
    /// Applies a new node count of the default worker nodegroup (cluster PATCH).
    func updateCluster(_ spec: ClusterSpec, nodegroup: NodeGroup, nodeCount: Int, rollback: Bool, context: DriverContext) async throws
    /// Resizes a nodegroup to `nodeCount`, preferring to remove `nodesToRemove`.
    func resizeCluster(_ spec: ClusterSpec, nodegroup: NodeGroup, nodeCount: Int, nodesToRemove: [String], context: DriverContext) async throws
    /// Upgrades a nodegroup (or the cluster through its default nodegroup) to `template`.
    func upgradeCluster(_ spec: ClusterSpec, template: ClusterTemplate, nodegroup: NodeGroup, maxBatchSize: Int, context: DriverContext) async throws
    /// Starts tearing the cluster down.
    func deleteCluster(_ spec: ClusterSpec, context: DriverContext) async throws
    /// Creates a non-default nodegroup.
    func createNodegroup(_ spec: ClusterSpec, nodegroup: NodeGroup, context: DriverContext) async throws
    /// Applies a nodegroup's changed settings (counts, labels, taints).
    func updateNodegroup(_ spec: ClusterSpec, nodegroup: NodeGroup, context: DriverContext) async throws
    /// Deletes a non-default nodegroup.
    func deleteNodegroup(_ spec: ClusterSpec, nodegroup: NodeGroup, context: DriverContext) async throws
    /// Distributes the cluster's rotated CAs to its nodes.
    func rotateCA(_ spec: ClusterSpec, context: DriverContext) async throws
    /// Rotates the cloud credentials placed into the cluster.
    func rotateCredential(_ spec: ClusterSpec, context: DriverContext) async throws
    /// Replaces the cluster's failed nodes (auto-healing), keeping its node counts.
    func healCluster(_ spec: ClusterSpec, context: DriverContext) async throws
    /// Reports the cluster's observed state. Must not change anything.
    func observe(_ spec: ClusterSpec, context: DriverContext) async throws -> ClusterObservation
}

extension ClusterDriver {
    /// The driver's descriptor, as the API's `DriverRegistry` knows it.
    public var descriptor: DriverDescriptor { DriverDescriptor(name: name, provides: provides, capabilities: capabilities) }

    /// Default: upgrades are not supported.
    public func upgradeCluster(_ spec: ClusterSpec, template: ClusterTemplate, nodegroup: NodeGroup, maxBatchSize: Int, context: DriverContext) async throws {
        throw MagnumError(.notSupported, "Upgrading a cluster is not supported by driver \(name).")
    }

    /// Default: CA rotation is not supported.
    public func rotateCA(_ spec: ClusterSpec, context: DriverContext) async throws {
        throw MagnumError(.notSupported, "Rotating the CA certificate is not supported by driver \(name).")
    }

    /// Default: repairs are not supported.
    public func healCluster(_ spec: ClusterSpec, context: DriverContext) async throws {
        throw MagnumError(.notSupported, "Repairing a cluster is not supported by driver \(name).")
    }

    /// Default: credential rotation is not supported.
    public func rotateCredential(_ spec: ClusterSpec, context: DriverContext) async throws {
        throw MagnumError(.notSupported, "Credential rotation is not supported by driver.")
    }
}

/// The driver implementations a conductor can run, looked up the way the API resolves a
/// template's driver (contract §4.1.3): by the template's `driver` name, else by the
/// (server type, OS distro, COE) tuple.
public struct DriverSet: Sendable {
    /// The implementations, by name.
    public let drivers: [String: any ClusterDriver]

    /// Creates a set; a later driver with the same name replaces an earlier one.
    public init(_ drivers: [any ClusterDriver]) {
        var byName: [String: any ClusterDriver] = [:]
        for d in drivers { byName[d.name] = d }
        self.drivers = byName
    }

    /// No driver at all.
    public static let empty = DriverSet([])

    /// The implementations' metadata as a registry.
    public var registry: DriverRegistry { DriverRegistry(drivers: drivers.values.map(\.descriptor)) }

    /// The implementations' descriptors, sorted by name.
    public var descriptors: [DriverDescriptor] { registry.drivers }

    /// The driver that runs clusters of `template`, if this set has one.
    public func driver(for template: ClusterTemplate) -> (any ClusterDriver)? {
        registry.driver(for: template).flatMap { drivers[$0.name] }
    }
}
