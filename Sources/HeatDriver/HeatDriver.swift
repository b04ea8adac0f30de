import Foundation
import Logging
import MagnumCore
import MagnumDrivers
import MagnumPKI

/// The Heat driver: each Magnum cluster is a Heat stack (network, security groups, optional
/// master load balancer, a resource group of masters and the default worker nodegroup as a
/// nested stack) on an OpenStack cloud, and every further worker nodegroup a stack of its own,
/// built from the HOT templates under `Templates/` for Kubernetes and Swarm-mode on Fedora
/// CoreOS.
///
/// - Identity: the create step runs as the user who asked (their token, sealed into the
///   operation by the API): it makes a trustee user for the cluster in the trustee domain and a
///   trust from the user to it, then creates the stack. Every later call (polling, scaling,
///   deleting) uses a token of that trust. The trust and trustee go with the cluster.
/// - Crash safety: what the driver learns (trustee, trust, stack IDs) is recorded in the
///   cluster's driver state the moment it is known; stacks have deterministic names, so a step
///   re-run after a crash adopts the stack an interrupted run created.
/// - A Heat (or Keystone) that cannot be reached or answers 5xx is a transient failure the
///   conductor retries; Heat's validation errors fail the operation with Heat's message.
public struct HeatDriver: ClusterDriver {
    /// The driver's settings.
    public struct Configuration: Sendable {
        /// Keystone v3 URL.
        public var keystoneURL: String
        /// Magnum's service user (domain Default).
        public var serviceUser: String
        /// Its password.
        public var servicePassword: String
        /// The project of Magnum's service token.
        public var serviceProject: String
        /// The Keystone domain (name) per-cluster trustee users are created in.
        public var trusteeDomain: String
        /// Whether trusts allow redelegation (lets Magnum create stacks with the trust when a
        /// user's own token is not at hand, e.g. for a new nodegroup of an older cluster).
        public var allowRedelegation: Bool
        /// The catalog region (nil: the first endpoint of each service).
        public var region: String?
        /// The endpoint interface used (`public` or `internal`).
        public var interface: String
        /// Where the HOT templates and bootstrap scripts are (`<dir>/kubernetes`, `<dir>/swarm-mode`, `<dir>/bootstrap`).
        public var templatesDirectory: String
        /// The operator's Heat environment files, applied after the driver's own, in order.
        public var environments: [String]
        /// Magnum's API URL as nodes reach it (they have their CSRs signed there).
        public var magnumURL: String
        /// How often a step that waits for Heat (deletes, the start of an update) polls.
        public var pollInterval: Duration

        /// Creates a configuration.
        public init(keystoneURL: String, serviceUser: String, servicePassword: String, serviceProject: String = "service",
                    trusteeDomain: String = "magnum", allowRedelegation: Bool = false, region: String? = nil,
                    interface: String = "public", templatesDirectory: String? = nil, environments: [String] = [],
                    magnumURL: String, pollInterval: Duration = .seconds(1)) {
            self.keystoneURL = keystoneURL.hasSuffix("/") ? String(keystoneURL.dropLast()) : keystoneURL
            self.serviceUser = serviceUser
            self.servicePassword = servicePassword
            self.serviceProject = serviceProject
            self.trusteeDomain = trusteeDomain
            self.allowRedelegation = allowRedelegation
            self.region = region
            self.interface = interface
            self.templatesDirectory = templatesDirectory ?? HeatDriver.bundledTemplates
            self.environments = environments
            self.magnumURL = magnumURL
            self.pollInterval = pollInterval
        }
    }

    /// The name templates use in `driver`.
    public static let driverName = "heat_fedora_coreos"

    /// The templates shipped with the driver.
    public static var bundledTemplates: String { Bundle.module.resourceURL?.appendingPathComponent("Templates").path ?? "Templates" }

    /// The settings in force.
    public let configuration: Configuration
    let authority: SealedCertificateAuthority
    let identity: CloudIdentity
    let templates: StackTemplates

