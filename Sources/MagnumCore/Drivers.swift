/// An operation a driver may support. The API refuses an operation the cluster's driver does
/// not support with 400 before it changes anything; the conductor checks again before a step.
public enum DriverCapability: String, Sendable, Hashable, CaseIterable {
    /// Provisioning a new cluster.
    case create
    /// Changing the default worker nodegroup's node count (cluster PATCH).
    case update
    /// Resizing a nodegroup, optionally naming the nodes to remove.
    case resize
    /// Moving a cluster or nodegroup to another template's versions.
    case upgrade
    /// Tearing a cluster down.
    case delete
    /// Creating, updating and deleting non-default nodegroups.
    case nodegroups
    /// Rotating the cluster's CAs into the nodes.
    case rotateCA
    /// Rotating the cloud credentials placed into the cluster.
    case rotateCredential
    /// Replacing failed nodes (auto-healing).
    case heal
}

extension DriverCapability {
    /// The capability an operation kind needs.
    public init(_ kind: ClusterOperation.Kind) {
        switch kind {
        case .clusterCreate: self = .create
        case .clusterUpdate: self = .update
        case .clusterResize: self = .resize
        case .clusterUpgrade: self = .upgrade
        case .clusterDelete: self = .delete
        case .nodegroupCreate, .nodegroupUpdate, .nodegroupDelete: self = .nodegroups
        case .caRotate: self = .rotateCA
        case .credentialRotate: self = .rotateCredential
        case .clusterHeal: self = .heal
        }
    }

    /// What the operation is called in messages ("Upgrading a cluster is not supported by …").
    public var operationName: String {
        switch self {
        case .create: "Creating a cluster"
        case .update: "Updating a cluster"
        case .resize: "Resizing a cluster"
        case .upgrade: "Upgrading a cluster"
        case .delete: "Deleting a cluster"
        case .nodegroups: "Managing nodegroups"
        case .rotateCA: "Rotating the CA certificate"
        case .rotateCredential: "Credential rotation"
        case .heal: "Repairing a cluster"
        }
    }
}

/// What a cluster driver provides: the (server type, OS distro, COE) tuples it can build.
public struct DriverDescriptor: Sendable, Hashable {
    /// One tuple a driver provides.
    public struct Provision: Sendable, Hashable {
        public var serverType: String
        public var os: String
        public var coe: String

        /// Creates a tuple.
        public init(serverType: String, os: String, coe: String) {
            self.serverType = serverType
            self.os = os
            self.coe = coe
        }
    }

    /// The driver's name (stored in a template's `driver`).
    public var name: String
    /// The tuples the driver builds.
    public var provides: [Provision]
    /// What the driver supports.
    public var capabilities: Set<DriverCapability>
    /// True when the driver's create step acts with the requesting user's own token (a cloud
    /// driver creating a trust and its stacks): the API then records that token, sealed, with
    /// the create operation (`caller_token`), with the user's roles (`caller_roles`).
    public var usesCallerToken: Bool

    /// Creates a descriptor; by default the driver supports every operation.
    public init(name: String, provides: [Provision], capabilities: Set<DriverCapability> = Set(DriverCapability.allCases),
                usesCallerToken: Bool = false) {
        self.name = name
        self.provides = provides
        self.capabilities = capabilities
        self.usesCallerToken = usesCallerToken
    }

    /// Throws 400 (`NotSupported`, contract §8.2.5/§8.2.8) unless the driver supports `capability`.
    public func require(_ capability: DriverCapability) throws {
        guard capabilities.contains(capability) else {
            if capability == .rotateCredential { throw MagnumError(.notSupported, "Credential rotation is not supported by driver.") }
            throw MagnumError(.notSupported, "\(capability.operationName) is not supported by driver \(name).")
        }
    }
}

/// The installed drivers, as the API sees them when it resolves a template's driver
/// (contract §4.1.3). The conductor binds each name to its implementation.
public struct DriverRegistry: Sendable {
    public var drivers: [DriverDescriptor]

    /// Creates a registry.
    public init(drivers: [DriverDescriptor]) {
        self.drivers = drivers.sorted { $0.name < $1.name }
    }

    /// The drivers this product ships: the local Swarm-mode driver (network-namespace nodes on
    /// this host) and the Heat driver (Kubernetes and Swarm-mode on Fedora CoreOS).
    public static let builtIn = DriverRegistry(drivers: [
        DriverDescriptor(name: "local_swarm", provides: [
            .init(serverType: "vm", os: "local-swarm", coe: "swarm-mode"),
        ], capabilities: Set(DriverCapability.allCases).subtracting([.rotateCredential])),
        // Upgrades replace Heat stacks' servers and were never supported by upstream's final
        // Fedora CoreOS driver; neither driver places cloud credentials into a cluster.
        DriverDescriptor(name: "heat_fedora_coreos", provides: [
            .init(serverType: "vm", os: "fedora-coreos", coe: "kubernetes"),
            .init(serverType: "bm", os: "fedora-coreos", coe: "kubernetes"),
            .init(serverType: "vm", os: "fedora-coreos", coe: "swarm-mode"),
        ], capabilities: Set(DriverCapability.allCases).subtracting([.upgrade, .rotateCredential, .heal]),
           usesCallerToken: true),
    ])

    /// The driver that runs clusters of `template`: its `driver` by name, else the one
    /// providing its (server type, OS distro, COE) tuple.
    public func driver(for template: ClusterTemplate, disabled: [String] = []) -> DriverDescriptor? {
        if let name = template.driver { return named(name, disabled: disabled) }
        return providing(serverType: template.serverType, os: template.clusterDistro, coe: template.coe, disabled: disabled)
    }

    /// The driver named `name`, if installed and not disabled.
    public func named(_ name: String, disabled: [String] = []) -> DriverDescriptor? {
        drivers.first { $0.name == name && !disabled.contains($0.name) }
    }

    /// The driver providing a tuple, if any.
    public func providing(serverType: String, os: String?, coe: String, disabled: [String] = []) -> DriverDescriptor? {
        guard let os else { return nil }
        return drivers.first { d in
            !disabled.contains(d.name)
                && d.provides.contains { $0.serverType == serverType && $0.os == os && $0.coe == coe }
        }
    }
}

/// How the requesting user's token travels from the API to a driver that acts as that user
/// (`DriverDescriptor.usesCallerToken`): sealed into the create operation's parameters.
public enum CallerToken {
    /// The operation parameter holding the sealed token (base64).
    public static let tokenParameter = "caller_token"
    /// The operation parameter holding the user's role names on the project.
    public static let rolesParameter = "caller_roles"

    /// The associated data the token is sealed with: bound to one operation.
    public static func sealContext(_ operationUUID: String) -> String { "operation:\(operationUUID):caller_token" }
}
