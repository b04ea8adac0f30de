import Foundation
import Logging
import MagnumCore
import MagnumDrivers
import MagnumPKI

/// The local driver: each Magnum cluster is a real Docker Swarm-mode cluster whose nodes are
/// Linux namespaces on this host (design A of `local-swarm-nodes.md`).
///
/// - A cluster gets an index K (1…250) and the subnet 198.18.K.0/24 on its own bridge `mswK`;
///   masters are .10…, workers .20…; the swarm's overlay pool is 198.19.0.0/16.
/// - A node is a network namespace (veth on the bridge, no route off it), a UTS namespace
///   (hostname = node name), a private mount namespace (its own `/run` and `/var/lib/docker`)
///   and a cgroup sized by the nodegroup's flavor, running its own `dockerd`, which serves the
///   Engine API on `tcp://NODE_IP:2376` with mutual TLS (server certificate from the cluster CA).
/// - The driver talks to nodes only through that API (`DockerEngine`); host-level steps are
///   subprocesses (`HostSystem`). Daemons run in their own session, so they outlive `magnum`,
///   and what the driver built is persisted under `stateDirectory` (`LocalClusterState`), from
///   which a restarted driver re-adopts the running nodes.
/// - Every step converges the infrastructure to the spec (`converge`), so re-running one after a
///   crash finishes what the first run started.
public struct LocalSwarmDriver: ClusterDriver {
    /// The driver's settings.
    public struct Configuration: Sendable {
        /// Where clusters' state (certificates, node data, persisted layout) lives.
        public var stateDirectory: String
        /// The cluster indexes (third octet of 198.18.K.0/24) this driver may use.
        public var clusterIndexes: ClosedRange<Int>
        /// The Docker daemon every node runs.
        public var dockerd: String
        /// The static busybox the test image `busybox:local` is made of.
        public var busybox: String
        /// How long a step waits for daemons and Swarm nodes to become ready.
        public var readyTimeout: Duration
        /// How long a removed node's tasks get to stop after it was drained.
        public var drainTimeout: Duration

        /// Creates a configuration.
        public init(stateDirectory: String, clusterIndexes: ClosedRange<Int> = 1...250, dockerd: String = "/usr/sbin/dockerd",
                    busybox: String = "/bin/busybox", readyTimeout: Duration = .seconds(90), drainTimeout: Duration = .seconds(30)) {
            self.stateDirectory = stateDirectory
            self.clusterIndexes = max(1, clusterIndexes.lowerBound)...min(250, clusterIndexes.upperBound)
            self.dockerd = dockerd
            self.busybox = busybox
            self.readyTimeout = readyTimeout
            self.drainTimeout = drainTimeout
        }
    }

    /// The name templates use in `driver`.
    public static let driverName = "local_swarm"

    /// The settings in force.
    public let configuration: Configuration
    let authority: SealedCertificateAuthority
    let state: LocalClusterState
    let host: HostSystem

    /// Creates the driver; `authority` issues node certificates from clusters' CAs and opens
    /// Magnum's client certificate.
    public init(configuration: Configuration, authority: SealedCertificateAuthority) {
        self.configuration = configuration
        self.authority = authority
        self.state = LocalClusterState(root: configuration.stateDirectory, indexes: configuration.clusterIndexes)
        self.host = HostSystem()
    }

    /// `local_swarm`.
    public var name: String { Self.driverName }

    /// (vm, local-swarm, swarm-mode), as the built-in registry says.
    public var provides: [DriverDescriptor.Provision] {
        DriverRegistry.builtIn.named(Self.driverName)?.provides ?? [.init(serverType: "vm", os: "local-swarm", coe: "swarm-mode")]
    }

    /// Everything but credential rotation (no cloud credentials live in a local cluster).
    public var capabilities: Set<DriverCapability> {
        DriverRegistry.builtIn.named(Self.driverName)?.capabilities ?? []
    }

    // MARK: - Steps

    /// Builds the cluster: converges to the spec.
    public func createCluster(_ spec: ClusterSpec, timeoutMinutes: Int?, context: DriverContext) async throws {
        try await converge(spec, context: context)
    }

    /// Applies a new node count of the default worker nodegroup.
    public func updateCluster(_ spec: ClusterSpec, nodegroup: NodeGroup, nodeCount: Int, rollback: Bool, context: DriverContext) async throws {
        try await converge(spec, counts: [nodegroup.uuid: nodeCount], context: context)
    }

    /// Resizes a nodegroup, removing `nodesToRemove` (names or addresses) first.
    public func resizeCluster(_ spec: ClusterSpec, nodegroup: NodeGroup, nodeCount: Int, nodesToRemove: [String], context: DriverContext) async throws {
        try await converge(spec, counts: [nodegroup.uuid: nodeCount], remove: nodesToRemove, context: context)
    }

    /// Starts a nodegroup's workers.
    public func createNodegroup(_ spec: ClusterSpec, nodegroup: NodeGroup, context: DriverContext) async throws {
        try await converge(spec, context: context)
    }

    /// Applies a nodegroup's count and labels.
    public func updateNodegroup(_ spec: ClusterSpec, nodegroup: NodeGroup, context: DriverContext) async throws {
        try await converge(spec, context: context)
    }

    /// Removes a nodegroup's workers.
    public func deleteNodegroup(_ spec: ClusterSpec, nodegroup: NodeGroup, context: DriverContext) async throws {
        try await converge(spec, counts: [nodegroup.uuid: 0], context: context)
    }

    /// Powers every node off and removes all the cluster left on the host.
    public func deleteCluster(_ spec: ClusterSpec, context: DriverContext) async throws {
        try await teardown(spec, context: context)
    }

    /// Replaces workers whose daemon died and restarts dead masters.
    public func healCluster(_ spec: ClusterSpec, context: DriverContext) async throws {
        try await converge(spec, replaceFailed: true, context: context)
    }

    /// Re-issues node certificates from the rotated CA, one daemon at a time.
    public func rotateCA(_ spec: ClusterSpec, context: DriverContext) async throws {
        try await rotateNodeCertificates(spec, context: context)
    }

    /// Replaces a nodegroup's workers in batches when the new template changes them.
    public func upgradeCluster(_ spec: ClusterSpec, template: ClusterTemplate, nodegroup: NodeGroup, maxBatchSize: Int, context: DriverContext) async throws {
        try await replaceNodes(spec, template: template, nodegroup: nodegroup, batchSize: max(1, maxBatchSize), context: context)
    }

    /// What the nodes and the swarm say; changes nothing.
    public func observe(_ spec: ClusterSpec, context: DriverContext) async throws -> ClusterObservation {
        try await observation(of: spec, logger: context.logger)
    }

    /// Refuses to build anything on a host that lacks what nodes need, with the fix.
    func checkPrerequisites() throws {
        let files = FileManager.default
        guard files.isExecutableFile(atPath: configuration.dockerd) else {
            throw MagnumError(.notSupported, "The local_swarm driver needs \(configuration.dockerd): install Debian's docker.io (scripts/local-swarm.sh prepare).")
        }
        guard files.isExecutableFile(atPath: configuration.busybox) else {
            throw MagnumError(.notSupported, "The local_swarm driver needs a static busybox at \(configuration.busybox): install Debian's busybox-static (scripts/local-swarm.sh prepare).")
        }
        guard geteuid() == 0 else {
            throw MagnumError(.notSupported, "The local_swarm driver creates network namespaces and cgroups and must run as root.")
        }
        // The mount point each node binds its own data directory onto (a host where no Docker
        // daemon ever ran lacks it).
        try files.createDirectory(atPath: "/var/lib/docker", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o710])
    }
}