    /// Creates the driver, reading its templates and the operator's environments; throws
    /// `.invalid` when one cannot be read.
    public init(configuration: Configuration, authority: SealedCertificateAuthority) throws {
        self.configuration = configuration
        self.authority = authority
        identity = CloudIdentity(configuration: .init(
            authURL: configuration.keystoneURL, serviceUser: configuration.serviceUser,
            servicePassword: configuration.servicePassword, serviceProject: configuration.serviceProject,
            trusteeDomain: configuration.trusteeDomain, region: configuration.region,
            interface: configuration.interface, allowRedelegation: configuration.allowRedelegation))
        templates = try StackTemplates(directory: configuration.templatesDirectory, environments: configuration.environments)
    }

    /// `heat_fedora_coreos`.
    public var name: String { Self.driverName }

    /// Kubernetes (vm, bm) and Swarm-mode (vm) on Fedora CoreOS, as the built-in registry says.
    public var provides: [DriverDescriptor.Provision] { DriverRegistry.builtIn.named(Self.driverName)?.provides ?? [] }

    /// What the built-in registry declares for this driver.
    public var capabilities: Set<DriverCapability> { DriverRegistry.builtIn.named(Self.driverName)?.capabilities ?? [] }
}

// MARK: - Recorded state

/// What the driver recorded about one cluster (its `ClusterDriverState`).
struct HeatClusterRecord: Sendable {
    /// A stack's name and ID.
    struct StackRef: Sendable, Hashable {
        var name: String
        var id: String

        init(name: String, id: String) {
            self.name = name
            self.id = id
        }

        /// From the stored `name/id`.
        init?(_ stored: String?) {
            guard let stored, let slash = stored.lastIndex(of: "/") else { return nil }
            name = String(stored[..<slash])
            id = String(stored[stored.index(after: slash)...])
        }

        var stored: String { name + "/" + id }
    }

    static let stackKey = "heat.stack"
    static let trusteeKey = "heat.trustee_user_id"
    static let trusteePasswordKey = "heat.trustee_password"
    static let trustKey = "heat.trust_id"
    static func nodegroupKey(_ uuid: String) -> String { "heat.nodegroup.\(uuid)" }

    var values: [String: String]

    var stack: StackRef? { StackRef(values[Self.stackKey]) }
    var trusteeUserID: String? { values[Self.trusteeKey] }
    var sealedTrusteePassword: String? { values[Self.trusteePasswordKey] }
    var trustID: String? { values[Self.trustKey] }
    func nodegroupStack(_ uuid: String) -> StackRef? { StackRef(values[Self.nodegroupKey(uuid)]) }
    /// Every nodegroup stack, by nodegroup UUID.
    var nodegroupStacks: [String: StackRef] {
        let prefix = "heat.nodegroup."
        var out: [String: StackRef] = [:]
        for (k, v) in values where k.hasPrefix(prefix) { out[String(k.dropFirst(prefix.count))] = StackRef(v) }
        return out
    }
}

extension HeatDriver {
    /// The state store of a step; the Heat driver cannot work without one.
    func stateStore(_ context: DriverContext) throws -> any ClusterDriverState {
        guard let state = context.state else { throw MagnumError(.internal, "The Heat driver needs the conductor's driver state.") }
        return state
    }

    /// The cluster's record.
    func record(_ spec: ClusterSpec, _ context: DriverContext) async throws -> HeatClusterRecord {
        HeatClusterRecord(values: try await stateStore(context).values(clusterUUID: spec.cluster.uuid))
    }

    /// Records one value durably.
    func remember(_ key: String, _ value: String?, _ spec: ClusterSpec, _ context: DriverContext) async throws {
        try await stateStore(context).set(clusterUUID: spec.cluster.uuid, key: key, value: value)
    }

    /// The sealing context of a cluster's trustee password.
    static func passwordContext(_ clusterUUID: String) -> String { "cluster:\(clusterUUID):trustee_password" }

    /// The token of the trust of a cluster whose trust exists.
    func trustToken(_ spec: ClusterSpec, _ record: HeatClusterRecord) async throws -> ScopedToken? {
        guard let user = record.trusteeUserID, let sealed = record.sealedTrusteePassword, let trust = record.trustID else { return nil }
        let password = try authority.open(secret: sealed, context: Self.passwordContext(spec.cluster.uuid))
        return try await identity.trustToken(userID: user, password: password, trustID: trust)
    }

    /// A Heat client of the cluster's project with `token`, its endpoint from `catalog`'s token.
    func heat(_ catalog: ScopedToken, token: String? = nil) throws -> HeatClient {
        guard let url = catalog.endpoint(type: "orchestration", interface: configuration.interface, region: configuration.region) else {
            throw MagnumError(.notSupported, "The cloud's catalog has no \(configuration.interface) orchestration (Heat) endpoint\(configuration.region.map { " in region \($0)" } ?? "").")
        }
        return HeatClient(endpoint: url, token: token ?? catalog.token)
    }

    /// The Heat client of a cluster's trust; throws when the cluster has none yet.
    func trustedHeat(_ spec: ClusterSpec, _ record: HeatClusterRecord) async throws -> HeatClient {
        guard let token = try await trustToken(spec, record) else {
            throw MagnumError(.internal, "Cluster \(spec.cluster.uuid) has no trust recorded; it was never created through Heat.")
        }
        return try heat(token)
    }

    /// The requesting user's own token recorded with the operation, if any.
    func callerToken(_ context: DriverContext) throws -> String? {
        guard let sealed = context.parameters[CallerToken.tokenParameter]?.stringValue else { return nil }
        return try authority.open(secret: sealed, context: CallerToken.sealContext(context.operationID))
    }

    /// The client that may create a stack: the user's own token, else (with redelegation
    /// allowed) the trust's.
    func stackCreator(_ trust: ScopedToken, _ context: DriverContext) throws -> HeatClient {
        if let token = try callerToken(context) { return try heat(trust, token: token) }
        guard configuration.allowRedelegation else {
            throw MagnumError(.notSupported, "Creating a Heat stack needs the requesting user's token, which this operation does not carry; run Magnum's API with --keystone-url, or allow trust redelegation (--heat-allow-redelegation).")
        }
        return try heat(trust)
    }

    /// Waits until Heat started working on a stack after an update or a create: its status is
    /// `*_IN_PROGRESS`, or it was updated after `before` (the update already finished).
    func waitForStart(_ heat: HeatClient, _ ref: HeatClusterRecord.StackRef, updatedBefore before: String?) async throws {
        for _ in 0..<120 {
            guard let stack = try await heat.stack(name: ref.name, id: ref.id) else { return }
            if stack.isInProgress || stack.updatedTime != before { return }
            try await Task.sleep(for: configuration.pollInterval)
        }
    }

    /// Names: a stack name Heat accepts, unique per cluster (`<name>-<uuid prefix>`).
    static func stackName(_ cluster: Cluster) -> String {
        let base = sanitized(cluster.name ?? "cluster", allowed: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
        let head = base.first?.isLetter == true ? base : "c" + base
        return String(head.prefix(40)) + "-" + cluster.uuid.prefix(12)
    }

    /// A nodegroup stack's name.
    static func nodegroupStackName(_ cluster: Cluster, _ ng: NodeGroup) -> String {
        stackName(cluster) + "-" + String(sanitized(ng.name ?? "ng", allowed: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-").prefix(30))
            + "-" + ng.uuid.prefix(8)
    }

    /// A host-name-safe prefix of the cluster's servers.
    static func hostPrefix(_ cluster: Cluster) -> String {
        let lower = sanitized((cluster.name ?? "cluster").lowercased(), allowed: "abcdefghijklmnopqrstuvwxyz0123456789-")
        let trimmed = lower.trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        return String((trimmed.isEmpty ? "cluster" : trimmed).prefix(30))
    }

    /// `s` with every character outside `allowed` replaced by `-`.
    static func sanitized(_ s: String, allowed: String) -> String {
        String(s.map { allowed.contains($0) ? $0 : "-" })
    }
}
